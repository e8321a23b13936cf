"""Download a selection: bounded concurrency, every object ends "downloaded", "cached" or
"failed" with a reason; one failure never stops the batch. GitHub rows are grouped per
repository and commit and handled by `git_source`.

Resume is the cache itself: a file under its final name is complete (atomic rename) and is
re-verified (sha256 when known, structure check otherwise) instead of fetched again.
"""
from __future__ import annotations

import hashlib
from collections import Counter
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import pyarrow as pa

from partverse.fsutil import file_sha256  # noqa: F401 (re-exported)
from partverse.objaverse.http import ContentError, DownloadError, Fetcher
from partverse.objaverse.layout import CacheLayout
from partverse.objaverse.sources import Target, http_target

OUTCOME_SCHEMA = pa.schema([
    ("uid", pa.string()), ("source", pa.string()), ("file_identifier", pa.string()),
    ("status", pa.string()), ("path", pa.string()), ("sha256", pa.string()), ("size", pa.int64()),
    ("reason", pa.string()), ("detail", pa.string()), ("attempts", pa.int32()),
])


@dataclass
class Outcome:
    uid: str
    source: str
    file_identifier: str
    status: str  # "downloaded" | "cached" | "failed"
    path: str | None = None
    sha256: str | None = None
    size: int | None = None
    reason: str | None = None  # failed: short code, e.g. "sha256_mismatch", "http_404", "timeout"
    detail: str | None = None
    attempts: int = 0


def verify_cached(target: Target, rehash: bool = True) -> str | None:
    """sha256 of a cached file that passes its checks ("" when `rehash` is off: only the structure
    check runs), else None: the file is then re-fetched and the new copy's rename replaces it."""
    if not target.dest.exists():
        return None
    digest = file_sha256(target.dest) if rehash else ""
    if rehash and target.sha256 is not None and digest != target.sha256.lower():
        return None
    if target.validate is not None:
        try:
            target.validate(target.dest)
        except ContentError:
            return None
    return digest


def download_row(row: dict, layout: CacheLayout, fetcher: Fetcher, v1=None, rehash_cached: bool = True) -> Outcome:
    """Fetch one HTTP-served selection row; never raises for a download problem. A cached file is
    re-hashed against the known sha256 unless `rehash_cached` is off (then only structure-checked)."""
    base = dict(uid=row["uid"], source=row["source"], file_identifier=row["file_identifier"])
    try:
        target = http_target(row, layout, v1)
    except (KeyError, ValueError) as exc:
        return Outcome(**base, status="failed", reason="not_in_index", detail=str(exc))
    digest = verify_cached(target, rehash_cached)
    if digest is not None:
        return Outcome(**base, status="cached", path=str(target.dest), sha256=digest or target.sha256,
                       size=target.dest.stat().st_size)
    try:
        res = fetcher.fetch(target.url, target.dest, sha256=target.sha256, validate=target.validate)
    except DownloadError as exc:
        return Outcome(**base, status="failed", reason=exc.reason, detail=exc.detail, attempts=exc.attempts)
    except OSError as exc:  # disk full, permissions: recorded, the batch goes on
        return Outcome(**base, status="failed", reason="os_error", detail=f"{type(exc).__name__}: {exc}")
    except Exception as exc:  # noqa: BLE001 - one object never stops the batch; the reason is kept
        return Outcome(**base, status="failed", reason="unexpected_error", detail=f"{type(exc).__name__}: {exc}")
    return Outcome(**base, status="downloaded", path=str(res.path), sha256=res.sha256, size=res.size,
                   attempts=res.attempts)


def download_selection(rows: Iterable[dict], layout: CacheLayout, fetcher: Fetcher, v1=None,
                       workers: int = 8, git_options: dict | None = None,
                       rehash_cached: bool = True) -> Iterator[Outcome]:
    """Outcomes as they finish (HTTP rows on `workers` threads, at most 2*workers in flight),
    then GitHub rows repository by repository."""
    github: list[dict] = []
    http_rows = _http_rows(rows, github)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="objaverse-dl") as pool:
        pending = set()
        for row in http_rows:
            pending.add(pool.submit(download_row, row, layout, fetcher, v1, rehash_cached))
            if len(pending) >= 2 * workers:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                yield from (f.result() for f in done)
        for f in pending:
            yield f.result()
    if github:
        from partverse.objaverse.git_source import download_github_rows

        yield from download_github_rows(github, layout, **(git_options or {}))


def _http_rows(rows: Iterable[dict], github: list[dict]) -> Iterator[dict]:
    """HTTP-served rows, streamed; GitHub rows are set aside into `github`."""
    for row in rows:
        if row["source"] == "objaverse-xl/github":
            github.append(row)
        else:
            yield row


