"""Caption conditioning of the multi-part DiT: a frozen transformers text encoder (a tiny CLIP text
model built from a config and saved to a temp dir, loaded back with `from_pretrained`), per-part and
object captions from the release's captions table, cross-attention that changes the output once
trained, caption / condition dropping for classifier-free guidance, and `partverse sample --captions`."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from partverse.errors import ConfigError
from partverse.train.batches import dit_batch
from partverse.train.config import DataConfig, load_config
from partverse.train.data import load_objects, synthetic_objects
from partverse.train.latents import encode_objects
from partverse.train.loop import train
from partverse.train.pretrained import load_dit, load_vae
from tests.train_helpers import TINY_VAE

WORDS = ("[PAD] [UNK] [BOS] [EOS] a an the of object parts box sphere cylinder : , 2 3 4 wheel seat body "
         "kenney_motorcycle quat_bed_bunk part0 part1 part2 part3").split()


def _tiny_text_model(path) -> None:
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import CLIPTextConfig, CLIPTextModel, PreTrainedTokenizerFast

    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(WORDS)}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.post_processor = processors.TemplateProcessing(single="[BOS] $A [EOS]", special_tokens=[("[BOS]", 2), ("[EOS]", 3)])
    PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="[PAD]", unk_token="[UNK]", bos_token="[BOS]",
                            eos_token="[EOS]").save_pretrained(path)
    torch.manual_seed(0)
    cfg = CLIPTextConfig(vocab_size=len(WORDS), hidden_size=24, intermediate_size=48, num_hidden_layers=1,
                         num_attention_heads=2, max_position_embeddings=16, pad_token_id=0, bos_token_id=2, eos_token_id=3)
    CLIPTextModel(cfg).save_pretrained(path)


TINY_DIT = ["dit.width=32", "dit.heads=2", "dit.depth=1", "dit.max_parts=4", "data.max_parts=4", "dit.text_tokens=8",
            "data.num_objects=4", "batch_size=4", "optim.lr=3e-3", "optim.warmup_steps=1", "optim.ema_decay=0"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("captions")
    _tiny_text_model(root / "text")
    train(load_config(None, [f"out_dir={root / 'vae'}", "kind=vae", "steps=2", "data.num_objects=4", "batch_size=4",
                             *TINY_VAE]))
    cfg = load_config(None, [f"out_dir={root / 'dit'}", "kind=dit", f"vae_ckpt={root / 'vae'}", "steps=30",
                             f"dit.text_encoder={root / 'text'}", *TINY_VAE, *TINY_DIT])
    assert cfg.dit.text_dim == 0
    train(cfg)
    dit, vae, meta = load_dit(root / "dit")
    return {"root": root, "cfg": cfg, "dit": dit, "vae": vae, "scale": meta["latent_scale"]}


def test_text_encoder_embeds_each_caption_once(run):
    from partverse.train.text import TextEncoder

    enc = TextEncoder(str(run["root"] / "text"), max_tokens=8)
    assert enc.dim == 24
    feats, mask = enc.embed(["a box", "a sphere", "a box", ""])
    assert feats.shape == (4, 8, 24) and mask.shape == (4, 8)
    assert mask.sum(1).tolist() == [4, 4, 4, 2]  # [BOS] a box [EOS]; the empty caption keeps its specials
    assert np.array_equal(feats[0], feats[2]) and not np.allclose(feats[0], feats[1])
    assert sorted(enc._cache) == ["", "a box", "a sphere"]


def test_store_holds_slot_captions(run):
    from partverse.train.text import TextEncoder

    enc = TextEncoder(str(run["root"] / "text"), max_tokens=8)
    objects = synthetic_objects(4, 0, max_parts=4)
    assert objects[0].captions and objects[0].caption.startswith("an object of")
    store, _ = encode_objects(run["vae"], objects, 4, 128, True, text_encoder=enc)
    assert store.text_ids.shape == (4, 5) and store.text.shape[1:] == (8, 24)
    table = sorted({c for o in objects for c in o.captions} | {o.caption for o in objects} | {""})
    for i, obj in enumerate(objects):
        n = len(obj.parts)
        got = [table[k] for k in store.text_ids[i]]
        assert got == obj.captions + [""] * (4 - n) + [obj.caption]
    b = dit_batch(store, 0, 0, 4, 50, 0.1, caption_dropout=0.5)
    assert b["text"].shape == (4, 5, 8, 24) and b["text_mask"].shape == (4, 5, 8) and b["drop_text"].shape == (4,)


def _forward(dit, store, **kw):
    b = {k: torch.from_numpy(v) for k, v in dit_batch(store, 7, 0, 4, dit.cfg.part_id_table, 0.0).items()}
    x = (1 - b["t"].view(-1, 1, 1, 1)) * b["x0"] + b["t"].view(-1, 1, 1, 1) * b["noise"]
    args = dict(drop=torch.zeros(4, dtype=torch.bool), text=b["text"], text_mask=b["text_mask"])
    args.update(kw)
    with torch.no_grad():
        return dit(x, b["t"], b["mask"], b["part_ids"], b["box"], **args), b


def test_captions_change_the_output_and_dropping_removes_them(run):
    from partverse.train.text import TextEncoder

    dit = run["dit"]
    assert dit.cfg.text_dim == 24  # filled from the encoder and saved with the checkpoint's config
    assert any(float(blk.text_out.weight.detach().abs().sum()) > 0 for blk in dit.blocks)  # trained off zero-init
    enc = TextEncoder(str(run["root"] / "text"), max_tokens=8)
    store, _ = encode_objects(run["vae"], synthetic_objects(4, 0, max_parts=4), 4, 128, True, scale=run["scale"],
                              text_encoder=enc)
    with_text, b = _forward(dit, store)
    other = torch.from_numpy(enc.embed(["a wheel seat body"] * 20)[0][: 4 * 5].reshape(4, 5, 8, 24))
    changed, _ = _forward(dit, store, text=other, text_mask=torch.ones(4, 5, 8, dtype=torch.bool))
    assert (with_text - changed).abs().max() > 1e-4  # the caption is read
    everyone = torch.ones(4, dtype=torch.bool)
    dropped_a, _ = _forward(dit, store, drop_text=everyone)
    dropped_b, _ = _forward(dit, store, text=other, text_mask=torch.ones(4, 5, 8, dtype=torch.bool), drop_text=everyone)
    none, _ = _forward(dit, store, text=None, text_mask=None)
    assert torch.allclose(dropped_a, dropped_b) and torch.allclose(dropped_a, none, atol=1e-6)
    assert (dropped_a - with_text).abs().max() > 1e-4
    all_a, _ = _forward(dit, store, drop=everyone)  # CFG's unconditional branch: boxes and captions gone
    all_b, _ = _forward(dit, store, drop=everyone, text=other, text_mask=torch.ones(4, 5, 8, dtype=torch.bool))
    assert torch.allclose(all_a, all_b)


def test_config_names_the_caption_fields(tmp_path):
    with pytest.raises(ConfigError) as err:
        load_config(None, ["dit.text_encoder=/no/such/text_model"])
    assert "dit.text_encoder='/no/such/text_model'" in str(err.value)
    with pytest.raises(ConfigError) as err:
        load_config(None, ["dit.text_dim=24"])
    assert "dit.text_dim=24" in str(err.value)
    with pytest.raises(ConfigError) as err:
        load_config(None, ["dit.caption_dropout=1.5"])
    assert "dit.caption_dropout=1.5" in str(err.value)
    (tmp_path / "empty").mkdir()
    from partverse.train.text import TextEncoder

    with pytest.raises(ConfigError) as err:
        TextEncoder(str(tmp_path / "empty"))
    assert "dit.text_encoder=" in str(err.value) and "empty" in str(err.value)


def test_release_captions_reach_the_trainer(tmp_path):
    from tests._data_release import asset_rows, write_run

    write_run(tmp_path, asset_rows(256, ("kenney_motorcycle.glb",)))
    obj = load_objects(DataConfig(source="release", path=str(tmp_path / "release"), num_objects=1))[0]
    assert obj.caption == "a kenney_motorcycle"
    assert len(obj.captions) == len(obj.parts) == 4
    assert obj.captions == [f"the {p.name}" for p in obj.parts]


def test_sample_command_with_captions(run, tmp_path):
    from partverse.cli import _register_all, app

    _register_all()
    obj = synthetic_objects(1, 5, max_parts=4)[0]
    boxes = [[p.bbox_min.tolist(), p.bbox_max.tolist()] for p in obj.parts]
    (tmp_path / "boxes.json").write_text(json.dumps({"boxes": boxes}))
    (tmp_path / "captions.json").write_text(json.dumps({"parts": obj.captions, "object": obj.caption}))
    base = ["sample", "--ckpt", str(run["root"] / "dit"), "--boxes", str(tmp_path / "boxes.json"), "--steps", "4",
            "--resolution", "24"]
    res = CliRunner().invoke(app, [*base, "--out", str(tmp_path / "a"), "--captions", str(tmp_path / "captions.json")])
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(app, [*base, "--out", str(tmp_path / "b")])
    assert res.exit_code == 0, res.output
    with_caps, without = np.load(tmp_path / "a" / "latents.npy"), np.load(tmp_path / "b" / "latents.npy")
    assert with_caps.shape == without.shape and not np.allclose(with_caps, without)  # same seed, captions differ
    (tmp_path / "two.json").write_text(json.dumps(["a box", "a box", "a box", "a box", "a box", "a box"][: len(boxes) + 1]))
    res = CliRunner().invoke(app, [*base, "--out", str(tmp_path / "c"), "--captions", str(tmp_path / "two.json")])
    assert res.exit_code == 2 and "two.json" in res.output and "part captions" in res.output


def test_captions_refused_by_a_dit_without_text(run, tmp_path):
    from partverse.train.sample import generate

    cfg = load_config(None, [f"out_dir={tmp_path / 'dit'}", "kind=dit", f"vae_ckpt={run['root'] / 'vae'}", "steps=1",
                             *TINY_VAE, *TINY_DIT])
    train(cfg)
    dit, vae, meta = load_dit(tmp_path / "dit")
    assert dit.text_in is None and load_vae(tmp_path / "dit") is not None
    boxes = np.array([[[-0.5, -0.5, -0.5], [0.5, 0.5, 0.5]]], np.float32)
    from partverse.errors import PartverseError

    with pytest.raises(PartverseError, match="without a text encoder"):
        generate(dit, vae, meta["latent_scale"], boxes, steps=2, captions=["a box"])


def test_unreadable_boxes_and_captions_files_are_named(tmp_path):
    from partverse.errors import PartverseError
    from partverse.train.sample import read_boxes
    from partverse.train.text import read_captions

    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    for reader, what in ((read_boxes, "boxes"), (read_captions, "captions")):
        with pytest.raises(PartverseError, match=f"bad.json: cannot read {what}"):
            reader(bad)
        with pytest.raises(PartverseError, match=f"missing.json: cannot read {what}"):
            reader(tmp_path / "missing.json")
