"""The Celery tasks: thin. An id in, one pipeline step out, the next step published.

    ingest_article (media) -> per video: download_video (media)
                                         -> transcribe_video (transcribe) -> index_video (index)

Each task hands its video to the next step itself rather than through a pre-built chain:
the transcription's time limit comes from the duration the download measured, and a video
whose transcript exists already goes straight to the index.

The steps (:mod:`worker.pipeline.steps`) and the failure policy
(:mod:`worker.pipeline.attempts`) are the inline runner's too; what only a queue has is
mapped here:

* a retry is Celery's ``task.retry`` with the policy's delay; a lock another worker holds
  puts the step back on the queue for when its lease would end, uncounted;
* a step over its time limit (which grows with the video's duration) fails the video; a
  hard time-limit kill, which no task code survives, is recorded by :class:`_Step`;
* the broker going away (Redis restarting) is not the video's failure: a running step keeps
  going (its locks' leases lapse at worst, the on-disk checks still prevent double work),
  publishing the next step waits for the broker to return (:mod:`.publish`), and a step that
  needed the broker is tried again without counting as a retry.
"""

from __future__ import annotations

import logging
import random
import sqlite3
from collections.abc import Callable
from typing import Any

from celery import Task
from celery.exceptions import SoftTimeLimitExceeded, TimeLimitExceeded
from celery.worker.request import Request

from worker.errors import BriefingError
from worker.pipeline.attempts import Classify, Verdict, run_step
from worker.pipeline.context import Context
from worker.pipeline.inline import for_job
from worker.pipeline.steps import (
    article_step,
    download_step,
    fail_job,
    fail_video,
    index_step,
    retranscribe_step,
    transcribe_step,
)
from worker.pipeline.wiring import webhook_policy
from worker.queue.app import app, runtime
from worker.queue.config import (
    ARTICLE_LIMIT,
    DELIVER_TASK,
    DOWNLOAD_TASK,
    HARD_LIMIT_GRACE,
    INDEX_LIMIT,
    INDEX_TASK,
    INGEST_TASK,
    RETRANSCRIBE_TASK,
    TRANSCRIBE_TASK,
    QueuePolicy,
    broker_down,
)
from worker.queue.publish import publish_step
from worker.storage.states import Step
from worker.watching.webhooks import deliver

__all__ = ["TASKS", "app", "deliver_webhook", "download_video", "index_video",
           "ingest_article", "retranscribe_video", "transcribe_video"]

log = logging.getLogger("briefing.worker")


def _channel_lost(request: Request) -> bool:
    # kombu's Redis channel drops its connection's client when the connection is lost; a
    # message delivered on it can no longer be acknowledged there.
    channel = getattr(request.message, "channel", None)
    return getattr(getattr(channel, "connection", None), "client", None) is None


class _LostChannelRequest(Request):  # type: ignore[misc]
    """A task request that finishes quietly after its broker connection was lost.

    When Redis goes away while a task runs, the worker reconnects on a new channel and the
    task's message is put back on the queue ("Restoring unacknowledged messages", or, with
    Redis down, left unacknowledged there).  Acknowledging it on the old channel can only fail
    (worker.queue.transport makes that a connection error rather than a crash); it is not
    tried, and the message's repeat finds its steps done.
    """

    acknowledged: bool

    def acknowledge(self) -> None:
        """Acknowledge the message unless its channel is gone."""
        if self.acknowledged:
            return
        if _channel_lost(self):
            log.warning("task %s finished after its broker connection was lost: its "
                        "message is back on the queue and its repeat will be skipped", self.id)
        else:
            self._on_ack(log, self._connection_errors)
        self.acknowledged = True

    def reject(self, requeue: bool = False) -> None:
        """Reject the message unless its channel is gone (then it is back on the queue)."""
        if self.acknowledged:
            return
        if _channel_lost(self):
            log.warning("task %s ended after its broker connection was lost: its message "
                        "is back on the queue", self.id)
        else:
            self._on_reject(log, self._connection_errors, requeue)
        self.acknowledged = True
        self.send_event("task-rejected", requeue=requeue)


