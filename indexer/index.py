"""The search index: one Whoosh index of article and transcript-segment documents.

:class:`SearchIndex` opens the live generation (:mod:`indexer.generations`), writes to it,
compacts it (:mod:`indexer.compaction`) and searches it (:mod:`indexer.search`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from whoosh import index as windex
from whoosh.index import LockError
from whoosh.searching import Searcher
from whoosh.writing import IndexWriter

from indexer.compaction import (
    BULK_LIMIT_MB,
    MERGE_BACKSTOP,
    MERGE_DIR_PREFIX,
    MERGE_FAN,
    MERGE_TIER_DOCS,
    merge_once,
    merge_plan,
    purge,
)
from indexer.domain import Article, ArticleRef, SearchPage, SearchResult, Transcript
from indexer.errors import BrokenIndexError, SearchIndexError
from indexer.generations import (
    TOC_RETRIES,
    _new_generation,
    _read_current,
    _reading_toc,
    _swap_in_generation,
    _write_current,
)
from indexer.phonesearch import PhoneticTuning, segment_phone_fields
from indexer.phonetic import sounds_text
from indexer.query import parse_query
from indexer.schema import (
    KIND_ARTICLE,
    KIND_SEGMENT,
    PHONE_KEYS_FIELD,
    SOUNDS_FIELD,
    _keyword,
)
from indexer.search import DOCSET_CACHE, SearcherCache, search_page

# Names that moved to the concept modules stay importable from here, where callers found them.
__all__ = [
    "BULK_LIMIT_MB",
    "DOCSET_CACHE",
    "MERGE_BACKSTOP",
    "MERGE_DIR_PREFIX",
    "MERGE_FAN",
    "MERGE_TIER_DOCS",
    "TOC_RETRIES",
    "WRITE_LOCK_TIMEOUT",
    "SearchIndex",
    "article_document",
    "merge_plan",
    "rebuild_index",
    "segment_doc_id",
    "segment_documents",
]

WRITE_LOCK_TIMEOUT = 120.0


def _abandon(writer: IndexWriter) -> None:
    """Cancel a writer whose work failed, and release its write lock whatever happens.

    Whoosh's ``cancel`` flushes the segment files before it releases the lock; on a full
    disk that flush fails again and the lock would stay held by this process, so every
    later write here (the retry included) would wait out the lock timeout.
    """
    try:
        writer.cancel()
    except Exception:
        lock = getattr(writer, "writelock", None)
        if lock is not None:
            with contextlib.suppress(Exception):
                lock.release()
        with contextlib.suppress(Exception):
            writer._tempstorage.destroy()
        writer.is_closed = True


def segment_doc_id(video_id: str, segment_id: int) -> str:
    """The unique id of one transcript segment's document."""
    return f"s:{video_id}:{segment_id}"


def article_document(article: Article) -> dict[str, Any]:
    """The fields of an article's own document (the index and the percolator write it)."""
    return {
        "id": f"a:{article.id}",
        "kind": KIND_ARTICLE,
        "article_id": article.id,
        "title": article.title,
        "text": article.text,
        "source": _keyword(article.source),
        "published": article.published,
        "url": article.url,
    }


def segment_documents(transcript: Transcript, video_url: str,
                      articles: Sequence[ArticleRef], *, phonetic: bool = True,
                      spelled: bool = False) -> Iterator[dict[str, Any]]:
    """The fields of each segment document of a transcript (the index and the percolator
    write them, so a watch sees a video exactly as a search does).

    *phonetic* adds the phone index's fields, *spelled* the spelling keys of an index made
    before it (:func:`indexer.schema.build_schema`).
    """
    links = [[a.url, a.title] for a in articles]
    sources = ",".join(sorted({_keyword(a.source) for a in articles if a.source}))
    dates = ",".join(sorted({a.published for a in articles if a.published}))
    for seg in transcript.segments:
        extra: dict[str, Any] = segment_phone_fields(seg.words) if phonetic else {}
        if spelled:
            extra[SOUNDS_FIELD] = sounds_text(seg.words, seg.text)
        yield {
            **extra,
            "id": segment_doc_id(transcript.video_id, seg.id),
            "kind": KIND_SEGMENT,
            "video_id": transcript.video_id,
            "text": seg.text,
            "language": transcript.language,
            "url": video_url,
            "start": round(seg.start, 2),
            "end": round(seg.end, 2),
            "words": [[w.word, round(w.start, 2), round(w.end, 2)] for w in seg.words],
            "articles": links,
            "source": sources,
            "published": dates,
        }


