"""Caption prompts. Bump PROMPT_VERSION whenever a prompt's wording changes: every caption row
records the version that produced it.

The part prompt follows PartVerse: the image is the object with the part boxed in red (left) beside
the part rendered alone (right); the model answers with JSON holding a brief caption (<= 15 words),
a detailed caption and the part-whole relation. The artist's part name is passed as a hint.
"""
from __future__ import annotations

import json

PROMPT_VERSION = "pv-caption-1"
BRIEF_MAX_WORDS = 15

_MARK_TEXT = {
    "box": "one of its parts is marked with a red box",
    "circle": "one of its parts is circled in red",
    "none": "one of its parts is highlighted",
}

_PART = """The image has two panels. Left: a 3D object; {mark}. Right: that same part rendered alone.
{hints}Describe ONLY the marked part, not the whole object.
Reply with a single JSON object and nothing else:
{{"brief_caption": "<at most {brief} words: what the part is, its shape, colour and material>",
"detailed_caption": "<2 to 4 sentences on the part's appearance, shape and structure>",
"relation": "<one sentence: where the part sits on the object and what it does for it>"}}"""

_OBJECT = """The image shows a 3D object.
{hints}Reply with a single JSON object and nothing else:
{{"brief_caption": "<at most {brief} words: what the object is, its main colours and materials>",
"detailed_caption": "<2 to 4 sentences on the object's appearance, parts and structure>"}}"""

RETRY_SUFFIX = "\nYour previous reply could not be used ({reason}). Answer again with only the JSON object described above."


def _quote(text: str) -> str:
    return json.dumps(text.strip()[:80])  # a quoted, escaped, bounded hint


def part_prompt(part_name: str = "", object_name: str = "", mark: str = "box") -> str:
    """The prompt for one part; names are hints the model may ignore when they do not fit."""
    hints = ""
    if object_name.strip():
        hints += f"The object is {_quote(object_name)}. "
    if part_name.strip():
        hints += f"The artist named this part {_quote(part_name)}; use the name only if it matches what you see. "
    return _PART.format(mark=_MARK_TEXT.get(mark, _MARK_TEXT["box"]), hints=hints + "\n" if hints else "", brief=BRIEF_MAX_WORDS)


def object_prompt(object_name: str = "") -> str:
    """The prompt for the whole object (one caption per object)."""
    hints = f"Its file calls it {_quote(object_name)}; use that only if it matches what you see.\n" if object_name.strip() else ""
    return _OBJECT.format(hints=hints, brief=BRIEF_MAX_WORDS)


def retry_prompt(prompt: str, reason: str) -> str:
    return prompt + RETRY_SUFFIX.format(reason=reason)