class _Step(Task):  # type: ignore[misc]
    """Base of our tasks: records a hard time-limit kill, which no task code survives."""

    step = Step.ARTICLE
    Request = _LostChannelRequest

    def on_failure(self, exc: BaseException, task_id: str, args: tuple[Any, ...],
                   kwargs: dict[str, Any], einfo: Any) -> None:
        """Runs in the worker's main process when a hard time limit killed the task."""
        if not isinstance(exc, TimeLimitExceeded):
            return  # the step recorded its own failure before raising
        job_id, url = kwargs.get("job_id", ""), kwargs.get("url", "")
        ctx = for_job(runtime().ctx, job_id)
        ctx.jobs.end_delivery(job_id, url, self.step)
        reason = (f"killed after its time limit of {float(exc.args[0]):.0f} s while "
                  f"{self.step.doing}")
        if url:
            fail_video(ctx, url, reason)
        else:
            fail_job(ctx, job_id, reason)


def _timed_out(exc: BaseException) -> bool:
    # faster-whisper's errors are wrapped in TranscriptionError: look at the cause too.
    return isinstance(exc, SoftTimeLimitExceeded) or isinstance(exc.__cause__,
                                                                SoftTimeLimitExceeded)


def _classify(task: _Step) -> Classify:
    def classify(exc: BaseException) -> tuple[Verdict, str] | None:
        if _timed_out(exc):
            soft = (task.request.timelimit or (None, None))[1]
            limit = f" of {float(soft):.0f} s" if soft else ""
            return Verdict.FAILED, f"took longer than its time limit{limit} while {task.step.doing}"
        if broker_down(exc):
            return Verdict.PAUSED, str(exc)
        return None

    return classify


def _wait_delay(lease_left: float) -> float:
    # Come back just after the holder's lease would run out: a live holder will have renewed
    # it (so we wait one more lease), a dead one's lock is gone by then.
    return min(lease_left, 60.0) + random.uniform(0.2, 1.5)


def _run(task: _Step, job_id: str, url: str, work: Callable[[Context], None],
         requeue: Callable[[float], None] | None = None) -> None:
    """Run one step's *work* (which publishes the next step) under the failure policy."""
    rt = runtime()
    ctx = for_job(rt.ctx, job_id)
    try:
        outcome = run_step(ctx, job_id, url, task.step, lambda: work(ctx),
                           classify=_classify(task))
    except sqlite3.OperationalError as exc:  # the job store is busy: come back later
        raise task.retry(countdown=ctx.retry.delay(0), exc=exc) from exc
    if outcome.verdict is Verdict.RETRY:
        raise task.retry(countdown=outcome.delay, exc=outcome.error)
    if outcome.verdict is Verdict.BUSY:
        if requeue is not None:  # a new message: this worker's slot is free meanwhile
            requeue(_wait_delay(outcome.delay))
            return
        raise task.retry(countdown=_wait_delay(outcome.delay), exc=outcome.error)
    if outcome.verdict is Verdict.PAUSED:
        # Publishing the retry waits for the broker to come back (the worker's publish
        # retry policy); if it never does, the message stays unacknowledged in Redis and is
        # redelivered after the visibility timeout.
        delay = ctx.retry.delay(0)
        log.warning("job %s: %s of %s stopped: the broker is unreachable (%s); trying again "
                    "in %.1f s once it is back", job_id, task.step, url or "the article",
                    outcome.reason, delay)
        raise task.retry(countdown=delay, exc=outcome.error)


# -- publishing the next step ------------------------------------------------------------------


def _send_download(policy: QueuePolicy, job_id: str, url: str, countdown: float = 0) -> None:
    publish_step(download_video, {"job_id": job_id, "url": url},
                 countdown=countdown, **policy.limits(policy.download_limit))


def _send_transcribe(policy: QueuePolicy, job_id: str, url: str, video_id: str,
                     duration: float, countdown: float = 0) -> None:
    publish_step(transcribe_video,
                 {"job_id": job_id, "url": url, "video_id": video_id, "duration": duration},
                 countdown=countdown, **policy.limits(policy.transcribe_limit(duration)))


def _send_index(job_id: str, url: str, video_id: str) -> None:
    publish_step(index_video, {"job_id": job_id, "url": url, "video_id": video_id})


def _send_deliveries(hit_ids: tuple[int, ...]) -> None:
    for hit_id in hit_ids:
        publish_step(deliver_webhook, {"hit_id": hit_id})


# -- the tasks ---------------------------------------------------------------------------------


def _task(step: Step, **options: Any) -> Callable[[Callable[..., None]], Any]:
    """``app.task`` with our defaults (Celery ships no type hints, hence the wrapper)."""
    defaults: dict[str, Any] = {"bind": True, "base": _Step, "max_retries": None,
                                "ignore_result": True, "acks_late": True,
                                "reject_on_worker_lost": True, "step": step}
    decorator: Callable[[Callable[..., None]], Any] = app.task(**defaults, **options)
    return decorator


