"""The SAM-2 path end to end with a tiny random Sam2Model saved to a temp dir and loaded through
the same `from_pretrained` path users use (its masks are noise; shapes, ids and lifting are real)."""
import numpy as np
import pytest

from typer.testing import CliRunner

from partverse.cli import _register_all, app
from partverse.errors import ConfigError, PartverseError
from partverse.io import load
from partverse.segment import metrics, segment
from partverse.segment.artist import artist_segmentation
from partverse.segment.sam2_images import render_modalities
from partverse.segment.sam2_masks import MaskConfig, Sam2MaskGenerator, pick_device
from partverse.segment.samesh import run_samesh
from tests.conftest import shared

IMAGE = 128


def tiny_sam2(path, seed=0):
    import torch
    from transformers import Sam2Config, Sam2ImageProcessor, Sam2Model, Sam2Processor

    config = Sam2Config(
        vision_config=dict(
            backbone_config=dict(model_type="sam2_hiera_det_model", hidden_size=16, num_attention_heads=1,
                                 image_size=[IMAGE, IMAGE], blocks_per_stage=[1, 1, 2, 1],
                                 embed_dim_per_stage=[16, 32, 64, 128], num_attention_heads_per_stage=[1, 1, 1, 1],
                                 window_size_per_stage=[8, 4, 4, 4], global_attention_blocks=[3],
                                 window_positional_embedding_background_size=[4, 4]),
            backbone_channel_list=[128, 64, 32, 16],
            backbone_feature_sizes=[[IMAGE // 4] * 2, [IMAGE // 8] * 2, [IMAGE // 16] * 2],
            fpn_hidden_size=32),
        prompt_encoder_config=dict(hidden_size=32, image_size=IMAGE, patch_size=16),
        mask_decoder_config=dict(hidden_size=32, mlp_dim=64, num_attention_heads=2, iou_head_hidden_dim=32),
    )
    torch.manual_seed(seed)
    Sam2Model(config).save_pretrained(path)
    Sam2Processor(image_processor=Sam2ImageProcessor(size={"height": IMAGE, "width": IMAGE})).save_pretrained(path)
    return str(path)


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return tiny_sam2(tmp_path_factory.mktemp("tiny_sam2"))


# random weights: accept every mask so that the lifting has something to lift
MASKS = MaskConfig(points_per_side=4, pred_iou_thresh=-1e9, stability_thresh=0.0, min_mask_pixels=4)


@pytest.fixture(scope="module")
def truck():
    return load(shared("assets", "kenney_truck_green.glb"))


def test_samesh_end_to_end_is_deterministic_and_in_range(model, truck):
    # the sdf and shaded modalities pooled (normals: the other tests), and the graph cut (on by default)
    options = dict(seed=1, resolution=48, mask_config=MASKS, modalities=("sdf", "shaded"), device="cpu")
    first = run_samesh(truck, model, **options)
    labels = first.labels
    assert labels.shape == (truck.num_faces,) and labels.min() == 0
    assert np.array_equal(np.unique(labels), np.arange(labels.max() + 1))
    assert first.mask_labels.shape == (12, 48, 48) and first.mask_labels.max() >= 0
    assert first.mask_labels.min() == -1 and (first.mask_labels[0] >= 0).sum() > 0
    assert set(first.seconds) == {"render", "sam2_embed", "sam2_decode", "lift"}
    again = run_samesh(truck, model, **options)
    assert np.array_equal(labels, again.labels) and np.array_equal(first.mask_labels, again.mask_labels)


def test_auto_with_sam2_still_respects_artist_parts(model, truck):
    from partverse.segment.facegraph import build_face_graph
    from partverse.segment.samesh import samesh_labels

    options = dict(resolution=48, mask_config=MASKS, modalities=("normals",))
    labels = segment(truck, "auto", sam2=model, **options)
    assert metrics.achievable_segmentation_accuracy(labels, artist_segmentation(truck)) == 1.0
    plain = segment(truck, "auto")
    # SAM-2 borders count as creases: the segments' borders lie on them, and many more of them
    # are borders than without SAM-2 (the random model's masks are noise: 276 lifted segments
    # on 1104 faces, more than the superfaces can follow, hence the low recall)
    evidence = samesh_labels(truck, model, **options)
    pairs = build_face_graph(truck.vertices, truck.faces).pairs
    across = evidence[pairs[:, 0]] != evidence[pairs[:, 1]]
    cut, plain_cut = (x[pairs[:, 0]] != x[pairs[:, 1]] for x in (labels, plain))
    assert across[cut].mean() >= 0.9  # precision: 0.98 measured (plain auto: 0.59)
    assert cut[across].mean() >= 3 * plain_cut[across].mean()  # recall: 0.18 against 0.03


def test_samesh_with_a_target_count(model, truck):
    labels = segment(truck, "samesh", sam2=model, num_parts=4, resolution=48, mask_config=MASKS, modalities=("sdf",))
    assert len(np.unique(labels)) == 4


def test_samesh_without_a_model_or_with_a_bad_path_says_so(tmp_path, truck):
    with pytest.raises(ConfigError, match="needs a SAM-2 model"):
        segment(truck, "samesh")
    with pytest.raises(ConfigError, match=r"sam2='.*missing': does not exist; give a local model folder"):
        segment(truck, "samesh", sam2=str(tmp_path / "missing"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(PartverseError, match="cannot load a SAM-2 model"):
        segment(truck, "samesh", sam2=str(tmp_path / "empty"))


def test_device_is_picked_and_checked():
    import torch

    assert pick_device(None) == pick_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    assert pick_device("cpu") == "cpu"
    with pytest.raises(ConfigError, match="device = 'tpu'"):
        pick_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="sees no CUDA GPU"):
            pick_device("cuda:0")


def test_a_gpu_number_beyond_the_gpus_there_is_refused(monkeypatch):
    import torch

    # a machine with two GPUs (this one has none: torch's own answers are replaced)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert pick_device("auto") == "cuda" and pick_device("cuda") == "cuda" and pick_device("cuda:1") == "cuda:1"
    with pytest.raises(ConfigError, match=r"device = 'cuda:2': torch sees 2 CUDA GPU\(s\) here, numbered 0..1"):
        pick_device("cuda:2")


def test_views_batched_together_give_the_masks_of_views_one_by_one(model, truck):
    views = render_modalities(truck, ("normals",), resolution=48)
    foreground = views.face_ids >= 0
    images = views.images["normals"]
    config = dict(points_per_side=5, points_per_batch=8, pred_iou_thresh=-1e9, stability_thresh=0.0, min_mask_pixels=4)
    alone = Sam2MaskGenerator(model, MaskConfig(views_per_batch=1, **config), device="cpu")
    batched = Sam2MaskGenerator(model, MaskConfig(views_per_batch=5, **config), device="cpu")
    # views see different numbers of grid points: a batch pads prompts, and drops the padding
    assert len({int(foreground[v][np.ix_(*[((np.arange(5) + 0.5) / 5 * 48).astype(int)] * 2)].sum()) for v in range(7)}) > 1
    one = alone.view_masks(images[:7], foreground[:7])
    many = batched.view_masks(images[:7], foreground[:7])  # a batch of 5, then one of 2
    assert [m.shape for m in one] == [m.shape for m in many]
    agree = np.mean([(a == b).mean() for a, b in zip(one, many)])
    assert agree > 0.999  # the same masks up to float rounding of batched matrix products
    assert batched.seconds["embed"] > 0 and batched.seconds["decode"] > 0


def test_masks_kept_are_those_that_pass_the_predicted_iou_and_stability_thresholds(model, truck):
    import torch
    import torch.nn.functional as F

    views = render_modalities(truck, ("normals",), resolution=40)
    image, foreground = views.images["normals"][:1], views.face_ids[:1] >= 0
    offset = 1e-5  # the random model's logits sit near 0: a tiny offset spreads its stability scores
    probe = Sam2MaskGenerator(model, MaskConfig(points_per_side=6, stability_offset=offset), device="cpu")
    # the reference, by the definitions: every prompt's best-of-three mask upsampled to the view
    points = probe._grid_points(foreground[0])
    inputs = probe.processor(images=list(image), input_points=[[[p] for p in points.tolist()]],
                             input_labels=[[[1]] * len(points)], return_tensors="pt")
    with torch.no_grad():
        out = probe.model(**{k: v for k, v in inputs.items() if k != "original_sizes"}, multimask_output=True)
    best = out.iou_scores[0].argmax(dim=1)
    score = out.iou_scores[0, np.arange(len(best)), best].numpy()
    logits = F.interpolate(out.pred_masks[0, np.arange(len(best)), best][:, None], (40, 40), mode="bilinear",
                           align_corners=False)[:, 0].numpy()
    stability = (logits > offset).sum(axis=(1, 2)) / np.maximum((logits > -offset).sum(axis=(1, 2)), 1)
    iou_thresh, stability_thresh = float(np.median(score)), float(np.median(stability))
    keep = (score >= iou_thresh) & (stability >= stability_thresh)
    assert 0 < keep.sum() < len(keep) - 3  # some prompts pass, several fail one threshold or the other
    config = MaskConfig(points_per_side=6, points_per_batch=7, stability_offset=offset, pred_iou_thresh=iou_thresh,
                        stability_thresh=stability_thresh)
    kept = Sam2MaskGenerator(model, config, device="cpu").view_masks(image, foreground)[0]
    expected = (logits[keep] > 0) & foreground
    assert kept.shape == expected.shape
    assert (kept == expected).mean() > 0.999  # float rounding of a batch of 7 prompts against all at once


def test_masks_of_several_image_sets_are_pooled_per_view(model, truck):
    views = render_modalities(truck, ("normals", "sdf"), resolution=32)
    foreground = views.face_ids[:4] >= 0
    generator = Sam2MaskGenerator(model, MaskConfig(points_per_side=3, pred_iou_thresh=-1e9, stability_thresh=0.0, min_mask_pixels=1))
    normals, sdf = views.images["normals"][:4], views.images["sdf"][:4]
    single = generator.masks(normals, foreground)
    twice = generator.pooled_masks([normals, normals], foreground)
    # the same masks twice: the same partition of every view
    for a, b in zip(single, twice):
        pairs = np.unique(np.stack([a.ravel(), b.ravel()]), axis=1)
        assert len(pairs[0]) == len(np.unique(a)) == len(np.unique(b))
    pooled = generator.pooled_masks([normals, sdf], foreground)
    assert pooled.shape == (4, 32, 32) and not (pooled[~foreground] >= 0).any()
    with pytest.raises(PartverseError, match="4 images for 3 foreground"):
        generator.view_masks(normals, foreground[:3])


def test_bad_meshes_through_samesh(model):
    from partverse.records import Mesh

    empty = Mesh(np.zeros((0, 3)), np.zeros((0, 3), np.int64), np.zeros(0, np.int32), np.zeros(0, np.int32), [])
    with pytest.raises(PartverseError, match="no faces"):
        run_samesh(empty, model, resolution=16, mask_config=MASKS)
    flat = Mesh(np.zeros((3, 3)), np.array([[0, 1, 2]]), np.zeros(1, np.int32), np.full(1, -1, np.int32), [])
    result = run_samesh(flat, model, resolution=16, mask_config=MASKS, modalities=("normals",), graph_cut=True)  # never hit
    assert np.array_equal(result.labels, [0]) and (result.mask_labels == -1).all()


def test_cli_passes_the_sam2_options(model, tmp_path):
    _register_all()
    runner = CliRunner()
    asset = str(shared("assets", "kenney_truck_green.glb"))
    out = tmp_path / "labels.npy"
    base = ["segment", asset, "--method", "samesh", "--sam2", model, "--sam2-resolution", "32", "--sam2-points", "4", "--out", str(out)]
    result = runner.invoke(app, base + ["--sam2-modalities", "shaded,normals", "--no-sam2-graph-cut", "--sam2-device", "cpu"])
    assert result.exit_code == 0, result.output
    assert np.load(out).shape == (1104,)
    result = runner.invoke(app, base + ["--sam2-modalities", "depth"])
    assert result.exit_code == 2 and "modalities = ('depth',)" in result.output
    result = runner.invoke(app, base[:-4] + ["--sam2-points", "0", "--out", str(out)])
    assert result.exit_code == 2 and "points_per_side = 0" in result.output


def test_segment_stage_loads_sam2_once_and_runs_as_an_actor(model, truck, monkeypatch):
    from partverse.records import Asset, PreparedMesh
    from partverse.segment import sam2_masks
    from pipelines.stages.segment import Segment

    loads = []
    real_init = sam2_masks.Sam2MaskGenerator.__init__

    def counting_init(self, *args, **kwargs):
        loads.append(args[0] if args else kwargs.get("model"))
        real_init(self, *args, **kwargs)

    monkeypatch.setattr(sam2_masks.Sam2MaskGenerator, "__init__", counting_init)
    options = dict(sam2=model, resolution=IMAGE, graph_cut=False, modalities=["normals"],
                   mask_config=dict(points_per_side=4, pred_iou_thresh=-1e9, stability_thresh=0.0, min_mask_pixels=4))
    stage = Segment(method="samesh", options=options)
    assert stage.resources.actor and stage.resources.num_gpus == 0
    assert "num_gpus" not in stage.params()  # where it runs is not part of the output key
    outputs = []
    for i in range(2):
        asset = Asset(uid=f"truck{i}", source="local", source_uri="truck.glb", sha256="0" * 64, license="cc0", path="")
        outputs += list(stage.process(PreparedMesh(asset=asset, mesh=truck, stats={})))
    assert loads == [model]  # one model load for two records
    direct = run_samesh(truck, model, resolution=IMAGE, graph_cut=False, modalities=["normals"],
                        mask_config=MASKS).labels
    for out in outputs:
        labels = out.segmentation.face_labels
        assert labels.shape == (truck.num_faces,)
        assert metrics.rand_index_error(labels, direct, np.ones(truck.num_faces)) < 1e-9
    assert not Segment(method="auto").resources.actor
    with pytest.raises(ConfigError, match="options.sam2"):
        Segment(method="samesh")
