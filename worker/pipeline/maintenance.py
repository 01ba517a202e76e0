"""Keeping the derived index whole: opening it (rebuilt when damaged) and reindexing."""

from __future__ import annotations

import logging

from indexer.errors import BrokenIndexError
from indexer.index import SearchIndex, rebuild_index
from worker.storage.datadir import DataDir

__all__ = ["open_index", "reindex"]

log = logging.getLogger(__name__)


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


def reindex(data: DataDir) -> tuple[int, int]:
    """Rebuild the index from stored articles and transcripts; returns (articles, videos)."""
    counts: list[tuple[int, int]] = []
    with data.lock("reindex"):
        rebuild_index(data.index_root,
                      lambda fresh: counts.append(_fill_from_records(data, fresh)))
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
