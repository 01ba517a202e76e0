"""Matching saved searches against one newly indexed video or article (a percolator).

Instead of re-running every saved query over the whole index, the new video's segments (or the
new article) go into a throwaway in-memory Whoosh index built from the same documents
(:func:`indexer.index.segment_documents`, :func:`indexer.index.article_document`), and each
query runs through :func:`indexer.search.search_page` on it: the same parsing, analysis,
sound-alike pass and clip bounds as a search, so a watch fires exactly where a search of the
whole index would find that video.

What every watch would read again of the same video is read once per video instead: the
phonetic pass's segments, phone-key postings and laid-out phones
(:class:`indexer.phonesearch.PhoneticMemo`), and the index's terms, which also let a query
that requires a term the video lacks skip Whoosh's search.
"""

from __future__ import annotations

import functools
from collections.abc import Container, Sequence
from typing import Any

from whoosh import query as wq
from whoosh.codec.whoosh3 import W3Codec
from whoosh.filedb.filestore import RamStorage
from whoosh.reading import SegmentReader
from whoosh.searching import Searcher

from indexer.domain import Article, ArticleRef, SearchResult, Transcript
from indexer.index import article_document, segment_documents
from indexer.phonesearch import PhoneticMemo, query_targets
from indexer.query import (
    SEARCH_FIELDS,
    ParsedQuery,
    expand,
    parse_query,
    sound_alike_query,
    to_whoosh,
)
from indexer.schema import PHONE_KEYS_FIELD, build_schema
from indexer.search import SearcherCache, search_page
from indexer.vocabulary import Vocabulary, expand_multiterms

__all__ = ["MAX_MATCHES", "Percolator", "could_match", "parsed"]

# Clips (or the one article) a watch can find in one video: every one, in practice.
MAX_MATCHES = 500


@functools.lru_cache(maxsize=4096)
def parsed(query: str) -> ParsedQuery:
    """*query* parsed (cached: the same few watches are matched against every new video).

    Raises :class:`~indexer.errors.QueryError` like :func:`indexer.query.parse_query`.
    """
    return parse_query(query)


def could_match(query: wq.Query, terms: Container[tuple[str, str]]) -> bool:
    """False only when *query* cannot match any document holding just *terms* ((field, text)
    pairs): a term it requires is not there at all.  Conservative: a query type it does not
    know counts as a maybe."""
    if query is wq.NullQuery:
        return False
    if isinstance(query, wq.Term):
        return (query.fieldname, query.text) in terms
    if isinstance(query, wq.Phrase):
        return all((query.fieldname, word) in terms for word in query.words)
    if isinstance(query, wq.ConstantScoreQuery):
        return could_match(query.child, terms)
    if isinstance(query, wq.Or | wq.DisjunctionMax):
        return any(could_match(child, terms) for child in query.children())
    if isinstance(query, wq.And):
        return all(could_match(child, terms) for child in query.children())
    return True


class _SmallIndexSearcher(Searcher):  # type: ignore[misc]
    """A searcher of a tiny in-memory index that gets the union matchers of a real one.

    For an index of at most 5,000 documents Whoosh 2.7 preloads every ``Or`` into arrays of
    2,048 scores built one Python float at a time (``PreloadedOr``/``ArrayUnionMatcher``,
    whatever the document count): a third of matching a watch against a 120-segment video.
    Reporting at least 5,001 documents makes it build the binary union tree it uses for any
    index of real size.  Matches are unchanged; only the idf of scores moves, and a hit keeps
    no score.
    """

    # The index's terms, once read (see search_with_collector).
    terms: Container[tuple[str, str]] | None = None

    def doc_count_all(self) -> int:
        """At least 5,001 (see the class)."""
        return max(5001, int(super().doc_count_all()))

    def search_with_collector(self, q: wq.Query, collector: Any, context: Any = None) -> None:
        """Whoosh's search, skipped when *q* requires a term this index lacks.

        Most watches do not match a given video, yet each search makes Whoosh build the
        matchers of every term and phrase of the query (in Python)."""
        if self.terms is not None and not could_match(q, self.terms):
            q = wq.NullQuery
        super().search_with_collector(q, collector, context)


class _KnownTermsReader(SegmentReader):  # type: ignore[misc]
    """A reader of the in-memory index that tells whether it holds a term from a set.

    Whoosh looks a term up in its hashed term table (an MD5 of the key, then struct reads);
    a search asks dozens of times per query (the compound spellings of each word), for
    each of a thousand watches.  Every field of the schema is a text one (ID, KEYWORD,
    TEXT), whose terms' bytes are their UTF-8 text.
    """

    known: Container[tuple[str, str]] = frozenset()

    def __contains__(self, term: tuple[str, str | bytes]) -> bool:
        fieldname, text = term
        if isinstance(text, bytes):
            text = text.decode("utf-8")
        return (fieldname, text) in self.known


