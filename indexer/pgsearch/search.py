"""Searching the PostgreSQL index: the exact pass in SQL, the phonetic pass in Python.

The steps are those of :func:`indexer.search.search_page`, and the parts that make results
(clips, highlights, scores of sound-alikes, merging) are its own functions, fed rows shaped
as Whoosh's stored fields: only where documents come from differs.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from typing import Any

import psycopg
from psycopg import Cursor

from indexer.clips import merge_overlapping
from indexer.domain import Clip, SearchPage, SearchResult
from indexer.pgsearch.documents import STORED_COLUMNS, stored_fields
from indexer.pgsearch.stats import LexemeStats
from indexer.pgsearch.tsquery import filter_sql, term_query, to_tsquery
from indexer.phonesearch import (
    MAX_CANDIDATES,
    Heard,
    PhoneticMatch,
    PhoneticTuning,
    alike_keys,
    match_segments,
    query_targets,
)
from indexer.query import ParsedQuery, expand
from indexer.schema import KIND_SEGMENT, PHONE_KEYS_FIELD, PHONES_FIELD
from indexer.search import _phonetic_clip, _results

log = logging.getLogger(__name__)

# ts_rank's weights (at most 1) for lexemes of weight D, C, B and A: a segment's or an
# article's text, and an article's title (boosted as Whoosh boosts its title field).  Its
# normalisation 1 divides by one plus the log of the document's length (BM25 favours short
# documents too), and the scale brings scores near Whoosh's, which results keep to three
# decimals.
RANK = "ts_rank('{0.6667, 0.0, 0.0, 1.0}', tsv, q, 1) * 10"
# Matches a query scores at most: beyond, the first this many in ``rank_order`` (the
# shortest documents, those a word ranks highest in) are scored, not all (a common word is in
# a quarter of all segments).  Below it, every match is scored, and the ranking is exact.
CANDIDATES = 400
# Matches counted at most (then the page's total is "at least", SearchPage.total_exact):
# counting them all reads every matching row, a quarter of the table for a common word.
COUNT_UP_TO = 1000
# A query with a phrase that may match this many rows or more (LexemeStats.common_rows) takes its
# candidates from the phrase index when there is one (indexer.pgsearch.stats).
ORDERED_FROM = 2000
# How many phone keys' segments each query reads, one query after the other until there
# are candidates enough (the keys come most alike first).
KEY_BATCHES = (4, 12, 48, 10_000)
# Phone keys added by a transaction that committed after a later one are read on the next
# full reload, at most this many seconds later.
KEYS_RELOAD_SECONDS = 300.0


@dataclasses.dataclass
class _Hit:
    """A row in the shape :func:`indexer.search._results` reads from a Whoosh hit."""

    docnum: int
    score: float
    doc: dict[str, Any]

    def fields(self) -> dict[str, Any]:
        return self.doc


class PhoneKeys:
    """The phone keys' vocabulary (table ``search_terms``) of one process, by first letter:
    read whole once, then only what was added since.

    Searches in several threads may share it: a block that grows is replaced, never changed
    in place, so a search keeps reading the list it was given.
    """

    def __init__(self) -> None:
        self._blocks: dict[str, list[str]] = {}
        self._last = 0
        self._loaded = 0.0
        self._lock = threading.Lock()

    def refresh(self, cur: Cursor[dict[str, Any]]) -> None:
        """Read the keys added since the last call (all of them, now and then)."""
        with self._lock:
            if time.monotonic() - self._loaded > KEYS_RELOAD_SECONDS:
                self._blocks, self._last = {}, 0
                self._loaded = time.monotonic()
            # By id alone, so the id index answers (nothing new, most of the time).
            rows = cur.execute("SELECT id, field, term FROM search_terms WHERE id > %s",
                               (self._last,)).fetchall()
            added: dict[str, set[str]] = {}
            for row in rows:
                self._last = max(self._last, row["id"])
                if row["field"] == PHONE_KEYS_FIELD:
                    added.setdefault(row["term"][:1], set()).add(row["term"])
            for first, terms in added.items():
                self._blocks[first] = sorted(terms.union(self._blocks.get(first, ())))

    def starting(self, field: str, prefix: str) -> list[str]:
        """Keys (*field* is the phone keys') starting with the one letter *prefix*, sorted:
        what :func:`indexer.phonesearch.alike_keys` reads of a vocabulary."""
        return self._blocks.get(prefix, []) if field == PHONE_KEYS_FIELD else []


def _expanded(cur: Cursor[dict[str, Any]], stats: LexemeStats,
              parsed: ParsedQuery) -> ParsedQuery:
    """*parsed* with the compound spellings the index holds (:func:`indexer.query.expand`),
    asking the database about all the terms of a round at once."""
    known: dict[str, bool] = {}
    missing: set[str] = set()

    def has_term(term: str) -> bool:
        if term in known:
            return known[term]
        if stats.listed(term):
            return True
        missing.add(term)
        return True  # for now: asks what it would ask next, answered next round

    while True:
        missing.clear()
        result = expand(parsed, has_term)
        if not missing:
            return result
        terms = sorted(missing)
        # The words the statistics list as common are known to be there; the others are in
        # few rows at most, which the GIN index finds at once, and none of which a scan of
        # the table may meet for long (an absent word: all of it, 300 ms at 1M).
        asks = " UNION ALL ".join(
            f"SELECT {n} AS n WHERE EXISTS (SELECT 1 FROM search_match"
            f" WHERE tsv @@@ CAST(%s AS tsquery))" for n in range(len(terms)))
        cur.execute("SET LOCAL enable_seqscan = off")
        rows = [{"t": terms[r["n"]]} for r in cur.execute(
            asks, [term_query(t) for t in terms], prepare=False).fetchall()]
        cur.execute("SET LOCAL enable_seqscan TO DEFAULT")
        present = {r["t"] for r in rows}
        known.update((t, t in present) for t in terms)


def search_page(
    cur: Cursor[dict[str, Any]],
    keys: PhoneKeys,
    stats: LexemeStats,
    parsed: ParsedQuery,
    *,
    limit: int,
    offset: int,
    kind: str | None,
    source: str | None,
    published_from: str | None,
    published_to: str | None,
    language: str | None,
    sound_alike: bool,
    hidden_videos: frozenset[str] = frozenset(),
    hidden_articles: frozenset[str] = frozenset(),
    hidden_links: frozenset[str] = frozenset(),
    tuning: PhoneticTuning | None = None,
) -> SearchPage:
    """One page of results for *parsed* (see :func:`indexer.search.search_page`).

    The spelling-based sound keys of indexes made before the phone index have no place here
    (every PostgreSQL index has the phone index): ``tuning.keys`` is ignored.
    """
    tuning = tuning or PhoneticTuning()
    wanted = offset + limit
    where, params = filter_sql(kind, source, published_from, published_to, language,
                               hidden_videos, hidden_articles)
    stats.refresh(cur)
    parsed = _expanded(cur, stats, parsed)
    params["q"] = to_tsquery(parsed)
    params["top"] = max(wanted * 3, 30)
    params["candidates"] = max(CANDIDATES, params["top"] * 4)
    most = max(COUNT_UP_TO, params["candidates"] + 1)
    ordered = (stats.phrase_index and _has_phrase(parsed)
               and stats.common_rows(parsed) >= ORDERED_FROM)
    rows = _ordered_rows(cur, stats, where, {**params, "most": most}) if ordered else None
    ordered = rows is not None
    if rows is None:
        rows = _rows(cur, where, params)
    # The phrase index's query counts the matches up to *most*; the other counts the
    # candidates, and the matches are counted apart when they fill them.
    total = int(rows[0]["found"]) if rows else 0
    if not ordered and total >= params["candidates"]:
        total = _count(cur, where, params, most)
    exact = total < most
    hits = [_Hit(r["id"], float(r["score"]), stored_fields(r)) for r in rows]
    clips, articles, _ = _results(hits, parsed)
    if (sound_alike and tuning.phones and kind != "article"
            and len(merge_overlapping(clips)) + len(articles) < wanted):
        sounded = _phonetic_docs(cur, keys, parsed, where, params, tuning,
                                 exact_elsewhere=bool(clips))
        # Those of a video whose linking article prints the query's words come first.
        backing = {a.url for a in articles}
        floor = min((h.score for h in hits), default=1.0)

        def backed(doc: dict[str, Any]) -> float:
            return 0.9 if any(url in backing for url, _ in doc.get("articles", [])) else 0.5

        clips += [_phonetic_clip(doc, found, floor * found.similarity * backed(doc))
                  for doc, found in sounded]
        total += len(sounded)
    return _page(clips, articles, total, offset, wanted, hidden_links, exact)


def _has_phrase(parsed: ParsedQuery) -> bool:
    """Whether *parsed* has a phrase in quotes.  The phrases a word's compound spellings
    add ("paber mardu" for "pabermardu") are left to the GIN index: what they match is
    rare, however common their words (and the phrase index reads every posting of each).
    """
    return any(clause.quoted and len(seq) > 1 for clause in parsed.clauses
               for option in clause.options for seq in option)


def _ranked(cur: Cursor[dict[str, Any]], candidates: str, found: str,
            params: dict[str, Any]) -> list[dict[str, Any]]:
    """The page's rows: the ``top`` best of *candidates* (a query of ``id, tsv``) by
    ts_rank, each with its stored fields and *found* (an expression over them)."""
    # The page's rows (the wide part) are read for the ranked few only, in the same query.
    # Never prepared: a generic plan, blind to the words, would pick one way for all.
    return cur.execute(
        f"SELECT {STORED_COLUMNS}, top.score, top.found FROM ("
        f"  SELECT c.id, {RANK} AS score, {found} AS found FROM ({candidates}) c,"
        f"   CAST(%(q)s AS tsquery) q ORDER BY score DESC, c.id LIMIT %(top)s) top"
        f" JOIN search_docs d USING (id) ORDER BY top.score DESC, top.id", params,
        prepare=False).fetchall()


# GIN's own operator: ``@@@`` is ``@@`` by another name, which the phrase index does not
# serve, so the planner never takes the phrase index where the GIN index is meant (it costs
# it lower, and reads every posting of a common word in a query narrowed by a rare one).
def _rows(cur: Cursor[dict[str, Any]], where: str,
          params: dict[str, Any]) -> list[dict[str, Any]]:
    """The page's candidates ranked, each with the number of candidates (``found``)."""
    # The planner reads the candidates in rank_order by its btree, keeping those that match,
    # when the words are common, or finds the matches by the GIN index and sorts them when
    # they are few: either way no more than the candidates are scored.
    return _ranked(cur, f"SELECT id, tsv FROM search_match"
                        f" WHERE tsv @@@ CAST(%(q)s AS tsquery) AND {where}"
                        f" ORDER BY rank_order, id LIMIT %(candidates)s",
                   "count(*) OVER ()", params)


def _ordered_rows(cur: Cursor[dict[str, Any]], stats: LexemeStats, where: str,
                  params: dict[str, Any]) -> list[dict[str, Any]] | None:
    """:func:`_rows` by the phrase index, each with the number of matches up to
    ``params["most"]`` (``found``): the index hands the documents holding the words out in
    rank_order, and each is checked for the phrase until *most* are found.  None when the
    ``rum`` extension is gone since *stats* were read (the caller asks the GIN index)."""
    # The GIN index answers ``@@`` too, by a bitmap of every match sorted afterwards: what
    # this is here to avoid, and what the planner picks, misled by its estimate.
    try:
        # A savepoint: the search's transaction goes on if the operator is missing.
        with cur.connection.transaction():
            cur.execute("SET LOCAL enable_bitmapscan = off")
            rows = _ranked(cur, f"SELECT id, tsv, found FROM ("
                                f" SELECT id, tsv, count(*) OVER () AS found,"
                                f"  row_number() OVER (ORDER BY rank_order, id) AS n FROM ("
                                f"  SELECT id, tsv, rank_order FROM search_match"
                                f"  WHERE tsv @@ CAST(%(q)s AS tsquery) AND {where}"
                                f"  ORDER BY rank_order <=> CAST(0 AS real) LIMIT %(most)s) m) o"
                                f" WHERE n <= %(candidates)s",
                           "c.found", params)
            cur.execute("SET LOCAL enable_bitmapscan TO DEFAULT")
    except psycopg.errors.UndefinedFunction as exc:
        # ``DROP EXTENSION rum CASCADE`` took the ``<=>`` of reals and the index with it.
        log.warning("the phrase index is gone (%s); searching without it",
                    str(exc).splitlines()[0])
        stats.forget()
        return None
    return rows


def _count(cur: Cursor[dict[str, Any]], where: str, params: dict[str, Any], most: int) -> int:
    """How many documents match, up to *most*."""
    row = cur.execute(f"SELECT count(*) AS n FROM (SELECT 1 FROM search_match"
                      f" WHERE tsv @@ CAST(%(q)s AS tsquery) AND {where} LIMIT %(most)s) m",
                      {**params, "most": most}, prepare=False).fetchone()
    return int(row["n"]) if row else 0


def _page(clips: list[Clip], articles: list[Any], total: int, offset: int, wanted: int,
          hidden_links: frozenset[str], exact: bool = True) -> SearchPage:
    if hidden_links:
        # A video kept by a takedown is indexed again without the removed article; until
        # then its segments still name it.
        clips = [dataclasses.replace(c, articles=tuple(a for a in c.articles
                                                       if a.url not in hidden_links))
                 for c in clips]
    merged = merge_overlapping(clips)
    results: list[SearchResult] = [*merged, *articles]
    results.sort(key=lambda r: r.score, reverse=True)
    # Overlapping clips that merged no longer count separately.
    total -= len(clips) - len(merged)
    return SearchPage(results=results[offset:wanted], total=max(total, 0), total_exact=exact)


def _candidates(cur: Cursor[dict[str, Any]], keys: list[str], where: str,
                params: dict[str, Any]) -> list[int]:
    """Segments with these phone *keys*, answering the filters but not the exact query:
    those of the first key, then those of the next not yet found, up to MAX_CANDIDATES (as
    candidate_documents reads Whoosh's postings).

    A key's segments are read only while the candidates are too few, a few keys per query,
    and at most MAX_CANDIDATES of each: short keys are in a third of all segments.  Of a
    key with more, the oldest are taken, as Whoosh takes them (the postings' primary key
    reads them in that order, however many there are).
    """
    out: list[int] = []
    seen: set[int] = set()
    start = 0
    for size in KEY_BATCHES:
        batch = keys[start : start + size]
        start += size
        if not batch:
            break
        rows = cur.execute(
            f"SELECT k.rank, c.id FROM unnest(%(keys)s::text[]) WITH ORDINALITY AS k(key, rank)"
            f" CROSS JOIN LATERAL (SELECT p.id FROM search_phones p"
            f"  JOIN search_match m ON m.id = p.id"
            f"  WHERE p.key = k.key AND m.kind = '{KIND_SEGMENT}'"
            f"   AND NOT m.tsv @@@ CAST(%(q)s AS tsquery) AND {where}"
            f"  ORDER BY p.id LIMIT %(most)s) c",
            {**params, "keys": batch, "most": MAX_CANDIDATES}, prepare=False).fetchall()
        for _, doc in sorted((r["rank"], r["id"]) for r in rows):
            if doc not in seen:
                seen.add(doc)
                out.append(doc)
                if len(out) >= MAX_CANDIDATES:
                    return out
    return out


def _phonetic_docs(cur: Cursor[dict[str, Any]], keys: PhoneKeys, parsed: ParsedQuery,
                   where: str, params: dict[str, Any], tuning: PhoneticTuning, *,
                   exact_elsewhere: bool) -> list[tuple[dict[str, Any], PhoneticMatch]]:
    """Segments (stored fields, match) answering the filters, not the exact query, whose
    phones sound like the query's (:mod:`indexer.phonesearch`)."""
    targets = query_targets(parsed, whole=tuning.whole)
    if not targets:
        return []
    keys.refresh(cur)
    docnums = _candidates(cur, alike_keys(keys, targets), where, params)
    if not docnums:
        return []
    rows = cur.execute(f"SELECT {STORED_COLUMNS} FROM search_docs d WHERE d.id = ANY(%s)",
                       (docnums,)).fetchall()
    by_id = {r["id"]: stored_fields(r) for r in rows}
    kept = [by_id[n] for n in docnums if n in by_id and by_id[n].get(PHONES_FIELD)]
    heard = [Heard.from_stored(d.get("words", []), d[PHONES_FIELD]) for d in kept]
    matches = match_segments(heard, parsed, targets, tuning, exact_elsewhere=exact_elsewhere)
    return [(d, m) for d, m in zip(kept, matches, strict=True) if m is not None]
