"""Stalled queue jobs: work the broker no longer holds, told apart and queued again.

A queued job moves because a message for its next step is always somewhere on the broker:
waiting in a queue, or taken by a worker (running, or waiting out a retry's countdown) and
kept in Redis until acknowledged.  Each step publishes the next before its own message is
acknowledged, so there is no gap.  A broker that loses its data (restarted without
persistence, flushed) leaves jobs "running" with nothing that will ever move them: their
unsettled videos have no message anywhere.  That is what *stalled* means here: measured on
the broker, not guessed from a clock (a long backlog is not a stall).
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Any

from worker.errors import BriefingError, BrokerUnavailableError
from worker.queue.config import (
    DOWNLOAD_TASK,
    INGEST_TASK,
    MEDIA,
    QUEUES,
    QueuePolicy,
    broker_errors,
    producer,
    redacted,
)
from worker.settings import Settings
from worker.storage.interfaces import JobStoreLike
from worker.storage.jobs import Job
from worker.storage.states import JobState

__all__ = ["QUEUE_RUNNER", "Resumed", "StallReport", "resume_job", "shown_jobs",
           "stalled_parts"]

QUEUE_RUNNER = "queue"
# kombu's Redis transport: a queue per priority step, and the hash of taken messages.
_PRIORITY_SEP = "\x06\x16"
_PRIORITIES = (3, 6, 9)
_UNACKED = "unacked"
# A message moves from a queue to the taken hash in two Redis commands; work that changed
# this recently is not judged (it may be between the two).
QUIET_SECONDS = 30.0


@dataclass(frozen=True)
class StallReport:
    """What of a job the broker holds no message for: its article, and/or videos."""

    article: bool
    videos: tuple[str, ...]

    @property
    def stalled(self) -> bool:
        """Whether anything of the job will not move again by itself."""
        return self.article or bool(self.videos)


def _payloads(settings: Settings) -> Iterator[dict[str, Any]]:
    app = producer(settings)
    with app.connection_for_read() as connection:
        client = connection.default_channel.client
        for queue in QUEUES:
            for name in (queue, *(f"{queue}{_PRIORITY_SEP}{p}" for p in _PRIORITIES)):
                for raw in client.lrange(name, 0, -1):
                    yield json.loads(raw)
        for raw in client.hvals(_UNACKED):
            yield json.loads(raw)[0]


def _kwargs(payload: dict[str, Any]) -> dict[str, Any]:
    body = payload.get("body", "")
    if payload.get("properties", {}).get("body_encoding") == "base64":
        body = base64.b64decode(body)
    decoded = json.loads(body)
    # Celery's message protocol 2: [args, kwargs, embed].
    return decoded[1] if isinstance(decoded, list) and len(decoded) > 1 else {}


def _held(settings: Settings) -> set[tuple[str, str]]:
    """(job id, video URL or "" for the article) of every message the broker holds."""
    held: set[tuple[str, str]] = set()
    try:
        for payload in _payloads(settings):
            try:
                kwargs = _kwargs(payload)
            except (ValueError, TypeError):
                continue  # not one of ours
            if "job_id" in kwargs:
                held.add((str(kwargs["job_id"]), str(kwargs.get("url", ""))))
    except broker_errors() as exc:
        raise BrokerUnavailableError(f"the broker at {redacted(str(settings.broker_url))} "
                                     f"cannot be reached ({exc})") from exc
    return held


def stalled_parts(settings: Settings, jobs: Iterable[Job],
                  now: float | None = None) -> dict[str, StallReport]:
    """For each unfinished queue job of *jobs*, what the broker holds no message for."""
    now = time.time() if now is None else now
    candidates = [j for j in jobs if j.runner == QUEUE_RUNNER
                  and j.state in (JobState.QUEUED, JobState.RUNNING)
                  and now - j.updated > QUIET_SECONDS]
    if not candidates:
        return {}
    held = _held(settings)
    reports = {}
    for job in candidates:
        article = not job.videos and (job.id, "") not in held
        videos = tuple(v.url for v in job.videos
                       if not v.state.settled and (job.id, v.url) not in held)
        reports[job.id] = StallReport(article, videos)
    return reports


def shown_jobs(settings: Settings, jobs: list[Job]) -> tuple[list[Job], dict[str, StallReport]]:
    """*jobs* as a user should see them: a stalled one's state is ``stalled``.

    With no broker configured, or one that cannot be reached, they are shown as stored.
    """
    if not settings.broker_url:
        return jobs, {}
    try:
        reports = stalled_parts(settings, jobs)
    except BrokerUnavailableError:
        return jobs, {}
    return [replace(j, state=JobState.STALLED) if j.id in reports and reports[j.id].stalled
            else j for j in jobs], reports


@dataclass(frozen=True)
class Resumed:
    """What :func:`resume_job` queued again."""

    article: bool
    videos: tuple[str, ...]


def resume_job(settings: Settings, store: JobStoreLike, job_id: str) -> Resumed:
    """Queue again what of *job_id* the broker lost: its article, or each stalled video's
    download step (which skips what is stored and hands the video on to its next step).

    Raises :class:`BriefingError` for an unknown or unfinished-but-moving job.
    """
    job = store.get(job_id)
    if job is None:
        raise BriefingError(f"job {job_id} not found")
    if job.runner != QUEUE_RUNNER:
        raise BriefingError(f"job {job_id} did not run on the queue: ingest its article again")
    report = stalled_parts(settings, [job], now=job.updated + QUIET_SECONDS + 1).get(job_id)
    if report is None or not report.stalled:
        raise BriefingError(f"job {job_id} is not stalled: nothing to resume")
    app = producer(settings)
    policy = QueuePolicy.from_settings(settings)
    if report.article:
        # An article posted as HTML is read again from its URL: the HTML is not kept.
        app.send_task(INGEST_TASK, kwargs={"job_id": job_id, "source": job.source,
                                           "content": None}, queue=MEDIA)
    for url in report.videos:
        app.send_task(DOWNLOAD_TASK, kwargs={"job_id": job_id, "url": url}, queue=MEDIA,
                      **policy.limits(policy.download_limit))
    store.set_runner(job_id, QUEUE_RUNNER)  # touched: not judged again until it is quiet
    return Resumed(report.article, report.videos)
