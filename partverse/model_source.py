"""Where a transformers model comes from: an existing local folder, or a hub id.

`from_pretrained` takes both, and reads a missing path as a malformed hub id ("Repo id must use
alphanumeric chars ...", after retries when offline). A name that looks like a path ('/', '.', '~'
first, or existing on disk) must be a folder; anything else is a hub id (`org/name` or `name`).
"""
from __future__ import annotations

from pathlib import Path

from partverse.errors import ConfigError


def looks_local(name: str) -> bool:
    return name.startswith((".", "/", "~")) or Path(name).expanduser().exists()


def model_source(name: str, field: str, example: str, also: str = "") -> str:
    """`name` for `from_pretrained`: a local path expanded (`~`), or the hub id as given.
    ConfigError naming `field` when a path is not an existing folder; `example`: a hub id to show,
    `also`: other values the field takes (said after the two)."""
    name = str(name)
    if not looks_local(name):
        return name
    path = Path(name).expanduser()
    if not path.is_dir():
        problem = "is a file, not a model folder" if path.exists() else "does not exist"
        raise ConfigError(f"{field}={name!r}: {problem}; give a local model folder (config.json and weights, "
                          f"as save_pretrained writes) or a hub id such as {example!r}{also}")
    return str(path)
