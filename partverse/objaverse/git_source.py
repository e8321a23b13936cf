"""Objaverse-XL GitHub objects: shallow fetch of the pinned commit, LFS pull, per-file sha256.

fileIdentifier = "https://github.com/<org>/<repo>/blob/<commit>/<path>". Each repository and
commit is fetched once (`git fetch --depth 1 origin <commit>`), LFS files are pulled, `.git`
is dropped and the checkout is renamed into `<root>/github/repos/<org>/<repo>/<commit>/`
(a directory rename: never half-visible). Failures become outcomes with a reason
("repo_unavailable", "commit_not_found", "lfs_object_missing", "file_missing",
"sha256_mismatch", "git_timeout"), never exceptions.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Iterator

from partverse.objaverse.batch import Outcome, file_sha256
from partverse.objaverse.layout import CacheLayout

GITHUB = "https://github.com"
LFS_MAGIC = b"version https://git-lfs.github.com/spec/v1"


class GitSourceError(Exception):
    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason, self.detail = reason, detail


def parse_github_identifier(file_identifier: str) -> tuple[str, str, str, str]:
    """(org, repo, commit, path inside the repo) from a github.com blob URL."""
    parts = file_identifier.split("/", 7)
    if len(parts) < 8 or parts[5] != "blob":
        raise ValueError(f"{file_identifier}: not a GitHub blob URL (https://github.com/ORG/REPO/blob/COMMIT/PATH)")
    return parts[3], parts[4], parts[6], parts[7]


def is_lfs_pointer(path: Path) -> bool:
    if path.stat().st_size > 1024:
        return False
    with open(path, "rb") as f:
        return f.read(len(LFS_MAGIC)) == LFS_MAGIC


def _git(args: list[str], cwd: Path | None, timeout_s: float) -> subprocess.CompletedProcess:
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_LFS_SKIP_SMUDGE": "1",
           "GIT_ASKPASS": "true", "GCM_INTERACTIVE": "never"}
    try:
        return subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True,
                              timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired as exc:
        raise GitSourceError("git_timeout", f"git {' '.join(args)}: no result after {timeout_s}s") from exc


def fetch_commit(repo_url: str, commit: str, work: Path, timeout_s: float = 600.0) -> list[str]:
    """Check out `commit` of `repo_url` into the empty directory `work` (depth 1) and pull LFS
    objects. Returns LFS error lines (empty when all LFS objects arrived); raises GitSourceError
    when the repository or commit cannot be fetched."""
    work.mkdir(parents=True)
    _git(["init", "-q", str(work)], None, timeout_s)
    _git(["remote", "add", "origin", repo_url], work, timeout_s)
    res = _git(["fetch", "-q", "--depth", "1", "origin", commit], work, timeout_s)
    if res.returncode != 0:
        probe = _git(["ls-remote", "origin", "HEAD"], work, timeout_s)
        if probe.returncode != 0:
            raise GitSourceError("repo_unavailable", f"{repo_url}: {probe.stderr.strip()[-300:]}")
        raise GitSourceError("commit_not_found", f"{repo_url}@{commit}: {res.stderr.strip()[-300:]}")
    res = _git(["checkout", "-q", "FETCH_HEAD"], work, timeout_s)
    if res.returncode != 0:
        raise GitSourceError("checkout_failed", f"{repo_url}@{commit}: {res.stderr.strip()[-300:]}")
    if not _uses_lfs(work):
        return []
    # without the filter in this repo's config, `git lfs pull` downloads but skips the checkout
    res = _git(["lfs", "install", "--local", "--skip-smudge"], work, timeout_s)
    if res.returncode != 0:
        return [f"git lfs install failed: {res.stderr.strip()[-200:]}"]
    res = _git(["lfs", "pull"], work, timeout_s)
    return [] if res.returncode == 0 else (res.stderr.strip().splitlines() or ["git lfs pull failed"])


def _uses_lfs(work: Path) -> bool:
    attrs = work / ".gitattributes"
    return attrs.exists() and "filter=lfs" in attrs.read_text(errors="replace")


def _place(work: Path, dest: Path) -> None:
    """Drop .git and rename the checkout into place, replacing an older incomplete one."""
    shutil.rmtree(work / ".git", ignore_errors=True)
    dest.parent.mkdir(parents=True, exist_ok=True)
    if dest.exists():
        trash = dest.with_name(f".{dest.name}.old-{uuid.uuid4().hex[:8]}")
        dest.rename(trash)
        work.rename(dest)
        shutil.rmtree(trash, ignore_errors=True)
    else:
        work.rename(dest)


def _row_outcome(row: dict, checkout: Path, rel: str, lfs_errors: list[str]) -> Outcome:
    base = dict(uid=row["uid"], source=row["source"], file_identifier=row["file_identifier"], attempts=1)
    path = checkout / rel
    if not path.is_file():
        return Outcome(**base, status="failed", reason="file_missing", detail=f"{rel} not in the commit")
    if is_lfs_pointer(path):
        detail = "; ".join(lfs_errors)[-300:] or "LFS object not downloaded"
        return Outcome(**base, status="failed", reason="lfs_object_missing", detail=f"{rel}: {detail}")
    digest = file_sha256(path)
    expected = (row.get("sha256") or "").lower()
    if expected and digest != expected:
        return Outcome(**base, status="failed", reason="sha256_mismatch",
                       detail=f"{rel}: expected {expected}, got {digest}")
    return Outcome(**base, status="downloaded", path=str(path), sha256=digest, size=path.stat().st_size)


def _needs_fetch(checkout: Path, rels: list[str]) -> bool:
    if not checkout.is_dir():
        return True
    return any(not (checkout / r).is_file() or is_lfs_pointer(checkout / r) for r in rels)


def download_github_rows(rows: list[dict], layout: CacheLayout, git_base_url: str = GITHUB,
                         timeout_s: float = 600.0) -> Iterator[Outcome]:
    """One outcome per row; repositories fetched one at a time (git itself is the bottleneck)."""
    groups: dict[tuple[str, str, str], list[tuple[dict, str]]] = defaultdict(list)
    for row in rows:
        try:
            org, repo, commit, rel = parse_github_identifier(row["file_identifier"])
        except ValueError as exc:
            yield Outcome(row["uid"], row["source"], row["file_identifier"], "failed",
                          reason="bad_identifier", detail=str(exc))
            continue
        groups[(org, repo, commit)].append((row, rel))
    for (org, repo, commit), members in groups.items():
        yield from _download_repo(org, repo, commit, members, layout, git_base_url.rstrip("/"), timeout_s)


def _download_repo(org, repo, commit, members, layout, git_base_url, timeout_s) -> Iterator[Outcome]:
    checkout = layout.github_checkout(org, repo, commit)
    lfs_errors: list[str] = []
    if _needs_fetch(checkout, [rel for _, rel in members]):
        work = layout.tmp / f"git-{org}-{repo}-{uuid.uuid4().hex[:8]}"
        try:
            lfs_errors = fetch_commit(f"{git_base_url}/{org}/{repo}.git", commit, work, timeout_s)
            _place(work, checkout)
        except GitSourceError as exc:
            for row, _ in members:
                yield Outcome(row["uid"], row["source"], row["file_identifier"], "failed",
                              reason=exc.reason, detail=exc.detail, attempts=1)
            return
        finally:
            shutil.rmtree(work, ignore_errors=True)
    for row, rel in members:
        yield _row_outcome(row, checkout, rel, lfs_errors)
