"""The pipeline's steps: the one way through, for every runner.

    article -> per video: download -> transcribe -> index      (fail: the video, with a reason)

The inline runner (:mod:`worker.pipeline.inline`: ``briefing ingest``, the HTTP app's
in-process worker) and the queue's tasks (:mod:`worker.queue.tasks`) call these same
functions, through :func:`worker.pipeline.attempts.run_step`, which counts attempts and
applies the retry policy.  Every rule lives here once:

* skip: a URL whose video is stored (its media or its transcript) is not downloaded again;
  a video whose transcript exists is not transcribed again; the index write always runs (it
  replaces the video's documents and refreshes the articles that link it);
* cap: a video longer than ``max_video_seconds`` fails before it is transcribed;
* locks: one download per URL, one transcription per video (its bytes), one index writer at
  a time, across every runner sharing the data dir or the broker (:mod:`.locks`);
* states: each video's state is recorded in the data dir and reported to the job's Progress;
* watches: every index write of a video or an article is matched against the saved
  searches once, right after its commit (:func:`watch_step`); the hits' webhooks that are
  due come back to the runner, which sends them (the queue as tasks, inline by its loop).

Every step is idempotent: it looks at the data dir first and does only what is missing, so a
redelivered, duplicated or concurrent step repeats nothing that was finished.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from urllib.request import url2pathname

from indexer.backend import SearchBackend
from indexer.domain import Article, Transcript
from worker.errors import BriefingError, DownloadError, MediaError, NotFoundError
from worker.intake.fetch import copy_local, download
from worker.intake.reading import read_article
from worker.pipeline.context import Context, Phase
from worker.pipeline.locks import INDEX_LOCK, url_lock, video_lock
from worker.speech.media import decoded_audio, probe_duration
from worker.speech.priming import primed_options
from worker.speech.transcribe import transcribe_windows
from worker.storage.datadir import is_item_id
from worker.storage.states import JobState, VideoState
from worker.watching.evaluate import evaluate_article, evaluate_video

__all__ = [
    "Registered",
    "Retranscribed",
    "StoppedError",
    "Stored",
    "article_step",
    "check_duration",
    "download_step",
    "fail_job",
    "fail_video",
    "index_step",
    "index_video",
    "retranscribe_step",
    "tidy_index",
    "transcribe_step",
    "video_urls_to_process",
    "watch_step",
]

log = logging.getLogger("briefing.worker")


class StoppedError(Exception):
    """A download given up because the run it was fetched ahead for has stopped."""


@dataclass(frozen=True)
class Registered:
    """An article stored and indexed, and the video URLs of it still to be done in the job."""

    article: Article
    urls: tuple[str, ...]
    deliveries: tuple[int, ...] = ()  # hits whose webhooks are pending (watch_step)


@dataclass(frozen=True)
class Retranscribed:
    """A video transcribed again and re-indexed."""

    kept_version: int  # the number the old transcript was kept as (0: it had none)
    deliveries: tuple[int, ...] = ()  # hits whose webhooks are pending (watch_step)


@dataclass(frozen=True)
class Stored:
    """A video in the data dir and what it needs next."""

    video_id: str
    duration: float  # seconds, from the container's header; 0.0 when not needed
    transcribed: bool  # a transcript exists already: straight to the index


def video_urls_to_process(article: Article) -> list[str]:
    """The article's video URLs we may fetch: file: links only from a local article."""
    local = article.url.startswith("file:")
    return [u for u in article.video_urls if local or not u.startswith("file:")]


def _set_state(ctx: Context, url: str, state: VideoState, **changes: Any) -> None:
    record = ctx.data.update_source(url, state=state, runner=ctx.run_id, **changes)
    ctx.progress.state(url, state, video_id=record.video_id, error=record.error)


def tidy_index(index: SearchBackend) -> None:
    """Run the merges a commit left due (SearchIndex.compact), outside any lock of ours.

    The video is already searchable; a merge that fails only leaves more segments, so it is
    logged, not reported as the video's failure.
    """
    try:
        while index.compact():
            pass
    except Exception:
        log.exception("merging index segments failed (searches still work; will retry)")


# -- article ----------------------------------------------------------------------------------


