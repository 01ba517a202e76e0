"""The Celery app and its thin tasks: an id in, a pipeline step out, retry policy.

    ingest_article (media) -> per video: download_video (media)
                                         -> transcribe_video (transcribe) -> index_video (index)

Each task hands its video to the next step itself rather than through a pre-built chain:
the transcription's time limit comes from the duration the download measured, and a video
whose transcript exists already goes straight to the index.

Failure policy, the same for every step:

* a transient error (connection reset, HTTP 5xx, time-outs, a busy index) is retried with
  exponential backoff and jitter, up to ``BRIEFING_MAX_RETRIES`` times;
* any other error fails the video at once, with the reason, in the job store;
* a delivery whose worker died (SIGKILL, out of memory, a native crash) is redone by the next
  worker; after ``BRIEFING_MAX_DELIVERIES`` such deaths the video is failed instead;
* a step over its time limit (which grows with the video's duration) fails the video;
* the broker going away (Redis restarting) is not the video's failure: a running step keeps
  going (its locks' leases lapse at worst, the on-disk checks still prevent double work),
  publishing the next step waits for the broker to return, and a step that needed the broker
  is tried again without counting as a retry.

Deliveries are counted in our job store, not in Celery: a killed worker never updates
Celery's counters.
"""

from __future__ import annotations

import logging
import os
import random
import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import redis
from celery import Celery, Task
from celery.exceptions import SoftTimeLimitExceeded, TimeLimitExceeded
from celery.signals import worker_process_init
from celery.utils.log import mlevel
from celery.utils.nodenames import host_format
from kombu.exceptions import OperationalError as KombuOperationalError

from indexer.errors import BriefingError, SearchIndexError
from worker.errors import BrokerUnavailableError
from worker.pipeline.locks import BrokerLocks, Busy
from worker.pipeline.stages import (
    Queued,
    download_step,
    fail_article,
    fail_video,
    index_step,
    read_article_step,
    sweep_stale_downloads,
    transcribe_step,
    video_settled,
)
from worker.pipeline.wiring import build_context, model_provider
from worker.queue.config import (
    ARTICLE_LIMIT,
    DOWNLOAD_TASK,
    HARD_LIMIT_GRACE,
    INDEX_LIMIT,
    INDEX_TASK,
    INGEST_TASK,
    MEDIA,
    QUEUES,
    STEP_PUBLISH_BACKOFF_MAX,
    STEP_PUBLISH_DEADLINE,
    TRANSCRIBE,
    TRANSCRIBE_TASK,
    QueuePolicy,
    broker_problem,
    redacted,
    worker_celery_config,
)
from worker.settings import Settings
from worker.speech.models import DEFAULT_CPU_THREADS, resolve_model
from worker.storage.datadir import DataDir
from worker.storage.jobs import JobStore

log = logging.getLogger("briefing.worker")

# Steps, as counted in the job store's deliveries.
ARTICLE = "article"
DOWNLOAD = "download"
TRANSCRIBING = "transcribe"
INDEXING = "index"
_DOING = {ARTICLE: "reading the article", DOWNLOAD: "downloading it",
          TRANSCRIBING: "transcribing it", INDEXING: "indexing it"}

app = Celery("briefing", set_as_current=False)


def _configure_from_settings(sender: Celery, **_: Any) -> None:
    # `celery -A worker.queue.tasks ...` reads BRIEFING_* like every other entry point.
    sender.conf.update(worker_celery_config(Settings()))


app.on_configure.connect(_configure_from_settings)


# -- per-process state ------------------------------------------------------------------------


@dataclass
class _Serving:
    """What `briefing worker` was started with (inherited by its pool processes)."""

    queues: tuple[str, ...] = QUEUES
    cpu_threads: int = 0


_serving = _Serving()


@dataclass
class _Runtime:
    settings: Settings
    queued: Queued
    pid: int


_runtime: _Runtime | None = None


