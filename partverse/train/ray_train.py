"""Ray Train: the same `train(cfg)` runs in each TorchTrainer worker (Ray sets up the process group,
gloo on CPU / nccl on GPU; `loop._distributed` picks it up)."""
from __future__ import annotations

from pathlib import Path

from partverse.extras import require
from partverse.train.config import TrainConfig, to_dict


def _worker(config: dict) -> None:
    from partverse.train.config import TrainConfig, from_dict
    from partverse.train.loop import train

    train(from_dict(TrainConfig, config))


def train_with_ray(cfg: TrainConfig, num_workers: int, use_gpu: bool = False):
    """Run `train(cfg)` on `num_workers` Ray Train workers; out_dir must be reachable from all of them."""
    require("ray.train", "ray")
    from ray.train import RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer

    cfg.validate()
    values = to_dict(cfg)
    values["out_dir"] = str(Path(cfg.out_dir).resolve())
    values["optim"]["betas"] = list(values["optim"]["betas"])
    trainer = TorchTrainer(_worker, train_loop_config=values,
                           scaling_config=ScalingConfig(num_workers=num_workers, use_gpu=use_gpu),
                           run_config=RunConfig(storage_path=str(Path(values["out_dir"]) / "ray"), name="train"))
    return trainer.fit()
