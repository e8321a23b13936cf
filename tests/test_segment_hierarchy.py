"""The merge hierarchy: the compiled greedy merge against the Python loop it replaced, on real
PSB meshes and shared assets, bit for bit."""
import heapq
import math

import numpy as np
import pytest

from partverse.io import load
from partverse.segment import hierarchy_kernels
from partverse.segment.artist import artist_segmentation
from partverse.segment.geometric import GeometricConfig, geometric_hierarchy
from partverse.segment.hierarchy import build_hierarchy
from partverse.segment.psb import list_models
from tests.conftest import shared


def reference_greedy_merge(n, rows, cols, weight, length, area, value, has_value, scale):
    """The Python loop `hierarchy_kernels.greedy_merge` replaced, with the kernel's arguments: one
    dict of neighbours per region (link k is the list [weight, length] both regions share) and a
    heapq of (key, a, b, va, vb), an entry current iff both versions still match, key = -affinity
    (NaN: +inf, after every other). Every merge pushes all of the survivor's borders anew."""
    neighbours = [dict() for _ in range(n)]
    for a, b, w, L in zip(rows.tolist(), cols.tolist(), weight.tolist(), length.tolist()):
        neighbours[a][b] = neighbours[b][a] = [w, L]
    value = value.tolist() if has_value else None
    area = area.tolist()
    heap = [(_key(_affinity(a, b, e, area, scale, value)), a, b, 0, 0)
            for a in range(n) for b, e in neighbours[a].items() if a < b]
    heapq.heapify(heap)
    version = [0] * n
    merges, affinity = [], []
    while heap:
        _, a, b, va, vb = heapq.heappop(heap)
        if version[a] != va or version[b] != vb:
            continue
        merges.append((a, b))
        affinity.append(_affinity(a, b, neighbours[a][b], area, scale, value))
        _absorb(a, b, neighbours, area, value)
        version[a] += 1
        version[b] += 1
        va = version[a]
        for c, e in neighbours[a].items():
            key = _key(_affinity(a, c, e, area, scale, value))
            heapq.heappush(heap, (key, a, c, va, version[c]) if a < c else (key, c, a, version[c], va))
    return np.array(merges, dtype=np.int64).reshape(-1, 2), np.array(affinity, dtype=np.float64)


def _key(affinity):
    return math.inf if math.isnan(affinity) else -affinity


def _affinity(a, b, entry, area, scale, value):
    w, length = entry
    base = w * (1.0 / area[a] + 1.0 / area[b]) * scale * (w / length if length > 0 else 1.0)
    return base if value is None else base * math.exp(-abs(value[a] - value[b]))


def _absorb(a, b, neighbours, area, value):
    if value is not None:
        value[a] = (value[a] * area[a] + value[b] * area[b]) / (area[a] + area[b])
    neighbours[a].pop(b)
    neighbours[b].pop(a)
    for c, w in neighbours[b].items():
        entry = neighbours[a].setdefault(c, [0.0, 0.0])
        entry[0] += w[0]
        entry[1] += w[1]
        neighbours[c].pop(b)
        neighbours[c][a] = entry
    neighbours[b] = {}
    area[a] += area[b]


def _merge_inputs(monkeypatch, build):
    """The arguments `build()` passes to the kernel (copies: the kernel updates some in place)."""
    calls = []
    kernel = hierarchy_kernels.greedy_merge

    def recording(*args):
        calls.append([a.copy() if isinstance(a, np.ndarray) else a for a in args])
        return kernel(*args)

    with monkeypatch.context() as patch:
        patch.setattr(hierarchy_kernels, "greedy_merge", recording)
        built = build()
    assert len(calls) == 1
    return built, calls[0]


def _assert_same_bits(hierarchy, args):
    merges, affinity = reference_greedy_merge(*[a.copy() if isinstance(a, np.ndarray) else a for a in args])
    assert hierarchy.merges.dtype == merges.dtype and hierarchy.affinity.dtype == affinity.dtype
    assert np.array_equal(hierarchy.merges, merges)
    assert hierarchy.affinity.tobytes() == affinity.tobytes()  # every bit, NaN included


