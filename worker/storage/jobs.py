"""Our own job store (SQLite in the data dir): what was asked, and how each video is doing.

Job state lives here rather than in Celery's result backend so that an unknown id is plainly
"not found", old jobs stay visible, and every runner (``briefing ingest`` inline, the HTTP
app's in-process worker, the queue's workers) records its jobs the same way, through the same
steps (:mod:`worker.pipeline.steps`).
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from worker.storage.interfaces import JobStoreLike, Runs
from worker.storage.runs import INLINE, FileRuns, interrupted
from worker.storage.sqlite import connect, transaction
from worker.storage.states import JobState, Step, VideoState

__all__ = ["INTERRUPTED_ERROR", "Delivery", "Increment", "Job", "JobProgress", "JobStore",
           "JobVideo", "StepCount", "StoredJob", "delivery_begun", "job_from_row", "job_video",
           "shown_job", "step_count", "stored_job", "video_changes", "video_update"]

INTERRUPTED_ERROR = ("its run stopped before it finished (killed or crashed); "
                     "ingest the article again to finish it")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    state TEXT NOT NULL,
    article_id TEXT NOT NULL DEFAULT '',
    title TEXT NOT NULL DEFAULT '',
    error TEXT NOT NULL DEFAULT '',
    created REAL NOT NULL,
    updated REAL NOT NULL,
    runner TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS job_videos (
    job_id TEXT NOT NULL REFERENCES jobs(id),
    url TEXT NOT NULL,
    position INTEGER NOT NULL,
    state TEXT NOT NULL,
    progress REAL NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    error TEXT NOT NULL DEFAULT '',
    video_id TEXT NOT NULL DEFAULT '',
    started REAL,
    finished REAL,
    PRIMARY KEY (job_id, url)
);
CREATE INDEX IF NOT EXISTS jobs_created ON jobs(created);
CREATE TABLE IF NOT EXISTS job_deliveries (
    job_id TEXT NOT NULL REFERENCES jobs(id),
    url TEXT NOT NULL,
    step TEXT NOT NULL,
    started INTEGER NOT NULL DEFAULT 0,
    ended INTEGER NOT NULL DEFAULT 0,
    crashes INTEGER NOT NULL DEFAULT 0,
    failures INTEGER NOT NULL DEFAULT 0,
    retry_pending INTEGER NOT NULL DEFAULT 0,
    began REAL,
    seconds REAL NOT NULL DEFAULT 0,
    PRIMARY KEY (job_id, url, step)
);
"""


@dataclass(frozen=True)
class JobVideo:
    """One video of a job."""

    url: str
    state: VideoState
    progress: float
    attempts: int
    error: str
    video_id: str
    started: float | None
    finished: float | None


@dataclass(frozen=True)
class Delivery:
    """One delivery of a queued step (download, transcribe, ...), as counted by us.

    Celery's own counters live in the message, which a worker killed mid-task never gets to
    update; these live in the job store, so a video that kills every worker it reaches is
    seen for what it is.
    """

    number: int  # deliveries of this step so far, this one included
    crashes: int  # earlier deliveries that never ended: their worker died
    new_crashes: int  # of those, the ones noticed just now
    failures: int  # transient failures so far (each one was retried)
    retrying: bool  # this delivery follows a transient failure


@dataclass(frozen=True)
class Job:
    """An ingest request and where it stands."""

    id: str
    source: str
    state: JobState
    article_id: str
    title: str
    error: str
    created: float
    updated: float
    videos: tuple[JobVideo, ...]
    runner: str = ""  # "queue", or "inline" and the process that runs it


@dataclass(frozen=True)
class StepCount:
    """The deliveries of one step of one URL of a job, as the store counts them."""

    url: str
    step: str
    started: int
    ended: int
    crashes: int
    failures: int
    retry_pending: bool
    began: float | None
    seconds: float


@dataclass(frozen=True)
class StoredJob:
    """A job as its store keeps it (not as shown: a dead run's job is not yet called
    interrupted) with its step counts: what ``briefing transfer`` copies and compares."""

    job: Job
    steps: tuple[StepCount, ...]


@dataclass(frozen=True)
class Increment:
    """A column's change to its own value plus one (``attempts=attempts+1``), not to a value."""


def job_video(row: Any) -> JobVideo:
    """A JobVideo from a ``job_videos`` row of either store."""
    return JobVideo(url=row["url"], state=VideoState(row["state"]), progress=row["progress"],
                    attempts=row["attempts"], error=row["error"], video_id=row["video_id"],
                    started=row["started"], finished=row["finished"])


