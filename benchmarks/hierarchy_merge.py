"""Speed of `build_hierarchy`: the compiled greedy merge against the Python loop it replaced.

    python benchmarks/hierarchy_merge.py [--data ../shared/data] [--repeat 50]

1. Warm: median wall time of `build_hierarchy` after two warm-up calls, on the inputs `auto`
   gives it (default config, artist parts as groups) for a small asset and the largest PSB model,
   with the kernel and with the Python loop (tests/test_segment_hierarchy.py) in its place.
2. Cold: a fresh process importing `partverse.segment.hierarchy` and building one tiny hierarchy
   (numba imported and the cached kernel loaded), against one that only imports numpy and scipy,
   and the same first build after another cached kernel (the face graph's) started numba, as in
   a segmentation.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from partverse.io import load  # noqa: E402
from partverse.segment import geometric, hierarchy, hierarchy_kernels  # noqa: E402
from partverse.segment.artist import artist_segmentation  # noqa: E402
from tests.test_segment_hierarchy import reference_greedy_merge  # noqa: E402

COLD = "import time; {setup}; t = time.perf_counter(); {body}; print(time.perf_counter() - t)"
TINY = ("import numpy as np; from partverse.segment.hierarchy import build_hierarchy; "
        "build_hierarchy(np.arange(3), np.array([[0, 1], [1, 2]]), np.ones(2), np.ones(3))")
FACE_GRAPH = "from partverse.segment.facegraph import face_geometry; face_geometry(np.eye(3), np.array([[0, 1, 2]]))"


def hierarchy_inputs(path: Path):
    """The arguments `auto` passes to `build_hierarchy` for the mesh at `path`."""
    mesh, calls = load(path), []
    real = geometric.build_hierarchy
    geometric.build_hierarchy = lambda *a, **k: calls.append((a, k)) or real(*a, **k)
    try:
        geometric.geometric_hierarchy(mesh.vertices, mesh.faces, face_group=artist_segmentation(mesh))
    finally:
        geometric.build_hierarchy = real
    return calls[0]


def median_time(fn, repeat: int) -> float:
    fn(), fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--repeat", type=int, default=50)
    args = parser.parse_args()
    kernel = hierarchy_kernels.greedy_merge
    for path in (args.data / "assets" / "quat_bed_bunk.glb", args.data / "psb" / "off" / "281.off"):
        a, k = hierarchy_inputs(path)
        times = {}
        for name, merge in (("python", reference_greedy_merge), ("kernel", kernel)):
            hierarchy_kernels.greedy_merge = merge
            times[name] = median_time(lambda: hierarchy.build_hierarchy(*a, **k), args.repeat)
        hierarchy_kernels.greedy_merge = kernel
        regions = int(a[0].max()) + 1
        print(f"{path.name}: {len(a[0])} faces, {regions} regions: python loop {times['python'] * 1e3:.2f} ms, "
              f"kernel {times['kernel'] * 1e3:.2f} ms ({times['python'] / times['kernel']:.1f}x)")
    for name, setup, body in (("numpy + scipy import", "pass", "import numpy, scipy.sparse"),
                              ("hierarchy import + first build", "pass", TINY),
                              ("first build after the face graph's kernel", f"import numpy as np; {FACE_GRAPH}", TINY)):
        runs = [float(subprocess.run([sys.executable, "-c", COLD.format(setup=setup, body=body)], cwd=REPO,
                                     check=True, capture_output=True, text=True).stdout) for _ in range(5)]
        print(f"cold {name}: median {statistics.median(runs):.3f} s")


if __name__ == "__main__":
    main()
