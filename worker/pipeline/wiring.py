"""Turning the one Settings object into the pipeline's Context (used by entry points only)."""

from __future__ import annotations

from worker.intake.fetch import FetchLimits
from worker.intake.netguard import parse_allowlist
from worker.pipeline.context import Context, ModelProvider, NullProgress, Progress
from worker.pipeline.locks import Locks
from worker.pipeline.maintenance import repair_pending
from worker.pipeline.policy import LockWaits, RetryPolicy
from worker.pipeline.takedown import finish_removals
from worker.settings import Settings
from worker.speech.transcribe import TranscribeOptions
from worker.storage.stores import (
    open_job_store,
    open_locks,
    open_records,
    open_runs,
    open_search_index,
    open_watch_store,
)
from worker.watching.webhooks import WebhookPolicy

__all__ = ["article_limits", "build_context", "model_provider", "transcribe_options",
           "video_limits", "webhook_policy"]


def video_limits(settings: Settings) -> FetchLimits:
    """Fetch limits for video downloads."""
    return FetchLimits(
        max_bytes=settings.max_video_bytes,
        connect_timeout=settings.connect_timeout,
        read_timeout=settings.read_timeout,
        deadline=settings.download_deadline,
        allow_private=settings.allow_private_networks,
        private_allowlist=parse_allowlist(settings.private_allowlist),
    )


def article_limits(settings: Settings) -> FetchLimits:
    """Fetch limits for article pages."""
    return FetchLimits(
        max_bytes=settings.max_article_bytes,
        connect_timeout=settings.connect_timeout,
        read_timeout=settings.read_timeout,
        deadline=min(settings.download_deadline, 120.0),
        allow_private=settings.allow_private_networks,
        private_allowlist=parse_allowlist(settings.private_allowlist),
    )


def webhook_policy(settings: Settings) -> WebhookPolicy:
    """How watches' webhooks are sent: retries, backoff, and the fetching address guard."""
    return WebhookPolicy(retries=settings.webhook_retries, backoff=settings.webhook_backoff,
                         timeout=settings.webhook_timeout, limits=article_limits(settings))


def transcribe_options(settings: Settings) -> TranscribeOptions:
    """Decoding options from settings."""
    return TranscribeOptions(beam_size=settings.beam_size, language=settings.language,
                             prime=settings.prime, batch_size=settings.batch_size)


def model_provider(settings: Settings) -> ModelProvider:
    """A lazy model loader for the configured model."""
    return ModelProvider(settings.model, settings.compute_type, settings.cpu_threads,
                         cache_dir=settings.data_dir / "models", device=settings.device)


def build_context(settings: Settings, progress: Progress | None = None, *,
                  locks: Locks | None = None, waits: LockWaits | None = None) -> Context:
    """Everything the steps need, from settings.

    Inline runners leave *locks* and *waits* unset: the stores' own locks (files in the data
    dir, embedded), waited for as long as they are held.  The queue passes its broker's locks
    and bounded waits.

    Claims this process's run on the data dir, after sweeping what dead runs left there
    (their scratch folders), and writes again what they left half-written to the index.
    """
    data = open_records(settings)
    runs = open_runs(settings)
    runs.sweep()
    run = runs.claim()
    index = open_search_index(settings, rebuild_from=data)
    repair_pending(data, index)
    ctx = Context(
        data=data,
        index=index,
        jobs=open_job_store(settings, runs),
        locks=locks or open_locks(settings),
        models=model_provider(settings),
        video_limits=video_limits(settings),
        article_limits=article_limits(settings),
        options=transcribe_options(settings),
        ffmpeg_timeout=settings.ffmpeg_timeout,
        max_video_seconds=settings.max_video_seconds,
        retry=RetryPolicy.from_settings(settings),
        waits=waits or LockWaits(),
        progress=progress or NullProgress(),
        run=run,
        watches=open_watch_store(settings),
    )
    # A takedown a crashed run left half done is finished before any new work.
    finish_removals(ctx)
    return ctx
