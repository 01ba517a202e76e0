"""The index's term list in memory, for fast fuzzy and prefix expansion.

Whoosh expands a ``FuzzyTerm`` by walking a Levenshtein automaton over each segment's on-disk
term table in pure Python (hundreds of milliseconds for a few words over a few segments).
Here the terms sharing a word's first letters are read once per searcher, and the word is
compared with them by rapidfuzz (C++); the Whoosh query gets explicit terms instead.
"""

from __future__ import annotations

from typing import Any, Protocol

from rapidfuzz import process
from rapidfuzz.distance import Levenshtein
from whoosh import query as wq

# At most this many spellings stand in for one fuzzy or prefix word, closest first: a
# misheard name has a handful of neighbours, a common short stem could have hundreds.
MAX_EXPANSIONS = 64


class TermLists(Protocol):
    """Where the phonetic pass reads a field's terms by their first letters."""

    def starting(self, field: str, prefix: str) -> list[str]:
        """Every term of *field* starting with *prefix*, sorted."""
        ...


class Vocabulary:
    """Terms of one Whoosh reader by field and first letters, read on first use."""

    def __init__(self, reader: Any) -> None:
        self._reader = reader
        self._blocks: dict[tuple[str, str], list[str]] = {}

    def starting(self, field: str, prefix: str) -> list[str]:
        """Every term of *field* starting with *prefix*, sorted (kept for the next call)."""
        found = self._blocks.get((field, prefix))
        if found is None:
            found = []
            if field in self._reader.schema:
                found = [t.decode("utf-8") if isinstance(t, bytes) else str(t)
                         for t in self._reader.expand_prefix(field, prefix)]
            self._blocks[(field, prefix)] = found
        return found

    def prefixed(self, field: str, prefix: str) -> list[str]:
        """Terms of *field* starting with *prefix* (shortest first, at most MAX_EXPANSIONS)."""
        return sorted(self.starting(field, prefix), key=len)[:MAX_EXPANSIONS]

    def near(self, field: str, word: str, maxdist: int, prefixlength: int) -> list[str]:
        """Terms of *field* within *maxdist* edits of *word* sharing its first letters."""
        found = process.extract(word, self.starting(field, word[:prefixlength]),
                                scorer=Levenshtein.distance, score_cutoff=maxdist,
                                limit=MAX_EXPANSIONS)
        return [term for term, _distance, _index in found]


def expand_multiterms(query: wq.Query, vocabulary: Vocabulary) -> wq.Query:
    """*query* with every FuzzyTerm and Prefix replaced by the terms it stands for.

    Scores stay as Whoosh gives them to such terms: one constant per matching document.
    """
    if isinstance(query, wq.FuzzyTerm):
        words = vocabulary.near(query.fieldname, query.text, query.maxdist, query.prefixlength)
    elif isinstance(query, wq.Prefix):
        words = vocabulary.prefixed(query.fieldname, query.text)
    else:
        return query.apply(lambda child: expand_multiterms(child, vocabulary))
    if not words:
        return wq.NullQuery
    terms = wq.Or([wq.Term(query.fieldname, w) for w in words])
    return wq.ConstantScoreQuery(terms, score=query.boost)
