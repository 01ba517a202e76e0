"""Our small query language: words are ANDed, "quoted phrases" match in order.

We parse queries ourselves instead of exposing Whoosh's full syntax: analysts type names and
phrases, not field queries, and a stranger's `title:[a TO` or leading `*` must never reach the
engine as an expensive or broken query.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from whoosh import query as wq

from indexer.errors import QueryError
from indexer.schema import analyze

MAX_QUERY_CHARS = 1000
MAX_QUERY_TERMS = 32
SEARCH_FIELDS = ("text", "title")

_TOKEN = re.compile(r'"([^"]*)"|([^\s"]+)')


@dataclass(frozen=True)
class ParsedQuery:
    """A query reduced to analysed index terms: single terms and phrases, all required."""

    raw: str
    terms: tuple[str, ...]
    phrases: tuple[tuple[str, ...], ...]

    def all_terms(self) -> set[str]:
        """Every index term the query mentions, in terms or phrases."""
        out = set(self.terms)
        for phrase in self.phrases:
            out.update(phrase)
        return out


def _clean(text: str) -> str:
    # Control characters (NUL included) carry no meaning in a search and upset some parsers.
    return "".join(" " if unicodedata.category(c) == "Cc" else c for c in text)


def parse_query(text: str) -> ParsedQuery:
    """Parse *text* into required terms and phrases, or raise :class:`QueryError`."""
    if len(text) > MAX_QUERY_CHARS:
        raise QueryError(f"query is too long ({len(text)} characters, at most {MAX_QUERY_CHARS})")
    cleaned = _clean(text)
    if cleaned.count('"') % 2:
        raise QueryError('unbalanced quote in query: close every "phrase" with a second "')
    terms: list[str] = []
    phrases: list[tuple[str, ...]] = []
    for match in _TOKEN.finditer(cleaned):
        quoted, bare = match.groups()
        analysed = tuple(analyze(quoted if quoted is not None else bare))
        if not analysed:
            continue
        if len(analysed) == 1:
            if analysed[0] not in terms:
                terms.append(analysed[0])
        elif analysed not in phrases:
            # A bare hyphenated word ("cease-fire") is a phrase of its parts, as indexed.
            phrases.append(analysed)
    if not terms and not phrases:
        raise QueryError("query has no searchable words")
    if len(terms) + sum(len(p) for p in phrases) > MAX_QUERY_TERMS:
        raise QueryError(f"query has too many words (at most {MAX_QUERY_TERMS})")
    return ParsedQuery(raw=text, terms=tuple(terms), phrases=tuple(phrases))


def to_whoosh(parsed: ParsedQuery) -> wq.Query:
    """The Whoosh query matching documents whose text or title holds every part."""
    parts: list[wq.Query] = []
    for term in parsed.terms:
        parts.append(wq.Or([wq.Term(field, term) for field in SEARCH_FIELDS]))
    for phrase in parsed.phrases:
        parts.append(wq.Or([wq.Phrase(field, list(phrase)) for field in SEARCH_FIELDS]))
    return parts[0] if len(parts) == 1 else wq.And(parts)
