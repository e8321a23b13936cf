"""Model names for `from_pretrained`: a path must be an existing folder (said as such, not as
transformers' "Repo id must use alphanumeric chars"), anything else is a hub id."""
from __future__ import annotations

import pytest

from partverse.errors import ConfigError
from partverse.model_source import model_source


def test_hub_ids_pass_and_folders_are_expanded(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert model_source("facebook/sam2.1-hiera-large", "sam2", "x/y") == "facebook/sam2.1-hiera-large"
    assert model_source("gpt2", "m", "x/y") == "gpt2"
    (tmp_path / "models" / "sam2").mkdir(parents=True)
    assert model_source("models/sam2", "sam2", "x/y") == "models/sam2"  # exists here: a local folder
    assert model_source("./models/sam2", "sam2", "x/y") == "models/sam2"
    monkeypatch.setenv("HOME", str(tmp_path))
    assert model_source("~/models/sam2", "sam2", "x/y") == str(tmp_path / "models" / "sam2")


@pytest.mark.parametrize("name, problem", [("/no/such/model", "does not exist"), ("./missing", "does not exist"),
                                           ("~/missing", "does not exist")])
def test_a_missing_path_is_named_with_the_field(name, problem):
    with pytest.raises(ConfigError) as err:
        model_source(name, "options.sam2", "facebook/sam2.1-hiera-large", also="; or '' for none")
    text = str(err.value)
    assert text.startswith(f"options.sam2={name!r}: {problem}") and "'facebook/sam2.1-hiera-large'; or '' for none" in text


def test_a_file_is_not_a_model_folder(tmp_path):
    (tmp_path / "weights.safetensors").write_bytes(b"\0")
    with pytest.raises(ConfigError, match="is a file, not a model folder"):
        model_source(str(tmp_path / "weights.safetensors"), "sam2", "x/y")