def article_step(ctx: Context, job_id: str, source: str, content: str | None) -> Registered:
    """Read, store and index the article, link it to its video URLs and list them in the job."""
    article = read_article(source, ctx.article_limits, content)
    with ctx.locks.hold(INDEX_LOCK, wait=ctx.waits.index):
        ctx.data.save_article(article)
        ctx.data.mark_pending("article", article.id)
        ctx.index.add_article(article)
        ctx.data.clear_pending("article", article.id)
        for url in article.video_urls:
            ctx.data.update_source(url, add_article=article.id)
    due = watch_step(ctx, article=article)
    tidy_index(ctx.index)  # an article's commit adds a segment too
    ctx.jobs.set_article(job_id, article.id, article.title, video_urls_to_process(article))
    job = ctx.jobs.get(job_id)
    waiting = tuple(v.url for v in job.videos if v.state is VideoState.QUEUED) if job else ()
    return Registered(article, waiting, due)


# -- download ---------------------------------------------------------------------------------


def _hours(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


def check_duration(duration: float, cap: float) -> None:
    """Raise :class:`MediaError` for a video longer than *cap* seconds."""
    if duration > cap:
        raise MediaError(f"the video is {_hours(duration)} long, over the cap of "
                         f"{_hours(cap)} (BRIEFING_MAX_VIDEO_SECONDS)")


def _store_video(ctx: Context, url: str, stop: threading.Event | None) -> str:
    def report(done: int, total: int | None) -> None:
        if stop is not None and stop.is_set():
            raise StoppedError(url)
        ctx.progress.downloaded(url, done, total)

    if url.startswith("file:"):
        path = Path(url2pathname(urlsplit(url).path))
        if not path.is_file():
            raise DownloadError(f"no such video file: {path}")
        got = copy_local(path, ctx.scratch, ctx.video_limits.max_bytes, report)
    else:
        got = download(url, ctx.scratch, ctx.video_limits, report)
    meta = ctx.data.adopt_video(got.path, got.sha256, got.size, got.container, url)
    ctx.data.update_source(url, video_id=meta.video_id)
    return meta.video_id


def download_step(ctx: Context, url: str, stop: threading.Event | None = None) -> Stored:
    """Store the video at *url* unless it is stored already; check its length.

    Setting *stop* abandons the download at its next chunk (the partial file is removed).
    """
    with ctx.locks.hold(url_lock(url), wait=ctx.waits.url):
        record = ctx.data.source(url)
        video_id = record.video_id if record else ""
        if not (video_id and (ctx.data.has_transcript(video_id) or
                              ctx.data.video_file(video_id) is not None)):
            _set_state(ctx, url, VideoState.DOWNLOADING, error="",
                       attempts=(record.attempts if record else 0) + 1)
            video_id = _store_video(ctx, url, stop)
    if ctx.data.has_transcript(video_id):
        return Stored(video_id, 0.0, transcribed=True)
    media = ctx.data.video_file(video_id)
    if media is None:
        raise MediaError(f"video {video_id} vanished from the data dir")
    duration = probe_duration(media, name="the video")
    check_duration(duration, ctx.max_video_seconds)
    return Stored(video_id, duration, transcribed=False)


# -- transcribe -------------------------------------------------------------------------------


def _transcribe_stored(ctx: Context, url: str, video_id: str,
                       model_name: str | None = None) -> Transcript:
    media = ctx.data.video_file(video_id)
    if media is None:
        raise DownloadError(f"video {video_id} is not stored")
    # The linking articles spell the names the small models mangle (worker.speech.priming).
    options = primed_options(ctx.options, ctx.data.linking_articles(video_id))
    # Each phase is announced before it starts: loading the model and decoding the audio
    # take seconds in which no fraction moves.
    ctx.progress.phase(url, Phase.LOADING_MODEL)
    model = ctx.models.get(model_name)
    ctx.progress.phase(url, Phase.EXTRACTING_AUDIO)
    with decoded_audio(media, ctx.scratch, timeout=ctx.ffmpeg_timeout,
                       name="the video") as audio:
        ctx.progress.phase(url, Phase.TRANSCRIBING)
        transcript = transcribe_windows(
            audio.windows(), audio.duration, model, video_id, options,
            lambda fraction: ctx.progress.transcribed(url, fraction))
    return transcript


def transcribe_step(ctx: Context, url: str, video_id: str) -> bool:
    """Transcribe a stored video unless its transcript exists; True if this call did it."""
    if ctx.data.has_transcript(video_id):
        return False
    _set_state(ctx, url, VideoState.TRANSCRIBING)
    with ctx.locks.hold(video_lock(video_id), wait=ctx.waits.video):
        if ctx.data.has_transcript(video_id):  # finished by another runner while we waited
            return False
        started = time.monotonic()
        transcript = _transcribe_stored(ctx, url, video_id)
        ctx.data.save_transcript(transcript)
    log.info("transcribed video %s (%d segments, %.1f s of audio) in %.1f s", video_id,
             len(transcript.segments), transcript.duration, time.monotonic() - started)
    return True


def retranscribe_step(ctx: Context, video_id: str, model_name: str | None = None
                      ) -> Retranscribed:
    """Transcribe a stored video again (with *model_name*, default the configured model),
    make the result its transcript and re-index it; returns the number of the version the
    old transcript was kept as (0 when it had none) and the video's hits whose webhooks are
    pending (the runner sends them, as after any index step).

    The old transcript is kept as a version and the new one replaces it atomically
    (``DataDir.replace_transcript``); the index is then written by :func:`index_step`, the
    one index write, so everything that follows an index write follows this one too.
    """
    if (not is_item_id(video_id) or video_id in ctx.data.hidden().video_ids
            or ctx.data.video_file(video_id) is None):
        raise NotFoundError(f"no stored video {video_id!r}")
    url = ctx.data.video_url(video_id)
    # The video's state stays done meanwhile: its old transcript is searchable until the
    # new one replaces it, and stays so if this fails.
    with ctx.locks.hold(video_lock(video_id), wait=ctx.waits.video):
        started = time.monotonic()
        transcript = _transcribe_stored(ctx, url, video_id, model_name)
        # Marked first: a crash before the index write below leaves the mark, and the next
        # runner writes the new transcript to the index (maintenance.repair_pending).
        ctx.data.mark_pending("video", video_id)
        kept = ctx.data.replace_transcript(transcript)
    log.info("re-transcribed video %s with %s (%d segments) in %.1f s", video_id,
             transcript.model, len(transcript.segments), time.monotonic() - started)
    due = index_step(ctx, url, video_id)
    return Retranscribed(kept.number if kept is not None else 0, due)


# -- index ------------------------------------------------------------------------------------


def index_video(ctx: Context, video_id: str) -> None:
    """(Re-)index a video's transcript with every article that links it now."""
    transcript = ctx.data.load_transcript(video_id)
    if transcript is None:
        raise BriefingError(f"video {video_id} has no stored transcript")
    ctx.index.add_transcript(transcript, ctx.data.video_url(video_id),
                             ctx.data.article_refs_for_video(video_id))


def index_step(ctx: Context, url: str, video_id: str) -> tuple[int, ...]:
    """Write the video's segments, linked to every article that links it now, match them
    against the watches, then finish; the video's hits whose webhooks are pending.

    The index lock serialises writers, and the linking articles are read inside it, so the
    last write always carries every article registered before it.
    """
    _set_state(ctx, url, VideoState.INDEXING)
    ctx.progress.phase(url, Phase.INDEXING)
    with ctx.locks.hold(INDEX_LOCK, wait=ctx.waits.index):
        ctx.data.mark_pending("video", video_id)
        index_video(ctx, video_id)
        ctx.data.clear_pending("video", video_id)
    # Before the video is done: a failure here is retried like the index write it follows.
    due = watch_step(ctx, video_id=video_id)
    _set_state(ctx, url, VideoState.DONE, error="")
    # Merges run aside, after the lock is released: other writers never wait for them.
    tidy_index(ctx.index)
    return due


# -- watches ----------------------------------------------------------------------------------


def watch_step(ctx: Context, *, video_id: str = "", article: Article | None = None
               ) -> tuple[int, ...]:
    """Match what was just indexed (a video, as stored now, or an article) against every
    watch and record the hits; the item's hits whose webhooks are pending (new or not).

    Idempotent: a repeat (re-index, redelivery) finds the same clips and records nothing;
    a transcript that no longer says a watch's words retracts its hits.  An item being
    taken down records nothing (its takedown withdraws its hits).
    """
    store = ctx.watch_store()
    hidden = ctx.data.hidden()
    if article is not None:
        if article.id in hidden.article_ids:
            return ()
        return evaluate_article(store, article).deliveries
    if video_id in hidden.video_ids:
        return ()
    transcript = ctx.data.load_transcript(video_id)
    if transcript is None:
        raise BriefingError(f"video {video_id} has no stored transcript")
    return evaluate_video(store, transcript, ctx.data.video_url(video_id),
                          ctx.data.article_refs_for_video(video_id)).deliveries


# -- failure ----------------------------------------------------------------------------------


def fail_video(ctx: Context, url: str, reason: str) -> None:
    """Record that a video failed, and why, in the data dir and the job."""
    _set_state(ctx, url, VideoState.FAILED, error=reason)


def fail_job(ctx: Context, job_id: str, reason: str) -> None:
    """Record that a job failed as a whole (its article could not be read, its run died)."""
    ctx.jobs.set_job_state(job_id, JobState.FAILED, reason)
