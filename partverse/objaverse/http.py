"""Fetch one URL into one file: timeouts, retries with backoff + jitter, Retry-After, per-host
rate limits, byte-range resume of partial files, sha256 / content checks, atomic rename.

A file appears under its final name only when complete and verified: bytes go to
`<cache>/.partverse-tmp/<key>.part` (locked with flock so two processes never share one),
then `os.replace` into place. A killed process leaves only the `.part` file, which the next
attempt resumes with a `Range` request.
"""
from __future__ import annotations

import email.utils
import fcntl
import hashlib
import os
import random
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable
from urllib.parse import urlsplit

from partverse.fsutil import fsync_dir
from partverse.errors import ConfigError, PartverseError
from partverse.extras import require

# HTTP statuses worth retrying; anything else >= 400 fails at once
RETRYABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
CHUNK = 1 << 16


class DownloadError(PartverseError):
    """A URL could not be fetched; `reason` is a short code (e.g. "sha256_mismatch", "http_404")."""

    def __init__(self, url: str, reason: str, detail: str = "", attempts: int = 0):
        self.url, self.reason, self.detail, self.attempts = url, reason, detail, attempts
        super().__init__(f"{url}: {reason} after {attempts} attempt(s)" + (f" ({detail})" if detail else ""))


class _Retry(Exception):
    """One attempt failed in a way worth retrying."""

    def __init__(self, reason: str, detail: str = "", retry_after: float | None = None,
                 keep_partial: bool = True):
        super().__init__(f"{reason}: {detail}")
        self.reason, self.detail, self.retry_after, self.keep_partial = reason, detail, retry_after, keep_partial


