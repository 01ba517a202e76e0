"""What the stores promise, whichever backend keeps them (embedded files or PostgreSQL).

Each protocol has two implementations on purpose, and one test suite runs against both.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from worker.storage.jobs import Delivery, Job
    from worker.storage.runs import SweepReport
    from worker.storage.states import JobState, Step, VideoState

__all__ = ["JobStoreLike", "RunClaim", "Runs"]


# --- Jobs and runs (worker.storage.jobs / runs, worker.storage.pg.jobs / runs) -------------


class RunClaim(Protocol):
    """This process's claim on a run: its id, its scratch folder, and giving it up."""

    @property
    def id(self) -> str:
        """The run's id, as jobs and video records name their runner."""
        ...

    @property
    def scratch(self) -> Path:
        """The run's own folder for downloads in progress and decoded audio."""
        ...

    def release(self) -> None:
        """Give the claim up and remove the scratch folder (at exit; idempotent)."""
        ...


class Runs(Protocol):
    """The runner processes of one store, told alive from dead, and what the dead left."""

    def claim(self) -> RunClaim:
        """Claim a new run for this process, held until it exits or releases it."""
        ...

    def alive(self, run_id: str) -> bool:
        """Whether the run *run_id* is still going (an unknown run is not)."""
        ...

    def sweep(self, *, loose_age: float | None = None) -> SweepReport:
        """Remove what dead runs left in scratch (never a live run's, never anything this
        store did not create); *loose_age*: see :func:`worker.storage.runs.sweep_dead_runs`
        (None: its default)."""
        ...


class JobStoreLike(Protocol):
    """The job store: what was asked, and how each video is doing (see JobStore)."""

    @property
    def where(self) -> str:
        """Where the jobs are kept, for messages (a path, or a URL without password)."""
        ...

    def create(self, source: str, *, runner: str = "") -> str:
        """Record a new queued job and return its id."""
        ...

    def set_article(self, job_id: str, article_id: str, title: str, urls: list[str]) -> None:
        """The article was read: remember it and queue its videos."""
        ...

    def set_runner(self, job_id: str, runner: str) -> None:
        """Record who runs the job now."""
        ...

    def set_job_state(self, job_id: str, state: JobState, error: str = "") -> None:
        """Set a job's own state."""
        ...

    def update_video(self, job_id: str, url: str, *, state: VideoState | None = None,
                     progress: float | None = None, error: str | None = None,
                     video_id: str | None = None, new_attempt: bool = False) -> None:
        """Record a video's progress; settles the job once every video is settled."""
        ...

    def get(self, job_id: str) -> Job | None:
        """A job with its videos, or None for an unknown id."""
        ...

    def begin_delivery(self, job_id: str, url: str, step: Step) -> Delivery:
        """Count a delivery of a step before it does any work."""
        ...

    def end_delivery(self, job_id: str, url: str, step: Step, *,
                     transient_failure: bool = False) -> None:
        """A delivery of a step ended."""
        ...

    def step_seconds(self, job_id: str) -> dict[str, dict[str, float]]:
        """Seconds spent in each step, per video URL ("" for the article)."""
        ...

    def forget(self, article_ids: tuple[str, ...], video_ids: tuple[str, ...]) -> None:
        """Drop what the jobs say of taken-down items."""
        ...

    def recent(self, limit: int = 50) -> list[Job]:
        """The newest jobs first."""
        ...