def runtime() -> _Runtime:
    """This process's Context, job store and locks (built after the fork, never shared)."""
    global _runtime
    if _runtime is None or _runtime.pid != os.getpid():
        settings = Settings()
        threads = settings.cpu_threads or _serving.cpu_threads
        ctx = build_context(settings)
        ctx = replace(ctx, models=replace(ctx.models, cpu_threads=threads))
        queued = Queued(ctx=ctx, jobs=JobStore(ctx.data.jobs_db),
                        locks=BrokerLocks.from_url(str(settings.broker_url)),
                        policy=QueuePolicy.from_settings(settings))
        _runtime = _Runtime(settings, queued, os.getpid())
    return _runtime


def _load_model_once(**_: Any) -> None:
    # Each pool process loads the Whisper model once, before its first task, and keeps it.
    rt = runtime()
    if TRANSCRIBE not in _serving.queues:
        return
    try:
        rt.queued.ctx.models.get()
    except BriefingError as exc:  # the task will fail the video with this reason
        log.error("cannot load the Whisper model: %s", exc)
        return
    log.info("loaded Whisper model %s in process %d", rt.settings.model, os.getpid())


worker_process_init.connect(_load_model_once)


# -- the failure policy -----------------------------------------------------------------------


def is_transient(exc: BaseException) -> bool:
    """Whether trying again later could help."""
    if isinstance(exc, SearchIndexError):
        return True  # the index is derived: a lock or a full disk is the machine's problem
    if isinstance(exc, BriefingError):
        return bool(getattr(exc, "transient", False))
    return isinstance(exc, OSError | redis.exceptions.ConnectionError |
                      redis.exceptions.TimeoutError | sqlite3.OperationalError |
                      KombuOperationalError)


def broker_down(exc: BaseException) -> bool:
    """Whether *exc* says the broker (Redis: the queue and the locks) cannot be reached.

    That is the fleet's problem, not the video's: it is neither counted as a retry nor
    a reason to fail the video.
    """
    return isinstance(exc, redis.exceptions.ConnectionError | redis.exceptions.TimeoutError |
                      KombuOperationalError)


def _fail(q: Queued, job_id: str, url: str, reason: str) -> None:
    if url:
        fail_video(q, job_id, url, reason)
    else:
        fail_article(q, job_id, reason)


class _Step(Task):  # type: ignore[misc]
    """Base of our tasks: records a hard time-limit kill, which no task code survives."""

    step = ""

    def on_failure(self, exc: BaseException, task_id: str, args: tuple[Any, ...],
                   kwargs: dict[str, Any], einfo: Any) -> None:
        """Runs in the worker's main process when a hard time limit killed the task."""
        if not isinstance(exc, TimeLimitExceeded):
            return  # the task recorded its own failure before raising
        job_id, url = kwargs.get("job_id", ""), kwargs.get("url", "")
        q = runtime().queued
        q.jobs.end_delivery(job_id, url, self.step)
        _fail(q, job_id, url, f"killed after its time limit of {float(exc.args[0]):.0f} s "
                              f"while {_DOING[self.step]}")


