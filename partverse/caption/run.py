"""Caption one rendered object: the whole object first (one caption per object), then every part;
each reply is checked, failures are asked once more, and what still fails is flagged.

    rows = caption_object(renders, backend, config)   # list of dicts in the captions schema
    table = rows_to_table(rows)                        # pyarrow Table, captions_schema()
    write_captions(path, rows)                         # one Parquet file, written atomically
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

from partverse.caption.backends import CaptionBackend, CaptionConfig, CaptionRequest, Reply
from partverse.caption.metadata import _clean
from partverse.caption.parse import ParsedCaption, parse_reply
from partverse.caption.prompts import PROMPT_VERSION, object_prompt, part_prompt, retry_prompt


def object_request(renders, config: CaptionConfig) -> CaptionRequest:
    name = _clean(renders.facts.get("name", "")) if config.use_name_hint else ""
    return CaptionRequest(renders.uid, -1, "object", renders.object_image_png, object_prompt(name), dict(renders.facts))


def part_requests(renders, config: CaptionConfig, mark: str = "box") -> list[CaptionRequest]:
    """One request per visible part (parts seen in no view are flagged without asking)."""
    obj_name = _clean(renders.facts.get("name", "")) if config.use_name_hint else ""
    out = []
    for p in renders.parts:
        if p.best_view < 0:
            continue
        hint = _clean(p.name) if config.use_name_hint else ""
        out.append(CaptionRequest(renders.uid, p.part_id, "part", p.composite_png, part_prompt(hint, obj_name, mark), dict(p.facts)))
    return out


def _checked(replies: list[Reply], requests: list[CaptionRequest], object_captions: dict[str, str]) -> list[ParsedCaption]:
    """Check object replies first (a good one becomes its uid's entry in object_captions), then
    part replies against their object's caption."""
    out: list[ParsedCaption | None] = [None] * len(requests)
    for phase in ("object", "part"):
        for i, (reply, req) in enumerate(zip(replies, requests)):
            if req.kind != phase:
                continue
            if reply.text is None:
                out[i] = ParsedCaption("", "", "", f"error:{reply.error or 'unknown'}", "the backend failed")
                continue
            out[i] = parse_reply(reply.text, req.kind, object_captions.get(req.uid, "") if req.kind == "part" else "")
            if req.kind == "object" and out[i].status == "ok":
                object_captions[req.uid] = out[i].brief
    return out


def ask(backend: CaptionBackend, requests: list[CaptionRequest], object_caption: str = "") -> list[ParsedCaption]:
    """Generate, check, re-ask the failures once (with the reason in the prompt), check again."""
    return ask_many(backend, requests, {r.uid: object_caption for r in requests if object_caption})


def ask_many(backend: CaptionBackend, requests: list[CaptionRequest], object_captions: dict[str, str] | None = None) -> list[ParsedCaption]:
    """`ask` for object and part requests of several objects in shared batches.

    object_captions: uid -> the object's brief caption (filled in from good object replies), used
    to flag part captions that only repeat it."""
    if not requests:
        return []
    object_captions = dict(object_captions or {})
    results = _checked(backend.generate(requests), requests, object_captions)
    again = [i for i, r in enumerate(results) if r.status != "ok"]
    if again:
        retry_reqs = [
            CaptionRequest(requests[i].uid, requests[i].part_id, requests[i].kind, requests[i].image_png,
                           retry_prompt(requests[i].prompt, results[i].reason or results[i].status), requests[i].facts)
            for i in again
        ]
        for i, r in zip(again, _checked(backend.generate(retry_reqs, retry=True), retry_reqs, object_captions)):
            results[i] = r
    return results


def _row(req_uid: str, part_id: int, parsed: ParsedCaption, backend: CaptionBackend, image: bytes) -> dict:
    status = parsed.status
    if backend.name == "metadata" and status == "ok":
        status = "metadata"  # never mistaken for a model's checked caption
    return {
        "uid": req_uid,
        "part_id": int(part_id),
        "brief": parsed.brief,
        "detailed": parsed.detailed,
        "relation": parsed.relation,
        "status": status,
        "backend": backend.name,
        "model": backend.model_id,
        "prompt_version": PROMPT_VERSION,
        "image_sha256": hashlib.sha256(image).hexdigest() if image else "",
    }


def caption_objects(renders_list: list, backend: CaptionBackend, config: CaptionConfig, mark: str = "box") -> list[list[dict]]:
    """Rows per object, for several objects at once: the objects' and all their parts' images go
    to the backend together (so a GPU batch is filled across objects); object replies are checked
    first so each part can be checked against its object's caption."""
    per_object = [[object_request(r, config)] + part_requests(r, config, mark) for r in renders_list]
    parsed = ask_many(backend, [q for qs in per_object for q in qs])
    out, k = [], 0
    for renders, reqs in zip(renders_list, per_object):
        got = dict(zip((q.part_id for q in reqs), zip(reqs, parsed[k : k + len(reqs)])))
        k += len(reqs)
        rows = [_row(renders.uid, -1, got[-1][1], backend, got[-1][0].image_png)]
        for part in renders.parts:
            if part.part_id in got:
                q, pc = got[part.part_id]
                rows.append(_row(renders.uid, part.part_id, pc, backend, q.image_png))
            else:
                rows.append(_row(renders.uid, part.part_id, ParsedCaption("", "", "", "not_visible", "seen in no view"), backend, b""))
        out.append(rows)
    return out


def caption_object(renders, backend: CaptionBackend, config: CaptionConfig, mark: str = "box") -> list[dict]:
    """Rows for the object (part_id -1) and each of its parts, in part order."""
    return caption_objects([renders], backend, config, mark)[0]


def rows_to_table(rows: list[dict]):
    """Caption rows -> a pyarrow Table with the release `captions` schema."""
    import pyarrow as pa

    from partverse.data.schema import captions_schema

    schema = captions_schema()
    return pa.Table.from_pylist(rows, schema=schema)


def write_captions(path, rows: list[dict]) -> None:
    """Write rows as one Parquet file with the captions schema, atomically (temp file + rename)."""
    import os
    import tempfile
    from pathlib import Path

    import pyarrow.parquet as pq

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        pq.write_table(rows_to_table(rows), tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


@dataclass(slots=True, eq=False)
class CaptionSet:
    """The caption stage's output record: one object's rows (object first, then its parts)."""

    uid: str
    rows: list[dict]

    def to_table(self):
        return rows_to_table(self.rows)
