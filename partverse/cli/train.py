"""`partverse train vae|dit`, `partverse sample`, `partverse evaluate`."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from partverse.errors import PartverseError

train_app = typer.Typer(help="Train the part VAE or the multi-part DiT (overrides: KEY=VALUE, e.g. optim.lr=3e-4).",
                        no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(train_app, name="train")
    app.command("sample")(sample)
    app.command("evaluate")(evaluate)


def _run(kind: str, config: Optional[Path], overrides: list[str], ray_workers: int, use_gpu: bool) -> None:
    from partverse.train.config import load_config

    try:
        cfg = load_config(config, overrides or [], kind=kind)
        if ray_workers > 0:
            from partverse.train.ray_train import train_with_ray

            train_with_ray(cfg, ray_workers, use_gpu)
            typer.echo(json.dumps({"out_dir": cfg.out_dir, "workers": ray_workers}))
            return
        from partverse.train.loop import train

        metrics = train(cfg)
    except PartverseError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2)
    typer.echo(json.dumps({"out_dir": cfg.out_dir, **{k: metrics[k] for k in ("step", "loss") if k in metrics}}))


_CONFIG = typer.Option(None, "--config", help="YAML config file (fields of TrainConfig)")
_OVERRIDES = typer.Argument(None, help="KEY=VALUE overrides, e.g. steps=1000 data.path=/releases/v1")
_RAY = typer.Option(0, "--ray-workers", help="run on N Ray Train workers instead of this process (torchrun: just launch this command)")
_GPU = typer.Option(False, "--ray-gpu", help="one GPU per Ray worker")


@train_app.command("vae")
def train_vae(config: Optional[Path] = _CONFIG, overrides: Optional[list[str]] = _OVERRIDES,
              ray_workers: int = _RAY, ray_gpu: bool = _GPU) -> None:
    """Train the VecSet part VAE."""
    _run("vae", config, overrides or [], ray_workers, ray_gpu)


@train_app.command("dit")
def train_dit(config: Optional[Path] = _CONFIG, overrides: Optional[list[str]] = _OVERRIDES,
              ray_workers: int = _RAY, ray_gpu: bool = _GPU) -> None:
    """Train the multi-part DiT (needs vae_ckpt=<VAE run or checkpoint dir>)."""
    _run("dit", config, overrides or [], ray_workers, ray_gpu)


def sample(
    ckpt: Path = typer.Option(..., "--ckpt", help="DiT run or checkpoint directory"),
    boxes: Path = typer.Option(..., "--boxes", help='boxes.json: {"boxes": [[[min],[max]], ...], "keep": {"0": "part.glb"}}'),
    out: Path = typer.Option(Path("samples"), "--out", help="output directory"),
    steps: int = typer.Option(50, help="Euler steps"),
    guidance: float = typer.Option(1.0, help="classifier-free guidance scale (1 = off)"),
    seed: int = typer.Option(0),
    resolution: int = typer.Option(64, help="marching-cubes grid"),
    captions: Optional[Path] = typer.Option(None, "--captions",
                                            help='captions.json: ["part caption", ...] or {"parts": [...], "object": "..."}'),
) -> None:
    """Generate one mesh per box (part_<i>.glb) and the assembled object.glb."""
    from partverse.train.sample import sample_to_dir

    try:
        typer.echo(json.dumps(sample_to_dir(ckpt, boxes, out, steps, guidance, seed, resolution, captions)))
    except PartverseError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2)


def evaluate(
    ckpt: Path = typer.Option(..., "--ckpt", help="VAE or DiT run / checkpoint directory"),
    release: Optional[Path] = typer.Option(None, "--release", help="release directory (held-out objects)"),
    assets: Optional[str] = typer.Option(None, "--assets", help="mesh files or a directory, instead of a release"),
    limit: int = typer.Option(16, help="objects to evaluate"),
    steps: int = typer.Option(50), guidance: float = typer.Option(1.0), resolution: int = typer.Option(64),
    out: Optional[Path] = typer.Option(None, "--out", help="write the full JSON report here"),
) -> None:
    """VAE reconstruction or DiT generation metrics: Chamfer (L2, L1), F-score@0.02/0.1, IoU 64^3, box-fit."""
    from partverse.train.config import DataConfig
    from partverse.train.evaluate import evaluate_checkpoint

    if (release is None) == (assets is None):
        typer.echo("error: give exactly one of --release or --assets", err=True)
        raise typer.Exit(2)
    data = DataConfig(source="release" if release else "assets", path=str(release or assets), num_objects=limit)
    try:
        data.validate()
        report = evaluate_checkpoint(ckpt, data, steps, guidance, resolution)
    except PartverseError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2)
    if out:
        out.write_text(json.dumps(report, indent=1, allow_nan=False))  # strict JSON: jq, browsers
    typer.echo(json.dumps({k: report[k] for k in ("kind", "part_mean", "object_mean", "empty_parts", "num_parts")},
                          allow_nan=False))
