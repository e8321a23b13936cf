"""Metric logging to CSV (`metrics.csv`) or TensorBoard (`tb/`) under the run directory."""
from __future__ import annotations

import csv
from pathlib import Path


class MetricLogger:
    """On resume from `start`, CSV rows of steps >= start are dropped so the file has no repeats."""

    def __init__(self, out_dir: str | Path, kind: str, start: int = 0):
        self.kind = kind
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        if kind == "tensorboard":
            from partverse.extras import require

            tb = require("torch.utils.tensorboard", "train")
            self.writer = tb.SummaryWriter(str(out / "tb"), purge_step=start)
            return
        self.path = out / "metrics.csv"
        self.rows: list[dict] = []
        if self.path.exists() and start > 0:
            with self.path.open() as f:
                self.rows = [r for r in csv.DictReader(f) if int(r["step"]) < start]
        self.fields: list[str] = list(self.rows[0]) if self.rows else []
        self._rewrite()

    def log(self, step: int, metrics: dict) -> None:
        if self.kind == "tensorboard":
            for k, v in metrics.items():
                if k != "step":
                    self.writer.add_scalar(k, float(v), step)
            return
        row = {"step": step, **{k: f"{float(v):.6g}" for k, v in metrics.items() if k != "step"}}
        self.rows.append(row)
        if not self.fields:
            self.fields = list(row)
            self._rewrite()
            return
        with self.path.open("a", newline="") as f:
            csv.DictWriter(f, self.fields, extrasaction="ignore").writerow(row)

    def _rewrite(self) -> None:
        with self.path.open("w", newline="") as f:
            if self.fields:
                w = csv.DictWriter(f, self.fields, extrasaction="ignore")
                w.writeheader()
                w.writerows(self.rows)

    def close(self) -> None:
        if self.kind == "tensorboard":
            self.writer.close()