def summarize(outcomes: list[Outcome]) -> dict[str, int]:
    """Counts by status and by failure reason ("failed:<reason>")."""
    counts = Counter(o.status for o in outcomes)
    counts.update(f"failed:{o.reason}" for o in outcomes if o.status == "failed")
    return dict(sorted(counts.items()))


def outcomes_table(outcomes: list[Outcome]) -> pa.Table:
    cols = {name: [getattr(o, name) for o in outcomes] for name in OUTCOME_SCHEMA.names}
    return pa.table(cols, schema=OUTCOME_SCHEMA)


def cleanup_stale_partials(layout: CacheLayout, older_than_s: float = 7 * 86400) -> int:
    """Remove partial files no one has touched for `older_than_s`; returns how many."""
    import time

    removed = 0
    if layout.tmp.is_dir():
        cutoff = time.time() - older_than_s
        for p in layout.tmp.glob("*.part"):
            if p.stat().st_mtime < cutoff:
                p.unlink(missing_ok=True)
                removed += 1
    return removed


__all__ = ["Outcome", "download_row", "download_selection", "summarize", "outcomes_table",
           "verify_cached", "file_sha256", "cleanup_stale_partials", "OUTCOME_SCHEMA"]


def download_selection_processes(rows: list[dict], layout: CacheLayout, policy, *, processes: int = 2,
                                 workers: int = 8, rate_per_host: float | None = None, max_per_host: int = 8,
                                 durable: bool = True, git_options: dict | None = None,
                                 rehash_cached: bool = True) -> Iterator[Outcome]:
    """`download_selection` spread over `processes` spawned processes (threads alone are bound by
    the GIL past a few hundred objects per second). Each process gets every `processes`-th HTTP row
    and 1/`processes` of the threads (`workers` in all), of the per-host rate and of the per-host
    connection budget; outcomes stream back as they finish. GitHub rows run afterwards here."""
    import multiprocessing as mp

    github = [r for r in rows if r["source"] == "objaverse-xl/github"]
    http = [r for r in rows if r["source"] != "objaverse-xl/github"]
    processes = max(1, min(processes, len(http) or 1))
    ctx = mp.get_context("spawn")
    queue = ctx.Queue(maxsize=4 * workers * processes)
    rate = None if rate_per_host is None else rate_per_host / processes
    per_host = max(1, max_per_host // processes)
    workers = max(1, workers // processes)
    procs = [ctx.Process(target=_download_chunk, daemon=True,
                         args=(i, http[i::processes], layout, policy, workers, rate, per_host, durable,
                               rehash_cached, queue))
             for i in range(processes)]
    for p in procs:
        p.start()
    done: set[tuple[str, str]] = set()
    try:
        yield from _collect(procs, queue, done)
    finally:
        for p in procs:
            p.join(timeout=5)
            if p.is_alive():
                p.kill()
    for r in http:  # a worker process that died (OOM, kill) leaves its rows unreported: report them
        if (r["source"], r["file_identifier"]) not in done:
            yield Outcome(r["uid"], r["source"], r["file_identifier"], "failed", reason="worker_died",
                          detail="the download process exited before finishing this object")
    if github:
        from partverse.objaverse.git_source import download_github_rows

        yield from download_github_rows(github, layout, **(git_options or {}))


def _collect(procs, queue, done: set) -> Iterator[Outcome]:
    """Outcomes from the worker processes until each has said it is finished or has died."""
    from queue import Empty

    alive = set(range(len(procs)))
    while alive:
        try:
            index, outcome = queue.get(timeout=0.5)
        except Empty:
            alive = {i for i in alive if procs[i].is_alive()}
            continue
        if outcome is None:
            alive.discard(index)
        else:
            done.add((outcome.source, outcome.file_identifier))
            yield outcome


def _download_chunk(index, rows, layout, policy, workers, rate, per_host, durable, rehash_cached, queue) -> None:
    """Worker process body: download `rows`, put (index, Outcome) on `queue`, then (index, None)."""
    from partverse.objaverse.http import HostLimiter
    from partverse.objaverse.v1 import ObjaverseV1

    try:
        with Fetcher(layout.tmp, policy, HostLimiter(rate, 1, per_host), max_connections=workers,
                     durable=durable) as fetcher:
            v1 = ObjaverseV1(layout, fetcher)
            for outcome in download_selection(rows, layout, fetcher, v1, workers=workers,
                                              rehash_cached=rehash_cached):
                queue.put((index, outcome))
    finally:
        queue.put((index, None))
