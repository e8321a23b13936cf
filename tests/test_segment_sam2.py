"""The SAM-2 path end to end with a tiny random Sam2Model saved to a temp dir and loaded through
the same `from_pretrained` path users use (its masks are noise; shapes, ids and lifting are real)."""
import numpy as np
import pytest

from partverse.errors import ConfigError
from partverse.io import load
from partverse.segment import metrics, segment
from partverse.segment.artist import artist_segmentation
from partverse.segment.sam2_masks import MaskConfig
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
    first = run_samesh(truck, model, seed=1, resolution=64, mask_config=MASKS)
    labels = first.labels
    assert labels.shape == (truck.num_faces,) and labels.min() == 0
    assert np.array_equal(np.unique(labels), np.arange(labels.max() + 1))
    assert first.mask_labels.shape == (12, 64, 64) and first.mask_labels.max() >= 0
    assert set(first.seconds) == {"render", "sam2_embed", "sam2_decode", "lift"}
    again = run_samesh(truck, model, seed=1, resolution=64, mask_config=MASKS)
    assert np.array_equal(labels, again.labels) and np.array_equal(first.mask_labels, again.mask_labels)


def test_auto_with_sam2_still_respects_artist_parts(model, truck):
    labels = segment(truck, "auto", sam2=model, resolution=64, mask_config=MASKS)
    assert metrics.achievable_segmentation_accuracy(labels, artist_segmentation(truck)) == 1.0
    plain = segment(truck, "auto")
    # SAM-2 evidence only adds creases: the result refines the geometric-only one or equals it
    assert len(np.unique(labels)) >= len(np.unique(plain)) - 2


def test_samesh_with_a_target_count(model, truck):
    labels = segment(truck, "samesh", sam2=model, num_parts=4, resolution=64, mask_config=MASKS)
    assert len(np.unique(labels)) == 4


def test_samesh_without_a_model_or_with_a_bad_path_says_so(tmp_path, truck):
    with pytest.raises(ConfigError, match="needs a SAM-2 model"):
        segment(truck, "samesh")
    with pytest.raises(Exception, match="cannot load a SAM-2 model"):
        segment(truck, "samesh", sam2=str(tmp_path / "missing"))
