"""Speed of `build_hierarchy`: the compiled greedy merge against the Python loop it replaced.

    python benchmarks/hierarchy_merge.py [--data ../shared/data] [--repeat 50]

1. Warm: median wall time of `build_hierarchy` after two warm-up calls, on the inputs `auto`
   gives it (default config, artist parts as groups) for a small asset and the largest PSB model,
   with the kernel and with the Python loop (tests/test_segment_hierarchy.py) in its place.
2. Cold: a fresh process importing `partverse.segment.hierarchy` and building one tiny hierarchy
   (numba imported and the cached kernel loaded), against one that only imports numpy and scipy,
   and the same first build after another cached kernel (the face graph's) started numba, as in
   a segmentation.
3. SAM-2 evidence: `build_hierarchy` on the largest PSB model subdivided twice (about 0.8M faces,
   20,000 superfaces) with noisy evidence (the superfaces of another seed standing in for lifted
   SAM-2 labels), as `auto` builds it and as `samesh --num-parts` does (the evidence labels as
   the regions, every border evidence), each relative to the same mesh without evidence.
   Measured here: 1.13x and 1.05x; before `geometric.EVIDENCE_WEIGHT` and the lazy queue (one
   run each) 84x (9.5 s) and 2600x (294 s): SAM-2 borders weighed zero, and the one region that
   absorbed its tied neighbours one by one re-queued its whole, ever longer border each time.
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
    mesh = load(path)
    return recorded_inputs(mesh.vertices, mesh.faces, face_group=artist_segmentation(mesh))


def recorded_inputs(vertices, faces, **options):
    """The arguments `geometric_hierarchy(vertices, faces, **options)` passes to `build_hierarchy`."""
    calls = []
    real = geometric.build_hierarchy
    geometric.build_hierarchy = lambda *a, **k: calls.append((a, k)) or real(*a, **k)
    try:
        geometric.geometric_hierarchy(vertices, faces, **options)
    finally:
        geometric.build_hierarchy = real
    return calls[0]


def evidence_rows(path: Path, repeat: int) -> None:
    """Section 3: build times with noisy SAM-2 evidence over the same mesh without."""
    import numpy as np
    import trimesh

    from partverse.segment.facegraph import build_face_graph, face_geometry

    mesh = load(path)
    vertices, faces = mesh.vertices, mesh.faces
    for _ in range(2):
        vertices, faces = trimesh.remesh.subdivide(vertices, faces)
    vertices, faces = np.asarray(vertices, np.float64), np.asarray(faces, np.int64)
    graph = build_face_graph(vertices, faces, 0.02, face_geometry(vertices, faces))
    evidence = geometric.superfaces(graph, np.zeros(len(graph.pairs)), 40, seed=1)
    cases = {"no evidence": {}, "auto + evidence": dict(face_evidence=evidence),
             "samesh --num-parts": dict(face_evidence=evidence, regions=evidence)}
    times = {}
    for name, options in cases.items():
        a, k = recorded_inputs(vertices, faces, **options)
        times[name] = median_time(lambda: hierarchy.build_hierarchy(*a, **k), repeat)
    base = times["no evidence"]
    print(f"{path.name} subdivided: {len(faces)} faces, {int(evidence.max()) + 1} evidence labels: "
          + ", ".join(f"{name} {t * 1e3:.0f} ms ({t / base:.2f}x)" for name, t in times.items()))


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
    evidence_rows(args.data / "psb" / "off" / "281.off", max(3, args.repeat // 10))


if __name__ == "__main__":
    main()
