"""The states a video, a job and a pipeline step can be in: one enum each, one value each."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["JobState", "Step", "VideoState"]


class VideoState(StrEnum):
    """Where a video URL stands, in pipeline order (in the data dir and in each job)."""

    QUEUED = "queued"
    DOWNLOADING = "downloading"
    TRANSCRIBING = "transcribing"
    INDEXING = "indexing"
    DONE = "done"
    FAILED = "failed"
    # Shown, never stored: in progress when the run doing it died (worker.storage.runs).
    INTERRUPTED = "interrupted"

    @property
    def settled(self) -> bool:
        """Done or failed: nothing more happens to it in this job."""
        return self in (VideoState.DONE, VideoState.FAILED)


class JobState(StrEnum):
    """Where an ingest job stands."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    # Shown, never stored: an inline job whose run died before it finished.
    INTERRUPTED = "interrupted"
    # Shown, never stored: a queued job the broker holds no message for (worker.queue.stalls).
    STALLED = "stalled"


class Step(StrEnum):
    """A step of the pipeline, as counted in a job's deliveries and timings."""

    ARTICLE = "article"
    DOWNLOAD = "download"
    TRANSCRIBE = "transcribe"
    INDEX = "index"

    @property
    def doing(self) -> str:
        """What a runner is doing during this step, for messages."""
        return _DOING[self]


_DOING = {Step.ARTICLE: "reading the article", Step.DOWNLOAD: "downloading it",
          Step.TRANSCRIBE: "transcribing it", Step.INDEX: "indexing it"}
