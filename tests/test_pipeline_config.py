"""Build configs: YAML validated by pydantic, errors that name the field, the value and what is allowed."""
from __future__ import annotations

from pathlib import Path

import pytest

from partverse.errors import ConfigError
from pipelines.config import load_config, parse_config

REPO = Path(__file__).resolve().parents[1]


def _cfg(**over):
    data = {"run_dir": "/tmp/x", "stages": [{"name": "ingest_local", "params": {"paths": ["."]}}, {"name": "prepare"},
                                             {"name": "segment"}, {"name": "export_parts"}, {"name": "write_release"}]}
    data.update(over)
    return data


@pytest.mark.parametrize("name", ["sample.yaml", "cluster.yaml"])
def test_shipped_configs_validate(name):
    cfg = load_config(REPO / "pipelines" / "configs" / name)
    assert [s.name for s in cfg.stages][0] == "ingest_local"
    assert cfg.stages[-1].name == "write_release"


def test_executor_error_names_field_and_allowed_values():
    with pytest.raises(ConfigError) as err:
        parse_config(_cfg(executor="spark"), "my.yaml")
    msg = str(err.value)
    assert "my.yaml: executor:" in msg and "'local'" in msg and "'ray'" in msg and "'spark'" in msg


def test_unknown_stage_lists_registered_stages():
    data = _cfg()
    data["stages"][2]["name"] = "segmnet"
    with pytest.raises(ConfigError, match=r"stages\.2\.name: .*'segmnet'.*allowed: .*segment"):
        parse_config(data)


def test_unknown_segmentation_method_lists_methods():
    data = _cfg()
    data["stages"][2]["params"] = {"method": "magic"}
    with pytest.raises(ConfigError, match=r"stages\.2\.params.*'magic'.*artist"):
        parse_config(data)


def test_unknown_stage_parameter_names_allowed_parameters():
    data = _cfg()
    data["stages"][3]["params"] = {"num_sample": 10}
    with pytest.raises(ConfigError) as err:
        parse_config(data)
    assert "num_sample" in str(err.value) and "num_samples" in str(err.value)


def test_wrong_type_and_filter_field():
    data = _cfg()
    data["stages"][3]["params"] = {"num_samples": "many"}
    with pytest.raises(ConfigError, match=r"stages\.3\.params\.num_samples"):
        parse_config(data)
    data = _cfg()
    data["stages"][1]["params"] = {"filters": {"max_face": 3}}
    with pytest.raises(ConfigError, match=r"max_face.*allowed.*max_faces"):
        parse_config(data)


def test_stage_order_and_yaml_errors(tmp_path):
    data = _cfg()
    data["stages"] = data["stages"][1:]
    with pytest.raises(ConfigError, match="first stage must be a source"):
        parse_config(data)
    bad = tmp_path / "bad.yaml"
    bad.write_text("run_dir: [unclosed\n")
    with pytest.raises(ConfigError, match="bad.yaml: not valid YAML"):
        load_config(bad)
    with pytest.raises(ConfigError, match="release_version"):
        d = _cfg()
        d["stages"][4]["params"] = {"release_version": "v1"}
        parse_config(d)
