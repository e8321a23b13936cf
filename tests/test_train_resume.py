"""Exact resume: stop at step k, resume, and the next losses equal an uninterrupted run's."""
from __future__ import annotations

import csv

from partverse.train import checkpoint
from partverse.train.loop import train
from tests.train_helpers import tiny_vae_config


def _losses(cfg) -> dict[int, float]:
    got: dict[int, float] = {}
    train(cfg, on_step=lambda step, m: got.__setitem__(step, m["loss"]))
    return got


def test_resume_gives_identical_next_losses(tmp_path):
    full = _losses(tiny_vae_config(tmp_path / "full", "steps=8", "ckpt_every=4"))
    first = _losses(tiny_vae_config(tmp_path / "split", "steps=4", "ckpt_every=4"))
    assert checkpoint.latest(tmp_path / "split").name == "step_00000004"
    rest = _losses(tiny_vae_config(tmp_path / "split", "steps=8", "ckpt_every=4"))
    assert sorted(first) == [0, 1, 2, 3] and sorted(rest) == [4, 5, 6, 7]
    for step in range(4):
        assert first[step] == full[step]
    for step in range(4, 8):
        assert rest[step] == full[step], (step, rest[step], full[step])
    with (tmp_path / "split" / "metrics.csv").open() as f:
        assert [int(r["step"]) for r in csv.DictReader(f)] == list(range(8))  # no repeated rows
    full_w = checkpoint.load_weights(tmp_path / "full")
    split_w = checkpoint.load_weights(tmp_path / "split")
    assert all((full_w[k] == split_w[k]).all() for k in full_w)
