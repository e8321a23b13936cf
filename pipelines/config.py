"""Build configuration: YAML validated by pydantic; errors name the field, value and allowed values.

A config names the run directory, the executor and the stage list. Each stage entry is
`{name: <registered stage>, params: {...}}` plus optional resource overrides; the params are
validated against the stage class's dataclass fields.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, PositiveInt, TypeAdapter, ValidationError

from partverse.errors import ConfigError
from pipelines.registry import stage_class
from pipelines.stage import SinkStage, SourceStage, Stage


class StageConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    params: dict[str, Any] = Field(default_factory=dict)
    timeout_s: PositiveFloat | None = None  # per-object limit; overrides object_timeout_s
    num_cpus: PositiveFloat | None = None
    num_gpus: float | None = Field(default=None, ge=0)
    batch_size: PositiveInt | None = None
    concurrency: PositiveInt | None = None  # actor-pool size on Ray


class RayConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    address: str | None = None  # None: start Ray locally; "auto" or "ray://host:10001": join a cluster
    num_cpus: PositiveInt | None = None  # only when starting Ray locally
    object_store_memory: PositiveInt | None = None  # bytes, only when starting Ray locally
    max_retries: int = Field(default=3, ge=0)  # re-runs of a task (or actor restarts) after its worker or node died


class BuildConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    run_dir: Path
    store_dir: Path | None = None  # content-addressed store; default RUN_DIR/store
    executor: Literal["local", "ray"] = "local"
    ray: RayConfig = Field(default_factory=RayConfig)
    object_timeout_s: PositiveFloat | None = 600.0  # per object and stage
    progress: bool = True
    stages: list[StageConfig]

    def resolved(self) -> "BuildConfig":
        """Absolute paths (the run and store folders, and the stages' `path_params` given as
        relative paths, against the current folder) and the store default filled in: the config
        saved in the run folder builds the same from any folder."""
        run_dir = self.run_dir.expanduser().resolve()
        store = (self.store_dir.expanduser().resolve() if self.store_dir else run_dir / "store")
        stages = [sc.model_copy(update={"params": _absolute_paths(sc)}) for sc in self.stages]
        return self.model_copy(update={"run_dir": run_dir, "store_dir": store, "stages": stages})


def _absolute_paths(sc: StageConfig) -> dict[str, Any]:
    try:
        names = stage_class(sc.name).path_params
    except ConfigError:  # an unknown stage: build_stages names it
        return sc.params

    def absolute(value):
        if isinstance(value, str) and value and "://" not in value:
            return str(Path(value).expanduser().absolute())
        if isinstance(value, list):
            return [absolute(v) for v in value]
        return value

    return {k: absolute(v) if k in names else v for k, v in sc.params.items()}


def _format(err: ValidationError, where: str, prefix: tuple = ()) -> str:
    lines = []
    for e in err.errors():
        loc = ".".join(str(p) for p in (*prefix, *e["loc"]))
        got = f" (got {e['input']!r})" if e["type"] != "missing" else ""
        lines.append(f"{where}: {loc}: {e['msg']}{got}")
    return "\n".join(lines)


def parse_config(data: Any, where: str = "config") -> BuildConfig:
    try:
        cfg = BuildConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_format(exc, where)) from None
    build_stages(cfg, where)  # validates names, params and order
    return cfg


def load_config(path: str | Path) -> BuildConfig:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of settings at the top level, got {type(data).__name__}")
    return parse_config(data, str(path))


def make_stage(sc: StageConfig, where: str, index: int) -> Stage:
    try:
        cls = stage_class(sc.name)
    except ConfigError as exc:
        raise ConfigError(f"{where}: stages.{index}.name: {exc}") from None
    allowed = ", ".join(getattr(cls, "__dataclass_fields__", {}))
    unknown = sorted(set(sc.params) - set(getattr(cls, "__dataclass_fields__", {})))
    if unknown:
        raise ConfigError(f"{where}: stages.{index}.params: unknown parameter(s) {unknown} for stage {sc.name}; "
                          f"allowed: {allowed or 'none'}")
    try:
        return TypeAdapter(cls).validate_python(sc.params)
    except ValidationError as exc:
        raise ConfigError(f"{_format(exc, where, ('stages', index, 'params'))}\n(parameters of {sc.name}: {allowed})") from None
    except ConfigError as exc:
        raise ConfigError(f"{where}: stages.{index}.params: {exc}") from None


def build_stages(cfg: BuildConfig, where: str = "config") -> list[Stage]:
    """Instantiate and check the stage list: one source first, per-object stages, at most one sink last."""
    stages = [make_stage(sc, where, i) for i, sc in enumerate(cfg.stages)]
    if not stages or not isinstance(stages[0], SourceStage):
        raise ConfigError(f"{where}: stages.0: the first stage must be a source stage such as ingest_local")
    for i, st in enumerate(stages[1:], 1):
        if isinstance(st, SourceStage):
            raise ConfigError(f"{where}: stages.{i}: source stage {st.name} must come first")
        if isinstance(st, SinkStage) and i != len(stages) - 1:
            raise ConfigError(f"{where}: stages.{i}: sink stage {st.name} must come last")
    return stages


def default_config(input_paths: list[str], run_dir: str, executor: str = "local", ray_address: str | None = None) -> BuildConfig:
    """The config `partverse build --input DIR --out DIR` uses."""
    data = {
        "run_dir": run_dir,
        "executor": executor,
        "ray": {"address": ray_address},
        "stages": [
            {"name": "ingest_local", "params": {"paths": list(input_paths)}},
            {"name": "prepare"},
            {"name": "segment", "params": {"method": "artist"}},
            {"name": "annotation"},
            {"name": "export_parts"},
            {"name": "write_release"},
        ],
    }
    return parse_config(data, "command line")


def dump_config(cfg: BuildConfig) -> str:
    return yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False)
