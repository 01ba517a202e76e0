"""Matching a newly indexed video or article against every watch, and recording the hits.

The index step calls these once per item it writes (first ingest, re-ingest, re-index and
re-transcription alike); the store's keys make a repeat record nothing new, and an item that
no longer says a watch's words retracts its hits there.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace

from indexer.domain import Article, ArticleHit, ArticleRef, Clip, SearchResult, Transcript
from indexer.errors import QueryError
from indexer.percolate import Percolator
from worker.storage.watch_interface import WatchStoreLike
from worker.watching.domain import HitKind, Match, Recorded, Watch

__all__ = ["evaluate_article", "evaluate_video", "match_of"]

log = logging.getLogger("briefing.watches")


def match_of(result: SearchResult) -> Match:
    """A search result as a match to record."""
    if isinstance(result, Clip):
        first = result.articles[0] if result.articles else None
        return Match(kind=HitKind.CLIP, video_id=result.video_id, start=result.start,
                     end=result.end, url=result.video_url, title=first.title if first else "",
                     text=result.text, highlight=result.highlight, match=result.match,
                     articles=tuple((a.url, a.title) for a in result.articles))
    assert isinstance(result, ArticleHit)
    return Match(kind=HitKind.ARTICLE, article_id=result.article_id, url=result.url,
                 title=result.title, highlight=result.highlight)


def _evaluate(store: WatchStoreLike, item: str, percolator: Percolator,
              watches: Sequence[Watch], *, article: bool) -> Recorded:
    found: list[tuple[Watch, list[Match]]] = []
    try:
        for watch in watches:
            if article and watch.clips_only:
                continue
            try:
                results = percolator.match(watch.query, clips_only=watch.clips_only,
                                           source=watch.source, language=watch.language)
            except QueryError as exc:  # checked when saved; a later parser may differ
                log.warning("watch %s: its query cannot be read any more: %s", watch.name, exc)
                continue
            found.append((watch, [match_of(r) for r in results]))
    finally:
        percolator.close()
    recorded = store.record(item, found)
    for hit in recorded.new:
        log.info("watch %s: new hit in %s at %.1f s", hit.watch_id, item, hit.start)
    # Every pending webhook of the item, not only the new ones: a repeat of the step (the
    # queue retrying it after the broker went away) hands on what the first could not.
    return replace(recorded, deliveries=store.pending_for(item))


def evaluate_video(store: WatchStoreLike, transcript: Transcript, video_url: str,
                   articles: Sequence[ArticleRef]) -> Recorded:
    """Match a video, as the index now holds it, against every watch; record the hits."""
    watches = store.watches()
    if not watches:
        return Recorded()
    return _evaluate(store, f"v:{transcript.video_id}",
                     Percolator.for_video(transcript, video_url, articles), watches,
                     article=False)


def evaluate_article(store: WatchStoreLike, article: Article) -> Recorded:
    """Match an article's own text against every watch that takes articles; record hits."""
    watches = store.watches()
    if not any(not w.clips_only for w in watches):
        return Recorded()
    return _evaluate(store, f"a:{article.id}", Percolator.for_article(article), watches,
                     article=True)