class ContentError(Exception):
    """Raised by a validator: the bytes are not what was expected (retried, then reported)."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}")
        self.reason, self.detail = reason, detail


@dataclass(frozen=True)
class RetryPolicy:
    """Timeouts (seconds), attempts and backoff. Backoff is "full jitter": uniform(0, cap)
    with cap = min(max_backoff_s, backoff_base_s * 2**attempt), never below a Retry-After."""

    attempts: int = 5
    connect_timeout_s: float = 10.0
    read_timeout_s: float = 30.0  # longest silence between two chunks
    total_timeout_s: float = 600.0  # whole body of one attempt
    backoff_base_s: float = 0.5
    max_backoff_s: float = 30.0
    max_retry_after_s: float = 120.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ConfigError(f"RetryPolicy.attempts: {self.attempts!r} must be >= 1")
        for name in ("connect_timeout_s", "read_timeout_s", "total_timeout_s"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"RetryPolicy.{name}: {getattr(self, name)!r} must be > 0")
        for name in ("backoff_base_s", "max_backoff_s", "max_retry_after_s"):
            if getattr(self, name) < 0:
                raise ConfigError(f"RetryPolicy.{name}: {getattr(self, name)!r} must be >= 0")

    def delay(self, attempt: int, retry_after: float | None, rng: random.Random) -> float:
        cap = min(self.max_backoff_s, self.backoff_base_s * (2 ** attempt))
        wait = rng.uniform(0.0, cap)
        if retry_after is not None:
            wait = max(wait, min(retry_after, self.max_retry_after_s))
        return wait


class HostLimiter:
    """Per-host token bucket (`rate_per_s` requests/s, burst `burst`), at most `max_per_host`
    requests in flight per host, and a host-wide pause after a 429/503 with Retry-After."""

    def __init__(self, rate_per_s: float | None = None, burst: int = 1, max_per_host: int = 8):
        if rate_per_s is not None and rate_per_s <= 0:
            raise ConfigError(f"HostLimiter.rate_per_s: {rate_per_s!r} must be > 0 or None")
        if max_per_host < 1:
            raise ConfigError(f"HostLimiter.max_per_host: {max_per_host!r} must be >= 1")
        self.rate, self.burst, self.max_per_host = rate_per_s, max(1, burst), max_per_host
        self._lock = threading.Lock()
        self._tokens: dict[str, float] = {}
        self._stamp: dict[str, float] = {}
        self._paused_until: dict[str, float] = {}
        self._slots: dict[str, threading.BoundedSemaphore] = {}

    def slot(self, host: str) -> threading.BoundedSemaphore:
        with self._lock:
            if host not in self._slots:
                self._slots[host] = threading.BoundedSemaphore(self.max_per_host)
            return self._slots[host]

    def pause(self, host: str, seconds: float) -> None:
        with self._lock:
            self._paused_until[host] = max(self._paused_until.get(host, 0.0), time.monotonic() + seconds)

    def acquire(self, host: str) -> None:
        """Block until `host` may receive one more request."""
        while True:
            with self._lock:
                now = time.monotonic()
                wait = self._paused_until.get(host, 0.0) - now
                if wait <= 0 and self.rate is None:
                    return
                if wait <= 0:
                    tokens = self._tokens.get(host, float(self.burst))
                    tokens = min(float(self.burst), tokens + (now - self._stamp.get(host, now)) * self.rate)
                    self._stamp[host] = now
                    if tokens >= 1.0:
                        self._tokens[host] = tokens - 1.0
                        return
                    self._tokens[host] = tokens
                    wait = (1.0 - tokens) / self.rate
            time.sleep(min(wait, 1.0))


@dataclass
class FetchResult:
    url: str
    path: Path
    sha256: str
    size: int
    attempts: int
    resumed_bytes: int = 0  # bytes kept from an earlier partial file (Range resume)


@dataclass
class Fetcher:
    """Thread-safe; share one per process. `tmp_dir` must be on the same filesystem as the
    destinations (the cache root's `.partverse-tmp`)."""

    tmp_dir: Path
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    limiter: HostLimiter = field(default_factory=HostLimiter)
    max_connections: int = 16
    user_agent: str = "partverse-objaverse"
    seed: int | None = None
    durable: bool = True  # fsync file and directory before a download counts as done

    def __post_init__(self) -> None:
        httpx = require("httpx", "objaverse")
        self.tmp_dir = Path(self.tmp_dir)
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        p = self.policy
        self._client = httpx.Client(
            timeout=httpx.Timeout(connect=p.connect_timeout_s, read=p.read_timeout_s,
                                  write=p.read_timeout_s, pool=None),
            limits=httpx.Limits(max_connections=self.max_connections,
                                max_keepalive_connections=self.max_connections),
            headers={"User-Agent": self.user_agent, "Accept-Encoding": "identity"},
            follow_redirects=True,
        )
        self._rng = random.Random(self.seed)
        self._rng_lock = threading.Lock()

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> "Fetcher":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def fetch(self, url: str, dest: str | os.PathLike, *, sha256: str | None = None,
              validate: Callable[[Path], None] | None = None) -> FetchResult:
        """Download `url` to `dest` (atomic). `sha256` (hex) is checked when given; `validate(path)`
        may raise ContentError. Raises DownloadError with a reason code when all attempts fail."""
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        part, lock_fd = self._claim_partial(url)
        done = False
        try:
            result = self._fetch_attempts(url, dest, part, lock_fd, sha256, validate)
            done = True
            return result
        finally:
            # keep a non-empty shared partial for a Range resume; drop private or empty ones
            if not done and (part.name.endswith(".unique.part") or os.fstat(lock_fd).st_size == 0):
                part.unlink(missing_ok=True)
            os.close(lock_fd)

    def _fetch_attempts(self, url, dest, part, fd, sha256, validate) -> FetchResult:
        host = urlsplit(url).netloc
        last: _Retry | None = None
        for attempt in range(self.policy.attempts):
            if attempt:
                with self._rng_lock:
                    delay = self.policy.delay(attempt - 1, last.retry_after, self._rng)
                time.sleep(delay)
            try:
                with self.limiter.slot(host):
                    self.limiter.acquire(host)
                    digest, size, resumed = self._attempt(url, fd, host)
                self._verify(part, digest, sha256, validate)
            except _Retry as exc:
                last = exc
                if not exc.keep_partial:
                    os.ftruncate(fd, 0)
                continue
            except DownloadError as exc:
                os.ftruncate(fd, 0)
                raise DownloadError(url, exc.reason, exc.detail, attempt + 1) from None
            if self.durable:
                os.fsync(fd)
            os.replace(part, dest)
            if self.durable:
                fsync_dir(dest.parent)
            return FetchResult(url, dest, digest, size, attempt + 1, resumed)
        raise DownloadError(url, last.reason, last.detail, self.policy.attempts)

    def _verify(self, part: Path, digest: str, sha256: str | None, validate) -> None:
        if sha256 is not None and digest != sha256.lower():
            raise _Retry("sha256_mismatch", f"expected {sha256.lower()}, got {digest}", keep_partial=False)
        if validate is not None:
            try:
                validate(part)
            except ContentError as exc:
                raise _Retry(exc.reason, exc.detail, keep_partial=False) from exc

    def _claim_partial(self, url: str) -> tuple[Path, int]:
        """The resumable partial file for `url`, locked; a private one if another holder has it."""
        key = hashlib.sha1(url.encode()).hexdigest()
        part = self.tmp_dir / f"{key}.part"
        while True:
            fd = os.open(part, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                break
            if _still_linked(part, fd):
                return part, fd
            # between our open and our lock, the holder renamed this inode to its final name (or
            # dropped it): locking it would write into a finished file. Open the path afresh.
            os.close(fd)
        part = self.tmp_dir / f"{key}.{os.getpid()}.{uuid.uuid4().hex[:8]}.unique.part"
        fd = os.open(part, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
        return part, fd

    def _attempt(self, url: str, fd: int, host: str) -> tuple[str, int, int]:
        """One GET (with Range when the partial is non-empty). Returns (sha256 hex, size, resumed bytes)."""
        httpx = require("httpx", "objaverse")
        have = os.fstat(fd).st_size
        headers = {"Range": f"bytes={have}-"} if have else {}
        try:
            with self._client.stream("GET", url, headers=headers) as resp:
                return self._read_body(url, resp, fd, have, host)
        except httpx.TimeoutException as exc:
            raise _Retry("timeout", f"{type(exc).__name__}: {exc}") from exc
        except httpx.TooManyRedirects as exc:
            raise DownloadError(url, "too_many_redirects", str(exc), 1) from exc
        except (httpx.TransportError, httpx.DecodingError) as exc:
            raise _Retry("connection_error", f"{type(exc).__name__}: {exc}") from exc

    def _read_body(self, url, resp, fd: int, have: int, host: str) -> tuple[str, int, int]:
        status = resp.status_code
        if status == 416 and have:  # our partial is longer than the file: start over
            raise _Retry("range_not_satisfiable", f"partial of {have} bytes", keep_partial=False)
        if status >= 400:
            retry_after = parse_retry_after(resp.headers.get("Retry-After"))
            if status in RETRYABLE_STATUS:
                if retry_after is not None:
                    self.limiter.pause(host, min(retry_after, self.policy.max_retry_after_s))
                raise _Retry(f"http_{status}", resp.reason_phrase or "", retry_after)
            raise DownloadError(url, f"http_{status}", resp.reason_phrase or "", 1)
        if status == 206 and _range_start(resp.headers.get("Content-Range")) != have:
            raise _Retry("bad_range", f"asked for bytes {have}-, got {resp.headers.get('Content-Range')!r}",
                         keep_partial=False)
        resumed = have if status == 206 else 0
        hasher = hashlib.sha256()
        with os.fdopen(os.dup(fd), "r+b") as out:
            if resumed:
                _hash_prefix(out, hasher, resumed)
                out.seek(resumed)
            else:
                out.seek(0)
                out.truncate(0)
            expected = _expected_length(resp, resumed)
            got = self._copy_body(resp, out, hasher)
        total = resumed + got
        if expected is not None and total != expected:
            raise _Retry("truncated", f"got {total} of {expected} bytes", keep_partial=total < expected)
        return hasher.hexdigest(), total, resumed

    def _copy_body(self, resp, out, hasher) -> int:
        deadline = time.monotonic() + self.policy.total_timeout_s
        got = 0
        for chunk in resp.iter_raw():  # no chunk_size: yields as bytes arrive, so the deadline is checked
            out.write(chunk)
            hasher.update(chunk)
            got += len(chunk)
            if time.monotonic() > deadline:
                out.flush()
                raise _Retry("timeout", f"body slower than total_timeout_s={self.policy.total_timeout_s}")
        out.flush()
        return got


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP-date); None if absent or invalid."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _still_linked(path: Path, fd: int) -> bool:
    """True when `path` still names the inode open as `fd`."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return False
    here = os.fstat(fd)
    return (st.st_ino, st.st_dev) == (here.st_ino, here.st_dev)


def _range_start(content_range: str | None) -> int | None:
    # "bytes 100-199/200"
    if not content_range or not content_range.startswith("bytes "):
        return None
    try:
        return int(content_range[6:].split("-", 1)[0])
    except ValueError:
        return None


def _expected_length(resp, resumed: int) -> int | None:
    if resumed:
        total = (resp.headers.get("Content-Range") or "").rsplit("/", 1)[-1]
        return int(total) if total.isdigit() else None
    length = resp.headers.get("Content-Length")
    return int(length) if length and length.isdigit() else None


def _hash_prefix(out, hasher, n: int) -> None:
    out.seek(0)
    left = n
    while left:
        block = out.read(min(CHUNK * 16, left))
        if not block:
            break
        hasher.update(block)
        left -= len(block)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