def _run(task: _Step, job_id: str, url: str, work: Callable[[Queued], None],
         requeue: Callable[[float], None] | None = None) -> None:
    """Run one step's *work* under the failure policy (see the module docstring)."""
    q = runtime().queued
    step = task.step
    if q.jobs.get(job_id) is None:
        log.error("job %s is not in the job store at %s: does this worker use the same "
                  "BRIEFING_DATA_DIR as the one that queued it?", job_id, q.jobs.path)
        return
    if url and video_settled(q.jobs, job_id, url):
        return  # a duplicate delivery of finished work
    try:
        delivery = q.jobs.begin_delivery(job_id, url, step)
    except sqlite3.OperationalError as exc:  # the job store is busy: come back later
        raise task.retry(countdown=q.policy.retry_delay(0), exc=exc) from exc
    if delivery.crashes >= q.policy.max_deliveries:
        q.jobs.end_delivery(job_id, url, step)
        _fail(q, job_id, url, f"its worker died {delivery.crashes} times while "
                              f"{_DOING[step]} (killed, out of memory or crashed); given up")
        return
    if url and (delivery.new_crashes or delivery.retrying or
                (step == DOWNLOAD and delivery.number == 1)):
        q.jobs.update_video(job_id, url, new_attempt=True)
    if delivery.new_crashes:
        log.warning("job %s: redoing %s of %s after its worker died", job_id, step,
                    url or "the article")
    try:
        work(q)
    except (SystemExit, KeyboardInterrupt):
        # The worker is stopping (cold shutdown, lost broker connection) and puts the task
        # back on the queue: a deliberate stop, not a death to count against the video.
        q.jobs.end_delivery(job_id, url, step)
        raise
    except Busy as exc:
        if requeue is None:  # the index lock stayed taken for minutes: a transient failure
            q.jobs.end_delivery(job_id, url, step, transient_failure=True)
            _retry_or_fail(task, q, job_id, url, delivery.failures, exc)
            return
        q.jobs.end_delivery(job_id, url, step)
        requeue(_wait_delay(exc.retry_after))
    except Exception as exc:
        if _timed_out(exc):
            q.jobs.end_delivery(job_id, url, step)
            soft = (task.request.timelimit or (None, None))[1]
            limit = f" of {float(soft):.0f} s" if soft else ""
            _fail(q, job_id, url, f"took longer than its time limit{limit} while "
                                  f"{_DOING[step]}")
            return
        if broker_down(exc):
            # Publishing the retry waits for the broker to come back (the worker's publish
            # retry policy); if it never does, the message stays unacknowledged in Redis and
            # is redelivered after the visibility timeout.
            q.jobs.end_delivery(job_id, url, step)
            delay = q.policy.retry_delay(0)
            log.warning("job %s: %s of %s stopped: the broker is unreachable (%s); trying "
                        "again in %.1f s once it is back", job_id, step, url or "the article",
                        exc, delay)
            raise task.retry(countdown=delay, exc=exc) from exc
        q.jobs.end_delivery(job_id, url, step, transient_failure=is_transient(exc))
        if is_transient(exc):
            _retry_or_fail(task, q, job_id, url, delivery.failures, exc)
            return
        if isinstance(exc, BriefingError):
            _fail(q, job_id, url, str(exc))
            return
        _fail(q, job_id, url, f"internal error: {type(exc).__name__}: {exc}")
        raise  # a bug: let Celery log the traceback
    else:
        q.jobs.end_delivery(job_id, url, step)


def _timed_out(exc: BaseException) -> bool:
    # faster-whisper's errors are wrapped in TranscriptionError: look at the cause too.
    return isinstance(exc, SoftTimeLimitExceeded) or isinstance(exc.__cause__,
                                                                SoftTimeLimitExceeded)


def _retry_or_fail(task: _Step, q: Queued, job_id: str, url: str, failures: int,
                   exc: Exception) -> None:
    if failures >= q.policy.max_retries:
        _fail(q, job_id, url, f"{exc} (gave up after {failures} retries)")
        return
    delay = q.policy.retry_delay(failures)
    log.info("job %s: %s of %s failed (%s); retry %d of %d in %.1f s", job_id, task.step,
             url or "the article", exc, failures + 1, q.policy.max_retries, delay)
    raise task.retry(countdown=delay, exc=exc)


def _wait_delay(lease_left: float) -> float:
    # Come back just after the holder's lease would run out: a live holder will have renewed
    # it (so we wait one more lease), a dead one's lock is gone by then.
    return min(lease_left, 60.0) + random.uniform(0.2, 1.5)


# -- enqueueing the next step ------------------------------------------------------------------


