"""The search index on PostgreSQL: :class:`PgSearchIndex`, the same surface as
:class:`indexer.index.SearchIndex` over the tables of migration 0004.

Every document is analysed in Python as the Whoosh index analyses it
(:mod:`indexer.pgsearch.documents`) and searched with the same query language, clip bounds,
highlights and phonetic pass (:mod:`indexer.pgsearch.search`), so a caller cannot tell which
backend answered.  Many processes on many machines may write and search at once: each video is
written in one transaction, and readers see it whole or not at all.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool, PoolTimeout

from indexer.domain import Article, ArticleRef, SearchPage, SearchResult, Transcript
from indexer.errors import SearchIndexError
from indexer.pgsearch.documents import (
    MATCH_COLUMNS,
    SEGMENT_DOC_COLUMNS,
    article_rows,
    segment_rows,
)
from indexer.pgsearch.search import PhoneKeys, search_page
from indexer.pgsearch.stats import LexemeStats
from indexer.phonesearch import PhoneticTuning
from indexer.query import parse_query
from indexer.schema import PHONE_KEYS_FIELD

__all__ = ["PgSearchIndex"]

# Seconds a search or a write waits for a pooled connection before it fails (transiently).
WAIT_SECONDS = 30.0


class PgSearchIndex:
    """Writes and searches the index in the database at *database* (a PostgreSQL URL, or a
    psycopg ``ConnectionPool`` the caller owns), whose schema is at migration 0004.  An own
    pool holds up to *pool_size* connections; a caller waits *wait* seconds for one.

    Database errors become :class:`SearchIndexError` (transient: a runner retries the step).
    Searches in several threads at once each take a connection of the pool, and a batch's
    connection serves only the thread that opened it.
    """

    def __init__(self, database: str | ConnectionPool, *, pool_size: int = 4,
                 wait: float = WAIT_SECONDS) -> None:
        self._url = database if isinstance(database, str) else None
        self._given = database if isinstance(database, ConnectionPool) else None
        self._pool_size = pool_size
        self._wait = wait
        self._own: tuple[int, ConnectionPool] | None = None
        self._opening = threading.Lock()
        # The connection of the batch running in this thread (searches in other threads
        # take their own).
        self._local = threading.local()
        self._keys = PhoneKeys()
        self._stats = LexemeStats()

    # -- connections -----------------------------------------------------------------------

    def _pool(self) -> ConnectionPool:
        if self._given is not None:
            return self._given
        # A pool made before a fork holds the parent's sockets: the child makes its own.
        pid = os.getpid()
        with self._opening:  # two threads' first searches make one pool
            if self._own is None or self._own[0] != pid:
                assert self._url is not None
                pool = ConnectionPool(self._url, min_size=1, max_size=max(1, self._pool_size),
                                      open=False, timeout=self._wait,
                                      check=ConnectionPool.check_connection,
                                      kwargs={"autocommit": False, "connect_timeout": 10},
                                      name=f"briefing-search-{pid}")
                pool.open(wait=False)
                self._own = (pid, pool)
            return self._own[1]

    @property
    def _batch(self) -> psycopg.Connection[Any] | None:
        batch: psycopg.Connection[Any] | None = getattr(self._local, "batch", None)
        return batch

    @contextlib.contextmanager
    def _connection(self, what: str) -> Iterator[psycopg.Connection[Any]]:
        """The batch's connection, or a pooled one in a transaction of its own; a database
        error is a SearchIndexError saying *what* failed."""
        if self._batch is not None:
            yield self._batch
            return
        try:
            with self._pool().connection() as conn, conn.transaction():
                yield conn
        except PoolTimeout as exc:
            raise SearchIndexError(f"{what} failed: the database did not answer in time"
                                   ) from exc
        except psycopg.Error as exc:
            raise SearchIndexError(f"{what} failed: {exc}".strip()) from exc

    def close(self) -> None:
        """Close the pool this index opened (a pool it was given stays open)."""
        if self._own is not None and self._own[0] == os.getpid():
            self._own[1].close(timeout=5)
        self._own = None

    # -- writing ---------------------------------------------------------------------------

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Group many writes into one transaction (rolled back if the block raises)."""
        if self._batch is not None:
            yield
            return
        with self._connection("writing the search index") as conn:
            self._local.batch = conn
            try:
                yield
            finally:
                self._local.batch = None

    def add_article(self, article: Article) -> None:
        """Index (or re-index) an article's own text."""
        shown, matched = article_rows(article)
        columns = ", ".join(shown)
        values = ", ".join(f"%({c})s" for c in shown)
        updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in shown if c != "article_id")
        with self._connection("writing the search index") as conn:
            row = conn.execute(f"INSERT INTO search_docs ({columns}) VALUES ({values})"
                               f" ON CONFLICT (article_id) WHERE kind = 'article'"
                               f" DO UPDATE SET {updates} RETURNING id", shown).fetchone()
            assert row is not None
            matched = {"id": row[0], **matched}
            columns = ", ".join(matched)
            values = ", ".join(f"%({c})s" for c in matched)
            updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in matched if c != "id")
            conn.execute(f"INSERT INTO search_match ({columns}) VALUES ({values})"
                         f" ON CONFLICT (id) DO UPDATE SET {updates}", matched)

    def add_transcript(self, transcript: Transcript, video_url: str,
                       articles: Sequence[ArticleRef]) -> None:
        """Index every segment of a transcript, replacing what the video had before (one
        transaction: a search sees the old segments or the new ones)."""
        rows = list(segment_rows(transcript, video_url, articles))
        keys = sorted({k for row in rows for k in row.keys})
        with self._connection("writing the search index") as conn:
            # A rebuild in progress holds the table (see rebuild): wait for it before taking
            # the video's lock, which the rebuild takes too (never the other way round).
            conn.execute("LOCK TABLE search_docs IN ROW EXCLUSIVE MODE")
            # Two writers of one video (a redelivered task) take turns: the second deletes
            # what the first wrote instead of adding beside it.
            conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 12))",
                         (f"search:{transcript.video_id}",))
            _delete_segments(conn, transcript.video_id)
            if not rows:
                return
            # The ids of both rows of each segment, in one round trip.
            ids = [r[0] for r in conn.execute(
                "SELECT nextval(pg_get_serial_sequence('search_docs', 'id'))"
                " FROM generate_series(1, %s)", (len(rows),)).fetchall()]
            with conn.cursor() as cur:
                with cur.copy(f"COPY search_docs ({', '.join(SEGMENT_DOC_COLUMNS)})"
                              " FROM STDIN") as copy:
                    for doc_id, row in zip(ids, rows, strict=True):
                        copy.write_row((doc_id, *row.shown))
                with cur.copy(f"COPY search_match ({', '.join(MATCH_COLUMNS)})"
                              " FROM STDIN") as copy:
                    for doc_id, row in zip(ids, rows, strict=True):
                        copy.write_row((doc_id, *row.matched))
                if keys:
                    with cur.copy("COPY search_phones (key, id) FROM STDIN") as copy:
                        for doc_id, row in zip(ids, rows, strict=True):
                            for key in row.keys:
                                copy.write_row((key, doc_id))
            if keys:
                # Sorted, so two writers adding the same new keys never wait on each other
                # in opposite orders.
                conn.execute(
                    "INSERT INTO search_terms (field, term)"
                    " SELECT %(field)s, k FROM unnest(%(keys)s::text[]) k"
                    " WHERE NOT EXISTS (SELECT 1 FROM search_terms t"
                    "                   WHERE t.field = %(field)s AND t.term = k)"
                    " ORDER BY k ON CONFLICT DO NOTHING",
                    {"field": PHONE_KEYS_FIELD, "keys": keys})

    def remove_video(self, video_id: str) -> None:
        """Drop every segment document of a video."""
        with self._connection("writing the search index") as conn:
            _delete_segments(conn, video_id)

    def remove_article(self, article_id: str) -> None:
        """Drop an article's own document (the clips it links are re-indexed by the caller)."""
        with self._connection("writing the search index") as conn:
            conn.execute("WITH gone AS (DELETE FROM search_docs"
                         "  WHERE kind = 'article' AND article_id = %s RETURNING id)"
                         " DELETE FROM search_match WHERE id IN (SELECT id FROM gone)",
                         (article_id,))

    def compact(self) -> int:
        """Nothing to merge: PostgreSQL's autovacuum tidies the tables (0 documents moved)."""
        return 0

    def purge(self, video_ids: Sequence[str], article_ids: Sequence[str]) -> int:
        """Nothing to rewrite: a deleted row is gone from every search once its transaction
        commits (0 documents moved)."""
        if self._batch is not None:
            raise SearchIndexError("purge() runs after the batch's commit, not inside it")
        return 0

    def segment_count(self) -> int:
        """Parts a search visits: one table (Whoosh counts its segments here)."""
        return 1

    def rebuild(self, fill: Callable[[PgSearchIndex], object]) -> None:
        """Empty the index and fill it again with *fill*, in one transaction: searches see
        the old index until the new one is whole (``briefing reindex``)."""
        with self.batch():
            assert self._batch is not None
            # Writers wait until the new content is in (searches do not): a video written
            # meanwhile is written after it, not lost under it.
            self._batch.execute("LOCK TABLE search_docs, search_match, search_phones,"
                                " search_terms IN EXCLUSIVE MODE")
            for table in ("search_docs", "search_match", "search_phones", "search_terms"):
                self._batch.execute(f"DELETE FROM {table}")
            fill(self)
        self.after_bulk_load()

    def after_bulk_load(self) -> None:
        """Refresh the planner's statistics of the search tables after many writes at once
        (a transfer, a rebuild, a benchmark's fill). Until autovacuum gets to them, a
        planner that still thinks the tables small picks scans that cost a hundred times
        more: 150 ms instead of 8 for a common word at 100k segments, measured."""
        try:
            with self._pool().connection() as conn:
                conn.autocommit = True
                conn.execute("ANALYZE search_docs, search_match, search_phones, search_terms")
            self._stats.forget()
        except psycopg.Error as exc:
            raise SearchIndexError(f"updating the search tables' statistics failed: {exc}"
                                   ) from exc

    # -- reading ---------------------------------------------------------------------------

    def doc_count(self) -> int:
        """Number of live documents (articles plus segments)."""
        with self._connection("counting the search index") as conn:
            row = conn.execute("SELECT count(*) FROM search_match").fetchone()
        return int(row[0]) if row else 0

    def search(self, text: str, *, limit: int = 10, **filters: Any) -> list[SearchResult]:
        """Clips and articles matching *text*, ranked together, best first (see
        :meth:`indexer.index.SearchIndex.search`)."""
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
        """One page of results with the number of matching documents (the arguments of
        :meth:`indexer.index.SearchIndex.search_page`)."""
        parsed = parse_query(text)
        with self._connection("search") as conn, conn.cursor(row_factory=dict_row) as cur:
            return search_page(cur, self._keys, self._stats, parsed, limit=limit, offset=offset,
                               kind=kind, source=source, published_from=published_from,
                               published_to=published_to, language=language,
                               sound_alike=sound_alike, hidden_videos=hidden_videos,
                               hidden_articles=hidden_articles, hidden_links=hidden_links,
                               tuning=tuning)


def _delete_segments(conn: psycopg.Connection[Any], video_id: str) -> None:
    """Delete a video's segments: their rows and phone postings (by the keys each row
    lists, so the postings' primary key finds them)."""
    conn.execute(
        "WITH gone AS (DELETE FROM search_docs WHERE kind = 'segment' AND video_id = %s"
        "               RETURNING id),"
        " matched AS (DELETE FROM search_match WHERE id IN (SELECT id FROM gone)"
        "             RETURNING id, phone_keys)"
        " DELETE FROM search_phones p USING (SELECT id, unnest(phone_keys) AS key"
        "                                    FROM matched) m"
        " WHERE p.key = m.key AND p.id = m.id", (video_id,))
