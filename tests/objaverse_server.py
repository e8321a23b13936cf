"""A local Objaverse mirror for tests and the download benchmark: a threaded HTTP server on
127.0.0.1 serving the real Hugging Face layouts, with per-request fault injection.

Layout served (paths as on huggingface.co/datasets/allenai/objaverse[-xl]/resolve/main):
  /v1/object-paths.json.gz, /v1/metadata/000-NNN.json.gz, /v1/lvis-annotations.json.gz,
  /v1/glbs/000-NNN/<uid>.glb, /xl/<source>/<source>.parquet, /smithsonian/<name>.glb
Faults (queued per path, consumed one per request): "500", "404", "302" (redirect to itself), "429:<seconds>",
"reset" (connection reset mid-body), "slow" (body slower than any sane timeout),
"wrong" (other bytes: sha256 mismatch), "truncated" (short body, honest Content-Length:
a truncated gzip / GLB), "stall_then_ok" handled by the client as a timeout.
"""
from __future__ import annotations

import gzip
import hashlib
import io
import json
import random
import socket
import struct
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

LICENSES = ["by", "by-sa", "by-nc", "cc0", "by-nd", "by-nc-sa", "by-nc-nd"]
CATEGORIES = ["chair", "table", "truck", "sword", "house"]
TAGS = ["lowpoly", "vehicle", "furniture", "medieval", "game-ready"]
FAULT_KINDS = ("500", "429:1", "reset", "wrong", "truncated")


def fake_uid(i: int, salt: str = "v1") -> str:
    return hashlib.md5(f"{salt}-{i}".encode()).hexdigest()


@dataclass
class Mirror:
    """Files by URL path, plus the ground truth tests compare against."""

    files: dict[str, bytes] = field(default_factory=dict)
    uids: list[str] = field(default_factory=list)
    object_paths: dict[str, str] = field(default_factory=dict)
    metadata: dict[str, dict] = field(default_factory=dict)
    lvis: dict[str, list[str]] = field(default_factory=dict)
    glb_sha: dict[str, str] = field(default_factory=dict)  # uid -> sha256


def _gz_json(obj) -> bytes:
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as f:
        f.write(json.dumps(obj).encode())
    return buf.getvalue()


def glb_face_count(data: bytes) -> int:
    """Triangles in a GLB (sum over primitives of index count / 3), read from the glTF JSON."""
    json_len = struct.unpack("<I", data[12:16])[0]
    doc = json.loads(data[20:20 + json_len])
    total = 0
    for mesh in doc.get("meshes", []):
        for prim in mesh.get("primitives", []):
            if "indices" in prim:
                total += doc["accessors"][prim["indices"]]["count"] // 3
            else:
                total += doc["accessors"][prim["attributes"]["POSITION"]]["count"] // 3
    return total


def build_v1(assets: list[Path], n: int, shards: int = 4) -> Mirror:
    """`n` objects cycling over the real GLBs in `assets`, spread over `shards` shards."""
    m = Mirror()
    blobs = [p.read_bytes() for p in assets]
    faces = [glb_face_count(b) for b in blobs]
    shard_meta: dict[str, dict] = defaultdict(dict)
    for i in range(n):
        uid = fake_uid(i)
        k = i % len(blobs)
        shard = f"000-{i % shards:03d}"
        rel = f"glbs/{shard}/{uid}.glb"
        m.uids.append(uid)
        m.object_paths[uid] = rel
        m.files[f"/v1/{rel}"] = blobs[k]
        m.glb_sha[uid] = hashlib.sha256(blobs[k]).hexdigest()
        meta = {"uid": uid, "name": assets[k].stem, "license": LICENSES[i % len(LICENSES)],
                "faceCount": faces[k], "vertexCount": faces[k] * 2,
                "tags": [{"name": TAGS[i % len(TAGS)], "slug": TAGS[i % len(TAGS)]}],
                "categories": [{"name": "cars-vehicles"}], "viewerUrl": f"https://sketchfab.com/3d-models/{uid}"}
        m.metadata[uid] = meta
        shard_meta[shard][uid] = meta
        m.lvis.setdefault(CATEGORIES[i % len(CATEGORIES)], []).append(uid)
    m.files["/v1/object-paths.json.gz"] = _gz_json(m.object_paths)
    m.files["/v1/lvis-annotations.json.gz"] = _gz_json(m.lvis)
    for s in range(shards):
        shard = f"000-{s:03d}"
        m.files[f"/v1/metadata/{shard}.json.gz"] = _gz_json(shard_meta.get(shard, {}))
    return m


def parquet_bytes(rows: list[dict]) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    cols = ["fileIdentifier", "source", "license", "fileType", "sha256", "metadata"]
    table = pa.table({c: [r[c] for r in rows] for c in cols})
    buf = io.BytesIO()
    pq.write_table(table, buf)
    return buf.getvalue()


class FaultServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, files: dict[str, bytes]):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.files = files
        self.faults: dict[str, deque] = defaultdict(deque)
        self.log: list[tuple[str, str | None, int, float]] = []  # (path, Range, status, monotonic time)
        self.lock = threading.Lock()
        self.random_fault_rate = 0.0
        self.fault_kinds: tuple[str, ...] = FAULT_KINDS
        self.rng = random.Random(0)
        self.bytes_per_s: float | None = None  # throttle every body (kill -9 tests)
        self.slow_chunk_delay = 0.3

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def reset(self) -> None:
        """Forget queued faults, the request log and throttling (between tests)."""
        with self.lock:
            self.faults.clear()
            self.log.clear()
            self.random_fault_rate, self.bytes_per_s = 0.0, None

    def requests_to(self, path: str) -> list[tuple[str, str | None, int, float]]:
        with self.lock:
            return [r for r in self.log if r[0] == path]

    def inject(self, path: str, *faults: str) -> None:
        with self.lock:
            self.faults[path].extend(faults)

    def next_fault(self, path: str) -> str | None:
        with self.lock:
            if self.faults[path]:
                return self.faults[path].popleft()
            if self.random_fault_rate and self.rng.random() < self.random_fault_rate:
                return self.rng.choice(self.fault_kinds)
        return None

    def handle_error(self, request, client_address) -> None:  # resets and client hang-ups are expected
        pass

    def start(self) -> "FaultServer":
        threading.Thread(target=self.serve_forever, daemon=True, kwargs={"poll_interval": 0.05}).start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FaultServer

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        body = self.server.files.get(path)
        fault = self.server.next_fault(path) if body is not None else None
        status = 200 if body is not None else 404
        if fault in ("500", "404", "302"):
            status = int(fault)
        elif fault and fault.startswith("429"):
            status = 429
        with self.server.lock:
            self.server.log.append((path, self.headers.get("Range"), status, time.monotonic()))
        if status != 200:
            self._status_only(status, fault)
            return
        if fault == "wrong":
            body = (hashlib.sha256(body).digest() * (len(body) // 32 + 1))[:len(body)]
        elif fault == "truncated":
            body = body[: max(1, len(body) // 2)]
        self._send_body(body, fault)

    def _status_only(self, status: int, fault: str | None) -> None:
        self.send_response(status)
        if status == 302:  # to the same path: the next request takes the next queued fault
            self.send_header("Location", self.path)
        if status == 429:
            self.send_header("Retry-After", fault.split(":", 1)[1] if ":" in fault else "1")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _send_body(self, body: bytes, fault: str | None) -> None:
        start = _range_start(self.headers.get("Range"), len(body))
        if start is not None and start >= len(body):
            self.send_response(416)
            self.send_header("Content-Range", f"bytes */{len(body)}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if start:
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            self.send_response(200)
            start = 0
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(len(body) - start))
        self.end_headers()
        payload = body[start:]
        try:
            if fault == "reset":
                self.wfile.write(payload[: len(payload) // 2])
                self.wfile.flush()
                time.sleep(0.2)  # let the client read the first half before the RST discards it
                self._reset()
            elif fault == "slow":
                for i in range(0, len(payload), 512):
                    self.wfile.write(payload[i:i + 512])
                    self.wfile.flush()
                    time.sleep(self.server.slow_chunk_delay)
            elif self.server.bytes_per_s:
                step = max(1, int(self.server.bytes_per_s / 20))
                for i in range(0, len(payload), step):
                    self.wfile.write(payload[i:i + step])
                    self.wfile.flush()
                    time.sleep(0.05)
            else:
                self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError, OSError):
            self.close_connection = True

    def _reset(self) -> None:
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True
        self.connection.close()


def _range_start(header: str | None, size: int) -> int | None:
    if not header or not header.startswith("bytes=") or "," in header:
        return None
    first = header[6:].split("-", 1)[0]
    return int(first) if first.isdigit() else None


SMALL_GLB_LIMIT = 600_000


def small_glbs(assets_dir: Path) -> list[Path]:
    """The real GLBs under 600 kB (keeps test traffic small)."""
    return [p for p in sorted(assets_dir.glob("*.glb")) if p.stat().st_size < SMALL_GLB_LIMIT]


def add_xl(mirror: Mirror, server_url: str, assets: list[Path], smithsonian: int = 3) -> dict:
    """XL annotation Parquet files: sketchfab (every 1.0 uid, true sha256) and smithsonian
    (`smithsonian` objects served by this mirror; the last one's annotation sha256 is wrong).
    Returns {"smithsonian": [(fileIdentifier, true sha256, annotated sha256)]}."""
    licenses = ["CC-BY 4.0", "CC0 1.0", "CC-BY-NC 4.0", "CC-BY-SA 4.0"]
    sketch = [{"fileIdentifier": f"https://sketchfab.com/3d-models/{u}", "source": "sketchfab",
               "license": licenses[i % len(licenses)], "fileType": "glb", "sha256": mirror.glb_sha[u],
               "metadata": "{}"} for i, u in enumerate(mirror.uids)]
    mirror.files["/xl/sketchfab/sketchfab.parquet"] = parquet_bytes(sketch)
    rows, truth = [], []
    for i in range(smithsonian):
        data = assets[i % len(assets)].read_bytes()
        path = f"/smithsonian/object_{i}.glb"
        mirror.files[path] = data
        true = hashlib.sha256(data).hexdigest()
        annotated = true if i < smithsonian - 1 else "0" * 64
        ident = server_url + path
        rows.append({"fileIdentifier": ident, "source": "smithsonian", "license": "CC0 1.0",
                     "fileType": "glb", "sha256": annotated, "metadata": json.dumps({"title": f"object {i}"})})
        truth.append((ident, true, annotated))
    mirror.files["/xl/smithsonian/smithsonian.parquet"] = parquet_bytes(rows)
    return {"smithsonian": truth}


def start_mirror(assets_dir: Path, n: int = 30, shards: int = 4) -> tuple[FaultServer, Mirror, dict]:
    """A running server with Objaverse 1.0 (`n` objects) and XL sketchfab + smithsonian."""
    assets = small_glbs(assets_dir)
    mirror = build_v1(assets, n, shards)
    server = FaultServer(mirror.files).start()
    xl = add_xl(mirror, server.url, assets)
    return server, mirror, xl
