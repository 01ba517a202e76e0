"""An AND of clauses evaluated by Whoosh only at the documents that can answer every clause.

Whoosh intersects clauses by walking their posting lists, and a phrase checks positions at
every document holding all its words, wherever the other clauses stand.  A query's compound
spellings make that costly: "pavoel rahadu qianha" also asks for the phrases "pavo el",
"raha du" and "qian ha", and Whoosh read most of the postings of "el", "du" and "ha" (words of
most segments) to answer an AND that matched nothing.

Here each option of a clause is represented by its rarest word: a document answering the
clause holds that word of one of its options.  The documents holding such a word for every
clause (a few, often none) are the only ones the query's postings are then read at: each
leaf of the Whoosh query skips past every other document.  Matches and scores are still
Whoosh's own, from the same postings, the same query tree and the same weighting.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from whoosh import matching
from whoosh import query as wq
from whoosh.matching.wrappers import WrappingMatcher
from whoosh.query.spans import SpanNear2
from whoosh.query.wrappers import WrappingQuery

from indexer.postings import document_numbers, holding, skip_to
from indexer.query import SEARCH_FIELDS, Clause, ParsedQuery, to_whoosh

# Postings read to find the candidates, at most (the clauses with the fewest first): past
# this, reading them costs more than the walk it spares.
MAX_CANDIDATE_POSTINGS = 20_000
_UNKNOWN = object()


def restricted_query(searcher: Any, parsed: ParsedQuery,
                     allow: set[int] | None = None, deny: set[int] | None = None,
                     fields: tuple[str, ...] = SEARCH_FIELDS) -> wq.Query | None:
    """The Whoosh query of *parsed* (:func:`indexer.query.to_whoosh`) reading postings only
    at documents that hold, for every clause, the rarest word of one of its options (and
    are in *allow*, not in *deny*, where given); each leaf reader leaves out the options
    whose rarest word no such document holds, as they cannot answer there.

    None when that would not pay: a query of one clause (its candidates are all its
    matches' documents and more), or clauses too common to read their candidates cheaply.
    """
    if len(parsed.clauses) < 2:
        return None
    reader = searcher.reader()
    rarest = [[_rarest(reader, option, fields) for option in clause.options]
              for clause in parsed.clauses]
    sizes = [sum(_frequency(reader, w, fields) for w in words) for words in rarest]
    budget = MAX_CANDIDATE_POSTINGS
    chosen: list[int] = []
    for c in sorted(range(len(sizes)), key=sizes.__getitem__):
        if sizes[c] > budget:
            break
        budget -= sizes[c]
        chosen.append(c)
    if not chosen:
        return None
    leaves: dict[int, wq.Query | None] = {}
    for leaf, offset in searcher.leaf_searchers():
        leaf_reader = leaf.reader()
        found: set[int] = set()
        holding: dict[int, list[set[int]]] = {}
        for n, c in enumerate(chosen):
            holding[c] = [set(_postings(leaf_reader, w, fields)) for w in rarest[c]]
            docs = set().union(*holding[c])
            found = docs if n == 0 else found & docs
            if not found:
                break
        if found and (allow is not None or deny):
            found = {d for d in found if (allow is None or d + offset in allow)
                     and not (deny and d + offset in deny)}
        if not found:
            leaves[id(leaf_reader)] = None
            continue
        clauses = [replace(clause, options=tuple(
            option for option, docs in zip(clause.options, holding[c], strict=True)
            if docs & found)) if c in holding else clause
            for c, clause in enumerate(parsed.clauses)]
        leaves[id(leaf_reader)] = _restrict(
            to_whoosh(replace(parsed, clauses=tuple(clauses)), fields), sorted(found))
    return _PerLeaf(to_whoosh(parsed, fields), leaves)


def clause_holders(reader: Any, clause: Clause, docs: Sequence[int],
                   fields: tuple[str, ...] = SEARCH_FIELDS) -> set[int]:
    """Which of *docs* (ascending) may say *clause* exactly: those holding the rarest word
    of one of its options (more than say it, never fewer)."""
    out: set[int] = set()
    for word in {_rarest(reader, option, fields) for option in clause.options}:
        if word is not None:
            for field in fields:
                out |= holding(reader, field, word, docs)
    return out


def _frequency(reader: Any, word: str | None, fields: Sequence[str]) -> int:
    if word is None:
        return 0
    return sum(reader.doc_frequency(f, word) for f in fields if f in reader.schema)


def _rarest(reader: Any, option: Sequence[Sequence[str]], fields: Sequence[str]) -> str | None:
    """The word of *option* in the fewest documents (None when one is in none: the option
    answers nothing)."""
    best: tuple[int, str] | None = None
    for sequence in option:
        for word in sequence:
            count = _frequency(reader, word, fields)
            if count == 0:
                return None
            if best is None or count < best[0]:
                best = (count, word)
    return best[1] if best else None


def _postings(reader: Any, word: str | None, fields: Sequence[str]) -> list[int]:
    if word is None:
        return []
    return [d for field in fields for d in document_numbers(reader, field, word)]


def _restrict(query: wq.Query, ids: list[int]) -> wq.Query:
    if type(query) is wq.Term:
        return _WithinTerm(query.fieldname, query.text, ids, boost=query.boost)
    if type(query) is wq.Phrase:
        return _WithinPhrase(query.fieldname, query.words, ids, slop=query.slop,
                             boost=query.boost)
    return query.apply(lambda child: _restrict(child, ids))


class _PerLeaf(WrappingQuery):  # type: ignore[misc]
    """*child* as each leaf reader's own query (None: no match there); a reader not
    listed reads the whole of *child*."""

    def __init__(self, child: wq.Query, leaves: dict[int, wq.Query | None]) -> None:
        super().__init__(child)
        self.leaves = leaves

    def _rewrap(self, child: wq.Query) -> WrappingQuery:
        return WrappingQuery(child)

    def matcher(self, searcher: Any, context: Any = None) -> Any:
        found = self.leaves.get(id(searcher.reader()), _UNKNOWN)
        if found is _UNKNOWN:
            return self.child.matcher(searcher, context)
        if found is None:
            return matching.NullMatcher()
        return found.matcher(searcher, context)


class _WithinTerm(wq.Term):  # type: ignore[misc]
    """A term whose postings are read only at the documents *ids* (of one leaf reader)."""

    def __init__(self, fieldname: str, text: str, ids: list[int], boost: float = 1.0,
                 ) -> None:
        super().__init__(fieldname, text, boost=boost)
        self.ids = ids

    def matcher(self, searcher: Any, context: Any = None) -> Any:
        found = super().matcher(searcher, context)
        return _Within(found, self.ids) if found.is_active() else found


class _WithinPhrase(wq.Phrase):  # type: ignore[misc]
    """A phrase whose words' postings are read only at the candidates (positions too)."""

    def __init__(self, fieldname: str, words: Sequence[str], ids: list[int],
                 slop: int = 1, boost: float = 1.0) -> None:
        super().__init__(fieldname, list(words), slop=slop, boost=boost)
        self.ids = ids

    def matcher(self, searcher: Any, context: Any = None) -> Any:
        # Whoosh's Phrase.matcher, with our terms in its SpanNear2.
        reader = searcher.reader()
        if self.fieldname not in searcher.schema:
            return matching.NullMatcher()
        field = searcher.schema[self.fieldname]
        terms: list[wq.Query] = []
        for word in self.words:
            try:
                if (self.fieldname, field.to_bytes(word)) not in reader:
                    return matching.NullMatcher()
            except ValueError:
                return matching.NullMatcher()
            terms.append(_WithinTerm(self.fieldname, word, self.ids))
        found = SpanNear2(terms, slop=self.slop, ordered=True, mindist=1).matcher(searcher,
                                                                                 context)
        if self.boost != 1.0:
            found = WrappingMatcher(found, boost=self.boost)
        return found


class _Within(WrappingMatcher):  # type: ignore[misc]
    """A leaf matcher that stops only at the documents of *ids* (sorted): it skips its
    postings from one to the next, never reading the blocks in between."""

    def __init__(self, child: Any, ids: Sequence[int], at: int = 0) -> None:
        super().__init__(child)
        self._ids = ids
        self._at = at
        self._settle()

    def _settle(self) -> None:
        """Move on to the first candidate at or after the posting the child is at."""
        child, ids = self.child, self._ids
        while child.is_active():
            current = child.id()
            self._at = bisect_left(ids, current, self._at)
            if self._at >= len(ids) or ids[self._at] == current:
                return
            skip_to(child, ids[self._at])

    def is_active(self) -> bool:
        return bool(self._at < len(self._ids) and self.child.is_active())

    def next(self) -> bool:
        self.child.next()
        self._settle()
        return True

    def skip_to(self, target: int) -> None:
        if target <= self.child.id():
            return
        self._at = bisect_left(self._ids, target, self._at)
        if self._at < len(self._ids):
            skip_to(self.child, self._ids[self._at])
            self._settle()

    def all_ids(self) -> Any:
        while self.is_active():
            yield self.id()
            self.next()

    def copy(self) -> _Within:
        return _Within(self.child.copy(), self._ids, self._at)

    def _replacement(self, newchild: Any) -> _Within:
        return _Within(newchild, self._ids, self._at)

    def replace(self, minquality: float = 0) -> Any:
        return self if self.is_active() else matching.NullMatcher()

    def supports_block_quality(self) -> bool:
        return False