def job_from_row(row: Any, videos: tuple[JobVideo, ...]) -> Job:
    """A Job (as stored, not yet as shown) from a ``jobs`` row of either store."""
    return Job(id=row["id"], source=row["source"], state=JobState(row["state"]),
               article_id=row["article_id"], title=row["title"], error=row["error"],
               created=row["created"], updated=row["updated"], videos=videos,
               runner=row["runner"])


def stored_job(row: Any, video_rows: Iterable[Any], step_rows: Iterable[Any]) -> StoredJob:
    """A StoredJob from a ``jobs`` row, its ``job_videos`` rows (in position order) and its
    ``job_deliveries`` rows, of either store."""
    videos = tuple(job_video(v) for v in video_rows)
    steps = sorted((step_count(d) for d in step_rows), key=lambda c: (c.url, c.step))
    return StoredJob(job_from_row(row, videos), tuple(steps))


def video_changes(*, started: float | None, now: float, state: VideoState | None,
                  progress: float | None, error: str | None, video_id: str | None,
                  new_attempt: bool) -> tuple[tuple[str, object], ...]:
    """The ``job_videos`` columns an ``update_video`` call changes, as (column, new value)
    pairs (an :class:`Increment` for a count); *started* is the row's ``started``.

    A settled video gets its finish time, a video that starts working its start time (once),
    a done one the whole of its progress.
    """
    changes: list[tuple[str, object]] = []
    if state is not None:
        changes.append(("state", state))
        if state.settled:
            changes.append(("finished", now))
        elif started is None:
            changes.append(("started", now))
        if state is VideoState.DONE:
            changes.append(("progress", 1.0))
    if progress is not None:
        changes.append(("progress", round(progress, 4)))
    if error is not None:
        changes.append(("error", error))
    if video_id is not None:
        changes.append(("video_id", video_id))
    if new_attempt:
        changes.append(("attempts", Increment()))
    return tuple(changes)


def video_update(changes: Iterable[tuple[str, object]], job_id: str, url: str,
                 placeholder: str) -> tuple[str, tuple[object, ...]] | None:
    """The statement making *changes* (:func:`video_changes`) to a ``job_videos`` row, with
    the store's *placeholder* (``?``, ``%s``), and its arguments; None when there are none."""
    sets: list[str] = []
    args: list[object] = []
    for column, value in changes:
        if isinstance(value, Increment):
            sets.append(f"{column}={column}+1")
        else:
            sets.append(f"{column}={placeholder}")
            args.append(value)
    if not sets:
        return None
    return (f"UPDATE job_videos SET {', '.join(sets)} "
            f"WHERE job_id={placeholder} AND url={placeholder}", (*args, job_id, url))


def delivery_begun(row: Any) -> Delivery:
    """The Delivery that begins after the ``job_deliveries`` row *row* (as it was before):
    deliveries begun but never ended are its new crashes."""
    lost = max(0, row["started"] - row["ended"])
    return Delivery(number=row["started"] + 1, crashes=row["crashes"] + lost,
                    new_crashes=lost, failures=row["failures"],
                    retrying=bool(row["retry_pending"]))


def step_count(row: Any) -> StepCount:
    """A StepCount from a ``job_deliveries`` row of either store."""
    return StepCount(url=row["url"], step=row["step"], started=int(row["started"]),
                     ended=int(row["ended"]), crashes=int(row["crashes"]),
                     failures=int(row["failures"]), retry_pending=bool(row["retry_pending"]),
                     began=row["began"], seconds=float(row["seconds"]))


def shown_job(job: Job, runs: Runs) -> Job:
    """*job* as a user should see it: an inline job whose run died is interrupted."""
    if (job.state in (JobState.QUEUED, JobState.RUNNING) and job.runner.startswith(INLINE)
            and interrupted(runs, job.runner)):
        return replace(job, state=JobState.INTERRUPTED, error=job.error or INTERRUPTED_ERROR)
    return job


