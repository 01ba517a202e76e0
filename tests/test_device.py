"""BRIEFING_DEVICE: where Whisper runs, and with which compute type."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from worker.errors import ModelNotFoundError
from worker.pipeline.wiring import model_provider
from worker.settings import Settings
from worker.speech.models import cuda_device_count, resolve_device


@pytest.mark.parametrize(("device", "compute", "gpus", "expected"), [
    ("auto", None, 0, ("cpu", "int8")),
    ("auto", None, 1, ("cuda", "float16")),
    ("auto", None, 4, ("cuda", "float16")),
    ("cpu", None, 2, ("cpu", "int8")),
    ("cuda", None, 1, ("cuda", "float16")),
    ("auto", "int8_float16", 1, ("cuda", "int8_float16")),
    ("auto", "float32", 0, ("cpu", "float32")),
])
def test_device_and_compute_type(device: str, compute: str | None, gpus: int,
                                 expected: tuple[str, str]) -> None:
    assert resolve_device(device, compute, gpus) == expected


def test_cuda_without_a_device_is_refused_before_loading() -> None:
    with pytest.raises(ModelNotFoundError, match="sees no CUDA device"):
        resolve_device("cuda", None, 0)
    with pytest.raises(ModelNotFoundError, match="unknown BRIEFING_DEVICE"):
        resolve_device("gpu", None, 1)


def test_this_machine_has_no_cuda_device() -> None:
    # The machine the suite runs on has no GPU: auto must mean the CPU here.
    assert cuda_device_count() == 0
    assert resolve_device("auto", None, cuda_device_count()) == ("cpu", "int8")


def test_the_setting_reaches_the_model_provider(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BRIEFING_DEVICE", "cuda")
    provider = model_provider(Settings())
    assert (provider.device, provider.compute_type) == ("cuda", None)
    assert Settings(device="auto").device == "auto"
    with pytest.raises(ValidationError):
        Settings(device="gpu")
