"""The Celery app of ``briefing worker`` and what each of its processes builds once."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, replace
from typing import Any

from celery import Celery
from celery.signals import worker_process_init

from indexer.errors import BriefingError
from worker.pipeline.context import Context
from worker.pipeline.locks import BrokerLocks, LockChain
from worker.pipeline.wiring import build_context
from worker.queue.config import QUEUE_WAITS, QUEUES, TRANSCRIBE, QueuePolicy, worker_celery_config
from worker.settings import Settings

__all__ = ["Runtime", "app", "runtime", "serving"]

log = logging.getLogger("briefing.worker")

app = Celery("briefing", set_as_current=False)


def _configure_from_settings(sender: Celery, **_: Any) -> None:
    # `celery -A worker.queue.tasks ...` reads BRIEFING_* like every other entry point.
    sender.conf.update(worker_celery_config(Settings()))


app.on_configure.connect(_configure_from_settings)


@dataclass
class Serving:
    """What `briefing worker` was started with (inherited by its pool processes)."""

    queues: tuple[str, ...] = QUEUES
    cpu_threads: int = 0


serving = Serving()


@dataclass
class Runtime:
    """One process's Context (with the broker's locks) and queue policy."""

    settings: Settings
    ctx: Context
    policy: QueuePolicy
    pid: int


_runtime: Runtime | None = None


def runtime() -> Runtime:
    """This process's Runtime (built after the fork, never shared between processes)."""
    global _runtime
    if _runtime is None or _runtime.pid != os.getpid():
        settings = Settings()
        threads = settings.cpu_threads or serving.cpu_threads
        ctx = build_context(settings, waits=QUEUE_WAITS)
        # The broker's locks hold across machines; the data dir's (the inline runners' own)
        # exclude a `briefing ingest` without a broker on the same data dir as well.
        locks = LockChain([BrokerLocks.from_url(str(settings.broker_url)), ctx.locks])
        ctx = replace(ctx, locks=locks, models=replace(ctx.models, cpu_threads=threads))
        _runtime = Runtime(settings, ctx, QueuePolicy.from_settings(settings), os.getpid())
    return _runtime


def _load_model_once(**_: Any) -> None:
    # Each pool process loads the Whisper model once, before its first task, and keeps it.
    rt = runtime()
    if TRANSCRIBE not in serving.queues:
        return
    try:
        rt.ctx.models.get()
    except BriefingError as exc:  # the task will fail the video with this reason
        log.error("cannot load the Whisper model: %s", exc)
        return
    log.info("loaded Whisper model %s in process %d", rt.settings.model, os.getpid())


worker_process_init.connect(_load_model_once)
