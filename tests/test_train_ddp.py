"""DDP with 2 gloo processes (launched through the CLI, as torchrun would) == 1 process, same global batch."""
from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest
import torch

from partverse.train import checkpoint
from tests.conftest import REPO
from tests.train_helpers import TINY_VAE

pytestmark = [pytest.mark.multiprocess, pytest.mark.slow]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cmd(out_dir) -> list[str]:
    return [sys.executable, "-m", "partverse", "train", "vae", f"out_dir={out_dir}", "data.num_objects=2",
            "batch_size=4", "steps=4", "ckpt_every=4", "optim.ema_decay=0.9", *TINY_VAE]


def _env(**extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return {**env, **extra}


def test_two_gloo_ranks_match_one_process(tmp_path):
    single = subprocess.run(_cmd(tmp_path / "one"), env=_env(), cwd=REPO, capture_output=True, text=True, timeout=400)
    assert single.returncode == 0, single.stderr[-2000:]
    port = str(_free_port())
    procs = [subprocess.Popen(_cmd(tmp_path / "two"), cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=_env(RANK=str(r), LOCAL_RANK=str(r), WORLD_SIZE="2", MASTER_ADDR="127.0.0.1",
                                       MASTER_PORT=port))
             for r in range(2)]
    for p in procs:
        _, err = p.communicate(timeout=400)
        assert p.returncode == 0, err[-2000:]
    one, two = checkpoint.load_weights(tmp_path / "one"), checkpoint.load_weights(tmp_path / "two")
    assert one.keys() == two.keys()
    for k in one:
        torch.testing.assert_close(two[k], one[k], rtol=1e-4, atol=1e-5, msg=k)
    before = checkpoint.load_weights(tmp_path / "one", "ema")
    assert any(not torch.equal(before[k], one[k]) for k in one)  # EMA is tracked separately
    ema_two = checkpoint.load_weights(tmp_path / "two", "ema")
    for k in before:
        torch.testing.assert_close(ema_two[k], before[k], rtol=1e-4, atol=1e-5)


def test_ray_train_two_workers_match_one_process(tmp_path):
    """The Ray Train path (TorchTrainer, gloo) runs the same loop: same weights as one process."""
    single = subprocess.run(_cmd(tmp_path / "one"), env=_env(), cwd=REPO, capture_output=True, text=True, timeout=400)
    assert single.returncode == 0, single.stderr[-2000:]
    ray = subprocess.run([*_cmd(tmp_path / "ray"), "--ray-workers", "2"], env=_env(), cwd=tmp_path,
                         capture_output=True, text=True, timeout=600)
    assert ray.returncode == 0, ray.stderr[-3000:]
    one, two = checkpoint.load_weights(tmp_path / "one"), checkpoint.load_weights(tmp_path / "ray")
    for k in one:
        torch.testing.assert_close(two[k], one[k], rtol=1e-4, atol=1e-5, msg=k)
