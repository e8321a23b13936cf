"""One Settings object for the annotation server, validated when built.

Values come from arguments or `PARTVERSE_*` environment variables. Outside development the
server refuses the built-in secret key, so a forgotten setting cannot ship tokens hashed with a
publicly known key.
"""
from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

DEV_SECRET = "partverse-development-secret-do-not-use"
ENVIRONMENTS = ("development", "production")


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    environment: str = "development"
    data_dir: Path = Path("annotation_data")
    db_url: str | None = None  # default: SQLite file inside data_dir
    secret_key: str = DEV_SECRET
    lease_seconds: float = Field(900.0, gt=0, le=7 * 24 * 3600)
    max_request_bytes: int = Field(8 * 1024 * 1024, ge=1024)
    max_blob_bytes: int = Field(512 * 1024 * 1024, ge=1024)
    sqlite_synchronous: str = "FULL"
    pool_size: int = Field(20, ge=1, le=500)
    threads: int = Field(8, ge=1, le=256)  # request-handler threads per server process
    label_cache_mb: int = Field(256, ge=0, le=64 * 1024)  # per server process: labels of recently used revisions

    @field_validator("environment")
    @classmethod
    def _known_environment(cls, value: str) -> str:
        if value not in ENVIRONMENTS:
            raise ValueError(f"environment={value!r} is not one of {ENVIRONMENTS}")
        return value

    @field_validator("sqlite_synchronous")
    @classmethod
    def _known_sync(cls, value: str) -> str:
        allowed = ("OFF", "NORMAL", "FULL", "EXTRA")
        if value.upper() not in allowed:
            raise ValueError(f"sqlite_synchronous={value!r} is not one of {allowed}")
        return value.upper()

    @model_validator(mode="after")
    def _no_default_secret_outside_development(self) -> "Settings":
        if self.environment != "development" and (self.secret_key == DEV_SECRET or len(self.secret_key) < 32):
            raise ValueError(
                "secret_key: the built-in development secret (or one shorter than 32 characters) is refused "
                "outside environment='development'; set PARTVERSE_SECRET_KEY to a long random value"
            )
        return self

    @property
    def database_url(self) -> str:
        return self.db_url or f"sqlite:///{(self.data_dir / 'annotations.sqlite3').resolve()}"

    @property
    def store_dir(self) -> Path:
        return self.data_dir / "store"

    @classmethod
    def from_env(cls, **overrides: object) -> "Settings":
        """Settings from `PARTVERSE_<FIELD>` variables, then explicit (non-None) overrides."""
        values: dict[str, object] = {}
        for name in cls.model_fields:
            env = os.environ.get(f"PARTVERSE_{name.upper()}")
            if env is not None:
                values[name] = env
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)
