"""The inline runner: a whole job in this process (``briefing ingest``, ``briefing serve``'s
in-process worker), through the same steps and attempt rules as the queue's tasks.

Videos are done one after another, while the next ones are downloaded ahead on a second
thread: transcription keeps every core busy while a download mostly waits on the network.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import TypeVar

from indexer.domain import Article
from worker.errors import BriefingError
from worker.pipeline.attempts import Outcome, Verdict, run_step
from worker.pipeline.context import Context, ProgressTee
from worker.pipeline.steps import (
    Registered,
    StoppedError,
    Stored,
    article_step,
    download_step,
    index_step,
    transcribe_step,
)
from worker.storage.jobs import JobProgress
from worker.storage.runs import INLINE
from worker.storage.states import JobState, Step, VideoState

__all__ = ["PREFETCH", "IngestReport", "VideoOutcome", "for_job", "ingest", "run_job",
           "runner_name"]

T = TypeVar("T")

# Videos of one article downloaded ahead of the one being transcribed.
PREFETCH = 2


@dataclass(frozen=True)
class VideoOutcome:
    """How one linked video ended."""

    url: str
    state: VideoState
    video_id: str = ""
    error: str = ""
    reused: bool = False  # transcript already existed (same URL or identical bytes)


@dataclass(frozen=True)
class IngestReport:
    """An ingested article, its job and how each of its videos ended."""

    article: Article
    videos: tuple[VideoOutcome, ...]
    job_id: str = ""


class ArticleFailedError(BriefingError):
    """The job's article could not be read (the job is failed with the same reason)."""


def runner_name(ctx: Context) -> str:
    """How jobs run by this process are labelled in the job store: ``inline <run id>``, or
    plain ``inline`` for a context that claimed no run (never shown as interrupted)."""
    return f"{INLINE} {ctx.run_id}".strip()


def for_job(ctx: Context, job_id: str) -> Context:
    """*ctx* whose steps report to *job_id*'s record as well as to ``ctx.progress``."""
    return replace(ctx, progress=ProgressTee(JobProgress(ctx.jobs, job_id), ctx.progress))


def _attempts(ctx: Context, job_id: str, url: str, step: Step, work: Callable[[], T],
              stop: threading.Event) -> Outcome[T]:
    # Retries and lock waits happen here, in this process: an inline run has nothing else
    # to do meanwhile.  (Lock waits are unbounded inline, so BUSY only comes after a wait.)
    while True:
        outcome = run_step(ctx, job_id, url, step, work)
        if outcome.verdict not in (Verdict.RETRY, Verdict.BUSY):
            return outcome
        if stop.wait(outcome.delay):
            raise StoppedError(url)


def _ended(ctx: Context, job_id: str, url: str, reason: str) -> VideoOutcome:
    # FAILED, or SKIPPED because another run settled this job's video: the job says how.
    job = ctx.jobs.get(job_id)
    for video in job.videos if job else ():
        if video.url == url and video.state is VideoState.DONE:
            return VideoOutcome(url, VideoState.DONE, video.video_id, reused=True)
    return VideoOutcome(url, VideoState.FAILED, error=reason)


def _fetch(ctx: Context, job_id: str, url: str, stop: threading.Event) -> Stored | VideoOutcome:
    outcome = _attempts(ctx, job_id, url, Step.DOWNLOAD,
                        lambda: download_step(ctx, url, stop), stop)
    if outcome.verdict is Verdict.DONE and outcome.value is not None:
        return outcome.value
    return _ended(ctx, job_id, url, outcome.reason)


def _finish(ctx: Context, job_id: str, url: str, fetched: Stored | VideoOutcome,
            stop: threading.Event) -> VideoOutcome:
    if isinstance(fetched, VideoOutcome):
        return fetched
    video_id = fetched.video_id
    reused = True
    if not fetched.transcribed:
        # Looked up in the step, not when downloaded: a video fetched ahead may hold the same
        # bytes as the one transcribed meanwhile (a mirror), whose transcript is now saved.
        did = _attempts(ctx, job_id, url, Step.TRANSCRIBE,
                        lambda: transcribe_step(ctx, url, video_id), stop)
        if did.verdict is not Verdict.DONE:
            return _ended(ctx, job_id, url, did.reason)
        reused = not did.value
    indexed = _attempts(ctx, job_id, url, Step.INDEX, lambda: index_step(ctx, url, video_id),
                        stop)
    if indexed.verdict is not Verdict.DONE:
        return _ended(ctx, job_id, url, indexed.reason)
    return VideoOutcome(url, VideoState.DONE, video_id, reused=reused)


def _process_videos(ctx: Context, job_id: str, urls: Sequence[str], *,
                    ahead: int) -> list[VideoOutcome]:
    """Each video in turn, downloading up to *ahead* of them on a second thread.

    Only this thread transcribes and writes the index.  A video that fails to download is
    failed as soon as it does; anything else raised by the download thread is raised here,
    at that video's turn, as if the videos were done one by one.  When this function raises,
    the downloads not started are dropped and the running one is abandoned at its next chunk
    (its partial file removed) before the exception goes on.
    """
    stop = threading.Event()
    if ahead < 1 or len(urls) < 2:
        return [_finish(ctx, job_id, url, _fetch(ctx, job_id, url, stop), stop)
                for url in urls]
    waiting = iter(urls)
    fetching: deque[tuple[str, Future[Stored | VideoOutcome]]] = deque()
    outcomes: list[VideoOutcome] = []
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="briefing-download")

    def fetch_up_to(count: int) -> None:
        while len(fetching) < count:
            url = next(waiting, None)
            if url is None:
                return
            fetching.append((url, pool.submit(_fetch, ctx, job_id, url, stop)))

    try:
        fetch_up_to(1)
        while fetching:
            url, current = fetching.popleft()
            fetch_up_to(ahead)  # the videos after this one
            outcomes.append(_finish(ctx, job_id, url, current.result(), stop))
    finally:
        stop.set()
        pool.shutdown(wait=True, cancel_futures=True)
    return outcomes


def run_job(ctx: Context, job_id: str, source: str, content: str | None = None, *,
            ahead: int = PREFETCH) -> IngestReport:
    """Run the recorded job *job_id* (read *source*, then each video) here and now.

    Raises :class:`ArticleFailedError` when the article cannot be read (the job is failed
    with the reason); a failing video is recorded and reported without stopping the others.
    A run stopped by an exception (Ctrl-C, a bug) fails the job rather than leave it running.
    """
    ctx = for_job(ctx, job_id)
    ctx.jobs.set_runner(job_id, runner_name(ctx))
    stop = threading.Event()
    try:
        read = _attempts(ctx, job_id, "", Step.ARTICLE,
                         lambda: article_step(ctx, job_id, source, content), stop)
        if read.verdict is not Verdict.DONE or read.value is None:
            raise ArticleFailedError(read.reason or "the article was not read")
        registered: Registered = read.value
        outcomes = _process_videos(ctx, job_id, registered.urls, ahead=ahead)
    except ArticleFailedError:
        raise
    except BaseException as exc:
        ctx.jobs.set_job_state(job_id, JobState.FAILED,
                               f"the run stopped before it finished ({type(exc).__name__})")
        raise
    return IngestReport(registered.article, tuple(outcomes), job_id)


def ingest(source: str, ctx: Context, content: str | None = None, *,
           ahead: int = PREFETCH) -> IngestReport:
    """Record a job for *source* and run it inline (see :func:`run_job`)."""
    job_id = ctx.jobs.create(source, runner=runner_name(ctx))
    return run_job(ctx, job_id, source, content, ahead=ahead)
