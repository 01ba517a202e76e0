"""Running one step once, for any runner: attempts, deliveries, and what happens on failure.

Failure policy, the same for every runner and step:

* a transient error (connection reset, HTTP 5xx, time-outs, a busy index) is retried with
  exponential backoff and jitter, up to ``BRIEFING_MAX_RETRIES`` times; then the video fails;
* any other error of ours fails the video at once, with the reason; an error that is not
  ours (a bug) fails it as an internal error and is raised on for its traceback;
* another runner holding the video's lock is waited for, not counted as a failure;
* a try whose runner died (SIGKILL, out of memory, a native crash) is counted when the step
  is next tried; after ``BRIEFING_MAX_DELIVERIES`` such deaths the video is failed instead;
* what only a runner knows (a queue's time limits, its broker going away) it classifies
  itself and passes as *classify*.

Tries are counted in the job store, not in Celery: a killed worker never updates Celery's
counters.  A video's attempt count goes up on its first download and on every try that
follows a failure or a death.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, TypeVar

from worker.errors import BriefingError, LockBusyError, is_transient
from worker.pipeline.context import Context
from worker.pipeline.steps import fail_job, fail_video
from worker.storage.states import Step

__all__ = ["Outcome", "Verdict", "run_step"]

log = logging.getLogger("briefing.worker")

T = TypeVar("T")


class Verdict(StrEnum):
    """How one try at a step ended."""

    DONE = "done"  # the step's work ran to its end: go on to the next step
    SKIPPED = "skipped"  # nothing to do (a duplicate of settled work, an unknown job)
    FAILED = "failed"  # the video (or the job, for the article) was failed, with a reason
    RETRY = "retry"  # a transient failure, counted: try again after `delay`
    BUSY = "busy"  # another runner holds the lock: try again after `delay`, not counted
    PAUSED = "paused"  # the runner's own infrastructure failed (classify): not counted


@dataclass(frozen=True)
class Outcome(Generic[T]):
    """A verdict, with the step's value when DONE and the reason and error otherwise."""

    verdict: Verdict
    value: T | None = None
    delay: float = 0.0
    reason: str = ""
    error: BaseException | None = None


# A runner's own view of an error: (FAILED, reason), (PAUSED, ""), or None to apply the policy.
Classify = Callable[[BaseException], tuple[Verdict, str] | None]


def _fail(ctx: Context, job_id: str, url: str, reason: str) -> None:
    if url:
        fail_video(ctx, url, reason)
    else:
        fail_job(ctx, job_id, reason)


def run_step(ctx: Context, job_id: str, url: str, step: Step, work: Callable[[], T], *,
             classify: Classify | None = None) -> Outcome[T]:
    """Try *work*, one step of *job_id*'s video *url* ("" for the article), once.

    ``ctx.progress`` must report to the job (see :func:`worker.pipeline.inline.for_job`).
    """
    jobs = ctx.jobs
    job = jobs.get(job_id)
    if job is None:
        log.error("job %s is not in the job store at %s: does this runner use the same "
                  "BRIEFING_DATA_DIR (or BRIEFING_DATABASE_URL) as the one that created it?",
                  job_id, jobs.where)
        return Outcome(Verdict.SKIPPED, reason="unknown job")
    if url and any(v.url == url and v.state.settled for v in job.videos):
        return Outcome(Verdict.SKIPPED, reason="already settled")  # a duplicate delivery
    delivery = jobs.begin_delivery(job_id, url, step)
    if delivery.crashes >= ctx.retry.max_deliveries:
        jobs.end_delivery(job_id, url, step)
        reason = (f"its worker died {delivery.crashes} times while {step.doing} (killed, out "
                  "of memory or crashed); given up")
        _fail(ctx, job_id, url, reason)
        return Outcome(Verdict.FAILED, reason=reason)
    if url and (delivery.new_crashes or delivery.retrying or
                (step is Step.DOWNLOAD and delivery.number == 1)):
        jobs.update_video(job_id, url, new_attempt=True)
    if delivery.new_crashes:
        log.warning("job %s: redoing %s of %s after its worker died", job_id, step,
                    url or "the article")
    try:
        value = work()
    except (SystemExit, KeyboardInterrupt):
        # The runner is stopping (Ctrl-C, a worker's cold shutdown): a deliberate stop, not
        # a death to count against the video.
        jobs.end_delivery(job_id, url, step)
        raise
    except Exception as exc:
        return _failed(ctx, job_id, url, step, exc, delivery.failures, classify)
    jobs.end_delivery(job_id, url, step)
    return Outcome(Verdict.DONE, value=value)


def _failed(ctx: Context, job_id: str, url: str, step: Step, exc: Exception, failures: int,
            classify: Classify | None) -> Outcome[T]:
    jobs = ctx.jobs
    own = classify(exc) if classify is not None else None
    if own is not None:
        jobs.end_delivery(job_id, url, step)
        verdict, reason = own
        if verdict is Verdict.FAILED:
            _fail(ctx, job_id, url, reason)
        return Outcome(verdict, reason=reason, error=exc)
    if isinstance(exc, LockBusyError):
        jobs.end_delivery(job_id, url, step)
        return Outcome(Verdict.BUSY, delay=exc.retry_after, reason=str(exc), error=exc)
    transient = is_transient(exc)
    jobs.end_delivery(job_id, url, step, transient_failure=transient)
    if transient:
        if failures >= ctx.retry.max_retries:
            reason = f"{exc} (gave up after {failures} retries)"
            _fail(ctx, job_id, url, reason)
            return Outcome(Verdict.FAILED, reason=reason, error=exc)
        delay = ctx.retry.delay(failures)
        log.info("job %s: %s of %s failed (%s); retry %d of %d in %.1f s", job_id, step,
                 url or "the article", exc, failures + 1, ctx.retry.max_retries, delay)
        return Outcome(Verdict.RETRY, delay=delay, reason=str(exc), error=exc)
    if isinstance(exc, BriefingError):
        _fail(ctx, job_id, url, str(exc))
        return Outcome(Verdict.FAILED, reason=str(exc), error=exc)
    _fail(ctx, job_id, url, f"internal error: {type(exc).__name__}: {exc}")
    raise exc  # a bug: let the runner log the traceback
