"""Strict reply checks, prompts and the metadata backend."""
from __future__ import annotations

import json

import pytest

from partverse.caption.backends import CaptionConfig, CaptionRequest, make_backend
from partverse.caption.metadata import describe
from partverse.caption.parse import parse_reply
from partverse.caption.prompts import PROMPT_VERSION, object_prompt, part_prompt, retry_prompt
from partverse.errors import ConfigError

GOOD = {"brief_caption": "Black rubber wheel with a grey hub", "detailed_caption": "A round tire.", "relation": "Front left wheel under the cab."}


def test_valid_json_and_single_json_fence_are_ok():
    for text in (json.dumps(GOOD), "```json\n" + json.dumps(GOOD) + "\n```", "  " + json.dumps(GOOD) + "\n"):
        p = parse_reply(text)
        assert p.status == "ok" and p.brief == GOOD["brief_caption"] and p.relation == GOOD["relation"]


@pytest.mark.parametrize(
    "text, status",
    [
        ("", "empty"),
        (None, "empty"),
        ("   \n", "empty"),
        ("Sure! " + json.dumps(GOOD), "invalid_json"),
        (json.dumps(GOOD) + " hope this helps", "invalid_json"),
        ("[1, 2]", "invalid_json"),
        ('{"brief_caption": "x"', "invalid_json"),
        ("I'm sorry, but I can't help with identifying that.", "refusal"),
        (json.dumps({**GOOD, "brief_caption": "I cannot see the part clearly"}), "refusal"),
        (json.dumps({**GOOD, "detailed_caption": ""}), "missing_field"),
        (json.dumps({k: v for k, v in GOOD.items() if k != "relation"}), "missing_field"),
        (json.dumps({**GOOD, "brief_caption": 5}), "missing_field"),
        (json.dumps({**GOOD, "brief_caption": " ".join(["word"] * 16)}), "too_long"),
        (json.dumps({**GOOD, "detailed_caption": "long " * 200}), "too_long"),
        (json.dumps({**GOOD, "brief_caption": "The entire object: a green pickup truck"}), "whole_object"),
        (json.dumps({**GOOD, "detailed_caption": "The image shows a truck with wheels."}), "whole_object"),
        ("x" * 5000, "too_long"),
    ],
)
def test_bad_replies_are_flagged_never_ok(text, status):
    assert parse_reply(text).status == status


def test_part_caption_repeating_the_object_caption_is_whole_object():
    obj = "Green pickup truck with a wooden roof rack"
    assert parse_reply(json.dumps({**GOOD, "brief_caption": "A green pickup truck with wooden roof rack"}), object_caption=obj).status == "whole_object"
    assert parse_reply(json.dumps(GOOD), object_caption=obj).status == "ok"


def test_object_captions_need_no_relation():
    p = parse_reply(json.dumps({"brief_caption": "Green truck", "detailed_caption": "A toy truck."}), kind="object")
    assert p.status == "ok" and p.relation == ""


def test_prompts_ask_for_json_with_the_three_fields_and_carry_hints():
    p = part_prompt('wheel "front" left', "truck")
    for key in ("brief_caption", "detailed_caption", "relation", "15 words", "red box"):
        assert key in p
    assert '\\"front\\"' in p  # hints are quoted and escaped
    assert "relation" not in object_prompt("truck")
    assert "artist named" not in part_prompt("", "")
    assert retry_prompt(p, "invalid_json").startswith(p) and "invalid_json" in retry_prompt(p, "invalid_json")
    assert PROMPT_VERSION


def test_metadata_backend_writes_checkable_captions_from_facts():
    facts = {"name": "wheel-front_left.001", "artist_names": ["wheel-front-left"], "materials": ["rubber"], "colour": "black",
             "size_ratio": 0.2, "area_share": 0.04, "position": "bottom, off-centre"}
    cap = describe(facts, "part")
    assert cap["brief_caption"] == "black wheel front left"
    assert "rubber" in cap["detailed_caption"] and "bottom" in cap["relation"]
    backend = make_backend(CaptionConfig(backend="metadata"))
    reply = backend.generate([CaptionRequest("u", 0, "part", b"", "", facts)])[0]
    assert parse_reply(reply.text).status == "ok"
    hashed = describe({"name": "0_1c8f21", "artist_names": ["0_1c8f21"], "materials": ["glass"], "colour": "black"}, "part")
    assert hashed["brief_caption"] == "black glass"


def test_config_errors_name_field_value_and_allowed():
    with pytest.raises(ConfigError, match="backend: 'gpt'.*transformers, openai, metadata"):
        CaptionConfig(backend="gpt")
    with pytest.raises(ConfigError, match="endpoint"):
        CaptionConfig(backend="openai", endpoint="localhost:8000")
    with pytest.raises(ConfigError, match="concurrency"):
        CaptionConfig(concurrency=0)
    with pytest.raises(ConfigError, match="device"):
        CaptionConfig(device="tpu")