def _publish_step(task: Any, step: dict[str, Any], **options: Any) -> None:
    """Queue *task* with kwargs *step*, waiting out a broker restart (bounded, with backoff).

    kombu's publish retry policy (``STEP_PUBLISH_RETRY_POLICY``) waits for Redis when the
    message itself cannot be written, but not when declaring the queue is what meets the
    outage (kombu 5.7; no upstream report found): ``Producer._publish`` keeps the channel it
    took, then declares the queue through a second ``Connection.ensure``, which reconnects and
    closes that channel; the publish then goes to the closed channel, where kombu's Redis
    transport raises ``AttributeError: 'NoneType' object has no attribute 'client'`` and no
    retry policy catches it.  It happens on the first publish to a queue after a reconnection
    when Redis is still down, e.g. a transcription that ends during a restart.

    So the whole publish is tried again, on a fresh connection, until the broker takes it or
    ``STEP_PUBLISH_DEADLINE`` has passed; then the broker's error is raised (as kombu's
    ``OperationalError``), which :func:`_run` treats as a broker outage, not the video's
    failure.  A retry can queue a step twice (if the broker had taken it); steps are idempotent.
    """
    give_up = time.monotonic() + STEP_PUBLISH_DEADLINE
    attempt = 0
    while True:
        try:
            if attempt == 0:
                task.apply_async(kwargs=step, **options)
            else:
                # Not the pooled connection the failure went through: a new one, closed after.
                with app.connection_for_write() as connection:
                    task.apply_async(kwargs=step, connection=connection, **options)
            return
        except Exception as exc:
            closed = _closed_kombu_channel(exc)
            if not (closed or broker_down(exc)):
                raise
            left = give_up - time.monotonic()
            if left <= 0:
                if closed:
                    raise KombuOperationalError(
                        f"lost the broker connection while queueing {task.name}: {exc}") from exc
                raise
            delay = min(left, STEP_PUBLISH_BACKOFF_MAX, 2.0 ** attempt) * random.uniform(0.5, 1)
            log.warning("job %s: could not queue %s of %s (%s: %s); trying again in %.1f s",
                        step.get("job_id"), task.name, step.get("url"), type(exc).__name__,
                        exc, delay)
            time.sleep(delay)
            attempt += 1


def _closed_kombu_channel(exc: BaseException) -> bool:
    # The AttributeError of _publish_step's docstring, told apart from a bug of ours by where
    # it was raised: inside kombu.
    if not isinstance(exc, AttributeError):
        return False
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return tb is not None and str(tb.tb_frame.f_globals.get("__name__", "")).startswith("kombu.")


def _send_download(policy: QueuePolicy, job_id: str, url: str, countdown: float = 0) -> None:
    _publish_step(download_video, {"job_id": job_id, "url": url},
                  countdown=countdown, **policy.limits(policy.download_limit))


def _send_transcribe(policy: QueuePolicy, job_id: str, url: str, video_id: str,
                     duration: float, countdown: float = 0) -> None:
    _publish_step(transcribe_video,
                  {"job_id": job_id, "url": url, "video_id": video_id, "duration": duration},
                  countdown=countdown, **policy.limits(policy.transcribe_limit(duration)))


def _send_index(job_id: str, url: str, video_id: str) -> None:
    _publish_step(index_video, {"job_id": job_id, "url": url, "video_id": video_id})


# -- the tasks ---------------------------------------------------------------------------------

def _task(**options: Any) -> Callable[[Callable[..., None]], Any]:
    """``app.task`` with our defaults (Celery ships no type hints, hence the wrapper)."""
    defaults: dict[str, Any] = {"bind": True, "base": _Step, "max_retries": None,
                                "ignore_result": True, "acks_late": True,
                                "reject_on_worker_lost": True}
    decorator: Callable[[Callable[..., None]], Any] = app.task(**defaults, **options)
    return decorator


@_task(name=INGEST_TASK, step=ARTICLE, soft_time_limit=ARTICLE_LIMIT,
          time_limit=ARTICLE_LIMIT + HARD_LIMIT_GRACE)
def ingest_article(self: _Step, job_id: str, source: str, content: str | None = None) -> None:
    """Read an article, store and index it, and start one download per video it links."""

    def work(q: Queued) -> None:
        for url in read_article_step(q, job_id, source, content):
            _send_download(q.policy, job_id, url)

    _run(self, job_id, "", work)


@_task(name=DOWNLOAD_TASK, step=DOWNLOAD)
def download_video(self: _Step, job_id: str, url: str) -> None:
    """Store a video (once per URL across the fleet), then queue its transcription."""

    def work(q: Queued) -> None:
        got = download_step(q, job_id, url)
        if got.transcribed:
            _send_index(job_id, url, got.video_id)
        else:
            _send_transcribe(q.policy, job_id, url, got.video_id, got.duration)

    def requeue(delay: float) -> None:
        _send_download(runtime().queued.policy, job_id, url, delay)

    _run(self, job_id, url, work, requeue)


