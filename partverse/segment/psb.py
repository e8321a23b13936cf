"""Reading the Princeton Segmentation Benchmark layout: `off/<id>.off` meshes and
`seg/<id>/<id>_<k>.seg` human segmentations (one segment id per line, one line per face)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from partverse.errors import PartverseError


class SegFileError(PartverseError):
    """A .seg / labels file that cannot be used; str = "PATH: reason"."""

    def __init__(self, path, reason: str):
        self.path, self.reason = str(path), reason
        super().__init__(f"{path}: {reason}")


def read_seg(path: str | Path, num_faces: int | None = None) -> np.ndarray:
    """(F,) int64 labels from a .seg file; checks the line count against `num_faces` if given."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise SegFileError(path, f"cannot read ({exc.strerror or exc})") from exc
    try:
        labels = np.array(text.split(), dtype=np.int64)
    except ValueError as exc:
        raise SegFileError(path, f"not one integer per line ({exc})") from exc
    if len(labels) == 0:
        raise SegFileError(path, "no labels")
    if num_faces is not None and len(labels) != num_faces:
        raise SegFileError(path, f"{len(labels)} labels for a mesh of {num_faces} faces")
    return labels


def read_labels(path: str | Path, num_faces: int | None = None) -> np.ndarray:
    """(F,) int64 labels from a .seg text file or a .npy array."""
    path = Path(path)
    if path.suffix.lower() != ".npy":
        return read_seg(path, num_faces)
    try:
        labels = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise SegFileError(path, f"not a readable .npy array ({exc})") from exc
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise SegFileError(path, f"expected a 1-D integer array, got {labels.dtype} {labels.shape}")
    if len(labels) == 0:
        raise SegFileError(path, "no labels")
    if num_faces is not None and len(labels) != num_faces:
        raise SegFileError(path, f"{len(labels)} labels for a mesh of {num_faces} faces")
    return labels.astype(np.int64)


@dataclass(slots=True)
class PsbModel:
    """One benchmark model: its mesh path and every human segmentation's path."""

    model_id: str
    mesh_path: Path
    seg_paths: list[Path]


def list_models(root: str | Path) -> list[PsbModel]:
    """Models under a PSB folder, in numeric id order; only models with at least one .seg file."""
    root = Path(root)
    if not (root / "off").is_dir():
        raise SegFileError(root, "not a Princeton benchmark folder (no off/ subfolder)")
    models = []
    for off in (root / "off").glob("*.off"):
        segs = sorted((root / "seg" / off.stem).glob(f"{off.stem}_*.seg"), key=lambda p: int(p.stem.split("_")[-1]))
        if segs:
            models.append(PsbModel(off.stem, off, segs))
    return sorted(models, key=lambda m: (len(m.model_id), m.model_id))
