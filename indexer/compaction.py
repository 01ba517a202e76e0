"""Compaction: which segments to merge next, merging them aside, swapping the result in.

Whoosh merges by re-adding every posting in Python, so a merge inside a commit (its default
policy, MERGE_SMALL) stalls that commit, and every writer waiting for the lock, for seconds.
Our commits never merge: each adds one small segment, and compaction folds segments together
aside, holding the write lock only to swap the merged segment in.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from whoosh import index as windex
from whoosh.writing import IndexWriter

from indexer.errors import SearchIndexError
from indexer.generations import _reading_toc

# Segments are tiered by size (MERGE_TIER_DOCS, then MERGE_FAN times more per tier).
MERGE_TIER_DOCS = 250
MERGE_FAN = 8
# Segments past which a commit runs the merges itself (compact() keeps an index of 100,000
# documents at about 8; a writer that never calls it reaches this).
MERGE_BACKSTOP = 4 * MERGE_FAN
# The side directory, inside the generation, where a merge writes its segment.
MERGE_DIR_PREFIX = "merging-"
# Rounds of purge() before it gives up on an index whose segments keep changing.
PURGE_TRIES = 5
# Memory for the writer's posting pool before it spills sorted runs to disk (Whoosh: 128).
BULK_LIMIT_MB = 256


def merge_plan(segments: Sequence[Any]) -> list[Any]:
    """The segments to fold into one next, or [] when the index is tidy enough.

    Tiers by size, each MERGE_FAN times the last (a video's commit is tier 0): once MERGE_FAN
    segments share a tier, they are merged into one of the next tier.  An index of N documents
    thus keeps at most about MERGE_FAN segments per tier (a few dozen at 100,000), and each
    document is copied about log(N) / log(MERGE_FAN) times in its life.
    """
    tiers: dict[int, list[Any]] = {}
    for seg in segments:
        live = max(1, seg.doc_count())
        tier = 0
        while live > MERGE_TIER_DOCS * MERGE_FAN ** tier:
            tier += 1
        tiers.setdefault(tier, []).append(seg)
    for tier in sorted(tiers):
        if len(tiers[tier]) >= MERGE_FAN:
            return sorted(tiers[tier], key=lambda seg: seg.doc_count())[:MERGE_FAN]
    # Segments that lost most of their documents to re-indexing are worth rewriting alone.
    sparse = [seg for seg in segments if seg.doc_count_all() >= MERGE_TIER_DOCS
              and seg.deleted_count() > seg.doc_count_all() // 2]
    return sparse[:1]


class _StaleMerge(Exception):
    """The segments merged aside changed (a video was re-indexed) before the swap."""


def merge_once(ix: Any, path: Path, open_writer: Callable[[], IndexWriter]) -> int:
    """Run the next merge of *merge_plan* on the Whoosh index *ix* (generation directory
    *path*); the number of documents moved.

    *open_writer* opens a writer on *ix* (it waits for the write lock, held only for the swap).
    Runs one merge at a time per index (0 when another process is merging); a merge whose
    segments changed meanwhile is dropped and left for the next call.
    """
    merge_lock = ix.storage.lock("MERGELOCK")
    if not merge_lock.acquire(blocking=False):
        return 0
    try:
        for stale in path.glob(MERGE_DIR_PREFIX + "*"):
            shutil.rmtree(stale, ignore_errors=True)  # left by a killed merge
        return _merge_aside(ix, path, open_writer)
    finally:
        merge_lock.release()


def purge(ix: Any, path: Path, open_writer: Callable[[], IndexWriter],
          terms: Sequence[tuple[str, str]]) -> int:
    """Rewrite every segment of *ix* that keeps a deleted document holding one of *terms*
    (``(field, text)``); the number of documents moved.

    Whoosh only marks a document deleted: its stored fields (a transcript's text, the
    titles of the articles linking it) stay in the segment file until a merge rewrites
    it.  A takedown must not leave them there.  Waits for a merge another process runs;
    raises :class:`SearchIndexError` when the segments keep changing under it.
    """
    def plan(segments: Sequence[Any]) -> list[Any]:
        return [seg for seg in segments if seg.deleted_count() and _holds(ix, seg, terms)]

    merge_lock = ix.storage.lock("MERGELOCK")
    merge_lock.acquire(blocking=True)
    try:
        for stale in path.glob(MERGE_DIR_PREFIX + "*"):
            shutil.rmtree(stale, ignore_errors=True)
        moved = 0
        for _ in range(PURGE_TRIES):
            if not plan(_reading_toc(ix._segments)):
                return moved
            moved += _merge_aside(ix, path, open_writer, plan)
    finally:
        merge_lock.release()
    raise SearchIndexError("the index kept changing while deleted documents were purged")


def _holds(ix: Any, segment: Any, terms: Sequence[tuple[str, str]]) -> bool:
    from whoosh.reading import SegmentReader

    # A segment's term list keeps the terms of its deleted documents.
    reader = SegmentReader(ix.storage, ix.schema, segment)
    try:
        return any(term in reader for term in terms)
    finally:
        reader.close()


def _merge_aside(ix: Any, path: Path, open_writer: Callable[[], IndexWriter],
                 plan: Callable[[Sequence[Any]], list[Any]] = merge_plan) -> int:
    from whoosh.reading import SegmentReader

    chosen = plan(_reading_toc(ix._segments))
    if not chosen:
        return 0
    before = {seg.segid: seg.deleted_count() for seg in chosen}
    side = Path(tempfile.mkdtemp(prefix=MERGE_DIR_PREFIX, dir=path))
    try:
        side_ix = windex.create_in(str(side), ix.schema, indexname=ix.indexname)
        writer = side_ix.writer(limitmb=BULK_LIMIT_MB)
        try:
            for seg in chosen:
                reader = SegmentReader(ix.storage, ix.schema, seg)
                try:
                    writer.add_reader(reader)  # live documents only
                finally:
                    reader.close()
            writer.commit(merge=False)
        except BaseException:
            writer.cancel()
            raise
        merged: list[Any] = list(side_ix._segments())
        moved = int(sum(seg.doc_count() for seg in merged))
        side_ix.close()

        def swap(_writer: IndexWriter, segments: list[Any]) -> list[Any]:
            current = {seg.segid: seg for seg in segments}
            if any(segid not in current or current[segid].deleted_count() != deleted
                   for segid, deleted in before.items()):
                raise _StaleMerge
            prefix = f"{ix.indexname}_"
            for seg in merged:
                for file in side.glob(f"{prefix}{seg.segid}*"):
                    os.replace(file, path / file.name)
            return [seg for seg in segments if seg.segid not in before] + merged

        main = open_writer()
        try:
            main.commit(mergetype=swap)
        except _StaleMerge:
            main.cancel()
            return 0
        except BaseException:
            with contextlib.suppress(Exception):
                main.cancel()
            raise
        return moved
    finally:
        shutil.rmtree(side, ignore_errors=True)