@_task(Step.ARTICLE, name=INGEST_TASK, soft_time_limit=ARTICLE_LIMIT,
       time_limit=ARTICLE_LIMIT + HARD_LIMIT_GRACE)
def ingest_article(self: _Step, job_id: str, source: str, content: str | None = None) -> None:
    """Read an article, store and index it, and start one download per video it links."""

    def work(ctx: Context) -> None:
        registered = article_step(ctx, job_id, source, content)
        _send_deliveries(registered.deliveries)
        for url in registered.urls:
            _send_download(runtime().policy, job_id, url)

    _run(self, job_id, "", work)


@_task(Step.DOWNLOAD, name=DOWNLOAD_TASK)
def download_video(self: _Step, job_id: str, url: str) -> None:
    """Store a video (once per URL across the fleet), then queue its transcription."""

    def work(ctx: Context) -> None:
        got = download_step(ctx, url)
        if got.transcribed:
            _send_index(job_id, url, got.video_id)
        else:
            _send_transcribe(runtime().policy, job_id, url, got.video_id, got.duration)

    _run(self, job_id, url, work,
         lambda delay: _send_download(runtime().policy, job_id, url, delay))


@_task(Step.TRANSCRIBE, name=TRANSCRIBE_TASK)
def transcribe_video(self: _Step, job_id: str, url: str, video_id: str,
                     duration: float) -> None:
    """Transcribe a stored video (once per content hash across the fleet), then index it."""

    def work(ctx: Context) -> None:
        transcribe_step(ctx, url, video_id)
        _send_index(job_id, url, video_id)

    _run(self, job_id, url, work,
         lambda delay: _send_transcribe(runtime().policy, job_id, url, video_id, duration,
                                        delay))


@_task(Step.INDEX, name=INDEX_TASK, soft_time_limit=INDEX_LIMIT,
       time_limit=INDEX_LIMIT + HARD_LIMIT_GRACE)
def index_video(self: _Step, job_id: str, url: str, video_id: str) -> None:
    """Write a video's segments to the index (replacing any it had) and finish the video."""
    _run(self, job_id, url, lambda ctx: _send_deliveries(index_step(ctx, url, video_id)))


# Not a pipeline step (no job, no video): Celery's plain task with late acknowledgement.
_delivery_task: Callable[[Callable[..., None]], Any] = app.task(
    bind=True, name=DELIVER_TASK, max_retries=None, ignore_result=True, acks_late=True,
    reject_on_worker_lost=True, soft_time_limit=300, time_limit=360)


@_delivery_task
def deliver_webhook(self: Task, hit_id: int) -> None:
    """Send one hit's webhook; a failure comes back after the policy's backoff.

    The watch store decides what is sent (a delivered, failed or retracted hit is not), and
    its claim keeps two deliveries of this message from sending at once.
    """
    rt = runtime()
    store = rt.ctx.watch_store()
    attempt = deliver(store, hit_id, webhook_policy(rt.settings), rt.ctx.data.hidden())
    if attempt is not None:
        if attempt.retry_in is not None:
            raise self.retry(countdown=attempt.retry_in)
        return
    # Pending, but not due yet or claimed by another sender (None: settled, or its item is
    # being taken down and the takedown withdraws it).
    wait = store.due_in(hit_id, rt.ctx.data.hidden())
    if wait is not None:
        raise self.retry(countdown=wait + 0.5)


@app.task(name=RETRANSCRIBE_TASK, bind=True, max_retries=None, ignore_result=True,
          acks_late=True, reject_on_worker_lost=True)  # type: ignore[untyped-decorator]
def retranscribe_video(self: Task, video_id: str, model: str | None = None) -> None:
    """Transcribe a stored video again and re-index it (``retranscribe_step``); no job."""
    ctx = runtime().ctx
    try:
        _send_deliveries(retranscribe_step(ctx, video_id, model).deliveries)
    except BriefingError as exc:
        if exc.transient and self.request.retries < ctx.retry.max_retries:
            raise self.retry(countdown=ctx.retry.delay(self.request.retries), exc=exc) from exc
        log.error("re-transcribing video %s failed: %s", video_id, exc)


# Every task, for whoever must be sure they are registered on the app.
TASKS = (ingest_article, download_video, transcribe_video, index_video, retranscribe_video,
         deliver_webhook)
