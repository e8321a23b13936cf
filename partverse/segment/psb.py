"""Reading the Princeton Segmentation Benchmark layout: `off/<id>.off` meshes and
`seg/<id>/<id>_<k>.seg` human segmentations (one segment id per line, one line per face), and
the label / proposal files `partverse eval segmentation` reads (`read_labels`, `read_proposals`)."""
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
    except UnicodeDecodeError:
        raise SegFileError(path, "not a text label file (binary content; labels are a .seg text file, one "
                                 "integer per line, or a .npy array)") from None
    try:
        labels = np.array(text.split(), dtype=np.int64)
    except ValueError as exc:
        raise SegFileError(path, f"not one integer per line ({exc})") from exc
    except OverflowError:
        raise SegFileError(path, "a label does not fit a 64-bit integer") from None
    return _checked(path, labels, num_faces)


def _checked(path: Path, labels: np.ndarray, num_faces: int | None) -> np.ndarray:
    if len(labels) == 0:
        raise SegFileError(path, "no labels")
    if num_faces is not None and len(labels) != num_faces:
        raise SegFileError(path, f"{len(labels)} labels for a mesh of {num_faces} faces")
    return labels


def read_labels(path: str | Path, num_faces: int | None = None) -> np.ndarray:
    """(F,) int64 labels from a .seg text file or a .npy array; checks the count against
    `num_faces` if given."""
    path = Path(path)
    if path.suffix.lower() != ".npy":
        return read_seg(path, num_faces)
    return _label_array(path, _load_npy(path), num_faces)


def _load_npy(path: Path) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise SegFileError(path, f"not a readable .npy array ({exc})") from exc


def _label_array(path: Path, labels: np.ndarray, num_faces: int | None) -> np.ndarray:
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise SegFileError(path, f"expected a 1-D integer array, got {labels.dtype} {labels.shape}")
    if labels.dtype == np.uint64 and len(labels) and labels.max() > np.iinfo(np.int64).max:
        raise SegFileError(path, "a label does not fit a 64-bit signed integer")
    return _checked(path, labels.astype(np.int64), num_faces)


def read_proposals(path: str | Path, num_faces: int | None = None) -> np.ndarray:
    """Part proposals from a file: (N, F) bool face masks from a 2-D .npy array (bool, or numbers
    that are all 0 or 1), ranked as stored; or (F,) int64 labels (`read_labels`) from a 1-D
    .npy or a .seg file, every segment of which is a proposal. Face counts are checked against
    `num_faces` if given."""
    path = Path(path)
    if path.suffix.lower() != ".npy":
        return read_seg(path, num_faces)
    array = _load_npy(path)
    if array.ndim == 1:
        return _label_array(path, array, num_faces)
    if array.ndim != 2:
        raise SegFileError(path, f"expected (N, F) face masks or (F,) labels, got an array of shape {array.shape}")
    if array.dtype != bool:
        numeric = np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)
        if not numeric or not np.isin(array, (0, 1)).all():
            raise SegFileError(path, f"face masks must be boolean or all 0 / 1 (a {array.dtype} array with other values)")
        array = array.astype(bool)
    if num_faces is not None and array.shape[1] != num_faces:
        raise SegFileError(path, f"masks of {array.shape[1]} faces for a mesh of {num_faces} faces")
    return array


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
