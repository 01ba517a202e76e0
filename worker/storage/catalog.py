"""Browsing the data dir: the stored videos and articles, newest first, filtered, in pages.

Read from the records alone (no index), leaving out the items of takedowns in progress.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from indexer.domain import Article, ArticleRef
from worker.storage.datadir import SourceRecord, VideoMeta
from worker.storage.interfaces import Records, Runs
from worker.storage.runs import shown_state
from worker.storage.states import VideoState

__all__ = ["ArticleEntry", "ListFilters", "Page", "VideoEntry", "list_articles", "list_videos",
           "video_state"]

T = TypeVar("T")


@dataclass(frozen=True)
class ListFilters:
    """What a listing keeps: all set filters must hold (dates inclusive, ``YYYY-MM-DD``)."""

    source: str | None = None  # a linking article's source, any case
    published_from: str | None = None
    published_to: str | None = None
    state: str | None = None  # a video's state (done, failed, ...)
    language: str | None = None  # spoken language of a video's transcript


@dataclass(frozen=True)
class VideoEntry:
    """One stored video as a listing shows it."""

    video_id: str
    title: str  # of the earliest linking article; the file name when none links it
    source: str
    published: str
    stored: float  # when its bytes were first stored (Unix time)
    duration: float | None
    state: str
    error: str
    language: str
    model: str
    urls: tuple[str, ...]
    articles: tuple[ArticleRef, ...]


@dataclass(frozen=True)
class ArticleEntry:
    """One stored article as a listing shows it."""

    id: str
    url: str
    title: str
    source: str
    published: str
    stored: float
    video_ids: tuple[str, ...]
    languages: tuple[str, ...]  # of its videos' transcripts


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a listing and how many items the filters kept in all."""

    items: list[T]
    total: int
    offset: int
    limit: int


def video_state(runs: Runs, records: list[SourceRecord], has_transcript: bool,
                ) -> tuple[str, str]:
    """A video's state: done once any URL of it is done; otherwise the newest state of its
    URLs (and its error)."""
    if any(r.state is VideoState.DONE for r in records):
        return VideoState.DONE, ""
    if not records:
        return (VideoState.DONE if has_transcript else "unknown"), ""
    latest = max(records, key=lambda r: r.updated)
    return (shown_state(runs, latest.state, latest.runner),
            latest.error if latest.state is VideoState.FAILED else "")


def _stored_at(data: Records, meta: VideoMeta) -> float:
    if meta.fetched:
        return min(meta.fetched.values())
    return data.video_stored(meta.video_id)


def _dated(published: str, filters: ListFilters) -> bool:
    if filters.published_from and (not published or published < filters.published_from):
        return False
    return not (filters.published_to and (not published or published > filters.published_to))


def _all_videos(data: Records, runs: Runs) -> list[VideoEntry]:
    hidden = data.hidden()
    sources = list(data.sources())
    entries = []
    for video_id in data.video_ids():
        meta = data.video_meta(video_id) if video_id not in hidden.video_ids else None
        if meta is None:
            continue
        urls = set(meta.urls)
        records = [r for r in sources if r.video_id == video_id or r.url in urls]
        transcript = data.load_transcript(video_id)
        state, error = video_state(runs, records, transcript is not None)
        articles = [a for a in data.linking_articles(video_id) if a.id not in hidden.article_ids]
        first = articles[0] if articles else None
        name = meta.urls[0].rsplit("/", 1)[-1] if meta.urls else video_id
        entries.append(VideoEntry(
            video_id=video_id, title=first.title if first else name,
            source=first.source if first else "",
            published=max((a.published for a in articles), default=""),
            stored=_stored_at(data, meta),
            duration=transcript.duration if transcript else None, state=state, error=error,
            language=transcript.language if transcript else "",
            model=transcript.model if transcript else "", urls=meta.urls,
            articles=tuple(ArticleRef(a.url, a.title, a.source, a.published)
                           for a in articles)))
    return entries


def list_videos(data: Records, filters: ListFilters, *, runs: Runs, offset: int = 0,
                limit: int = 20) -> Page[VideoEntry]:
    """Stored videos, newest stored first; *runs* tells whose work is interrupted."""
    kept = []
    for entry in _all_videos(data, runs):
        sources = {a.source.casefold() for a in entry.articles}
        if filters.source and filters.source.casefold() not in sources:
            continue
        if (filters.published_from or filters.published_to) and not any(
                _dated(a.published, filters) for a in entry.articles):
            continue
        if filters.state and entry.state != filters.state:
            continue
        if filters.language and entry.language != filters.language.casefold():
            continue
        kept.append(entry)
    kept.sort(key=lambda e: (e.stored, e.video_id), reverse=True)
    return Page(kept[offset:offset + limit], len(kept), offset, limit)


def _article_entry(data: Records, article: Article, videos: dict[str, VideoEntry],
                   by_url: dict[str, str]) -> ArticleEntry:
    ids = tuple(dict.fromkeys(by_url[u] for u in article.video_urls
                              if by_url.get(u) in videos))
    return ArticleEntry(article.id, article.url, article.title, article.source,
                        article.published, data.article_stored(article.id), ids,
                        tuple(sorted({videos[v].language for v in ids if videos[v].language})))


def list_articles(data: Records, filters: ListFilters, *, runs: Runs, offset: int = 0,
                  limit: int = 20) -> Page[ArticleEntry]:
    """Stored articles, newest published first (then newest stored); *runs*: see
    :func:`list_videos`."""
    hidden = data.hidden()
    videos = {v.video_id: v for v in _all_videos(data, runs)}
    by_url = {r.url: r.video_id for r in data.sources() if r.video_id}
    kept = []
    for article in data.articles():
        if article.id in hidden.article_ids:
            continue
        if filters.source and filters.source.casefold() != article.source.casefold():
            continue
        if not _dated(article.published, filters):
            continue
        entry = _article_entry(data, article, videos, by_url)
        if filters.state and not any(videos[v].state == filters.state for v in entry.video_ids):
            continue
        if filters.language and filters.language.casefold() not in entry.languages:
            continue
        kept.append(entry)
    kept.sort(key=lambda e: (e.published, e.stored, e.id), reverse=True)
    return Page(kept[offset:offset + limit], len(kept), offset, limit)
