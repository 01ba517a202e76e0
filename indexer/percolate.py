"""Matching saved searches against one newly indexed video or article (a percolator).

Instead of re-running every saved query over the whole index, the new video's segments (or the
new article) go into a throwaway in-memory Whoosh index built from the same documents
(:func:`indexer.index.segment_documents`, :func:`indexer.index.article_document`), and each
query runs through :func:`indexer.search.search_page` on it: the same parsing, analysis,
sound-alike pass and clip bounds as a search, so a watch fires exactly where a search of the
whole index would find that video.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

from whoosh.filedb.filestore import RamStorage

from indexer.domain import Article, ArticleRef, SearchResult, Transcript
from indexer.index import article_document, segment_documents
from indexer.query import ParsedQuery, parse_query
from indexer.schema import build_schema
from indexer.search import SearcherCache, search_page

__all__ = ["MAX_MATCHES", "Percolator", "parsed"]

# Clips (or the one article) a watch can find in one video: every one, in practice.
MAX_MATCHES = 500


@functools.lru_cache(maxsize=4096)
def parsed(query: str) -> ParsedQuery:
    """*query* parsed (cached: the same few watches are matched against every new video).

    Raises :class:`~indexer.errors.QueryError` like :func:`indexer.query.parse_query`.
    """
    return parse_query(query)


class Percolator:
    """A small in-memory index of one item, which saved queries are matched against."""

    def __init__(self, documents: Sequence[dict[str, object]]) -> None:
        self._ix = RamStorage().create_index(build_schema())
        writer = self._ix.writer()
        try:
            for doc in documents:
                writer.add_document(**doc)
        except BaseException:
            writer.cancel()
            raise
        writer.commit()
        self._searcher = self._ix.searcher()
        # The filter sets and the sound-alike vocabulary are read once for all the queries.
        self._cache = SearcherCache()

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
        page = search_page(self._searcher, self._cache, parsed(query), limit=MAX_MATCHES,
                           offset=0, kind="clip" if clips_only else None,
                           source=source or None, published_from=None, published_to=None,
                           language=language or None, sound_alike=True)
        return page.results

    def close(self) -> None:
        """Release the in-memory index."""
        self._searcher.close()
        self._ix.close()
