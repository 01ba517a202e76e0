"""What every search index offers: the embedded Whoosh one (:class:`indexer.index.SearchIndex`)
and the PostgreSQL one (:class:`indexer.pgsearch.PgSearchIndex`).

Callers (the pipeline's index step, takedowns, the HTTP app, the CLI) take a
:class:`SearchBackend` and cannot tell which one answered; the search tests run on both.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any, Protocol

from indexer.domain import Article, ArticleRef, SearchPage, SearchResult, Transcript
from indexer.phonesearch import PhoneticTuning

__all__ = ["SearchBackend"]


class SearchBackend(Protocol):
    """Writing documents, searching them, and keeping the index small."""

    def close(self) -> None:
        """Let go of files or connections (idempotent)."""
        ...

    def batch(self) -> contextlib.AbstractContextManager[None]:
        """Group the writes of the block into one commit (one transaction)."""
        ...

    def add_article(self, article: Article) -> None:
        """Index an article's text, replacing what it had before."""
        ...

    def add_transcript(self, transcript: Transcript, video_url: str,
                       articles: Sequence[ArticleRef]) -> None:
        """Index every segment of a transcript, replacing what the video had before."""
        ...

    def remove_video(self, video_id: str) -> None:
        """Drop a video's segments."""
        ...

    def remove_article(self, article_id: str) -> None:
        """Drop an article's document."""
        ...

    def compact(self) -> int:
        """Merge what many small writes left; returns the parts left."""
        ...

    def purge(self, video_ids: Sequence[str], article_ids: Sequence[str]) -> int:
        """Make sure no text of these items survives anywhere in the index (takedowns)."""
        ...

    def after_bulk_load(self) -> None:
        """Bring what the engine knows of the data up to date after many writes at once."""
        ...

    def segment_count(self) -> int:
        """How many parts a search visits."""
        ...

    def doc_count(self) -> int:
        """Number of live documents (articles plus segments)."""
        ...

    def search(self, text: str, *, limit: int = 10, **filters: Any) -> list[SearchResult]:
        """Clips and articles matching *text*, best first."""
        ...

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
        """One page of results with the number of matching documents."""
        ...


def _conforms() -> Iterator[SearchBackend]:  # pragma: no cover - checked by mypy only
    from indexer.index import SearchIndex
    from indexer.pgsearch import PgSearchIndex

    yield SearchIndex.__new__(SearchIndex)
    yield PgSearchIndex.__new__(PgSearchIndex)
