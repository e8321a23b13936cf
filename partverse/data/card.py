"""The dataset card (README.md) of a release: counts, licences by type, parts per object, files."""
from __future__ import annotations

from typing import Any


def _bar(n: int, top: int, width: int = 30) -> str:
    return "#" * max(1, round(width * n / top)) if top else ""


def dataset_card(manifest: dict[str, Any], name: str = "partverse release") -> str:
    """Markdown text of the card for one manifest."""
    s = manifest["stats"]
    lines = [
        f"# {name} {manifest['version']}",
        "",
        "Part-level 3D dataset built with partverse: one row per object (`objects`), per part (`parts`: "
        f"{manifest.get('num_samples')} surface points + normals, box, part GLB) and per caption (`captions`).",
        "",
        f"- version: {manifest['version']} (schema {manifest['schema_version']})",
        f"- created: {manifest['created_at']}",
        f"- source run: {manifest.get('source_run') or 'unknown'}",
    ]
    if manifest.get("licence_filter"):
        lines.append(f"- licences kept: {', '.join(manifest['licence_filter'])}")
    lines += [
        "",
        "## Counts",
        "",
        "| table | rows | files |",
        "|---|---:|---:|",
    ]
    for table, info in manifest["tables"].items():
        lines.append(f"| {table} | {info['rows']} | {len(info['files'])} |")
    lines += ["", f"Faces: {s.get('faces', 0)}", "", "## Licences", "", "| licence | objects |", "|---|---:|"]
    for lic, n in s.get("licences", {}).items():
        lines.append(f"| {lic} | {n} |")
    lines += ["", "Every object and part row carries its licence in the `license` column.", ""]
    lines += ["## Parts per object", "", "| parts | objects | |", "|---:|---:|---|"]
    hist = s.get("parts_per_object", {})
    top = max(hist.values(), default=0)
    for k, n in hist.items():
        lines.append(f"| {k} | {n} | `{_bar(n, top)}` |")
    lines += ["", "## Label sources", ""]
    lines += [f"- {k}: {n}" for k, n in s.get("label_source", {}).items()]
    lines += [
        "",
        "## Use",
        "",
        "```python",
        "from partverse.data import PartDataset",
        f"ds = PartDataset(URI, version=\"{manifest['version']}\", columns=[\"points\", \"normals\", \"bbox_min\", \"bbox_max\"])",
        "```",
        "",
        f"`partverse pull {manifest['version']} --from URI --to DIR` downloads and verifies every file (sha256 below);",
        "`datasets.load_dataset(\"parquet\", data_files=\"DIR/parts-*.parquet\")` reads the shards as they are.",
        "",
        "## Files",
        "",
        "| file | rows | bytes | sha256 |",
        "|---|---:|---:|---|",
    ]
    for fname, info in sorted(manifest["files"].items()):
        lines.append(f"| {fname} | {info['rows']} | {info['size']} | `{info['sha256']}` |")
    return "\n".join(lines) + "\n"
