"""Starting ``briefing worker``: checks first, then a Celery worker until it is stopped."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence

from celery.utils.log import mlevel
from celery.utils.nodenames import host_format

from indexer.errors import BriefingError
from worker.errors import BrokerUnavailableError
from worker.pipeline.locks import BrokerLocks
from worker.pipeline.wiring import model_provider
from worker.queue import tasks
from worker.queue.app import app, serving
from worker.queue.config import (
    HARD_LIMIT_GRACE,
    MEDIA,
    QUEUES,
    TRANSCRIBE,
    QueuePolicy,
    broker_problem,
    redacted,
    worker_celery_config,
)
from worker.settings import Settings
from worker.speech.models import DEFAULT_CPU_THREADS, resolve_model
from worker.storage.stores import open_records, open_runs

__all__ = ["default_concurrency", "run_worker"]

log = logging.getLogger("briefing.worker")

# The tasks register themselves on the app when their module is imported; say so here.
assert tasks.TASKS


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
    # An older (or newer) database schema stops the worker here, with one line.
    open_records(settings)
    # What killed runs left (their scratch folders; loose files of older versions once
    # older than the longest download could take).
    open_runs(settings).sweep(loose_age=policy.download_limit + HARD_LIMIT_GRACE)
    processes = concurrency or default_concurrency(queues, threads=settings.cpu_threads)
    cores = _cores()
    serving.queues = tuple(queues)
    serving.cpu_threads = max(1, cores // processes) if TRANSCRIBE in queues else 0
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

