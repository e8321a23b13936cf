"""Config tree: YAML + overrides, validation messages, model registry."""
from __future__ import annotations

import pytest

from partverse.errors import ConfigError
from partverse.train.config import TrainConfig, load_config, save_config
from partverse.train.registry import build_model


def test_yaml_then_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("kind: vae\nsteps: 7\nvae:\n  width: 32\n  heads: 2\noptim:\n  lr: 0.01\n")
    cfg = load_config(path, ["vae.width=48", "optim.betas=0.8,0.9", "resume=false"])
    assert (cfg.steps, cfg.vae.width, cfg.vae.heads, cfg.optim.lr) == (7, 48, 2, 0.01)
    assert cfg.optim.betas == (0.8, 0.9) and cfg.resume is False
    save_config(cfg, tmp_path / "saved.yaml")
    again = load_config(tmp_path / "saved.yaml")
    assert again == cfg


@pytest.mark.parametrize("override, needle", [
    (["vae.width=30", "vae.heads=4"], "vae.width=30"),
    (["kind=gan"], "kind='gan'"),
    (["data.source=s3"], "one of ['release', 'assets', 'synthetic']"),
    (["optim.ema_decay=1.5"], "optim.ema_decay=1.5"),
    (["vae.bogus=1"], "bogus: unknown field"),
    (["steps=ten"], "steps='ten'"),
    (["kind=dit"], "vae_ckpt"),
    (["nokeyvalue"], "KEY=VALUE"),
])
def test_validation_names_field_and_value(override, needle):
    with pytest.raises(ConfigError, match=None) as err:
        load_config(None, override)
    assert needle in str(err.value)


def test_registry_lists_available_models():
    with pytest.raises(ConfigError, match="available: vecset_vae"):
        build_model("vae", "unet", TrainConfig().vae)
    with pytest.raises(ConfigError) as err:
        load_config(None, ["dit.model=mmdit", "kind=vae"])
    assert "part_dit" in str(err.value)
