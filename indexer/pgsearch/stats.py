"""What a search knows of the index before it asks: how common each word is, and whether the
phrase index is there.

A phrase's matches are found by the GIN index as the documents holding all its words, and
each one is then read from the table to check the words stand side by side.  When its words
are common (a phrase of a sentence said every day), that is thousands of rows read for a page
of ten, tens of milliseconds at a million segments.  The phrase index (``search_match_ordered``,
a RUM index from the ``rum`` extension, see :func:`worker.storage.pg.migrate.ensure_phrase_index`)
hands out the documents holding the words shortest first (in ``rank_order``, which it stores),
so a page reads as many rows as it keeps.  It costs more for a phrase of rare words or a query
whose other parts are rare, which the GIN index narrows at once; so it is asked only when the
planner's statistics say the query may match many rows (:meth:`LexemeStats.common_rows`).
PostgreSQL's own estimate cannot say it: it multiplies the words' shares as if they were
independent, and the words of a phrase are not (12,600 matches at 1M segments estimated as
176).
"""

from __future__ import annotations

import math
import threading
import time
from typing import Any

from psycopg import Cursor

from indexer.query import ParsedQuery

# The RUM index of migrate.ensure_phrase_index.
PHRASE_INDEX = "search_match_ordered"
# One row, whether the phrase index is usable (a build that was interrupted leaves it
# invalid), or none when there is no such index.
PHRASE_INDEX_VALID = (f"SELECT indisvalid FROM pg_index"
                      f" WHERE indexrelid = to_regclass('{PHRASE_INDEX}')")
# Seconds between two readings: an index added, or statistics refreshed by ANALYZE
# (autovacuum), are seen at most this late.
RELOAD_SECONDS = 300.0


class LexemeStats:
    """One process's reading of ``pg_stats`` for ``search_match.tsv`` (its most common
    lexemes and their shares), of the table's size, and of whether the phrase index is there.
    Searches in several threads may share it."""

    def __init__(self) -> None:
        self.phrase_index = False
        self._shares: dict[str, float] = {}
        self._rows = 0.0
        self._loaded = -math.inf
        self._lock = threading.Lock()

    def refresh(self, cur: Cursor[dict[str, Any]]) -> None:
        """Read the statistics again when the last reading is RELOAD_SECONDS old."""
        with self._lock:
            if time.monotonic() - self._loaded < RELOAD_SECONDS:
                return
            row = cur.execute(
                f"SELECT ({PHRASE_INDEX_VALID}) AS phrase_index,"
                " (SELECT reltuples FROM pg_class"
                "  WHERE oid = to_regclass('search_match')) AS rows,"
                " s.most_common_elems::text::text[] AS lexemes,"
                " s.most_common_elem_freqs AS shares"
                " FROM (SELECT) one LEFT JOIN pg_stats s ON s.schemaname = current_schema()"
                "  AND s.tablename = 'search_match' AND s.attname = 'tsv'").fetchone()
            assert row is not None
            self.phrase_index = bool(row["phrase_index"])
            self._rows = max(float(row["rows"] or 0.0), 0.0)  # -1: never analysed
            lexemes, shares = row["lexemes"] or [], row["shares"] or []
            self._shares = dict(zip(lexemes, shares, strict=False))
            self._loaded = time.monotonic()

    def forget(self) -> None:
        """Read the statistics again at the next search (they were just gathered)."""
        with self._lock:
            self._loaded = -math.inf

    def listed(self, term: str) -> bool:
        """Whether *term* is one of the common lexemes the statistics list (so in the
        index, but for every row of it deleted since they were gathered)."""
        return term in self._shares

    def common_rows(self, parsed: ParsedQuery) -> float:
        """How many rows *parsed* may match, as far as the statistics tell.  A document
        answering an option holds each of its words (the words of a phrase go together, so
        no fewer than the rarest one is counted), one answering a clause one of its options;
        the clauses, unlike a phrase's words, are taken as independent, as the planner takes
        them.  An option with a word the statistics do not list counts for none: such a word
        is in few rows at most, so the GIN index narrows the option to as few at once.
        0 without statistics."""
        share = 1.0
        for clause in parsed.clauses:
            share *= min(1.0, sum(min((self._shares.get(t, 0.0) for seq in option
                                       for t in seq), default=0.0)
                                  for option in clause.options))
        return share * self._rows