class SearchIndex:
    """Writes and searches the index under *root* (created on first use)."""

    def __init__(self, root: Path, *, _generation: Path | None = None) -> None:
        self.root = root
        self._pinned = _generation
        self._batch: IndexWriter | None = None
        self._searcher: Searcher | None = None
        self._cache = SearcherCache()
        self._opened_gen: str | None = None
        self._ix = self._open()

    # -- opening ---------------------------------------------------------------------------

    def _generation_path(self) -> Path:
        if self._pinned is not None:
            return self._pinned
        self.root.mkdir(parents=True, exist_ok=True)
        name = _read_current(self.root)
        if name is None or not (self.root / name).is_dir():
            path = _new_generation(self.root)
            _write_current(self.root, path.name)
            return path
        return self.root / name

    def _open(self) -> Any:
        path = self._generation_path()
        try:
            ix = windex.open_dir(str(path))
            # Opening a reader opens every segment's files: a missing or truncated one
            # shows up here rather than in the middle of a search.
            with ix.reader() as reader:
                reader.doc_count()
        except Exception as exc:  # Whoosh raises many types for a damaged directory
            raise BrokenIndexError(
                f"the search index at {path} cannot be opened ({exc}); run `briefing reindex`"
            ) from exc
        self._opened_gen = path.name
        return ix

    def _fresh(self) -> None:
        """Reopen when a rebuild swapped generations since we opened."""
        if self._pinned is None and _read_current(self.root) != self._opened_gen:
            self.close()
            self._ix = self._open()

    def close(self) -> None:
        """Release the searcher and the index files."""
        if self._searcher is not None:
            self._searcher.close()
            self._searcher = None
        self._ix.close()

    # -- writing ---------------------------------------------------------------------------

    def _writer(self) -> IndexWriter:
        # A rebuild (pinned to its fresh generation) writes everything in one writer: more
        # pool memory means fewer sorted runs spilled to disk and merged back.
        limitmb = BULK_LIMIT_MB if self._pinned is not None else 128
        try:
            return self._ix.writer(timeout=WRITE_LOCK_TIMEOUT, delay=0.05, limitmb=limitmb)
        except LockError as exc:
            raise SearchIndexError(
                f"the search index is locked by another writer for over {WRITE_LOCK_TIMEOUT:.0f} s"
            ) from exc

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Group many adds into one commit (cancelled if the block raises)."""
        if self._batch is not None:
            yield
            return
        self._fresh()
        writer = self._writer()
        self._batch = writer
        try:
            yield
        except BaseException:
            _abandon(writer)
            raise
        else:
            # A rebuild's generation starts empty and gets one segment; a live index gets a
            # new small segment per commit, merged later by compact().
            try:
                writer.commit(merge=False)
            except BaseException:
                # Release the write lock (a long-lived worker would otherwise hold it until
                # it exits); the commit's own error is the one to report.
                _abandon(writer)
                raise
        finally:
            self._batch = None

    def _write(self, fill: Callable[[IndexWriter], None]) -> None:
        if self._batch is not None:
            fill(self._batch)
            return
        with self.batch():
            assert self._batch is not None
            fill(self._batch)
        if len(_reading_toc(self._ix._segments)) > MERGE_BACKSTOP:
            # A writer that never calls compact() would slow every search down commit by
            # commit; past the backstop its own commits pay for the merges.
            while self.compact():
                pass

    def add_article(self, article: Article) -> None:
        """Index (or re-index) an article's own text."""

        self._write(lambda writer: writer.update_document(**article_document(article)))

    def add_transcript(
        self, transcript: Transcript, video_url: str, articles: Sequence[ArticleRef]
    ) -> None:
        """Index every segment of a transcript, replacing what the video had before."""
        def fill(writer: IndexWriter) -> None:
            writer.delete_by_term("video_id", transcript.video_id)
            phonetic = PHONE_KEYS_FIELD in writer.schema
            spelled = SOUNDS_FIELD in writer.schema
            for doc in segment_documents(transcript, video_url, articles,
                                         phonetic=phonetic, spelled=spelled):
                writer.add_document(**doc)

        self._write(fill)

    def compact(self) -> int:
        """Merge small segments aside, then swap the result in; the number of documents moved.

        Call it after a commit, outside any lock of your own: it holds the index's write lock
        only for the swap (milliseconds), so other writers' commits never wait for a merge.
        Runs one merge at a time per index (0 when another process is merging); a merge whose
        segments changed meanwhile is dropped and left for the next call.
        """
        if self._batch is not None:
            return 0  # the batch's own commit comes first
        self._fresh()
        return merge_once(self._ix, self._generation_path(), self._writer)

    def purge(self, video_ids: Sequence[str], article_ids: Sequence[str]) -> int:
        """Rewrite the segments still holding deleted documents of these videos and articles
        (:func:`indexer.compaction.purge`); the number of documents moved.

        Call it after their documents were deleted, outside any lock of your own, like
        :meth:`compact`; unlike it, it waits for a merge in progress.
        """
        if self._batch is not None:
            raise SearchIndexError("purge() runs after the batch's commit, not inside it")
        self._fresh()
        terms = [("video_id", v) for v in video_ids] + [("id", f"a:{a}") for a in article_ids]
        return purge(self._ix, self._generation_path(), self._writer, terms)

    def after_bulk_load(self) -> None:
        """Nothing to do: Whoosh keeps no planner statistics (see the PostgreSQL index)."""

    def segment_count(self) -> int:
        """Number of Whoosh segments in the live generation (each search visits them all)."""
        self._fresh()
        return len(self._ix._segments())

    def remove_video(self, video_id: str) -> None:
        """Drop every segment document of a video."""
        self._write(lambda writer: writer.delete_by_term("video_id", video_id))

    def remove_article(self, article_id: str) -> None:
        """Drop an article's own document (the clips it links are re-indexed by the caller)."""
        self._write(lambda writer: writer.delete_by_term("id", f"a:{article_id}"))

    # -- reading ---------------------------------------------------------------------------

    def _get_searcher(self) -> Searcher:
        self._fresh()
        previous = self._searcher
        if previous is None:
            self._searcher = _reading_toc(self._ix.searcher)
        else:
            self._searcher = _reading_toc(previous.refresh)
        if self._searcher is not previous:
            self._cache = SearcherCache()  # document numbers change with the segments
        return self._searcher

    def doc_count(self) -> int:
        """Number of live documents (articles plus segments)."""
        return int(self._get_searcher().doc_count())

    def search(self, text: str, *, limit: int = 10, **filters: Any) -> list[SearchResult]:
        """Clips and articles matching *text*, ranked together, best first.

        Takes the filters of :meth:`search_page`.  Raises
        :class:`~indexer.errors.QueryError` for a query that cannot be understood.
        """
        return self.search_page(text, limit=limit, **filters).results

    def search_page(
        self,
        text: str,
        *,
        limit: int = 10,
        offset: int = 0,
        kind: str | None = None,
        source: str | None = None,
        published_from: str | None = None,
        published_to: str | None = None,
        language: str | None = None,
        sound_alike: bool = True,
        hidden_videos: frozenset[str] = frozenset(),
        hidden_articles: frozenset[str] = frozenset(),
        hidden_links: frozenset[str] = frozenset(),
        tuning: PhoneticTuning | None = None,
    ) -> SearchPage:
        """One page of results with the number of matching documents.

        *kind* is "clip" or "article"; *source* matches a linking article's source (any
        case); dates are ISO ``YYYY-MM-DD`` and inclusive; *language* applies to clips.
        With *sound_alike*, transcript segments where a name is only said alike ("Karkiv"
        for "Kharkiv") follow the exact matches, their clips marked "phonetic" or "fuzzy".
        Documents of *hidden_videos* and *hidden_articles* (being taken down) are never
        returned nor counted, and a clip never names an article whose URL is in
        *hidden_links* among those linking it.
        """
        parsed = parse_query(text)
        searcher = self._get_searcher()
        return search_page(searcher, self._cache, parsed, limit=limit, offset=offset,
                           kind=kind, source=source, published_from=published_from,
                           published_to=published_to, language=language,
                           sound_alike=sound_alike, hidden_videos=hidden_videos,
                           hidden_articles=hidden_articles, hidden_links=hidden_links,
                           tuning=tuning)


def rebuild_index(root: Path, fill: Callable[[SearchIndex], object]) -> None:
    """Build a new generation with *fill*, then make it the live one atomically."""

    def build(path: Path) -> None:
        fresh = SearchIndex(root, _generation=path)
        try:
            with fresh.batch():
                fill(fresh)
        finally:
            fresh.close()

    _swap_in_generation(root, build)