@pytest.mark.parametrize("thickness", [1.0, None], ids=["thickness", "plain"])
@pytest.mark.parametrize("name", ["psb/281", "kaykit_knight.glb", "objaverse_002e462c8bfa4267a9c9f038c7966f3b.glb"])
def test_kernel_merges_as_the_python_loop(name, thickness, monkeypatch):
    """As `auto` builds it: the default config (thickness = per-region log shape diameter) or none,
    and on the assets the artist parts as groups, whose borders are blocked links."""
    if name.startswith("psb/"):
        mesh = load([m for m in list_models(shared("psb")) if m.model_id == name[4:]][0].mesh_path)
        group = None
    else:
        mesh = load(shared("assets", name))
        group = artist_segmentation(mesh)
        assert len(np.unique(group)) > 1
    config = GeometricConfig(region_thickness_scale=thickness)
    (_, hierarchy), args = _merge_inputs(monkeypatch, lambda: geometric_hierarchy(mesh.vertices, mesh.faces, config, group))
    assert args[7] == (thickness is not None) and hierarchy.num_regions > 50
    _assert_same_bits(hierarchy, args)


@pytest.mark.parametrize("as_regions", [False, True], ids=["auto", "samesh"])
def test_kernel_merges_as_the_python_loop_with_sam2_evidence(as_regions, monkeypatch):
    """With lifted SAM-2 labels as evidence (here the superfaces of another seed, noise on most
    borders), as `auto --sam2` builds the hierarchy and as `samesh --num-parts` does (the labels
    as its regions, every border evidence): keys rise and fall as regions grow."""
    from partverse.segment.geometric import superfaces

    mesh = load([m for m in list_models(shared("psb")) if m.model_id == "281"][0].mesh_path)
    graph, _ = geometric_hierarchy(mesh.vertices, mesh.faces, GeometricConfig(border_rings=0))
    evidence = superfaces(graph, np.zeros(len(graph.pairs)), 40, seed=1)
    options = dict(face_evidence=evidence, regions=evidence if as_regions else None)
    (_, hierarchy), args = _merge_inputs(monkeypatch, lambda: geometric_hierarchy(mesh.vertices, mesh.faces, **options))
    assert hierarchy.num_regions > 1000
    _assert_same_bits(hierarchy, args)


@pytest.mark.parametrize("seed", range(6))
def test_kernel_merges_as_the_python_loop_with_ties_and_nan(seed, monkeypatch):
    """Even seeds: one face per region, unit areas and small integer weights, so many entries
    have equal affinities (ties broken by region ids). Odd seeds: infinite values, so NaN
    affinities, queued after every other. Both pop in the reference's order (and at seed 1 the
    kernel's lazy queue outgrows its first allocation, 2 entries per link, once: measured)."""
    rng = np.random.default_rng(seed)
    faces = 600
    region = np.arange(faces) // (1 + seed % 2)
    pairs = rng.integers(0, faces, (4 * faces, 2))
    weight = rng.integers(0, 3, len(pairs)).astype(float)
    length = weight + rng.integers(0, 2, len(pairs))
    value = rng.normal(size=faces)
    value[rng.random(faces) < 0.05] = np.inf
    blocked = rng.random(len(pairs)) < 0.1
    hierarchy, args = _merge_inputs(monkeypatch, lambda: build_hierarchy(
        region, pairs, weight, np.ones(faces), blocked, face_value=value if seed % 2 else None, length=length))
    _assert_same_bits(hierarchy, args)
    if seed % 2:
        assert np.isnan(hierarchy.affinity).any()
    else:
        assert len(np.unique(hierarchy.affinity)) < len(hierarchy.affinity) / 2


def test_a_creased_border_merges_after_a_smooth_one_of_equal_weight():
    # regions 0 | 1 | 2 (one face each, equal areas); both borders carry total affinity 1.0, but
    # the 1-2 border is twice as long with half of it creased: lower mean smoothness
    region = np.array([0, 1, 2])
    pairs = np.array([[0, 1], [1, 2], [1, 2]])
    weight = np.array([1.0, 1.0, 0.0])
    length = np.array([1.0, 1.0, 1.0])
    h = build_hierarchy(region, pairs, weight, np.ones(3), length=length)
    assert h.merges[0].tolist() == [0, 1]
    assert h.affinity[0] > h.affinity[1]


def test_one_region_and_no_borders():
    h = build_hierarchy(np.zeros(4, np.int64), np.array([[0, 1], [1, 2]]), np.ones(2), np.ones(4))
    assert h.merges.shape == (0, 2) and h.affinity.shape == (0,)
    apart = build_hierarchy(np.arange(3), np.zeros((0, 2), np.int64), np.zeros(0), np.ones(3))
    assert apart.merges.shape == (0, 2) and apart.labels_for_count(1).tolist() == [0, 1, 2]
