"""The queued pipeline, one step per task, as plain functions over the pipeline's own.

read the article -> per video: download -> transcribe -> index.  Every step is idempotent: it
looks at the data dir first and does only what is missing, so a redelivered or duplicated
task repeats nothing that was finished, and the index write replaces a video's documents
rather than adding to them.  Locks on the broker keep two machines from downloading one URL,
transcribing one video (by content hash) or writing the index at the same time.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from pathlib import Path

from worker.errors import MediaError
from worker.pipeline.inline import (
    Context,
    index_video,
    read_article,
    register_article,
    set_video_state,
    store_video,
    tidy_index,
    transcribe_stored,
    video_urls_to_process,
)
from worker.pipeline.locks import BrokerLocks
from worker.queue.config import INDEX_LOCK_WAIT, QueuePolicy
from worker.speech.media import probe_duration
from worker.storage.datadir import DONE, DOWNLOADING, FAILED, INDEXING, TRANSCRIBING, url_key
from worker.storage.jobs import JOB_FAILED, TERMINAL_VIDEO_STATES, JobProgress, JobStore

log = logging.getLogger(__name__)

INDEX_LOCK = "index-writer"
URL_LOCK_WAIT = 30.0


@dataclass
class Queued:
    """What the steps need: the pipeline's Context plus the job store, locks and policy."""

    ctx: Context
    jobs: JobStore
    locks: BrokerLocks
    policy: QueuePolicy

    def for_job(self, job_id: str) -> Context:
        """The Context whose progress goes to *job_id* in the job store."""
        return replace(self.ctx, progress=JobProgress(self.jobs, job_id, count_attempts=False))


@dataclass(frozen=True)
class Downloaded:
    """A stored video and what its next step is."""

    video_id: str
    duration: float
    transcribed: bool  # a transcript exists already: straight to the index


def video_settled(jobs: JobStore, job_id: str, url: str) -> bool:
    """True when the job's video is done or failed already (a duplicate delivery)."""
    job = jobs.get(job_id)
    if job is None:
        return True
    return any(v.url == url and v.state in TERMINAL_VIDEO_STATES for v in job.videos)


def read_article_step(q: Queued, job_id: str, source: str, content: str | None) -> list[str]:
    """Read, store and index the article; returns the video URLs still to be started."""
    ctx = q.for_job(job_id)
    article = read_article(source, ctx.article_limits, content)
    with q.locks.hold(INDEX_LOCK, wait=INDEX_LOCK_WAIT):
        register_article(article, ctx)
    tidy_index(ctx.index)  # an article's commit adds a segment too
    q.jobs.set_article(job_id, article.id, article.title, video_urls_to_process(article))
    job = q.jobs.get(job_id)
    return [v.url for v in job.videos if v.state == "queued"] if job else []


def download_step(q: Queued, job_id: str, url: str) -> Downloaded:
    """Store the video at *url* unless some worker already did; probe how long it is.

    Raises :class:`~worker.locks.Busy` when another worker has been downloading the same URL
    for longer than we wait.
    """
    ctx = q.for_job(job_id)
    # Downloads hold a media slot, which is cheap: wait a while rather than come back later.
    with q.locks.hold(f"url:{url_key(url)}", wait=URL_LOCK_WAIT):
        record = ctx.data.source(url)
        video_id = record.video_id if record else ""
        if video_id and ctx.data.video_file(video_id) is not None:
            q.jobs.update_video(job_id, url, video_id=video_id)
        else:
            set_video_state(ctx, url, DOWNLOADING, error="",
                            attempts=(record.attempts if record else 0) + 1)
            video_id = store_video(url, ctx)
    media = ctx.data.video_file(video_id)
    if media is None:
        raise MediaError(f"video {video_id} vanished from the data dir")
    duration = probe_duration(media, name="the video")
    if duration > q.policy.max_video_seconds:
        raise MediaError(f"the video is {_hours(duration)} long, over the queue's cap of "
                         f"{_hours(q.policy.max_video_seconds)} (BRIEFING_MAX_VIDEO_SECONDS)")
    return Downloaded(video_id, duration, ctx.data.load_transcript(video_id) is not None)


def transcribe_step(q: Queued, job_id: str, url: str, video_id: str) -> bool:
    """Transcribe a stored video unless its transcript exists; True if this call did it.

    Raises :class:`~worker.locks.Busy` while another worker transcribes the same bytes.
    """
    ctx = q.for_job(job_id)
    if ctx.data.load_transcript(video_id) is not None:
        return False
    set_video_state(ctx, url, TRANSCRIBING)
    with q.locks.hold(f"video:{video_id}"):
        if ctx.data.load_transcript(video_id) is not None:  # finished while we waited
            return False
        started = time.monotonic()
        transcript = transcribe_stored(video_id, url, ctx)
    log.info("transcribed video %s (%d segments, %.1f s of audio) in %.1f s", video_id,
             len(transcript.segments), transcript.duration, time.monotonic() - started)
    return True


def index_step(q: Queued, job_id: str, url: str, video_id: str) -> None:
    """Write the video's segments, linked to every article that links it now, then finish.

    The fleet-wide index lock serialises writers, and the linking articles are read inside
    it, so the last write always carries every article registered before it.
    """
    ctx = q.for_job(job_id)
    set_video_state(ctx, url, INDEXING)
    with q.locks.hold(INDEX_LOCK, wait=INDEX_LOCK_WAIT):
        index_video(video_id, ctx)
    set_video_state(ctx, url, DONE, error="")
    # Merges run aside, after the fleet-wide lock is released: other writers never wait.
    tidy_index(ctx.index)


def fail_video(q: Queued, job_id: str, url: str, reason: str) -> None:
    """Record that a video failed, and why, in the data dir and the job."""
    set_video_state(q.for_job(job_id), url, FAILED, error=reason)


def fail_article(q: Queued, job_id: str, reason: str) -> None:
    """Record that a job failed because its article could not be read."""
    q.jobs.set_job_state(job_id, JOB_FAILED, reason)


def sweep_stale_downloads(tmp: Path, older_than: float) -> int:
    """Delete downloads in progress older than *older_than* s (left by killed workers)."""
    removed = 0
    cutoff = time.time() - older_than
    for part in tmp.glob("download-*.part"):
        try:
            if part.stat().st_mtime < cutoff:
                part.unlink()
                removed += 1
        except FileNotFoundError:
            continue
    return removed


def _hours(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"