class _MemoryStorage(RamStorage):  # type: ignore[misc]
    """A RamStorage whose temporary files stay in memory too.

    Whoosh's RamStorage puts a writer's temporary files in ``<tmpdir>/MAIN.tmp``, one folder
    shared by every process on the machine: two processes percolating at once delete each
    other's files (FileNotFoundError on commit), and a fleet machine would write files where
    it should write none.
    """

    def temp_storage(self, name: str | None = None) -> RamStorage:
        return RamStorage()


class Percolator:
    """A small in-memory index of one item, which saved queries are matched against."""

    def __init__(self, documents: Sequence[dict[str, object]]) -> None:
        self._ix = _MemoryStorage().create_index(build_schema())
        # Nothing to save space for in memory: blocks left uncompressed, files not gathered
        # into one compound file at commit.
        writer = self._ix.writer(codec=W3Codec(compression=0), compound=False)
        try:
            for doc in documents:
                writer.add_document(**doc)
        except BaseException:
            writer.cancel()
            raise
        writer.commit()
        reader = self._ix.reader()
        # Every term is read once for all the queries: a few thousand, looked up for each
        # watch (_may_match, the reader, the searcher).
        self._terms = {(field, text if isinstance(text, str) else text.decode("utf-8"))
                       for field, text in reader.all_terms()}
        if type(reader) is SegmentReader:  # one commit, one segment
            # Whoosh builds the reader from its table of contents; only its class changes.
            reader.__class__ = _KnownTermsReader
            reader.known = self._terms
        self._searcher = _SmallIndexSearcher(reader)
        self._searcher.terms = self._terms
        # The filter sets, the sound-alike vocabulary and what the phonetic pass reads are
        # read once for all the queries too.
        self._cache = SearcherCache(phonetic=PhoneticMemo(self._searcher))
        # An article has none: the phonetic pass reads only segments.
        self._phone_keys = any(field == PHONE_KEYS_FIELD for field, _ in self._terms)

    @classmethod
    def for_video(cls, transcript: Transcript, video_url: str,
                  articles: Sequence[ArticleRef]) -> Percolator:
        """A percolator holding the segments of *transcript*, as the index holds them."""
        return cls(list(segment_documents(transcript, video_url, articles)))

    @classmethod
    def for_article(cls, article: Article) -> Percolator:
        """A percolator holding *article*'s own document."""
        return cls([article_document(article)])

    def match(self, query: str, *, clips_only: bool = False, source: str | None = None,
              language: str | None = None) -> list[SearchResult]:
        """What a search for *query* with these filters finds in this item, best first.

        Raises :class:`~indexer.errors.QueryError` for a query that cannot be read.
        """
        wanted = parsed(query)
        if not self._may_match(wanted):
            return []
        page = search_page(self._searcher, self._cache, wanted, limit=MAX_MATCHES,
                           offset=0, kind="clip" if clips_only else None,
                           source=source or None, published_from=None, published_to=None,
                           language=language or None, sound_alike=True)
        return page.results

    def _may_match(self, wanted: ParsedQuery) -> bool:
        """Whether the search of *wanted* could find anything here at all.

        Most watches do not match a given video, and most of a search's cost is Whoosh
        setting up its matchers; so unless the phonetic pass has something to compare, the
        queries the search would run (the exact one with the spellings this item holds, then
        the sound-alike one with its fuzzy and prefix terms expanded against this item's
        words) are first checked for a term this item lacks.
        Only a query that cannot match is skipped: the search itself decides the rest.
        """
        # The phonetic pass finds its candidates by phone keys, not by the query's words:
        # nearly every watch with a name long enough to compare has some in a video of a
        # hundred segments, and the search looks them up again, so they are left to it.
        if self._phone_keys and query_targets(wanted):
            return True
        terms = self._terms
        exact = expand(wanted, lambda term: any((field, term) in terms
                                                for field in SEARCH_FIELDS))
        if could_match(to_whoosh(exact), terms):
            return True
        loose = sound_alike_query(wanted)
        if loose is None:
            return False
        if self._cache.vocabulary is None:
            self._cache.vocabulary = Vocabulary(self._searcher.reader())
        return could_match(expand_multiterms(loose, self._cache.vocabulary), terms)

    def close(self) -> None:
        """Release the in-memory index."""
        self._searcher.close()
        self._ix.close()
