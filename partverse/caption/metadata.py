"""The metadata backend: captions written from facts the asset carries (artist node and material
names, relative size and position, dominant colour), for when no model is configured. Its rows
always have backend "metadata" and status "metadata", never "ok"."""
from __future__ import annotations

import json
import re

from partverse.caption.backends import CaptionBackend, CaptionRequest, Reply

MODEL_ID = "partverse-metadata-1"


def _clean(name: str) -> str:
    """'wheel-front_left.001' -> 'wheel front left'; pure numbers / hashes -> ''."""
    text = re.sub(r"\.\d+$", "", name)
    text = re.sub(r"[_\-.]+", " ", text).strip()
    text = re.sub(r"([a-z])([A-Z])", r"\1 \2", text).lower()
    words = [w for w in text.split() if not re.fullmatch(r"[0-9a-f]{5,}|\d+", w)]
    return " ".join(words)


def _size_word(ratio: float) -> str:
    return "large" if ratio > 0.6 else "medium-sized" if ratio > 0.25 else "small"


def describe(facts: dict, kind: str) -> dict:
    """The caption JSON for one part or object from its facts (see `partverse.render.facts`)."""
    materials = [m for m in (_clean(n) for n in facts.get("materials", [])) if m]
    names = [n for n in (_clean(facts.get("name", "")), *(_clean(n) for n in facts.get("artist_names", []))) if n]
    if kind == "part" and len(materials) == 1:
        names.append(materials[0])  # e.g. "wheels", "glass": better than "part" when nodes are hashes
    label = names[0] if names else ("object" if kind == "object" else "part")
    colour = facts.get("colour", "")
    size = _size_word(float(facts.get("size_ratio", 0.0)))
    brief = " ".join(w for w in [colour, label] if w)
    if kind == "object":
        parts = [p for p in (_clean(n) for n in facts.get("part_names", [])) if p][:8]
        detailed = f"A 3D {label} with {facts.get('num_parts', 0)} parts" + (f": {', '.join(parts)}." if parts else ".")
        if colour:
            detailed += f" Its dominant colour is {colour}."
        return {"brief_caption": brief, "detailed_caption": detailed}
    detailed = f"A {size} {label}" + (f", mostly {colour}" if colour else "") + "."
    if materials:
        detailed += f" Material: {', '.join(materials)}."
    detailed += f" It covers {100 * float(facts.get('area_share', 0.0)):.0f}% of the object's surface."
    relation = f"Located at the {facts.get('position', 'centre')} of the object."
    return {"brief_caption": brief, "detailed_caption": detailed, "relation": relation}


class MetadataBackend(CaptionBackend):
    name = "metadata"

    @property
    def model_id(self) -> str:
        return MODEL_ID

    def generate(self, requests: list[CaptionRequest], retry: bool = False) -> list[Reply]:
        return [Reply(json.dumps(describe(r.facts, r.kind))) for r in requests]
