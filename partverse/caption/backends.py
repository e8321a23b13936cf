"""Caption backends share one small interface:

    backend = make_backend(CaptionConfig(...))
    backend.setup()                                  # load the model / open the client, once
    replies = backend.generate(requests, retry=False)  # list[Reply], same order as requests

A `CaptionRequest` carries the PNG the model sees, the prompt and the part's facts. A `Reply`
is the raw text or an error kind ("http_429", "timeout", ...); checking is `parse.parse_reply`.
Backends: "transformers" (`partverse.caption.hf`), "openai" (`partverse.caption.openai_http`),
"metadata" (`partverse.caption.metadata`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from partverse.errors import ConfigError

BACKENDS = ("transformers", "openai", "metadata")
DEFAULT_MODEL = "Qwen/Qwen2.5-VL-7B-Instruct"
DEFAULT_ENDPOINT = "http://127.0.0.1:8000/v1"


@dataclass(slots=True)
class CaptionRequest:
    uid: str
    part_id: int  # -1 = the whole object
    kind: str  # "part" | "object"
    image_png: bytes
    prompt: str
    facts: dict = field(default_factory=dict)


@dataclass(slots=True)
class Reply:
    text: str | None
    error: str | None = None  # kind of failure, e.g. "http_429", "timeout", "bad_response"


@dataclass(frozen=True)
class CaptionConfig:
    """Every caption setting; one field per `partverse caption` flag.

    model: local path or hub id (transformers) / model name sent to the server (openai).
    device: "auto" (CUDA when present) | "cpu" | "cuda" | "cuda:N".
    concurrency / max_retries / timeout_s / backoff_s: HTTP backend only.
    """

    backend: str = "metadata"
    model: str = DEFAULT_MODEL
    endpoint: str = DEFAULT_ENDPOINT
    api_key_env: str = "PARTVERSE_OPENAI_API_KEY"
    batch_size: int = 4
    max_new_tokens: int = 256
    device: str = "auto"
    dtype: str = "auto"
    concurrency: int = 8
    max_retries: int = 4
    timeout_s: float = 120.0
    backoff_s: float = 0.5
    backoff_max_s: float = 20.0
    retry_temperature: float = 0.7
    use_name_hint: bool = True

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ConfigError(f"CaptionConfig.backend: {self.backend!r}; allowed: {', '.join(BACKENDS)}")
        for name in ("batch_size", "max_new_tokens", "concurrency"):
            if getattr(self, name) < 1:
                raise ConfigError(f"CaptionConfig.{name}: {getattr(self, name)}; must be >= 1")
        if self.max_retries < 0 or self.timeout_s <= 0 or self.backoff_s < 0:
            raise ConfigError(f"CaptionConfig.max_retries/timeout_s/backoff_s: {self.max_retries}/{self.timeout_s}/{self.backoff_s}; need >= 0 / > 0 / >= 0")
        if self.backend == "openai" and not self.endpoint.startswith(("http://", "https://")):
            raise ConfigError(f"CaptionConfig.endpoint: {self.endpoint!r}; must be an http(s) URL ending in /v1")
        if self.device != "auto" and not (self.device == "cpu" or self.device.startswith("cuda")):
            raise ConfigError(f"CaptionConfig.device: {self.device!r}; allowed: auto, cpu, cuda, cuda:N")


class CaptionBackend:
    name: ClassVar[str] = ""

    def __init__(self, config: CaptionConfig):
        self.config = config

    @property
    def model_id(self) -> str:
        return self.config.model

    def setup(self) -> None:
        """Load the model or open the client; called once per worker."""

    def generate(self, requests: list[CaptionRequest], retry: bool = False) -> list[Reply]:
        raise NotImplementedError(f"{type(self).__name__} does not define generate()")


def make_backend(config: CaptionConfig) -> CaptionBackend:
    """The backend named by config.backend (not yet set up)."""
    if config.backend == "transformers":
        from partverse.caption.hf import TransformersBackend

        return TransformersBackend(config)
    if config.backend == "openai":
        from partverse.caption.openai_http import OpenAIBackend

        return OpenAIBackend(config)
    from partverse.caption.metadata import MetadataBackend

    return MetadataBackend(config)