@_task(name=TRANSCRIBE_TASK, step=TRANSCRIBING)
def transcribe_video(self: _Step, job_id: str, url: str, video_id: str,
                     duration: float) -> None:
    """Transcribe a stored video (once per content hash across the fleet), then index it."""

    def work(q: Queued) -> None:
        transcribe_step(q, job_id, url, video_id)
        _send_index(job_id, url, video_id)

    def requeue(delay: float) -> None:
        _send_transcribe(runtime().queued.policy, job_id, url, video_id, duration, delay)

    _run(self, job_id, url, work, requeue)


@_task(name=INDEX_TASK, step=INDEXING, soft_time_limit=INDEX_LIMIT,
          time_limit=INDEX_LIMIT + HARD_LIMIT_GRACE)
def index_video(self: _Step, job_id: str, url: str, video_id: str) -> None:
    """Write a video's segments to the index (replacing any it had) and finish the video."""
    _run(self, job_id, url, lambda q: index_step(q, job_id, url, video_id))


# -- starting a worker -------------------------------------------------------------------------


def _cores() -> int:
    # The CPUs this process may run on (a container's cpuset), not the host's count.
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (
        os.cpu_count() or 1)


def default_concurrency(queues: Sequence[str], cores: int | None = None,
                        threads: int = DEFAULT_CPU_THREADS) -> int:
    """Processes for a worker serving *queues*, each transcription using *threads* threads
    (0: share the cores out, about four each)."""
    cores = cores or _cores()
    if TRANSCRIBE in queues:
        return max(1, cores // (threads or 4))
    if MEDIA in queues:
        return 8  # downloads mostly wait on the network
    return 1  # index writes take turns anyway


def run_worker(settings: Settings, *, queues: Sequence[str], concurrency: int | None = None,
               loglevel: str = "info", nodename: str | None = None) -> int:
    """Check the setup, then run a Celery worker until it is stopped; returns its exit code."""
    unknown = [q for q in queues if q not in QUEUES]
    if unknown or not queues:
        raise BriefingError(f"unknown queue {', '.join(unknown) or '(none)'}; "
                            f"use some of {', '.join(QUEUES)}")
    if not settings.broker_url:
        raise BrokerUnavailableError("set BRIEFING_BROKER_URL (e.g. redis://127.0.0.1:6379/0) "
                                     "to run a worker")
    BrokerLocks.from_url(settings.broker_url).close()  # a Redis URL, or one clear error
    problem = broker_problem(settings.broker_url)
    if problem:
        raise BrokerUnavailableError(problem)
    if TRANSCRIBE in queues:
        # A wrong model directory fails here, not per video; a model assembled from parts
        # is assembled once, before the pool processes start.
        models = model_provider(settings)
        resolve_model(models.name, cache_dir=models.cache_dir)
    policy = QueuePolicy.from_settings(settings)
    data = DataDir(settings.data_dir)
    swept = sweep_stale_downloads(data.tmp, policy.download_limit + HARD_LIMIT_GRACE)
    if swept:
        log.info("removed %d downloads left by killed workers", swept)
    processes = concurrency or default_concurrency(queues, threads=settings.cpu_threads)
    cores = _cores()
    _serving.queues = tuple(queues)
    _serving.cpu_threads = max(1, cores // processes) if TRANSCRIBE in queues else 0
    app.conf.update(worker_celery_config(settings))
    if policy.visibility_timeout < policy.derived_visibility_timeout:
        log.warning("BRIEFING_VISIBILITY_TIMEOUT=%d is below the %d s the longest task and "
                    "retry need: such tasks may run twice", policy.visibility_timeout,
                    policy.derived_visibility_timeout)
    log.info("worker for %s on %s: %d processes, visibility timeout %d s",
             ",".join(queues), redacted(settings.broker_url), processes,
             policy.visibility_timeout)
    worker = app.Worker(hostname=host_format(nodename or f"briefing-{os.getpid()}@%h"),
                        queues=list(queues), concurrency=processes, loglevel=mlevel(
                            loglevel.upper()), without_mingle=True, without_gossip=True,
                        task_events=True)
    worker.start()
    return int(worker.exitcode or 0)

