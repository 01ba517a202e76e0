"""The pipeline, as plain functions: article in, videos downloaded, transcribed and indexed.

The CLI's inline mode and the queue's tasks call these same functions.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit
from urllib.request import url2pathname

from indexer.domain import Article, Transcript
from indexer.errors import BriefingError, BrokenIndexError
from indexer.index import SearchIndex, rebuild_index
from worker.errors import DownloadError, FetchError
from worker.intake.articles import parse_article
from worker.intake.fetch import Downloaded, FetchLimits, copy_local, download, fetch_text
from worker.speech.media import decoded_audio
from worker.speech.models import DEFAULT_CPU_THREADS, LoadedModel, load_model
from worker.speech.priming import linking_articles, primed_options
from worker.speech.transcribe import TranscribeOptions, transcribe_windows
from worker.storage.datadir import (
    DONE,
    DOWNLOADING,
    FAILED,
    INDEXING,
    TRANSCRIBING,
    DataDir,
    video_id_for,
)
from worker.storage.jobs import JOB_FAILED, JobProgress, JobStore

log = logging.getLogger(__name__)

# Videos of one article downloaded ahead of the one being transcribed (see process_videos).
PREFETCH = 2


class Progress(Protocol):
    """Where the pipeline reports what it is doing (a progress bar, a job store...).

    While one video is transcribed the next ones are downloaded on a second thread, so
    ``state`` and ``downloaded`` may be called from that thread; calls about one video
    never overlap.
    """

    def state(self, url: str, state: str, *, video_id: str = "", error: str = "") -> None:
        """A video moved to a new state."""

    def downloaded(self, url: str, done: int, total: int | None) -> None:
        """Bytes of a video received so far."""

    def transcribed(self, url: str, fraction: float) -> None:
        """Share of a video's audio transcribed so far."""


class NullProgress:
    """Reports nothing."""

    def state(self, url: str, state: str, *, video_id: str = "", error: str = "") -> None:
        """Ignore."""

    def downloaded(self, url: str, done: int, total: int | None) -> None:
        """Ignore."""

    def transcribed(self, url: str, fraction: float) -> None:
        """Ignore."""


@dataclass
class ModelProvider:
    """Loads the Whisper model on first use and keeps it for the life of the process."""

    name: str
    compute_type: str = "int8"
    cpu_threads: int = DEFAULT_CPU_THREADS
    cache_dir: Path | None = None  # where models assembled from parts are kept
    _loaded: LoadedModel | None = field(default=None, init=False, repr=False)

    def get(self) -> LoadedModel:
        """The loaded model."""
        if self._loaded is None:
            self._loaded = load_model(self.name, compute_type=self.compute_type,
                                      cpu_threads=self.cpu_threads, cache_dir=self.cache_dir)
        return self._loaded


@dataclass
class Context:
    """What the pipeline functions need, built once by an entry point from Settings."""

    data: DataDir
    index: SearchIndex
    models: ModelProvider
    video_limits: FetchLimits
    article_limits: FetchLimits
    options: TranscribeOptions = field(default_factory=TranscribeOptions)
    ffmpeg_timeout: float = 1800.0
    progress: Progress = field(default_factory=NullProgress)


@dataclass(frozen=True)
class VideoOutcome:
    """How one linked video ended."""

    url: str
    state: str
    video_id: str = ""
    error: str = ""
    reused: bool = False  # transcript already existed (same URL or identical bytes)


@dataclass(frozen=True)
class IngestReport:
    """An ingested article and how each of its videos ended."""

    article: Article
    videos: tuple[VideoOutcome, ...]


def is_url(source: str) -> bool:
    """True for an http(s) URL, False for anything else (taken as a local path)."""
    return urlsplit(source).scheme.lower() in ("http", "https")


def _kind_from_content_type(content_type: str) -> str | None:
    lowered = content_type.lower()
    if "html" in lowered:
        return "html"
    if "markdown" in lowered:
        return "markdown"
    if lowered.startswith("text/plain"):
        return "text"
    return None


