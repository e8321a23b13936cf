"""A throwaway PostgreSQL cluster for tests and benchmarks: initdb + pg_ctl in a temp dir, free port.

PostgreSQL refuses to run as root, so as root the cluster runs as the `postgres` system user
(created by the Debian package). Nothing here is used by the server itself.
"""
from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path


def bindir() -> Path | None:
    """The folder holding initdb and pg_ctl, or None when PostgreSQL is not installed."""
    found = shutil.which("pg_ctl")
    if found and (Path(found).parent / "initdb").exists():
        return Path(found).parent
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]))
    return Path(dirs[-1]) if dirs and (Path(dirs[-1]) / "initdb").exists() else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ThrowawayPostgres:
    def __init__(self, max_connections: int = 300):
        self.bin = bindir()
        if self.bin is None:
            raise RuntimeError("PostgreSQL is not installed (no initdb/pg_ctl on PATH or in /usr/lib/postgresql)")
        self.max_connections = max_connections
        self.root: Path | None = None
        self.port = 0
        self._n = 0

    def _run(self, *cmd: str) -> None:
        full = ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else list(cmd)
        done = subprocess.run(full, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd[:2])} failed: {done.stderr.strip()[-1000:]}")

    def start(self) -> "ThrowawayPostgres":
        self.root = Path(tempfile.mkdtemp(prefix="partverse-pg-"))
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres")
        self.port = _free_port()
        self._run(str(self.bin / "initdb"), "-D", str(self.root / "data"), "-U", "postgres", "-A", "trust", "--no-sync")
        opts = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
                f"-c max_connections={self.max_connections}")
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.root / "data"), "-o", opts, "-l", str(self.root / "log"),
                  "-w", "start")
        return self

    def new_database(self) -> str:
        """Create an empty database and return its URL."""
        import psycopg

        self._n += 1
        name = f"partverse_{os.getpid()}_{self._n}"
        with psycopg.connect(f"postgresql://postgres@127.0.0.1:{self.port}/postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        if self.root is None:
            return
        try:
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.root / "data"), "-m", "immediate", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None
