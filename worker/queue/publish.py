"""Queueing a task's next step from inside a task, waiting out a broker restart."""

from __future__ import annotations

import logging
import random
import time
from typing import Any

from worker.queue.app import app
from worker.queue.config import STEP_PUBLISH_BACKOFF_MAX, STEP_PUBLISH_DEADLINE, broker_down

__all__ = ["publish_step"]

log = logging.getLogger("briefing.worker")


def publish_step(task: Any, step: dict[str, Any], **options: Any) -> None:
    """Queue *task* with kwargs *step*, waiting out a broker restart (bounded, with backoff).

    kombu's publish retry policy (``STEP_PUBLISH_RETRY_POLICY``) waits for Redis when the
    message itself cannot be written, but not when declaring the queue is what meets the
    outage (kombu 5.7; no upstream report found): ``Producer._publish`` keeps the channel it
    took, then declares the queue through a second ``Connection.ensure``, which reconnects and
    closes that channel; the publish then goes to the closed channel, which no retry policy
    covers (kombu's own transport raised ``AttributeError: 'NoneType' object has no attribute
    'client'`` there; :mod:`worker.queue.transport` makes it a connection error).  It happens
    on the first publish to a queue after a reconnection when Redis is still down, e.g. a
    transcription that ends during a restart.

    So the whole publish is tried again, on a fresh connection, until the broker takes it or
    ``STEP_PUBLISH_DEADLINE`` has passed; then the broker's error is raised, which
    :mod:`worker.queue.tasks` treats as a broker outage, not the video's failure.  A retry
    can queue a step twice (if the broker had taken it); steps are idempotent.
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
            left = give_up - time.monotonic()
            if not broker_down(exc) or left <= 0:
                raise
            delay = min(left, STEP_PUBLISH_BACKOFF_MAX, 2.0 ** attempt) * random.uniform(0.5, 1)
            log.warning("job %s: could not queue %s of %s (%s: %s); trying again in %.1f s",
                        step.get("job_id"), task.name, step.get("url"), type(exc).__name__,
                        exc, delay)
            time.sleep(delay)
            attempt += 1
