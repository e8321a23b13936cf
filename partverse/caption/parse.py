"""Strict checks of a VLM reply. A reply is good only if it is one JSON object (optionally in a
single ```json fence) with non-empty string captions of bounded length, no refusal, and, for a
part, a caption of the part rather than of the whole object.

Statuses (the `status` column of the captions table):
    ok            passed every check
    empty         nothing came back
    invalid_json  not exactly one JSON object
    missing_field a required key is absent, empty or not a string
    too_long      brief > 15 words, or detailed / relation too long
    refusal       the model declined ("I'm sorry", "I cannot", ...)
    whole_object  the part caption describes the whole object (or copies the object's caption)
    error:<kind>  the backend failed (error:http_429, error:timeout, ...)
    not_visible   the part was seen in no view, so nothing was asked
    metadata      written by the metadata backend from the asset's own facts, not by a model
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass

from partverse.caption.prompts import BRIEF_MAX_WORDS

DETAILED_MAX_WORDS = 150
RELATION_MAX_WORDS = 60
MAX_CHARS = 2000

_FENCE = re.compile(r"^```(?:json)?\s*\n?(.*?)\n?```$", re.S | re.I)
_REFUSAL = re.compile(
    r"\b(i'?m sorry|i am sorry|i apologi[sz]e|i can ?not|i can't|i'm unable|i am unable|unable to (help|assist|describe|identify)"
    r"|as an ai\b|i won't|i will not)",
    re.I,
)
_WHOLE = re.compile(
    r"\b(the )?(entire|whole|complete|full) (object|model|asset|scene|image)\b|^(this|the) (image|picture|render(ing)?|scene) (shows|depicts|features)"
    r"|\b(two|both) (panels|images)\b",
    re.I,
)
_WORD = re.compile(r"[a-z0-9]+")


@dataclass(slots=True)
class ParsedCaption:
    brief: str
    detailed: str
    relation: str
    status: str  # "ok" or a flag (see the module docstring)
    reason: str = ""  # human-readable detail for flags


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def _similar(a: str, b: str, threshold: float = 0.8) -> bool:
    sa, sb = set(_words(a)), set(_words(b))
    return bool(sa and sb) and len(sa & sb) / len(sa | sb) >= threshold


def _flag(status: str, reason: str, data: dict | None = None) -> ParsedCaption:
    d = data or {}
    get = lambda k: d.get(k) if isinstance(d.get(k), str) else ""  # noqa: E731
    return ParsedCaption(get("brief_caption"), get("detailed_caption"), get("relation"), status, reason)


def parse_reply(text: str | None, kind: str = "part", object_caption: str = "") -> ParsedCaption:
    """Check one reply. kind: "part" (relation required) or "object"; object_caption: the
    object's brief caption, to catch part captions that merely repeat it."""
    raw = (text or "").strip()
    if not raw:
        return _flag("empty", "the reply is empty")
    if len(raw) > MAX_CHARS:
        return _flag("too_long", f"the reply has {len(raw)} characters (max {MAX_CHARS})")
    fenced = _FENCE.match(raw)
    body = fenced.group(1).strip() if fenced else raw
    try:
        data = json.loads(body)
    except json.JSONDecodeError as exc:
        if _REFUSAL.search(raw):
            return _flag("refusal", f"the model declined: {raw[:80]!r}")
        return _flag("invalid_json", f"not a JSON object ({exc.msg} at char {exc.pos})")
    if not isinstance(data, dict):
        return _flag("invalid_json", f"JSON {type(data).__name__}, not an object")
    required = ["brief_caption", "detailed_caption"] + (["relation"] if kind == "part" else [])
    for key in required:
        if not isinstance(data.get(key), str) or not data[key].strip():
            return _flag("missing_field", f"{key!r} is missing, empty or not a string", data)
    data = {k: (v.strip() if isinstance(v, str) else v) for k, v in data.items()}
    brief, detailed, relation = data["brief_caption"], data["detailed_caption"], data.get("relation", "") if isinstance(data.get("relation", ""), str) else ""
    if _REFUSAL.search(" ".join([brief, detailed])):
        return _flag("refusal", f"the caption declines: {brief[:80]!r}", data)
    for name, value, limit in (("brief_caption", brief, BRIEF_MAX_WORDS), ("detailed_caption", detailed, DETAILED_MAX_WORDS), ("relation", relation, RELATION_MAX_WORDS)):
        if len(_words(value)) > limit:
            return _flag("too_long", f"{name} has {len(_words(value))} words (max {limit})", data)
    if kind == "part":
        if _WHOLE.search(brief) or _WHOLE.search(detailed):
            return _flag("whole_object", "the caption describes the whole object or the image, not the part", data)
        if object_caption and _similar(brief, object_caption):
            return _flag("whole_object", "the part's brief caption repeats the object's caption", data)
    return ParsedCaption(brief, detailed, relation, "ok")
