"""Searching one Whoosh searcher: filters, the exact pass, the sound-alike pass, results."""

from __future__ import annotations

import dataclasses
import functools
import re
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from whoosh import query as wq
from whoosh.collectors import FilterCollector, TopCollector
from whoosh.searching import Searcher

from indexer.clips import (
    MATCH_PHONETIC,
    clip_for_segment,
    clip_for_words,
    highlight_fragment,
    merge_overlapping,
    sound_alike_clip,
)
from indexer.conjunction import restricted_query
from indexer.domain import ArticleHit, ArticleRef, Clip, SearchPage, SearchResult, Word
from indexer.errors import QueryError, SearchIndexError
from indexer.phonesearch import (
    UPGRADE_NOTICE,
    PhoneticMatch,
    PhoneticMemo,
    PhoneticTuning,
    candidate_documents,
    match_segments,
    query_targets,
    read_segment,
)
from indexer.query import (
    SEARCH_FIELDS,
    ParsedQuery,
    expand,
    sound_alike_query,
    to_whoosh,
)
from indexer.schema import (
    KIND_ARTICLE,
    KIND_SEGMENT,
    PHONE_KEYS_FIELD,
    _keyword,
)
from indexer.vocabulary import Vocabulary, expand_multiterms

# Filter document sets kept per searcher (one per distinct filter combination).
DOCSET_CACHE = 32
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclasses.dataclass
class SearcherCache:
    """What searches read once per searcher and keep while it stays current.

    Document numbers change with the segments, so a new searcher needs a new cache.
    """

    # Document sets of filters (kinds, sources, dates): a Whoosh filter query is otherwise
    # expanded over every matching document on each search (100,000 segments for "clips
    # only": most of a search's time).
    docsets: OrderedDict[str, set[int]] = dataclasses.field(default_factory=OrderedDict)
    # The terms of the sound-alike fields, read on the first such search.
    vocabulary: Vocabulary | None = None
    # What the phonetic pass reads, kept across searches: only for a small searcher read
    # for many queries (the percolator's), as it keeps every segment it reads.
    phonetic: PhoneticMemo | None = None


class _EveryMatch(TopCollector):  # type: ignore[misc]
    """Whoosh's top-N collector that also keeps every matching document number.

    Without block-quality skipping it sees every match anyway; keeping them spares the
    sound-alike pass an ``AndNot`` of the exact query, which Whoosh would re-check (phrases
    and all) at every sound-alike candidate.
    """

    def prepare(self, top_searcher: Any, q: Any, context: Any) -> None:
        super().prepare(top_searcher, q, context)
        self.matched: set[int] = set()

    def _collect(self, global_docnum: int, score: float) -> Any:
        self.matched.add(global_docnum)
        return super()._collect(global_docnum, score)


