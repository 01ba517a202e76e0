"""What every step needs, built once by an entry point: the Context, and its parts."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Protocol

from indexer.backend import SearchBackend
from worker.intake.fetch import FetchLimits
from worker.pipeline.locks import Locks
from worker.pipeline.policy import LockWaits, RetryPolicy
from worker.speech.models import DEFAULT_CPU_THREADS, LoadedModel, load_model
from worker.speech.transcribe import TranscribeOptions
from worker.storage.datadir import DataDir
from worker.storage.interfaces import JobStoreLike, Records, RunClaim
from worker.storage.states import VideoState
from worker.storage.watch_interface import WatchStoreLike
from worker.storage.watches import WatchStore

__all__ = ["Context", "LockWaits", "ModelProvider", "NullProgress", "Phase", "Progress",
           "ProgressTee", "RetryPolicy"]


class Phase(StrEnum):
    """What the work on a video is busy with, as :meth:`Progress.phase` reports it."""

    LOADING_MODEL = "loading model"
    EXTRACTING_AUDIO = "extracting audio"
    TRANSCRIBING = "transcribing"
    INDEXING = "indexing"


class Progress(Protocol):
    """Where the steps report what they are doing (a job's record, a progress bar...).

    An inline runner downloads the next videos on a second thread while one is transcribed,
    so ``state`` and ``downloaded`` may be called from that thread, and ``transcribed``
    estimates come from a helper thread while a batch is decoded (worker.speech.pace); calls
    about one video never overlap.
    """

    def state(self, url: str, state: VideoState, *, video_id: str = "",
              error: str = "") -> None:
        """A video moved to a new state."""

    def downloaded(self, url: str, done: int, total: int | None) -> None:
        """Bytes of a video received so far."""

    def transcribed(self, url: str, fraction: float) -> None:
        """Share of a video's audio transcribed so far."""

    def phase(self, url: str, text: str) -> None:
        """What the work on a video is busy with now ("loading model", "extracting audio",
        "transcribing", "indexing"): the stretches no byte or fraction counts."""


class NullProgress:
    """Reports nothing."""

    def state(self, url: str, state: VideoState, *, video_id: str = "",
              error: str = "") -> None:
        """Ignore."""

    def downloaded(self, url: str, done: int, total: int | None) -> None:
        """Ignore."""

    def transcribed(self, url: str, fraction: float) -> None:
        """Ignore."""

    def phase(self, url: str, text: str) -> None:
        """Ignore."""


class ProgressTee:
    """Reports to several Progress targets in turn (a job's record and a progress bar)."""

    def __init__(self, *targets: Progress) -> None:
        self.targets = targets

    def state(self, url: str, state: VideoState, *, video_id: str = "",
              error: str = "") -> None:
        """Tell every target."""
        for target in self.targets:
            target.state(url, state, video_id=video_id, error=error)

    def downloaded(self, url: str, done: int, total: int | None) -> None:
        """Tell every target."""
        for target in self.targets:
            target.downloaded(url, done, total)

    def transcribed(self, url: str, fraction: float) -> None:
        """Tell every target."""
        for target in self.targets:
            target.transcribed(url, fraction)

    def phase(self, url: str, text: str) -> None:
        """Tell every target."""
        for target in self.targets:
            target.phase(url, text)


@dataclass
class ModelProvider:
    """Loads the Whisper model on first use and keeps it for the life of the process."""

    name: str
    compute_type: str | None = None  # None: float16 on CUDA, int8 on the CPU
    cpu_threads: int = DEFAULT_CPU_THREADS
    cache_dir: Path | None = None  # where models assembled from parts are kept
    device: str = "cpu"  # cpu, cuda or auto (worker.speech.models.resolve_device)
    _loaded: dict[str, LoadedModel] = field(default_factory=dict, init=False, repr=False)

    def get(self, name: str | None = None) -> LoadedModel:
        """The loaded model: the configured one, or *name* (a re-transcription's choice);
        each is loaded once and kept."""
        name = name or self.name
        if name not in self._loaded:
            self._loaded[name] = load_model(name, compute_type=self.compute_type,
                                            cpu_threads=self.cpu_threads,
                                            cache_dir=self.cache_dir, device=self.device)
        return self._loaded[name]


@dataclass
class Context:
    """What the steps need, built once by an entry point from Settings (worker.pipeline.wiring).

    ``progress`` is where one job's steps report; :meth:`for_job` binds it.
    """

    data: Records
    index: SearchBackend
    jobs: JobStoreLike
    locks: Locks
    models: ModelProvider
    video_limits: FetchLimits
    article_limits: FetchLimits
    options: TranscribeOptions = field(default_factory=TranscribeOptions)
    ffmpeg_timeout: float = 1800.0
    max_video_seconds: float = 4 * 3600.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    waits: LockWaits = field(default_factory=LockWaits)
    progress: Progress = field(default_factory=NullProgress)
    run: RunClaim | None = None  # this process's claim on a run (worker.storage.runs)
    watches: WatchStoreLike | None = None  # opened on first use (watch_store) when not given

    def watch_store(self) -> WatchStoreLike:
        """The data dir's watch store, opened on first use."""
        if self.watches is None:
            # A Context built by hand (tests, benchmarks) over embedded records; entry
            # points pass the store the factory opened (worker.storage.stores).  Over
            # database records a SQLite file must never appear in the shared data dir.
            if not isinstance(self.data, DataDir):
                raise TypeError("a Context over database records needs its watch store given")
            self.watches = WatchStore(self.data.watches_db)
        return self.watches

    @property
    def scratch(self) -> Path:
        """Where this process keeps downloads in progress and decoded audio."""
        return self.run.scratch if self.run is not None else self.data.tmp

    @property
    def run_id(self) -> str:
        """The id of this process's run ("" when it claimed none)."""
        return self.run.id if self.run is not None else ""