def read_article(source: str, limits: FetchLimits, content: str | None = None) -> Article:
    """Fetch and parse an article from an http(s) URL or a local HTML/Markdown/text file.

    With *content* (HTML handed to us, e.g. posted to the API), nothing is fetched and
    *source* is only the article's URL, used to resolve its links.
    """
    if content is not None:
        if not is_url(source):
            raise FetchError(f"an article given as HTML needs its http(s) URL, not {source!r}")
        if len(content) > limits.max_bytes:
            raise FetchError(f"article is over the size cap of {limits.max_bytes} bytes")
        return parse_article(content, source, "html")
    if is_url(source):
        text, final_url, content_type = fetch_text(source, limits)
        return parse_article(text, final_url, _kind_from_content_type(content_type))
    path = Path(source).expanduser()
    if not path.is_file():
        raise FetchError(f"no such file: {source}")
    if path.stat().st_size > limits.max_bytes:
        raise FetchError(f"{source} is over the article size cap of {limits.max_bytes} bytes")
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise FetchError(f"cannot read {source}: {exc.strerror}") from exc
    return parse_article(text, path.resolve().as_uri(), None)


def _local_path(url: str) -> Path:
    return Path(url2pathname(urlsplit(url).path))


class _Stopped(Exception):
    """A download given up because the ingest it was fetched ahead for has stopped."""


def fetch_video(url: str, ctx: Context, stop: threading.Event | None = None) -> Downloaded:
    """Download (or, for a file:// URL from a local article, copy) a video to the tmp dir.

    Setting *stop* abandons the download at its next chunk (the partial file is removed).
    """
    def report(done: int, total: int | None) -> None:
        if stop is not None and stop.is_set():
            raise _Stopped(url)
        ctx.progress.downloaded(url, done, total)

    if url.startswith("file:"):
        path = _local_path(url)
        if not path.is_file():
            raise DownloadError(f"no such video file: {path}")
        return copy_local(path, ctx.data.tmp, ctx.video_limits.max_bytes, report)
    return download(url, ctx.data.tmp, ctx.video_limits, report)


def _set_state(ctx: Context, url: str, state: str, **changes: object) -> None:
    record = ctx.data.update_source(url, state=state, **changes)
    ctx.progress.state(url, state, video_id=record.video_id, error=record.error)


def set_video_state(ctx: Context, url: str, state: str, **changes: object) -> None:
    """Record a video URL's new state in the data dir and report it to ``ctx.progress``."""
    _set_state(ctx, url, state, **changes)


def store_video(url: str, ctx: Context, stop: threading.Event | None = None) -> str:
    """Download a video URL into the data dir and return its id (identical bytes stored once)."""
    got = fetch_video(url, ctx, stop)
    meta = ctx.data.adopt_video(got.path, got.sha256, got.size, got.container, url)
    ctx.data.update_source(url, video_id=meta.video_id)
    return meta.video_id


def index_video(video_id: str, ctx: Context, transcript: Transcript | None = None) -> None:
    """(Re-)index a video's transcript with every article that links it now."""
    transcript = transcript or ctx.data.load_transcript(video_id)
    if transcript is None:
        raise BriefingError(f"video {video_id} has no stored transcript")
    ctx.index.add_transcript(transcript, ctx.data.video_url(video_id),
                             ctx.data.article_refs_for_video(video_id))


def tidy_index(index: SearchIndex) -> None:
    """Run the merges a commit left due (SearchIndex.compact), outside any lock of ours.

    The video is already searchable; a merge that fails only leaves more segments, so it is
    logged, not reported as the video's failure.
    """
    try:
        while index.compact():
            pass
    except Exception:
        log.exception("merging index segments failed (searches still work; will retry)")


def transcribe_stored(video_id: str, url: str, ctx: Context) -> Transcript:
    """Transcribe a stored video and save its transcript (the system of record)."""
    media = ctx.data.video_file(video_id)
    if media is None:
        raise DownloadError(f"video {video_id} is not stored")
    # The linking articles spell the names the small models mangle (worker.speech.priming).
    options = primed_options(ctx.options, linking_articles(ctx.data, video_id))
    with decoded_audio(media, ctx.data.tmp, timeout=ctx.ffmpeg_timeout,
                       name="the video") as audio:
        transcript = transcribe_windows(
            audio.windows(), audio.duration, ctx.models.get(), video_id, options,
            lambda fraction: ctx.progress.transcribed(url, fraction))
    ctx.data.save_transcript(transcript)
    return transcript


@dataclass(frozen=True)
class _Fetched:
    """A video ready for the transcribe-and-index half of :func:`process_video`."""

    url: str
    video_id: str
    known: bool  # done earlier under this URL: only its index entry needs refreshing


