"""The in-process ingest worker ``briefing serve`` uses when no broker is configured.

One thread runs one job at a time with one Context, so the Whisper model is loaded once and
kept, and a transcription has every core to itself (as a Celery worker with concurrency 1
would).  It runs jobs with the inline runner (``worker.pipeline.inline.run_job``), through
the same steps as the queue's tasks and into the same job store, so ``GET /jobs/{id}`` reads
the same either way.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass

from worker.errors import BriefingError, WorkerBusyError
from worker.pipeline.context import Context
from worker.pipeline.inline import run_job
from worker.storage.interfaces import JobStoreLike
from worker.storage.runs import INLINE
from worker.storage.states import JobState

__all__ = ["MAX_PENDING", "InlineWorker"]

log = logging.getLogger("briefing.worker")

MAX_PENDING = 100


@dataclass(frozen=True)
class _Task:
    job_id: str
    source: str
    content: str | None


@dataclass(frozen=True)
class _Call:
    """Other work for the worker's thread and Context (a re-transcription): it takes turns
    with the jobs, so a transcription still has the cores to itself."""

    label: str
    work: Callable[[Context], object]


class InlineWorker:
    """A single background thread that runs ingest jobs in the order they were submitted."""

    def __init__(self, ctx: Context | Callable[[], Context], jobs: JobStoreLike, *,
                 max_pending: int = MAX_PENDING,
                 after_job: Callable[[], None] | None = None) -> None:
        # A factory is called on the worker's own thread: opening the index may mean
        # rebuilding it first, and the server must answer (503) meanwhile, not hang.
        self._ctx = ctx
        self.jobs = jobs
        self._queue: queue.Queue[_Task | _Call | None] = queue.Queue(maxsize=max_pending)
        self._thread: threading.Thread | None = None
        self._current: str | None = None
        self._after_job = after_job  # e.g. send the webhooks the job's hits made due

    def start(self) -> None:
        """Start the thread (once)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="briefing-ingest",
                                            daemon=True)
            self._thread.start()

    @property
    def alive(self) -> bool:
        """True while the thread is running."""
        return self._thread is not None and self._thread.is_alive()

    @property
    def pending(self) -> int:
        """Jobs waiting for their turn."""
        return self._queue.qsize()

    def submit(self, source: str, content: str | None = None) -> str:
        """Record a queued job and hand it to the thread; returns the job id at once.

        Raises :class:`WorkerBusyError` when too many jobs are already waiting.
        """
        job_id = self.jobs.create(source, runner=INLINE)
        try:
            self._queue.put_nowait(_Task(job_id, source, content))
        except queue.Full:
            self.jobs.set_job_state(job_id, JobState.FAILED, "too many jobs waiting")
            raise WorkerBusyError(f"{self._queue.maxsize} jobs are already waiting; "
                                  "try again later") from None
        return job_id

    def submit_call(self, label: str, work: Callable[[Context], object]) -> None:
        """Run *work* with the worker's Context on its thread, after the jobs before it.

        Raises :class:`WorkerBusyError` when too many tasks are already waiting.
        """
        try:
            self._queue.put_nowait(_Call(label, work))
        except queue.Full:
            raise WorkerBusyError(f"{self._queue.maxsize} tasks are already waiting; "
                                  "try again later") from None

    @property
    def ctx(self) -> Context:
        """The pipeline context (built on first use when given as a factory)."""
        if not isinstance(self._ctx, Context):
            self._ctx = self._ctx()
        return self._ctx

    def _run(self) -> None:
        while True:
            task = self._queue.get()
            if task is None:
                return
            if isinstance(task, _Call):
                try:
                    task.work(self.ctx)
                except Exception:
                    log.exception("%s failed", task.label)
                finally:
                    if self._after_job is not None:
                        self._after_job()  # a re-transcription's hits are due at once too
                continue
            self._current = task.job_id
            try:
                run_job(self.ctx, task.job_id, task.source, task.content)
            except BriefingError:
                pass  # the article could not be read: the job says why
            except Exception as exc:
                # run_job records our own errors; anything else is a bug, and the thread
                # must survive it to run the next job.
                log.exception("ingest job %s crashed", task.job_id)
                self.jobs.set_job_state(task.job_id, JobState.FAILED,
                                        f"internal error ({type(exc).__name__})")
            finally:
                self._current = None
                if self._after_job is not None:
                    self._after_job()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop taking jobs: waiting ones are failed, the running one gets *timeout* seconds.

        Jobs that cannot finish are marked failed rather than left "queued" forever; the
        caller can submit them again.
        """
        while True:
            try:
                task = self._queue.get_nowait()
            except queue.Empty:
                break
            if isinstance(task, _Task):
                self.jobs.set_job_state(task.job_id, JobState.FAILED,
                                        "the server stopped before this job started")
        if self._thread is None:
            return
        self._queue.put(None)
        self._thread.join(timeout)
        running = self._current
        if self._thread.is_alive() and running is not None:
            self.jobs.set_job_state(running, JobState.FAILED, "the server stopped during this job")