def search_page(
    searcher: Searcher,
    cache: SearcherCache,
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
    """One page of results for *parsed* from *searcher*, with the number of matching documents.

    *cache* belongs to *searcher*.  The filters, *sound_alike* and the hidden ids are those
    of :meth:`indexer.index.SearchIndex.search_page`; *tuning* switches parts of the phonetic
    pass off (for measuring them).
    """
    tuning = tuning or PhoneticTuning()
    phonetic = PHONE_KEYS_FIELD in searcher.schema
    notice = "" if phonetic or not sound_alike else UPGRADE_NOTICE
    phonetic = phonetic and tuning.phones
    wanted = offset + limit
    wanted_docs = _filter_query(kind, source, published_from, published_to, language)
    try:
        restrict = _docset(cache, searcher, wanted_docs)
        if restrict is not None and not restrict:
            # Whoosh reads an empty filter as no filter at all.
            return SearchPage(results=[], total=0)
        hidden = _docset(cache, searcher, _hidden_query(hidden_videos, hidden_articles))
        if hidden is not None and restrict is not None:
            restrict = restrict - hidden
            if not restrict:
                return SearchPage(results=[], total=0)
        reader = searcher.reader()
        parsed = expand(parsed, lambda term: any((field, term) in reader
                                                 for field in SEARCH_FIELDS))
        # An AND of clauses reads its postings only where every clause can be answered.
        exact = restricted_query(searcher, parsed, restrict, hidden) or to_whoosh(parsed)
        # Every match is scored (no block skipping), so one pass gives the page, the
        # total and the documents the sound-alike pass must leave out.
        top = _EveryMatch(limit=max(wanted * 3, 30), usequality=False)
        if restrict is None and not hidden:
            searcher.search_with_collector(exact, top)
        else:
            searcher.search_with_collector(
                exact, FilterCollector(top, allow=restrict, restrict=hidden or None))
        hits = top.results()
        total = len(top.matched)
    except Exception as exc:
        raise SearchIndexError(f"search failed: {exc}") from exc
    clips, articles, dropped = _results(hits, parsed)
    total -= dropped
    # Sound-alike clips rank below every exact match, so they only matter once the exact
    # ones no longer fill the page (and are only counted from then on): a common word
    # never pays for the sound-alike pass on its first pages.
    if (sound_alike and kind != "article"
            and len(merge_overlapping(clips)) + len(articles) < wanted):
        try:
            if cache.vocabulary is None:
                cache.vocabulary = Vocabulary(searcher.reader())
            articles_only = _docset(cache, searcher, wq.Term("kind", KIND_ARTICLE))
            excluded = top.matched.union(articles_only or (), hidden or ())
            loose = (_sound_alike_hits(searcher, cache.vocabulary, parsed, restrict, excluded,
                                       max(wanted * 3, 30))
                     if tuning.keys or not phonetic else [])
            sounded = (_phonetic_docs(searcher, cache.vocabulary, parsed, restrict, excluded,
                                      tuning, exact_elsewhere=bool(clips),
                                      memo=cache.phonetic)
                       if phonetic else [])
        except Exception as exc:
            raise SearchIndexError(f"search failed: {exc}") from exc
        # Those of a video whose linking article prints the query's words come first.
        backing = {a.url for a in articles}
        floor = min((float(h.score) for h in hits), default=1.0)

        def backed(doc: dict[str, Any]) -> float:
            return 0.9 if any(url in backing for url, _ in doc.get("articles", [])) else 0.5

        # The phonetic pass's clips, then the spelling keys' for segments it did not find.
        found_by_sound = {docnum for docnum, _, _ in sounded}
        loose = [h for h in loose if h.docnum not in found_by_sound]
        best = max((float(h.score) for h in loose), default=1.0) or 1.0
        alike, _, dropped = _results(
            loose, parsed,
            lambda hit, doc: float(hit.score) / best * floor * 0.7 * backed(doc))
        clips += alike
        clips += [_phonetic_clip(doc, found, floor * found.similarity * backed(doc))
                  for _, doc, found in sounded]
        total += len(loose) - dropped + len(sounded)
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
    return SearchPage(results=results[offset:wanted], total=max(total, 0), notice=notice)


def _docset(cache: SearcherCache, searcher: Searcher, query: wq.Query | None) -> set[int] | None:
    """The document numbers matching *query* in *searcher*, kept in its *cache*."""
    if query is None:
        return None
    key = repr(query)
    found = cache.docsets.get(key)
    if found is None:
        found = set(searcher.docs_for_query(query))  # Whoosh takes a set, not a frozenset
        cache.docsets[key] = found
        if len(cache.docsets) > DOCSET_CACHE:
            cache.docsets.popitem(last=False)
    else:
        cache.docsets.move_to_end(key)
    return found


def _results(hits: Any, parsed: ParsedQuery,
             loose_score: Callable[[Any, dict[str, Any]], float] | None = None,
             ) -> tuple[list[Clip], list[ArticleHit], int]:
    """Clips and articles of Whoosh *hits*, and how many hits gave neither.

    With *loose_score* the hits are sound-alike ones: scored by it, their clips built by
    :func:`sound_alike_clip`.
    """
    clips: list[Clip] = []
    articles: list[ArticleHit] = []
    dropped = 0
    for hit in hits:
        doc = hit.fields()
        score = round(float(hit.score) if loose_score is None else loose_score(hit, doc), 3)
        if doc["kind"] == KIND_ARTICLE:
            articles.append(
                ArticleHit(
                    score=score,
                    article_id=doc["article_id"],
                    url=doc.get("url", ""),
                    title=doc.get("title", ""),
                    source=doc.get("source", ""),
                    published=doc.get("published", ""),
                    highlight=highlight_fragment(doc.get("text", ""), parsed),
                )
            )
            continue
        segment = {
            "score": score,
            "video_id": doc["video_id"],
            "video_url": doc.get("url", ""),
            "seg_start": float(doc["start"]),
            "seg_end": float(doc["end"]),
            "seg_text": doc.get("text", ""),
            "words": [Word(w, float(s), float(e)) for w, s, e in doc.get("words", [])],
            "query": parsed,
        }
        found = (clip_for_segment(**segment) if loose_score is None
                 else sound_alike_clip(**segment))
        if found is None:
            dropped += 1  # the words were all there, only in another order: no sound-alike
            continue
        clips.append(dataclasses.replace(found, articles=_refs(doc)))
    return clips, articles, dropped


def _refs(doc: dict[str, Any]) -> tuple[ArticleRef, ...]:
    return tuple(ArticleRef(url=u, title=t) for u, t in doc.get("articles", []))


def _phonetic_docs(searcher: Searcher, vocabulary: Vocabulary, parsed: ParsedQuery,
                   restrict: set[int] | None, excluded: set[int], tuning: PhoneticTuning, *,
                   exact_elsewhere: bool, memo: PhoneticMemo | None = None,
                   ) -> list[tuple[int, dict[str, Any], PhoneticMatch]]:
    """Segments (number, stored fields, match) whose phones sound like the query's, not
    in *excluded* (see :mod:`indexer.phonesearch`), read through *memo* when given."""
    targets = query_targets(parsed, whole=tuning.whole)
    if not targets:
        return []
    docnums = candidate_documents(searcher.reader(), vocabulary, targets, restrict, excluded,
                                  memo=memo)
    read = memo.segment if memo is not None else functools.partial(read_segment, searcher)
    kept = [(n, doc, heard) for n in docnums for doc, heard in (read(n),) if heard is not None]
    found = match_segments([heard for _, _, heard in kept], parsed, targets, tuning,
                           exact_elsewhere=exact_elsewhere, memo=memo)
    return [(n, d, m) for (n, d, _), m in zip(kept, found, strict=True) if m is not None]


def _phonetic_clip(doc: dict[str, Any], found: PhoneticMatch, score: float) -> Clip:
    clip = clip_for_words(
        score=round(score, 3), video_id=doc["video_id"], video_url=doc.get("url", ""),
        seg_start=float(doc["start"]), seg_end=float(doc["end"]), seg_text=doc.get("text", ""),
        words=[Word(w, float(s), float(e)) for w, s, e in doc.get("words", [])],
        hits=found.indexes, match=MATCH_PHONETIC, heard=found.heard,
        similarity=found.similarity)
    return dataclasses.replace(clip, articles=_refs(doc))


def _sound_alike_hits(searcher: Searcher, vocabulary: Vocabulary, parsed: ParsedQuery,
                      restrict: set[int] | None, excluded: set[int], limit: int) -> list[Any]:
    """Segments answering *parsed* only by spelling-based sound-alikes (indexer.phonetic,
    fuzzy spellings): not in *excluded* (the exact matches and the articles)."""
    # In an index with the phone index the sound keys' terms find nothing (it has no
    # sounds field); the fuzzy spellings, run-ons and slots still do.
    loose = sound_alike_query(parsed)
    if loose is None:
        return []
    loose = expand_multiterms(loose, vocabulary)
    return list(searcher.search(loose, limit=limit, filter=restrict, mask=excluded or None))


def _hidden_query(video_ids: frozenset[str], article_ids: frozenset[str]) -> wq.Query | None:
    """The documents of items being taken down: a video's segments, an article's own."""
    terms = [wq.Term("video_id", v) for v in sorted(video_ids)]
    terms += [wq.Term("article_id", a) for a in sorted(article_ids)]
    return wq.Or(terms) if terms else None


def _filter_query(kind: str | None, source: str | None, published_from: str | None,
                  published_to: str | None, language: str | None) -> wq.Query | None:
    parts: list[wq.Query] = []
    if kind is not None:
        kinds = {"clip": KIND_SEGMENT, "article": KIND_ARTICLE}
        if kind not in kinds:
            raise QueryError(f"unknown result type {kind!r}: use clip or article")
        parts.append(wq.Term("kind", kinds[kind]))
    if source:
        parts.append(wq.Term("source", _keyword(source).lower()))
    for value in (published_from, published_to):
        if value and not _ISO_DATE.fullmatch(value):
            raise QueryError(f"dates must look like 2026-11-20, not {value!r}")
    if published_from or published_to:
        parts.append(wq.TermRange("published", published_from or None, published_to or None))
    if language:
        parts.append(wq.Term("language", language.lower()))
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else wq.And(parts)