def _fetch(url: str, ctx: Context, stop: threading.Event | None = None
           ) -> _Fetched | VideoOutcome:
    """The download half of :func:`process_video`; a failure is recorded and returned."""
    try:
        record = ctx.data.source(url)
        if record and record.state == DONE and ctx.data.load_transcript(record.video_id):
            return _Fetched(url, record.video_id, known=True)
        _set_state(ctx, url, DOWNLOADING, error="",
                   attempts=(record.attempts if record else 0) + 1)
        return _Fetched(url, store_video(url, ctx, stop), known=False)
    except BriefingError as exc:
        _set_state(ctx, url, FAILED, error=str(exc))
        return VideoOutcome(url, FAILED, error=str(exc))


def _finish(fetched: _Fetched | VideoOutcome, ctx: Context) -> VideoOutcome:
    """The transcribe-and-index half of :func:`process_video`."""
    if isinstance(fetched, VideoOutcome):
        return fetched
    url, video_id = fetched.url, fetched.video_id
    try:
        if fetched.known:
            index_video(video_id, ctx)  # refresh the list of linking articles
            _set_state(ctx, url, DONE, error="")
            tidy_index(ctx.index)
            return VideoOutcome(url, DONE, video_id, reused=True)
        # Looked up only now, not when downloaded: a video fetched ahead may hold the same
        # bytes as the one transcribed meanwhile (a mirror), whose transcript is now saved.
        transcript = ctx.data.load_transcript(video_id)
        reused = transcript is not None
        if transcript is None:
            _set_state(ctx, url, TRANSCRIBING)
            transcript = transcribe_stored(video_id, url, ctx)
        _set_state(ctx, url, INDEXING)
        index_video(video_id, ctx, transcript)
        _set_state(ctx, url, DONE, error="")
        tidy_index(ctx.index)
        return VideoOutcome(url, DONE, video_id, reused=reused)
    except BriefingError as exc:
        _set_state(ctx, url, FAILED, error=str(exc))
        return VideoOutcome(url, FAILED, error=str(exc))


def process_video(url: str, ctx: Context) -> VideoOutcome:
    """Download, transcribe and index one video URL, reusing earlier work where possible.

    Never raises for a bad video: the failure is recorded and returned.
    """
    return _finish(_fetch(url, ctx), ctx)


def process_videos(urls: Sequence[str], ctx: Context, *,
                   ahead: int = PREFETCH) -> list[VideoOutcome]:
    """:func:`process_video` for each URL in turn, downloading up to *ahead* of them on a
    second thread while the current one is transcribed.

    Transcription keeps every core busy while a download mostly waits on the network, so
    the next video is usually on disk by the time it is needed.  Only this thread
    transcribes and writes the index.  A video that fails to download is recorded as failed
    as soon as it does; anything else raised by the download thread is raised here, at that
    video's turn, as if the videos were done one by one.  When this function raises, the
    downloads not started are dropped and the running one is abandoned at its next chunk
    (its partial file removed) before the exception goes on.
    """
    if ahead < 1 or len(urls) < 2:
        return [process_video(url, ctx) for url in urls]
    stop = threading.Event()
    waiting = iter(urls)
    fetching: deque[Future[_Fetched | VideoOutcome]] = deque()
    outcomes: list[VideoOutcome] = []
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="briefing-download")

    def fetch_up_to(count: int) -> None:
        while len(fetching) < count:
            url = next(waiting, None)
            if url is None:
                return
            fetching.append(pool.submit(_fetch, url, ctx, stop))

    try:
        fetch_up_to(1)
        while fetching:
            current = fetching.popleft()
            fetch_up_to(ahead)  # the videos after this one
            outcomes.append(_finish(current.result(), ctx))
    finally:
        stop.set()
        pool.shutdown(wait=True, cancel_futures=True)
    return outcomes


def register_article(article: Article, ctx: Context) -> None:
    """Store and index an article, and link it to each of its video URLs."""
    ctx.data.save_article(article)
    ctx.index.add_article(article)
    for url in article.video_urls:
        ctx.data.update_source(url, add_article=article.id)


def video_urls_to_process(article: Article) -> list[str]:
    """The article's video URLs we may fetch: file: links only from a local article."""
    local = article.url.startswith("file:")
    return [u for u in article.video_urls if local or not u.startswith("file:")]


