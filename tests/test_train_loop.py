"""The loop's options beyond the defaults: bf16 autocast and TensorBoard logging (CPU, tiny VAE)."""
from __future__ import annotations

import math

import pytest

from partverse.errors import ConfigError
from partverse.train.loop import train
from tests.train_helpers import tiny_vae_config


def test_bf16_autocast_and_tensorboard_log(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    losses: list[float] = []
    train(tiny_vae_config(tmp_path / "run", "steps=3", "precision=bf16", "log=tensorboard"),
          on_step=lambda step, m: losses.append(m["loss"]))
    assert len(losses) == 3 and all(math.isfinite(v) for v in losses)
    events = EventAccumulator(str(tmp_path / "run" / "tb"))
    events.Reload()
    assert {"loss", "grad_norm", "lr", "bce_near"} <= set(events.Tags()["scalars"])
    assert [e.step for e in events.Scalars("loss")] == [0, 1, 2]
    assert [e.value for e in events.Scalars("loss")] == pytest.approx(losses, rel=1e-6)


def test_fp16_refused_on_cpu(tmp_path):
    with pytest.raises(ConfigError, match="precision='fp16'"):
        train(tiny_vae_config(tmp_path / "run", "steps=1", "precision=fp16", "device=cpu"))