class JobStore:
    """Jobs in an SQLite file; safe to share between threads and processes on one host."""

    def __init__(self, path: Path, runs: Runs | None = None) -> None:
        """The job store in the SQLite file at *path*; *runs* tells whether an inline job's
        run is alive (default: the runs of the data dir holding *path*)."""
        self.path = path
        self.runs: Runs = runs if runs is not None else FileRuns(path.parent)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        # executescript commits on its own, so it runs outside our transaction helper.
        db = self._db()
        db.executescript(_SCHEMA)
        columns = {row["name"] for row in db.execute("PRAGMA table_info(jobs)")}
        if "runner" not in columns:  # a job store written before jobs named their runner
            db.execute("ALTER TABLE jobs ADD COLUMN runner TEXT NOT NULL DEFAULT ''")

    @property
    def where(self) -> str:
        """The SQLite file, for messages."""
        return str(self.path)

    def _db(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = connect(self.path)
            self._local.db = db
        return db

    @contextlib.contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with transaction(self._db()) as db:
            yield db

    def create(self, source: str, *, runner: str = "") -> str:
        """Record a new queued job and return its id; *runner* says who runs it."""
        job_id = uuid.uuid4().hex
        now = time.time()
        with self._tx() as db:
            db.execute("INSERT INTO jobs (id, source, state, created, updated, runner) "
                       "VALUES (?, ?, ?, ?, ?, ?)",
                       (job_id, source, JobState.QUEUED, now, now, runner))
        return job_id

    def set_article(self, job_id: str, article_id: str, title: str, urls: list[str]) -> None:
        """The article was read: remember it and queue its videos."""
        now = time.time()
        with self._tx() as db:
            db.execute("UPDATE jobs SET article_id=?, title=?, state=?, updated=? WHERE id=?",
                       (article_id, title, JobState.RUNNING, now, job_id))
            for position, url in enumerate(urls):
                db.execute("INSERT OR IGNORE INTO job_videos (job_id, url, position, state) "
                           "VALUES (?, ?, ?, ?)", (job_id, url, position, VideoState.QUEUED))
            self._settle(db, job_id, now)

    def set_runner(self, job_id: str, runner: str) -> None:
        """Record who runs the job now (``inline <run id>``, or ``queue``)."""
        with self._tx() as db:
            db.execute("UPDATE jobs SET runner=?, updated=? WHERE id=?",
                       (runner, time.time(), job_id))

    def set_job_state(self, job_id: str, state: JobState, error: str = "") -> None:
        """Set a job's own state (e.g. failed because the article could not be read)."""
        with self._tx() as db:
            db.execute("UPDATE jobs SET state=?, error=?, updated=? WHERE id=?",
                       (state, error, time.time(), job_id))

    def update_video(self, job_id: str, url: str, *, state: VideoState | None = None,
                     progress: float | None = None, error: str | None = None,
                     video_id: str | None = None, new_attempt: bool = False) -> None:
        """Record a video's progress (:meth:`JobStoreLike.update_video`) under SQLite's write
        lock: the job is done once every video is done or failed."""
        now = time.time()
        with self._tx() as db:
            row = db.execute("SELECT started FROM job_videos WHERE job_id=? AND url=?",
                             (job_id, url)).fetchone()
            if row is None:
                return
            update = video_update(video_changes(
                started=row["started"], now=now, state=state, progress=progress, error=error,
                video_id=video_id, new_attempt=new_attempt), job_id, url, "?")
            if update is not None:
                db.execute(*update)
            self._settle(db, job_id, now)

    def _settle(self, db: sqlite3.Connection, job_id: str, now: float) -> None:
        job = db.execute("SELECT state FROM jobs WHERE id=?", (job_id,)).fetchone()
        if job is None or job["state"] == JobState.FAILED:
            return
        open_videos = db.execute(
            "SELECT COUNT(*) FROM job_videos WHERE job_id=? AND state NOT IN (?, ?)",
            (job_id, VideoState.DONE, VideoState.FAILED)).fetchone()[0]
        state = JobState.RUNNING if open_videos else JobState.DONE
        db.execute("UPDATE jobs SET state=?, updated=? WHERE id=?", (state, now, job_id))

    def get(self, job_id: str) -> Job | None:
        """A job with its videos, or None for an unknown id."""
        db = self._db()
        row = db.execute("SELECT * FROM jobs WHERE id=?", (job_id,)).fetchone()
        if row is None:
            return None
        videos = tuple(job_video(v) for v in db.execute(
            "SELECT * FROM job_videos WHERE job_id=? ORDER BY position", (job_id,)))
        return shown_job(job_from_row(row, videos), self.runs)

    def stored_jobs(self) -> Iterator[StoredJob]:
        """Every job as stored, with its step counts, oldest first (``briefing
        transfer`` reads them)."""
        db = self._db()
        ids = [r["id"] for r in db.execute("SELECT id FROM jobs ORDER BY created, rowid")]
        for job_id in ids:
            row = db.execute("SELECT * FROM jobs WHERE id=?", (job_id,)).fetchone()
            if row is None:
                continue
            yield stored_job(
                row,
                db.execute("SELECT * FROM job_videos WHERE job_id=? ORDER BY position",
                           (job_id,)),
                db.execute("SELECT * FROM job_deliveries WHERE job_id=?", (job_id,)))

    def begin_delivery(self, job_id: str, url: str, step: Step) -> Delivery:
        """Count a delivery of a step (:meth:`JobStoreLike.begin_delivery`) under SQLite's
        write lock."""
        now = time.time()
        with self._tx() as db:
            db.execute("INSERT OR IGNORE INTO job_deliveries (job_id, url, step) "
                       "VALUES (?, ?, ?)", (job_id, url, step))
            row = db.execute("SELECT * FROM job_deliveries WHERE job_id=? AND url=? AND step=?",
                             (job_id, url, step)).fetchone()
            delivery = delivery_begun(row)
            db.execute("UPDATE job_deliveries SET started=started+1, ended=ended+?, "
                       "crashes=crashes+?, retry_pending=0, began=? "
                       "WHERE job_id=? AND url=? AND step=?",
                       (delivery.new_crashes, delivery.new_crashes, now, job_id, url, step))
        return delivery

    def end_delivery(self, job_id: str, url: str, step: Step, *,
                     transient_failure: bool = False) -> None:
        """A delivery of a step ended (:meth:`JobStoreLike.end_delivery`): one UPDATE."""
        now = time.time()
        with self._tx() as db:
            db.execute("UPDATE job_deliveries SET ended=MIN(started, ended+1), "
                       "failures=failures+?, retry_pending=?, "
                       "seconds=seconds+MAX(0, ?-COALESCE(began, ?)), began=NULL "
                       "WHERE job_id=? AND url=? AND step=?",
                       (int(transient_failure), int(transient_failure), now, now,
                        job_id, url, step))

    def step_seconds(self, job_id: str) -> dict[str, dict[str, float]]:
        """Seconds spent in each step, per video URL ("" for the article)."""
        timings: dict[str, dict[str, float]] = {}
        for row in self._db().execute("SELECT url, step, seconds FROM job_deliveries "
                                      "WHERE job_id=?", (job_id,)):
            timings.setdefault(row["url"], {})[row["step"]] = round(row["seconds"], 3)
        return timings

    def forget(self, article_ids: tuple[str, ...], video_ids: tuple[str, ...]) -> None:
        """Drop what the jobs say of taken-down items (:meth:`JobStoreLike.forget`), row by
        row; ``update_video`` and ``_settle`` skip the rows gone."""
        with self._tx() as db:
            for article_id in article_ids:
                ids = [r["id"] for r in db.execute("SELECT id FROM jobs WHERE article_id=?",
                                                   (article_id,))]
                for job_id in ids:
                    for table in ("job_deliveries", "job_videos"):
                        db.execute(f"DELETE FROM {table} WHERE job_id=?", (job_id,))
                    db.execute("DELETE FROM jobs WHERE id=?", (job_id,))
            for video_id in video_ids:
                urls = db.execute("SELECT job_id, url FROM job_videos WHERE video_id=?",
                                  (video_id,)).fetchall()
                for row in urls:
                    db.execute("DELETE FROM job_deliveries WHERE job_id=? AND url=?",
                               (row["job_id"], row["url"]))
                db.execute("DELETE FROM job_videos WHERE video_id=?", (video_id,))

    def recent(self, limit: int = 50) -> list[Job]:
        """The newest jobs first."""
        ids = [r["id"] for r in self._db().execute(
            "SELECT id FROM jobs ORDER BY created DESC LIMIT ?", (limit,))]
        return [job for job in (self.get(i) for i in ids) if job is not None]


class JobProgress:
    """The pipeline's Progress, written to the job store (audio progress in 2 % steps)."""

    def __init__(self, store: JobStoreLike, job_id: str) -> None:
        self.store = store
        self.job_id = job_id
        self._last: dict[str, float] = {}

    def state(self, url: str, state: VideoState, *, video_id: str = "", error: str = "") -> None:
        """Record a state change."""
        self.store.update_video(self.job_id, url, state=state, error=error,
                                video_id=video_id or None)

    def downloaded(self, url: str, done: int, total: int | None) -> None:
        """Download progress is not stored (it is short next to transcription)."""

    def phase(self, url: str, text: str) -> None:
        """Phases are not stored: the video's state already says which step it is in."""

    def transcribed(self, url: str, fraction: float) -> None:
        """Store the share of audio done, at most every 2 %."""
        if fraction - self._last.get(url, -1.0) >= 0.02 or fraction >= 1.0:
            self._last[url] = fraction
            self.store.update_video(self.job_id, url, progress=fraction)