def ingest(source: str, ctx: Context, content: str | None = None) -> IngestReport:
    """Ingest one article and every video it links.

    Raises :class:`FetchError` when the article itself cannot be read; a failing video is
    recorded and reported without stopping the others.
    """
    article = read_article(source, ctx.article_limits, content)
    register_article(article, ctx)
    tidy_index(ctx.index)  # an article's commit adds a segment too
    outcomes = process_videos(video_urls_to_process(article), ctx)
    return IngestReport(article, tuple(outcomes))


def run_ingest_job(job_id: str, source: str, ctx: Context, jobs: JobStore,
                   content: str | None = None) -> IngestReport | None:
    """Run a whole ingest job inline, recording its progress in the job store.

    Returns None when the article could not be read (the job is then failed with the reason).
    """
    try:
        article = read_article(source, ctx.article_limits, content)
        register_article(article, ctx)
    except BriefingError as exc:
        jobs.set_job_state(job_id, JOB_FAILED, str(exc))
        return None
    tidy_index(ctx.index)  # an article's commit adds a segment too
    urls = video_urls_to_process(article)
    jobs.set_article(job_id, article.id, article.title, urls)
    job_ctx = replace(ctx, progress=JobProgress(jobs, job_id))
    outcomes = process_videos(urls, job_ctx)
    return IngestReport(article, tuple(outcomes))


def _fill_from_records(data: DataDir, fresh: SearchIndex) -> tuple[int, int]:
    articles = videos = 0
    for article in data.articles():
        fresh.add_article(article)
        articles += 1
    for transcript in data.transcripts():
        fresh.add_transcript(transcript, data.video_url(transcript.video_id),
                             data.article_refs_for_video(transcript.video_id))
        videos += 1
    return articles, videos


def reindex(ctx: Context) -> tuple[int, int]:
    """Rebuild the index from stored articles and transcripts; returns (articles, videos)."""
    counts: list[tuple[int, int]] = []
    with ctx.data.lock("reindex"):
        rebuild_index(ctx.data.index_root,
                      lambda fresh: counts.append(_fill_from_records(ctx.data, fresh)))
    return counts[0]


def open_index(data: DataDir) -> SearchIndex:
    """Open the data dir's index, rebuilding it from the stored records if it is damaged.

    The rebuild fills a new generation and swaps it in atomically, so other readers see the
    old (broken, hence refused) index or the new one, never a half-built one.
    """
    try:
        return SearchIndex(data.index_root)
    except BrokenIndexError as exc:
        log.warning("rebuilding the search index: %s", exc)

    with data.lock("reindex"):
        try:  # another process may have rebuilt it while we waited for the lock
            return SearchIndex(data.index_root)
        except BrokenIndexError:
            rebuild_index(data.index_root, lambda fresh: _fill_from_records(data, fresh))
    return SearchIndex(data.index_root)


def file_video_id(path: Path) -> str:
    """The video id of a local file (the same as if it had been downloaded)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1024 * 1024), b""):
            digest.update(chunk)
    return video_id_for(digest.hexdigest())


def transcribe_source(
    source: str,
    *,
    tmp_dir: Path,
    limits: FetchLimits,
    models: ModelProvider,
    options: TranscribeOptions,
    ffmpeg_timeout: float,
    progress: Progress,
) -> Transcript:
    """Transcribe one local file or URL without touching the data dir's records or the index."""
    downloaded: Path | None = None
    if not is_url(source):
        media = Path(source).expanduser()
        if not media.is_file():
            raise FetchError(f"no such file: {source}")
        video_id = file_video_id(media)
    else:
        got = download(source, tmp_dir, limits,
                       lambda done, total: progress.downloaded(source, done, total))
        downloaded = media = got.path
        video_id = video_id_for(got.sha256)
    try:
        # Decoded to a file and transcribed in windows: memory stays flat with length.
        with decoded_audio(media, tmp_dir, timeout=ffmpeg_timeout) as audio:
            if downloaded is not None:
                downloaded.unlink(missing_ok=True)
            progress.state(source, TRANSCRIBING)
            return transcribe_windows(audio.windows(), audio.duration, models.get(), video_id,
                                      options,
                                      lambda fraction: progress.transcribed(source, fraction))
    finally:
        if downloaded is not None:
            downloaded.unlink(missing_ok=True)
