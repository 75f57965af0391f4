"""Every shipped config file loads; a broken one fails fast naming file, field and problem."""

import shutil

import pytest

from tthc import config
from tthc.config import Bands, ConfigError, Forecast, Province, Recipients, Thresholds, load_model
from tthc.paths import REPO_ROOT

SHIPPED = {
    "recipients.yaml": Recipients,
    "bands.yaml": Bands,
    "thresholds.yaml": Thresholds,
    "province.yaml": Province,
    "forecast.yaml": Forecast,
}


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_shipped_config_files_load(name):
    model = load_model(REPO_ROOT / "config" / name, SHIPPED[name])
    assert model.model_dump()


def test_every_config_file_has_a_loader():
    """A new file in config/ must come with a validating model (and be listed in a test)."""
    known = set(SHIPPED) | {"calendar_overrides.yaml", "office_hours.yaml", "indicators.yaml", "generator.yaml"}
    assert {p.name for p in (REPO_ROOT / "config").glob("*.yaml")} <= known


def _broken(tmp_path, monkeypatch, name, text):
    folder = tmp_path / "config"
    shutil.copytree(REPO_ROOT / "config", folder)
    (folder / name).write_text(text, encoding="utf-8")
    monkeypatch.setenv("TTHC_CONFIG_DIR", str(folder))
    return folder / name


def test_bad_email_names_file_field_and_problem(tmp_path, monkeypatch):
    path = _broken(tmp_path, monkeypatch, "recipients.yaml",
                   "office_to: [not-an-address]\nsender: a@b.vn\ndata_engineers: [d@b.vn]\n")
    with pytest.raises(ConfigError) as err:
        config.recipients()
    message = str(err.value)
    assert str(path) in message and "office_to[0]" in message and "not an e-mail address" in message


def test_missing_field_and_unknown_field_are_named(tmp_path, monkeypatch):
    _broken(tmp_path, monkeypatch, "thresholds.yaml", "row_count_drop_ratio: 0.5\nspeed: fast\n")
    with pytest.raises(ConfigError) as err:
        config.thresholds()
    assert "thresholds.yaml" in str(err.value)
    assert "field 'row_count_jump_ratio': Field required" in str(err.value)
    assert "field 'speed': Extra inputs are not permitted" in str(err.value)


def test_bands_must_descend_to_zero(tmp_path, monkeypatch):
    _broken(tmp_path, monkeypatch, "bands.yaml",
            "bands:\n  - {name: Tốt, min_total: 80}\n  - {name: Khá, min_total: 90}\n")
    with pytest.raises(ConfigError, match="bands.yaml: field '\\(top level\\)': Value error, bands must be listed"):
        config.bands()


def test_invalid_yaml_and_missing_file(tmp_path):
    bad = tmp_path / "x.yaml"
    bad.write_text("a: [1, 2\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="x.yaml: not valid YAML"):
        load_model(bad, Thresholds)
    with pytest.raises(ConfigError, match="nope.yaml: file not found"):
        load_model(tmp_path / "nope.yaml", Thresholds)


def test_band_and_province_name_lookups():
    assert [config.bands().band_of(t) for t in (80, 79.999999, 70, 50, 49.9, 0)] == \
        ["Tốt", "Khá", "Khá", "Trung bình", "Yếu", "Yếu"]
    assert config.province().name_for("2024-12") == "Tỉnh Thừa Thiên Huế"
    assert config.province().name_for("2025-01") == "Thành phố Huế"
