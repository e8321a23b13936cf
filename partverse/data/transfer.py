"""Copy one file between filesystems, verifying its sha256; local targets resume from a `.part` file."""
from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

from pyarrow import fs as pafs

from partverse.data import manifest as mf

CHUNK = 1 << 20


class _Throttle:
    def __init__(self, max_bytes_per_second: float | None):
        self.rate, self.start, self.sent = max_bytes_per_second, time.monotonic(), 0

    def __call__(self, n: int) -> None:
        if not self.rate:
            return
        self.sent += n
        ahead = self.sent / self.rate - (time.monotonic() - self.start)
        if ahead > 0:
            time.sleep(ahead)


def file_sha256(filesystem: pafs.FileSystem, path: str, chunk: int = CHUNK) -> tuple[str, int]:
    h, size = hashlib.sha256(), 0
    with filesystem.open_input_stream(path) as f:
        while data := f.read(chunk):
            h.update(data)
            size += len(data)
    return h.hexdigest(), size


def check_file(filesystem: pafs.FileSystem, path: str, name: str, sha256: str, size: int) -> None:
    """Raise IntegrityError naming `name` if the file is missing, the wrong size, or the wrong sha256."""
    info = filesystem.get_file_info(path)
    if info.type == pafs.FileType.NotFound:
        raise mf.IntegrityError(f"{name}: missing ({path})")
    if info.size != size:
        raise mf.IntegrityError(f"{name}: size {info.size} != {size} in the manifest ({path})")
    got, _ = file_sha256(filesystem, path)
    if got != sha256:
        raise mf.IntegrityError(f"{name}: sha256 {got} != {sha256} in the manifest: file is corrupt ({path})")


def download(
    src_fs: pafs.FileSystem, src: str, dst: Path, *, name: str, sha256: str, size: int,
    max_bytes_per_second: float | None = None, chunk: int = CHUNK,
) -> str:
    """Fetch `src` to local `dst` through `.<dst>.part`, resuming a partial file; verify; rename.

    Returns "present" (dst already verified), "resumed" or "downloaded".
    """
    dst.parent.mkdir(parents=True, exist_ok=True)
    if dst.is_file() and dst.stat().st_size == size and file_sha256(pafs.LocalFileSystem(), str(dst))[0] == sha256:
        return "present"
    part = dst.with_name(f".{dst.name}.part")
    h, offset = hashlib.sha256(), 0
    if part.is_file() and part.stat().st_size <= size:
        with open(part, "rb") as f:
            while data := f.read(chunk):
                h.update(data)
                offset += len(data)
    else:
        part.unlink(missing_ok=True)
    status = "resumed" if offset else "downloaded"
    throttle = _Throttle(max_bytes_per_second)
    with open(part, "ab") as out, src_fs.open_input_file(src) as f:
        f.seek(offset)
        while offset < size and (data := f.read(min(chunk, size - offset))):
            h.update(data)
            out.write(data)
            offset += len(data)
            throttle(len(data))
        out.flush()
        os.fsync(out.fileno())
    if h.hexdigest() != sha256 or offset != size:
        part.unlink(missing_ok=True)
        raise mf.IntegrityError(
            f"{name}: sha256 {h.hexdigest()} != {sha256} in the manifest ({offset} of {size} bytes): "
            f"the copy at {src} is corrupt"
        )
    os.replace(part, dst)
    return status


def upload(
    src: Path, dst_fs: pafs.FileSystem, dst: str, *, max_bytes_per_second: float | None = None, chunk: int = CHUNK
) -> None:
    """Copy a local file to `dst`: the target appears only when complete (temp + rename locally,
    a single multipart object on S3)."""
    throttle = _Throttle(max_bytes_per_second)
    local = isinstance(dst_fs, pafs.LocalFileSystem)
    target = f"{dst}.{os.getpid()}.tmp" if local else dst
    if local:
        Path(dst).parent.mkdir(parents=True, exist_ok=True)
    with open(src, "rb") as f, dst_fs.open_output_stream(target) as out:
        while data := f.read(chunk):
            out.write(data)
            throttle(len(data))
    if local:
        with open(target, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(target, dst)
