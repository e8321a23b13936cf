"""Licence codes: normalize the spellings found in Objaverse 1.0 and XL to short codes.

Objaverse 1.0 metadata uses Sketchfab's short codes (`by`, `by-sa`, `by-nc`, `by-nc-sa`,
`by-nd`, `by-nc-nd`, `cc0`); XL annotation files also hold spellings such as
"CC-BY 4.0", "Creative Commons - Attribution", "MIT License".
"""
from __future__ import annotations

import re

CC_CODES = ("cc0", "by", "by-sa", "by-nc", "by-nc-sa", "by-nd", "by-nc-nd")
# Licences that allow redistributing adapted material (a part-segmented release is an adaptation):
# every CC licence except the NoDerivatives ones, plus common permissive software licences.
REDISTRIBUTABLE = frozenset({
    "cc0", "by", "by-sa", "by-nc", "by-nc-sa",
    "mit", "apache-2.0", "bsd-2-clause", "bsd-3-clause", "unlicense", "zlib", "isc",
})

_WORDS = {"attribution": "by", "sharealike": "sa", "share-alike": "sa", "noncommercial": "nc",
          "non-commercial": "nc", "noderivatives": "nd", "noderivs": "nd", "no-derivatives": "nd"}
_SOFTWARE = {"mit": "mit", "mit license": "mit", "apache license 2.0": "apache-2.0",
             "apache-2.0": "apache-2.0", "apache 2.0": "apache-2.0",
             'bsd 2-clause "simplified" license': "bsd-2-clause", "bsd-2-clause": "bsd-2-clause",
             'bsd 3-clause "new" or "revised" license': "bsd-3-clause", "bsd-3-clause": "bsd-3-clause",
             "the unlicense": "unlicense", "unlicense": "unlicense", "zlib license": "zlib",
             "isc license": "isc"}


def normalize_license(value: object) -> str | None:
    """Short code for a licence string ("CC-BY-NC 4.0" -> "by-nc"); None when empty.

    Unknown licences come back lower-cased and stripped, so they can still be named in a filter."""
    if value is None:
        return None
    text = str(value).strip().lower()
    if not text or text in {"none", "nan", "null"}:
        return None
    if text in _SOFTWARE:
        return _SOFTWARE[text]
    if text in CC_CODES:
        return text
    if "cc0" in text or "public domain" in text or "zero" in text:
        return "cc0"
    tokens = re.findall(r"[a-z]+(?:-[a-z]+)*", text.replace("creative commons", " "))
    parts: list[str] = []
    for tok in tokens:
        for piece in [_WORDS.get(tok, tok)] if tok in _WORDS else tok.split("-"):
            piece = _WORDS.get(piece, piece)
            if piece in {"by", "nc", "sa", "nd"} and piece not in parts:
                parts.append(piece)
    if parts and parts[0] == "by":
        order = [p for p in ("by", "nc", "nd", "sa") if p in parts]
        code = "-".join(order)
        return code if code in CC_CODES else text
    return text


def check_license_codes(codes: list[str]) -> list[str]:
    """Normalize user-given codes; an empty result is an error elsewhere."""
    return [normalize_license(c) or "" for c in codes]
