"""The queue's enqueue side and its numbers: Celery configuration, time limits, lock waits.

Both ends use :func:`celery_config`: ``briefing worker`` (through :mod:`worker.queue.tasks`, with
:func:`worker_celery_config`'s patient publishing) and whatever submits jobs (the CLI, the
HTTP API) through :func:`submit_ingest`, which sends by task name and so never imports the
pipeline.

Why the numbers hang together: with the Redis broker a task that is not acknowledged within
``visibility_timeout`` seconds of its delivery is handed to another worker.  Tasks are
acknowledged late (after they finish, so a dead worker's task is redone), and a retry waits
in the worker that fetched it until its countdown is over, so the visibility timeout must
exceed the longest task's hard time limit plus the longest retry delay; otherwise a slow but
healthy transcription would start a second time elsewhere.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from typing import Any

from worker.errors import BrokerUnavailableError
from worker.pipeline.policy import LockWaits, RetryPolicy
from worker.queue.transport import install as install_transport
from worker.settings import Settings
from worker.storage.interfaces import JobStoreLike
from worker.storage.states import JobState

# Every connection to the broker from this process, submitting or consuming, survives an
# outage the same way (worker.queue.transport).
install_transport()

# Queues: downloads are I/O-bound, transcription CPU-bound, index writes serialised.
MEDIA = "media"
TRANSCRIBE = "transcribe"
INDEX = "index"
QUEUES = (MEDIA, TRANSCRIBE, INDEX)

# Task names (stable: messages in Redis outlive a deploy).
INGEST_TASK = "briefing.ingest_article"
DOWNLOAD_TASK = "briefing.download_video"
TRANSCRIBE_TASK = "briefing.transcribe_video"
INDEX_TASK = "briefing.index_video"
RETRANSCRIBE_TASK = "briefing.retranscribe_video"
DELIVER_TASK = "briefing.deliver_webhook"
ROUTES = {
    INGEST_TASK: {"queue": MEDIA},  # reading an article is a fetch too
    DOWNLOAD_TASK: {"queue": MEDIA},
    TRANSCRIBE_TASK: {"queue": TRANSCRIBE},
    INDEX_TASK: {"queue": INDEX},
    RETRANSCRIBE_TASK: {"queue": TRANSCRIBE},
    DELIVER_TASK: {"queue": MEDIA},  # a watch's webhook: network-bound, like a download
}

HARD_LIMIT_GRACE = 60.0  # the soft limit lets a task record why it stopped; then SIGKILL
TRANSCRIBE_BASE = 120.0  # model load, ffmpeg decode, writing the transcript
INDEX_LOCK_WAIT = 300.0  # how long an index write queues for the fleet-wide index lock
INDEX_LIMIT = INDEX_LOCK_WAIT + 300.0
ARTICLE_LIMIT = INDEX_LOCK_WAIT + 180.0  # a fetch of at most 120 s, then an index write
DOWNLOAD_EXTRA = 120.0  # beyond the download deadline: moving the file, probing it
VISIBILITY_MARGIN = 300.0
URL_LOCK_WAIT = 30.0  # downloads hold a media slot, which is cheap: wait rather than requeue

# A queue worker waits a while for a URL and for the index, but puts a transcription that
# another worker is running back on the queue (a CPU slot must not sit idle for an hour).
QUEUE_WAITS = LockWaits(url=URL_LOCK_WAIT, video=0.0, index=INDEX_LOCK_WAIT)


@dataclass(frozen=True)
class QueuePolicy:
    """Time-limit and redelivery numbers, derived from Settings (retries: ``retry``)."""

    retry: RetryPolicy = field(default_factory=RetryPolicy)
    max_video_seconds: float = 4 * 3600.0
    transcribe_time_factor: float = 1.0
    download_deadline: float = 3600.0
    visibility_override: int | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> QueuePolicy:
        """The policy configured by ``BRIEFING_*`` settings."""
        return cls(retry=RetryPolicy.from_settings(settings),
                   max_video_seconds=settings.max_video_seconds,
                   transcribe_time_factor=settings.transcribe_time_factor,
                   download_deadline=settings.download_deadline,
                   visibility_override=settings.visibility_timeout)

    def transcribe_limit(self, duration: float) -> float:
        """Soft time limit of transcribing *duration* seconds of audio."""
        return TRANSCRIBE_BASE + self.transcribe_time_factor * max(0.0, duration)

    @property
    def download_limit(self) -> float:
        """Soft time limit of a download (the download deadline plus moving and probing)."""
        return self.download_deadline + DOWNLOAD_EXTRA

    @property
    def longest_task(self) -> float:
        """The longest any task may run: its soft limit plus the grace before SIGKILL."""
        soft = max(ARTICLE_LIMIT, INDEX_LIMIT, self.download_limit,
                   self.transcribe_limit(self.max_video_seconds))
        return soft + HARD_LIMIT_GRACE

    @property
    def derived_visibility_timeout(self) -> int:
        """The visibility timeout the other numbers call for."""
        return math.ceil(self.longest_task + self.retry.longest_delay + VISIBILITY_MARGIN)

    @property
    def visibility_timeout(self) -> int:
        """Seconds before Redis redelivers an unacknowledged task (a setting may override)."""
        return self.visibility_override or self.derived_visibility_timeout

    def limits(self, soft: float) -> dict[str, float]:
        """``apply_async`` options for a task with soft time limit *soft*."""
        return {"soft_time_limit": soft, "time_limit": soft + HARD_LIMIT_GRACE}


def _restore_interval(visibility_timeout: int) -> int:
    # How often a worker looks for tasks whose worker died (older than the visibility
    # timeout); kombu's default is every 100 s whatever the timeout.
    return max(1, min(60, visibility_timeout // 10))


def celery_config(settings: Settings) -> dict[str, Any]:
    """Celery settings for the broker in *settings*, the same for workers and submitters."""
    policy = QueuePolicy.from_settings(settings)
    visibility = policy.visibility_timeout
    return {
        "broker_url": settings.broker_url,
        "broker_connection_retry_on_startup": True,
        # A worker waits for its broker however long it is away (Celery gives up after 100
        # tries by default, about 2.5 hours, and exits).
        "broker_connection_max_retries": None,
        "broker_connection_timeout": 5,
        "broker_transport_options": {
            "visibility_timeout": visibility,
            "unacked_restore_interval": _restore_interval(visibility),
            "unacked_restore_throttle": 1,
            "socket_connect_timeout": 5,
        },
        # Publishing gives up quickly when the broker is down: the caller says so (503).
        "task_publish_retry_policy": {"max_retries": 2, "interval_start": 0,
                                      "interval_step": 0.5, "interval_max": 1},
        "task_serializer": "json",
        "accept_content": ["json"],
        # Job state lives in our job store; Celery keeps no results.
        "result_backend": None,
        "task_ignore_result": True,
        "task_default_queue": MEDIA,
        "task_routes": ROUTES,
        # Acknowledge after the task, requeue when its process dies: every task is idempotent.
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "task_acks_on_failure_or_timeout": True,
        # A worker holds no task it cannot start now: a transcription of an hour must not
        # sit behind another one while an idle machine waits.
        "worker_prefetch_multiplier": 1,
        "worker_disable_prefetch": True,
        # With Redis a late-acked task whose connection was lost is not redelivered until
        # the visibility timeout (hours): stopping our copy would leave its video stuck that
        # long.  Let it finish instead; the on-disk checks make the late duplicate a no-op.
        "worker_cancel_long_running_tasks_on_connection_loss": False,
        # SIGTERM: running tasks get a grace period, then go back on the queue at once
        # (rather than after the visibility timeout).
        "worker_soft_shutdown_timeout": settings.shutdown_grace,
        "worker_enable_soft_shutdown_on_idle": True,
        # Events for Flower (`celery --broker=... flower`).
        "worker_send_task_events": True,
        "task_send_sent_event": True,
    }


# Inside a task the step's work is done and stored before the next step is published: a
# broker that is restarting is waited for (about five minutes in all) rather than turned into
# a failure of the video.  Submitters keep the quick policy above and answer 503 instead.
STEP_PUBLISH_RETRY_POLICY = {"max_retries": 60, "interval_start": 1, "interval_step": 1,
                             "interval_max": 5}
# kombu's policy does not cover every way a publish fails across a restart, so a task also
# tries the whole publish again, on a fresh connection, for this long (see
# worker.tasks._publish_step); then the outage is the failure policy's to handle.
STEP_PUBLISH_DEADLINE = 300.0
STEP_PUBLISH_BACKOFF_MAX = 5.0


def worker_celery_config(settings: Settings) -> dict[str, Any]:
    """:func:`celery_config` for ``briefing worker``: its tasks wait for the broker to return."""
    return {**celery_config(settings), "task_publish_retry_policy": STEP_PUBLISH_RETRY_POLICY}


_producers: dict[str, Any] = {}
_producers_lock = threading.Lock()


def producer(settings: Settings) -> Any:
    """A Celery app that only sends (one per broker URL, kept for its connection pool)."""
    from celery import Celery

    key = str(settings.broker_url)
    with _producers_lock:
        app = _producers.get(key)
        if app is None:
            app = Celery("briefing-submit", set_as_current=False)
            app.conf.update(celery_config(settings))
            _producers[key] = app
        return app


def broker_errors() -> tuple[type[BaseException], ...]:
    import redis
    from kombu.exceptions import OperationalError

    return (OperationalError, redis.exceptions.RedisError, OSError)


def submit_ingest(settings: Settings, jobs: JobStoreLike, source: str,
                  content: str | None = None) -> str:
    """Record an ingest job and put it on the queue; returns the job id at once.

    *content* is an article's HTML handed over with its URL (*source*). Raises
    :class:`~worker.errors.BrokerUnavailableError` when the broker cannot be reached; the
    job is then recorded as failed with that reason, so it is never left "queued" forever.
    """
    if not settings.broker_url:
        raise BrokerUnavailableError("no broker is configured (set BRIEFING_BROKER_URL)")
    job_id = jobs.create(source, runner="queue")
    try:
        producer(settings).send_task(
            INGEST_TASK, kwargs={"job_id": job_id, "source": source, "content": content},
            queue=MEDIA)
    except broker_errors() as exc:
        reason = f"the broker at {redacted(settings.broker_url)} cannot be reached ({exc})"
        jobs.set_job_state(job_id, JobState.FAILED, f"not queued: {reason}")
        raise BrokerUnavailableError(reason) from exc
    return job_id


def submit_retranscribe(settings: Settings, video_id: str, model: str | None) -> str:
    """Queue a re-transcription of *video_id* (on the transcribe queue); the task's id.

    Raises :class:`~worker.errors.BrokerUnavailableError` when the broker cannot be reached.
    """
    if not settings.broker_url:
        raise BrokerUnavailableError("no broker is configured (set BRIEFING_BROKER_URL)")
    try:
        result = producer(settings).send_task(
            RETRANSCRIBE_TASK, kwargs={"video_id": video_id, "model": model}, queue=TRANSCRIBE)
    except broker_errors() as exc:
        raise BrokerUnavailableError(f"the broker at {redacted(settings.broker_url)} cannot "
                                     f"be reached ({exc})") from exc
    return str(result.id)


def broker_down(exc: BaseException) -> bool:
    """Whether *exc* says the broker (Redis: the queue and the locks) cannot be reached.

    That is the fleet's problem, not the video's: it is neither counted as a retry nor
    a reason to fail the video.
    """
    import redis
    from kombu.exceptions import OperationalError

    return isinstance(exc, redis.exceptions.ConnectionError | redis.exceptions.TimeoutError |
                      OperationalError)


def workers_answering(settings: Settings, timeout: float = 1.0) -> list[str]:
    """The names of the workers that answer a ping on the broker within *timeout* seconds.

    Raises :class:`~worker.errors.BrokerUnavailableError` when the broker cannot be reached.
    """
    try:
        replies = producer(settings).control.ping(timeout=timeout)
    except broker_errors() as exc:
        raise BrokerUnavailableError(f"the broker at {redacted(str(settings.broker_url))} "
                                     f"cannot be reached ({exc})") from exc
    return sorted(name for reply in replies or () for name in reply)


def broker_problem(broker_url: str, timeout: float = 3.0) -> str | None:
    """Why the Redis broker cannot be used, or None when it answers a PING."""
    import redis

    try:
        client = redis.Redis.from_url(broker_url, socket_connect_timeout=timeout,
                                      socket_timeout=timeout)
        try:
            client.ping()
        finally:
            client.close()
    except (redis.exceptions.RedisError, OSError, ValueError) as exc:
        return f"the broker at {redacted(broker_url)} cannot be reached ({exc})"
    return None


def redacted(url: str) -> str:
    """*url* without its password, for messages and logs."""
    from kombu.utils.url import maybe_sanitize_url

    return str(maybe_sanitize_url(url))
