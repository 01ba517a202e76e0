"""Our parsed queries and filters as PostgreSQL: tsquery literals and WHERE clauses.

The lexemes are those of :mod:`indexer.query` (already analysed), so a query is written as a
tsquery literal and never passes through a text search configuration.
"""

from __future__ import annotations

import re
from typing import Any

from indexer.errors import QueryError
from indexer.pgsearch.documents import quote_lexeme
from indexer.query import Clause, ParsedQuery, Sequence
from indexer.schema import KIND_ARTICLE, KIND_SEGMENT, _keyword

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _sequence(sequence: Sequence) -> str:
    if len(sequence) == 1:
        return quote_lexeme(sequence[0])
    return "(" + " <-> ".join(quote_lexeme(t) for t in sequence) + ")"


def _clause(clause: Clause) -> str:
    options = ["(" + " & ".join(_sequence(s) for s in option) + ")" for option in clause.options]
    return "(" + " | ".join(options) + ")"


def to_tsquery(parsed: ParsedQuery) -> str:
    """The tsquery matching documents whose title or text answers every clause (a phrase's
    words at consecutive positions of one field, as :func:`indexer.query.to_whoosh`)."""
    return " & ".join(_clause(c) for c in parsed.clauses)


def term_query(term: str) -> str:
    """The tsquery of one lexeme."""
    return quote_lexeme(term)


def filter_sql(kind: str | None, source: str | None, published_from: str | None,
               published_to: str | None, language: str | None,
               hidden_videos: frozenset[str], hidden_articles: frozenset[str],
               ) -> tuple[str, dict[str, Any]]:
    """A WHERE condition over ``search_docs`` for the filters of
    :meth:`indexer.index.SearchIndex.search_page` (``TRUE`` when there are none), and its
    parameters; raises :class:`QueryError` as the Whoosh index does."""
    parts: list[str] = []
    params: dict[str, Any] = {}
    if kind is not None:
        kinds = {"clip": KIND_SEGMENT, "article": KIND_ARTICLE}
        if kind not in kinds:
            raise QueryError(f"unknown result type {kind!r}: use clip or article")
        parts.append("kind = %(f_kind)s")
        params["f_kind"] = kinds[kind]
    if source:
        parts.append("sources @> ARRAY[%(f_source)s]::text[]")
        params["f_source"] = _keyword(source).lower()
    for value in (published_from, published_to):
        if value and not _ISO_DATE.fullmatch(value):
            raise QueryError(f"dates must look like 2026-11-20, not {value!r}")
    if published_from or published_to:
        bounds = []
        if published_from:
            bounds.append("d >= %(f_from)s")
            params["f_from"] = published_from
        if published_to:
            bounds.append("d <= %(f_to)s")
            params["f_to"] = published_to
        parts.append(f"EXISTS (SELECT 1 FROM unnest(published) d WHERE {' AND '.join(bounds)})")
    if language:
        parts.append("language = %(f_language)s")
        params["f_language"] = language.lower()
    if hidden_videos:
        parts.append("NOT (kind = 'segment' AND video_id = ANY(%(f_hidden_videos)s))")
        params["f_hidden_videos"] = sorted(hidden_videos)
    if hidden_articles:
        parts.append("NOT (kind = 'article' AND article_id = ANY(%(f_hidden_articles)s))")
        params["f_hidden_articles"] = sorted(hidden_articles)
    return (" AND ".join(parts) if parts else "TRUE"), params
