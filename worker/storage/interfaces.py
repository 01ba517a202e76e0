"""What the stores promise, whichever backend keeps them: embedded in the data dir (JSON
files, SQLite) or PostgreSQL (BRIEFING_DATABASE_URL, for a fleet).

Each protocol has two implementations on purpose, and one test suite runs against both.
Entry points get them from :mod:`worker.storage.stores`; nothing else needs to know which.
Media (video files, cut clips) lives under :attr:`Records.root` in both.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from indexer.domain import Article, ArticleRef, Transcript
from worker.storage.datadir import (
    ExportRecord,
    Hidden,
    Removal,
    SourceRecord,
    TranscriptVersion,
    VideoMeta,
)

if TYPE_CHECKING:
    from worker.storage.jobs import Delivery, Job
    from worker.storage.runs import SweepReport
    from worker.storage.states import JobState, Step, VideoState

__all__ = ["JobStoreLike", "Records", "RunClaim", "Runs"]

# --- Records (worker.storage.datadir, worker.storage.pg.records) ----------------------------


class Records(Protocol):
    """Articles, video sources and metadata, transcripts and their versions, takedowns,
    exported clips, and where the media files of each video live."""

    @property
    def root(self) -> Path:
        """The media root (BRIEFING_DATA_DIR): video files and cut clips live under it."""
        ...

    @property
    def tmp(self) -> Path:
        """Scratch space for downloads in progress (outside any run's own folder)."""
        ...

    def lock(self, name: str) -> contextlib.AbstractContextManager[None]:
        """An exclusive lock named *name* across every process sharing the records."""
        ...

    # -- articles --------------------------------------------------------------------------

    def save_article(self, article: Article) -> None:
        """Store (or replace) an article."""
        ...

    def load_article(self, article_id: str) -> Article | None:
        """The stored article, or None."""
        ...

    def articles(self) -> Iterator[Article]:
        """Every stored article, by id."""
        ...

    def article_stored(self, article_id: str) -> float:
        """When the article was last saved (Unix time)."""
        ...

    def delete_article(self, article_id: str) -> None:
        """Delete a stored article and drop it from the video URLs it linked."""
        ...

    # -- sources (video URLs) --------------------------------------------------------------

    def source(self, url: str) -> SourceRecord | None:
        """The record of a video URL, or None when never seen."""
        ...

    def sources(self) -> Iterator[SourceRecord]:
        """Every video URL record."""
        ...

    def update_source(self, url: str, **changes: Any) -> SourceRecord:
        """Read-modify-write a source record atomically; ``add_article`` appends a link."""
        ...

    # -- videos and transcripts ------------------------------------------------------------

    def video_ids(self) -> list[str]:
        """The ids of every stored video (those with metadata), sorted."""
        ...

    def video_dir(self, video_id: str) -> Path:
        """The folder of one video's media."""
        ...

    def video_meta(self, video_id: str) -> VideoMeta | None:
        """Stored facts of a video, or None."""
        ...

    def video_stored(self, video_id: str) -> float:
        """When the video's metadata was last written (Unix time)."""
        ...

    def video_file(self, video_id: str) -> Path | None:
        """The stored media file of a video, or None."""
        ...

    def video_url(self, video_id: str) -> str:
        """The URL a clip of this video links to: the first URL that served it."""
        ...

    def adopt_video(self, temp: Path, sha256: str, size: int, container: str,
                    url: str) -> VideoMeta:
        """Move a finished download into place (or drop it when the bytes are known)."""
        ...

    def save_transcript(self, transcript: Transcript) -> None:
        """Store a transcript: the system of record for the index."""
        ...

    def load_transcript(self, video_id: str) -> Transcript | None:
        """The stored transcript of a video, or None."""
        ...

    def has_transcript(self, video_id: str) -> bool:
        """Whether a transcript of the video is stored."""
        ...

    def transcripts(self) -> Iterator[Transcript]:
        """Every stored transcript, by video id."""
        ...

    def linking_articles(self, video_id: str) -> list[Article]:
        """Every stored article linking a URL that serves *video_id*, oldest first, leaving
        out those of a takedown in progress."""
        ...

    def article_refs_for_video(self, video_id: str) -> list[ArticleRef]:
        """:meth:`linking_articles` as the index and the API show them, by URL."""
        ...

    def transcript_versions(self, video_id: str) -> list[TranscriptVersion]:
        """The transcripts a video had before its current one, oldest first."""
        ...

    def transcript_number(self, video_id: str) -> int:
        """The version number of the current transcript: 1 until a re-transcription."""
        ...

    def replace_transcript(self, transcript: Transcript) -> TranscriptVersion | None:
        """Make *transcript* the current one, keeping the one it replaces as a version."""
        ...

    def video_files(self, video_id: str) -> contextlib.AbstractContextManager[None]:
        """Held while a video's files change (transcript, exported clip, takedown)."""
        ...

    def standing(self, video_id: str) -> bool:
        """Whether the video is stored and no takedown of it is under way."""
        ...

    def delete_video(self, video_id: str) -> None:
        """Delete a video's media, transcript, versions, cut and exported clips, and the
        records of the URLs that served it."""
        ...

    # -- index writes not yet committed ----------------------------------------------------

    def mark_pending(self, kind: str, item_id: str) -> None:
        """Note that the index is about to get *kind* *item_id*."""
        ...

    def clear_pending(self, kind: str, item_id: str) -> None:
        """The index has *kind* *item_id* now."""
        ...

    def pending(self) -> list[tuple[str, str]]:
        """Index writes that were begun and never finished, as (kind, id)."""
        ...

    # -- exported clips --------------------------------------------------------------------

    def record_export(self, video_id: str, path: Path, sha256: str) -> None:
        """Note a clip file exported from *video_id*, so a takedown can remove it."""
        ...

    def exports(self, video_id: str) -> list[ExportRecord]:
        """Clip files exported from *video_id*."""
        ...

    def clips_dir(self, video_id: str) -> Path:
        """Where the HTTP API keeps the clips it cut from a video (a cache)."""
        ...

    def drop_cut_clips(self, video_id: str) -> None:
        """Empty the HTTP API's cache of clips cut from *video_id*."""
        ...

    # -- takedowns -------------------------------------------------------------------------

    def record_removal(self, removal: Removal) -> None:
        """Store a takedown record: the intent before any deletion, the completion after."""
        ...

    def removals(self) -> list[Removal]:
        """Every takedown record, the audit log: oldest first."""
        ...

    def pending_removals(self) -> list[Removal]:
        """Takedowns recorded and not completed."""
        ...

    def hidden(self) -> Hidden:
        """What searches and listings must leave out: the items of unfinished takedowns."""
        ...

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
        """Count a delivery of a step (a try at it, by any runner) before it does any work.

        Deliveries begun but never ended belonged to workers that died (SIGKILL, out of
        memory, a crash in native code); they are counted as crashes here.
        """
        ...

    def end_delivery(self, job_id: str, url: str, step: Step, *,
                     transient_failure: bool = False) -> None:
        """A delivery of a step ended (finished, failed, or handed on to a retry)."""
        ...

    def step_seconds(self, job_id: str) -> dict[str, dict[str, float]]:
        """Seconds spent in each step, per video URL ("" for the article)."""
        ...

    def forget(self, article_ids: tuple[str, ...], video_ids: tuple[str, ...]) -> None:
        """Drop what the jobs say of taken-down items: the jobs of *article_ids* (their
        source, title and videos) and the rows of *video_ids* in other jobs.

        A runner still working on such a job finds its rows gone and its updates do
        nothing (``update_video`` skips missing rows).
        """
        ...

    def recent(self, limit: int = 50) -> list[Job]:
        """The newest jobs first."""
        ...
