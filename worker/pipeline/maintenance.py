"""Keeping the derived index whole: opening it (rebuilt when damaged) and reindexing."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from indexer.backend import SearchBackend
from indexer.domain import Transcript
from indexer.errors import BriefingError, BrokenIndexError
from indexer.index import SearchIndex, rebuild_index
from worker.storage.datadir import index_root
from worker.storage.interfaces import Records

if TYPE_CHECKING:
    from indexer.pgsearch import PgSearchIndex

__all__ = ["open_index", "reindex", "reindex_into", "repair_pending"]

log = logging.getLogger(__name__)


def _add_transcript(data: Records, index: SearchBackend, transcript: Transcript) -> None:
    index.add_transcript(transcript, data.video_url(transcript.video_id),
                         data.article_refs_for_video(transcript.video_id))


def _fill_from_records(data: Records, fresh: SearchBackend) -> tuple[int, int]:
    articles = videos = 0
    for article in data.articles():
        fresh.add_article(article)
        articles += 1
    for transcript in data.transcripts():
        _add_transcript(data, fresh, transcript)
        videos += 1
    return articles, videos


def repair_pending(data: Records, index: SearchBackend) -> int:
    """Write again what a run began writing to the index and never committed (its commit
    failed for a full disk, or it was killed); returns how many items were repaired.

    A repair that fails again leaves its mark for the next run, and is logged, not raised:
    the run that found it has its own work to do.
    """
    repaired = 0
    for kind, item_id in data.pending():
        try:
            if kind == "article":
                article = data.load_article(item_id)
                if article is not None:
                    index.add_article(article)
            else:
                transcript = data.load_transcript(item_id)
                if transcript is not None:
                    _add_transcript(data, index, transcript)
        except (OSError, BriefingError) as exc:
            log.warning("could not repair the index entry of %s %s: %s", kind, item_id, exc)
            continue
        data.clear_pending(kind, item_id)
        repaired += 1
    if repaired:
        log.info("wrote %d index entries an earlier run left unfinished", repaired)
    return repaired


def reindex(data: Records, root: Path | None = None) -> tuple[int, int]:
    """Rebuild the index at *root* (by default the data dir's own) from stored articles and
    transcripts; returns (articles, videos)."""
    root = root or index_root(data.root)
    counts: list[tuple[int, int]] = []
    with data.lock("reindex"):
        rebuild_index(root,
                      lambda fresh: counts.append(_fill_from_records(data, fresh)))
    return counts[0]


def reindex_into(data: Records, index: PgSearchIndex) -> tuple[int, int]:
    """Rebuild a database search index from stored articles and transcripts in one
    transaction (searches see the old content until it commits); returns (articles,
    videos)."""
    counts: list[tuple[int, int]] = []
    with data.lock("reindex"):
        index.rebuild(lambda fresh: counts.append(_fill_from_records(data, fresh)))
    return counts[0]


def open_index(data: Records, root: Path | None = None) -> SearchIndex:
    """Open the index at *root* (by default the data dir's own), rebuilding it from the
    stored records if it is damaged.

    The rebuild fills a new generation and swaps it in atomically, so other readers see the
    old (broken, hence refused) index or the new one, never a half-built one.
    """
    root = root or index_root(data.root)
    try:
        return SearchIndex(root)
    except BrokenIndexError as exc:
        log.warning("rebuilding the search index: %s", exc)

    with data.lock("reindex"):
        try:  # another process may have rebuilt it while we waited for the lock
            return SearchIndex(root)
        except BrokenIndexError:
            rebuild_index(root, lambda fresh: _fill_from_records(data, fresh))
    return SearchIndex(root)
