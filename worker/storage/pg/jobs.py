"""The job store on PostgreSQL (BRIEFING_DATABASE_URL): the embedded JobStore's twin.

Same methods, same answers; where the SQLite store took the whole file with ``BEGIN
IMMEDIATE``, this one locks the job's row (``SELECT ... FOR NO KEY UPDATE``) so two workers
settling two videos of one job take turns and the last one sees the other's write.  Every
insert is an upsert, so a redelivered task writes nothing twice.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

from worker.storage.interfaces import Runs
from worker.storage.jobs import (
    Delivery,
    Job,
    JobVideo,
    StoredJob,
    delivery_begun,
    job_from_row,
    job_video,
    shown_job,
    stored_job,
    video_changes,
    video_update,
)
from worker.storage.pg.pool import Conn, redact, transaction
from worker.storage.states import JobState, Step, VideoState

__all__ = ["PgJobStore"]

_SETTLED = (VideoState.DONE.value, VideoState.FAILED.value)


class PgJobStore:
    """Jobs in PostgreSQL; shared by every process on every machine that reaches it."""

    def __init__(self, url: str, runs: Runs) -> None:
        """The job store in the database at *url* (its schema current: see
        :func:`worker.storage.pg.migrate.require_current`); *runs* tells whether an inline
        job's run is alive (:class:`worker.storage.pg.runs.PgRuns` on the same database).

        A database that cannot be reached makes each call raise StoreUnavailableError
        (transient: runners retry the step)."""
        self.url = url
        self.runs = runs

    @property
    def where(self) -> str:
        """The database, without its password, for messages."""
        return redact(self.url)

    def create(self, source: str, *, runner: str = "") -> str:
        """Record a new queued job and return its id; *runner* says who runs it."""
        job_id = uuid.uuid4().hex
        now = time.time()
        with transaction(self.url) as db:
            db.execute("INSERT INTO jobs (id, source, state, created, updated, runner) "
                       "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO NOTHING",
                       (job_id, source, JobState.QUEUED, now, now, runner))
        return job_id

    def set_article(self, job_id: str, article_id: str, title: str, urls: list[str]) -> None:
        """The article was read: remember it and queue its videos."""
        now = time.time()
        with transaction(self.url) as db:
            if not self._lock_job(db, job_id):
                return  # forgotten (taken down) meanwhile: nothing to record it in
            db.execute("UPDATE jobs SET article_id=%s, title=%s, state=%s, updated=%s "
                       "WHERE id=%s", (article_id, title, JobState.RUNNING, now, job_id))
            if urls:
                db.execute(
                    "INSERT INTO job_videos (job_id, url, position, state) "
                    "SELECT %s, url, position - 1, %s "
                    "FROM unnest(%s::text[]) WITH ORDINALITY AS u(url, position) "
                    "ON CONFLICT (job_id, url) DO NOTHING",
                    (job_id, VideoState.QUEUED, urls))
            self._settle(db, job_id, now)

    def set_runner(self, job_id: str, runner: str) -> None:
        """Record who runs the job now (``inline <run id>``, or ``queue``)."""
        with transaction(self.url) as db:
            db.execute("UPDATE jobs SET runner=%s, updated=%s WHERE id=%s",
                       (runner, time.time(), job_id))

    def set_job_state(self, job_id: str, state: JobState, error: str = "") -> None:
        """Set a job's own state (e.g. failed because the article could not be read)."""
        with transaction(self.url) as db:
            db.execute("UPDATE jobs SET state=%s, error=%s, updated=%s WHERE id=%s",
                       (state, error, time.time(), job_id))

    def update_video(self, job_id: str, url: str, *, state: VideoState | None = None,
                     progress: float | None = None, error: str | None = None,
                     video_id: str | None = None, new_attempt: bool = False) -> None:
        """Record a video's progress (:meth:`JobStoreLike.update_video`) with the job's row
        locked, so the last of two settling videos sees the other's write."""
        now = time.time()
        with transaction(self.url) as db:
            # The job's row first, then the video's: every writer locks in that order.
            if not self._lock_job(db, job_id):
                return
            row = db.execute("SELECT started FROM job_videos WHERE job_id=%s AND url=%s "
                             "FOR UPDATE", (job_id, url)).fetchone()
            if row is None:
                return
            update = video_update(video_changes(
                started=row["started"], now=now, state=state, progress=progress, error=error,
                video_id=video_id, new_attempt=new_attempt), job_id, url, "%s")
            if update is not None:
                db.execute(*update)
            self._settle(db, job_id, now)

    @staticmethod
    def _lock_job(db: Conn, job_id: str) -> bool:
        """Lock the job's row for this transaction; False if there is no such job."""
        return db.execute("SELECT 1 FROM jobs WHERE id=%s FOR NO KEY UPDATE",
                          (job_id,)).fetchone() is not None

    @staticmethod
    def _settle(db: Conn, job_id: str, now: float) -> None:
        # Called with the job's row locked, so the count below sees every other writer's
        # committed videos (READ COMMITTED takes a new snapshot per statement).
        db.execute(
            "UPDATE jobs SET updated=%(now)s, state=CASE WHEN EXISTS ("
            "  SELECT 1 FROM job_videos v WHERE v.job_id=%(id)s AND v.state <> ALL(%(settled)s))"
            " THEN %(running)s ELSE %(done)s END "
            "WHERE id=%(id)s AND state <> %(failed)s",
            {"now": now, "id": job_id, "settled": list(_SETTLED), "running": JobState.RUNNING,
             "done": JobState.DONE, "failed": JobState.FAILED})

    def get(self, job_id: str) -> Job | None:
        """A job with its videos, or None for an unknown id."""
        with transaction(self.url) as db:
            row = db.execute("SELECT * FROM jobs WHERE id=%s", (job_id,)).fetchone()
            if row is None:
                return None
            videos = tuple(job_video(v) for v in db.execute(
                "SELECT * FROM job_videos WHERE job_id=%s ORDER BY position", (job_id,)))
        # Outside the transaction: telling a run alive takes a connection of its own.
        return shown_job(job_from_row(row, videos), self.runs)

    def begin_delivery(self, job_id: str, url: str, step: Step) -> Delivery:
        """Count a delivery of a step (:meth:`JobStoreLike.begin_delivery`), its row locked
        so two deliveries at once count one after the other."""
        now = time.time()
        with transaction(self.url) as db:
            # Only for a job that exists (a taken-down job's delivery counts nothing).
            db.execute("INSERT INTO job_deliveries (job_id, url, step) "
                       "SELECT id, %s, %s FROM jobs WHERE id=%s "
                       "ON CONFLICT (job_id, url, step) DO NOTHING", (url, step, job_id))
            row = db.execute("SELECT started, ended, crashes, failures, retry_pending "
                             "FROM job_deliveries WHERE job_id=%s AND url=%s AND step=%s "
                             "FOR UPDATE", (job_id, url, step)).fetchone()
            if row is None:
                return Delivery(number=1, crashes=0, new_crashes=0, failures=0,
                                retrying=False)
            delivery = delivery_begun(row)
            db.execute("UPDATE job_deliveries SET started=started+1, ended=ended+%s, "
                       "crashes=crashes+%s, retry_pending=false, began=%s "
                       "WHERE job_id=%s AND url=%s AND step=%s",
                       (delivery.new_crashes, delivery.new_crashes, now, job_id, url, step))
        return delivery

    def end_delivery(self, job_id: str, url: str, step: Step, *,
                     transient_failure: bool = False) -> None:
        """A delivery of a step ended (:meth:`JobStoreLike.end_delivery`): one UPDATE, whose
        row lock orders it with a delivery beginning."""
        now = time.time()
        with transaction(self.url) as db:
            db.execute("UPDATE job_deliveries SET ended=LEAST(started, ended+1), "
                       "failures=failures+%s, retry_pending=%s, "
                       "seconds=seconds+GREATEST(0, %s-COALESCE(began, %s)), began=NULL "
                       "WHERE job_id=%s AND url=%s AND step=%s",
                       (int(transient_failure), transient_failure, now, now,
                        job_id, url, step))

    def step_seconds(self, job_id: str) -> dict[str, dict[str, float]]:
        """Seconds spent in each step, per video URL ("" for the article)."""
        timings: dict[str, dict[str, float]] = {}
        with transaction(self.url) as db:
            for row in db.execute("SELECT url, step, seconds FROM job_deliveries "
                                  "WHERE job_id=%s", (job_id,)):
                timings.setdefault(row["url"], {})[row["step"]] = round(row["seconds"], 3)
        return timings

    def forget(self, article_ids: tuple[str, ...], video_ids: tuple[str, ...]) -> None:
        """Drop what the jobs say of taken-down items (:meth:`JobStoreLike.forget`), a
        statement per table; a job's videos and deliveries go with it (ON DELETE CASCADE)."""
        with transaction(self.url) as db:
            if article_ids:  # their videos and deliveries go with them (ON DELETE CASCADE)
                db.execute("DELETE FROM jobs WHERE article_id = ANY(%s)", (list(article_ids),))
            if video_ids:
                db.execute("DELETE FROM job_deliveries d USING job_videos v "
                           "WHERE d.job_id = v.job_id AND d.url = v.url "
                           "AND v.video_id = ANY(%s)", (list(video_ids),))
                db.execute("DELETE FROM job_videos WHERE video_id = ANY(%s)",
                           (list(video_ids),))

    def stored_jobs(self) -> Iterator[StoredJob]:
        """Every job as stored, with its step counts, oldest first."""
        with transaction(self.url) as db:
            ids = [r["id"] for r in db.execute("SELECT id FROM jobs ORDER BY created, seq")]
        for job_id in ids:
            with transaction(self.url) as db:
                found = self._stored(db, job_id)
            if found is not None:
                yield found

    def import_job(self, stored: StoredJob) -> bool:
        """Store a job read from another store as it is there (id, times, videos, step
        counts), unless it is so already; True when it wrote.  For ``briefing transfer``:
        running it again rewrites nothing."""
        job = stored.job
        with transaction(self.url) as db:
            db.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                       (f"briefing-jobs:import:{job.id}",))
            if self._stored(db, job.id) == stored:
                return False
            db.execute(
                "INSERT INTO jobs (id, source, state, article_id, title, error, created,"
                " updated, runner) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
                " ON CONFLICT (id) DO UPDATE SET source = EXCLUDED.source,"
                " state = EXCLUDED.state, article_id = EXCLUDED.article_id,"
                " title = EXCLUDED.title, error = EXCLUDED.error, created = EXCLUDED.created,"
                " updated = EXCLUDED.updated, runner = EXCLUDED.runner",
                (job.id, job.source, job.state, job.article_id, job.title, job.error,
                 job.created, job.updated, job.runner))
            db.execute("DELETE FROM job_videos WHERE job_id = %s", (job.id,))
            db.execute("DELETE FROM job_deliveries WHERE job_id = %s", (job.id,))
            for position, v in enumerate(job.videos):
                db.execute(
                    "INSERT INTO job_videos (job_id, url, position, state, progress, attempts,"
                    " error, video_id, started, finished)"
                    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                    (job.id, v.url, position, v.state, v.progress, v.attempts, v.error,
                     v.video_id, v.started, v.finished))
            for c in stored.steps:
                db.execute(
                    "INSERT INTO job_deliveries (job_id, url, step, started, ended, crashes,"
                    " failures, retry_pending, began, seconds)"
                    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                    (job.id, c.url, c.step, c.started, c.ended, c.crashes, c.failures,
                     c.retry_pending, c.began, c.seconds))
        return True

    @staticmethod
    def _stored(db: Conn, job_id: str) -> StoredJob | None:
        row = db.execute("SELECT * FROM jobs WHERE id=%s", (job_id,)).fetchone()
        if row is None:
            return None
        return stored_job(
            row,
            db.execute("SELECT * FROM job_videos WHERE job_id=%s ORDER BY position", (job_id,)),
            db.execute("SELECT * FROM job_deliveries WHERE job_id=%s", (job_id,)))

    def recent(self, limit: int = 50) -> list[Job]:
        """The newest jobs first."""
        with transaction(self.url) as db:
            rows = db.execute("SELECT * FROM jobs ORDER BY created DESC, seq DESC LIMIT %s",
                              (limit,)).fetchall()
            videos: dict[str, list[JobVideo]] = {row["id"]: [] for row in rows}
            for v in db.execute("SELECT * FROM job_videos WHERE job_id = ANY(%s) "
                                "ORDER BY job_id, position", (list(videos),)):
                videos[v["job_id"]].append(job_video(v))
        return [shown_job(job_from_row(row, tuple(videos[row["id"]])), self.runs) for row in rows]
