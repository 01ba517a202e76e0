"""An AND of clauses evaluated by Whoosh only at the documents that can answer every clause.

Whoosh intersects clauses by walking their posting lists, and a phrase checks positions at
every document holding all its words, wherever the other clauses stand.  A query's compound
spellings make that costly: "pavoel rahadu qianha" also asks for the phrases "pavo el",
"raha du" and "qian ha", and Whoosh read most of the postings of "el", "du" and "ha" (words of
most segments) to answer an AND that matched nothing.

Here the candidates are the documents holding every word of one option of every clause: a
document answering the query is one of them.  They start from the documents holding the
rarest word of an option of the clause where those are fewest; the other words are looked up
at those documents only.  The candidates (a few, often none) are the only documents the
query's postings are then read at: each leaf of the Whoosh query skips past every other
document.  Matches and scores are still Whoosh's own, from the same postings, the same query
tree (less the options no candidate holds) and the same weighting.
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
from indexer.query import SEARCH_FIELDS, ParsedQuery, to_whoosh

# Postings of the first clause's rarest words read whole to start the candidates, at most:
# past this, reading them costs more than the walk it spares.
MAX_CANDIDATE_POSTINGS = 20_000
_UNKNOWN = object()


def restricted_query(searcher: Any, parsed: ParsedQuery,
                     allow: set[int] | None = None, deny: set[int] | None = None,
                     fields: tuple[str, ...] = SEARCH_FIELDS) -> wq.Query | None:
    """The Whoosh query of *parsed* (:func:`indexer.query.to_whoosh`) reading postings only
    at the documents holding every word of one option of every clause (and in *allow*,
    not in *deny*, where given); in each leaf reader, the options no such document holds
    all the words of are left out, as they cannot answer there.

    The candidates start from the clause whose options' rarest words are in the fewest
    documents: those documents are read, and the other words only looked up at them.
    None when that would not pay: a query of one clause (its candidates are all its
    matches' documents and more), or a clause in every option too common to read.
    """
    if len(parsed.clauses) < 2:
        return None
    words = _Words(searcher.reader(), fields)
    # Each option's words, rarest first (None: one is in no document, the option answers
    # nothing).
    plans = [[words.by_rarity(option) for option in clause.options]
             for clause in parsed.clauses]
    sizes = [sum(words.frequency(plan[0]) for plan in options if plan) for options in plans]
    order = sorted(range(len(plans)), key=sizes.__getitem__)
    if sizes[order[0]] > MAX_CANDIDATE_POSTINGS:
        return None
    leaves: dict[int, wq.Query | None] = {}
    for leaf, offset in searcher.leaf_searchers():
        leaf_reader = leaf.reader()
        # The documents holding the rarest word of one option of every clause...
        found = {d for plan in plans[order[0]] if plan
                 for d in words.documents(leaf_reader, plan[0])}
        for c in order[1:]:
            if not found:
                break
            docs = sorted(found)
            found = set().union(*(words.holding(leaf_reader, plan[0], docs)
                                  for plan in plans[c] if plan))
        if found and (allow is not None or deny):
            found = {d for d in found if (allow is None or d + offset in allow)
                     and not (deny and d + offset in deny)}
        # ... and among them, those holding every word of such an option.
        held: list[list[set[int]]] = []
        for options in plans:
            if not found:
                break
            held.append([words.holding_all(leaf_reader, plan, found) for plan in options])
            found &= set().union(*held[-1])
        if not found:
            leaves[id(leaf_reader)] = None
            continue
        clauses = [replace(clause, options=tuple(
            option for option, docs in zip(clause.options, held[c], strict=True)
            if docs & found)) for c, clause in enumerate(parsed.clauses)]
        leaves[id(leaf_reader)] = _restrict(
            to_whoosh(replace(parsed, clauses=tuple(clauses)), fields), sorted(found))
    return _PerLeaf(to_whoosh(parsed, fields), leaves)


class _Words:
    """The words of a query in the fields searched: how many documents hold each (looked
    up once), and which documents of a leaf reader do."""

    def __init__(self, reader: Any, fields: tuple[str, ...]) -> None:
        self._reader = reader
        self._fields = [f for f in fields if f in reader.schema]
        self._counts: dict[str, dict[str, int]] = {}

    def _in(self, word: str) -> dict[str, int]:
        found = self._counts.get(word)
        if found is None:
            found = {f: n for f in self._fields
                     if (n := self._reader.doc_frequency(f, word))}
            self._counts[word] = found
        return found

    def frequency(self, word: str) -> int:
        """Documents holding *word*, counted once per field holding it."""
        return sum(self._in(word).values())

    def by_rarity(self, option: Sequence[Sequence[str]]) -> list[str] | None:
        """The distinct words of *option*, rarest first; None if one is in no document."""
        distinct = list(dict.fromkeys(w for sequence in option for w in sequence))
        if not all(self.frequency(w) for w in distinct):
            return None
        return sorted(distinct, key=self.frequency)

    def documents(self, leaf: Any, word: str) -> list[int]:
        """The documents of *leaf* holding *word* in one of the fields."""
        return [d for f in self._in(word) for d in document_numbers(leaf, f, word)]

    def holding(self, leaf: Any, word: str, docs: Sequence[int]) -> set[int]:
        """Which of *docs* (documents of *leaf*, ascending) hold *word* in one of the
        fields."""
        out: set[int] = set()
        for field in self._in(word):
            out |= holding(leaf, field, word, docs)
        return out

    def holding_all(self, leaf: Any, words: Sequence[str] | None, docs: set[int],
                    ) -> set[int]:
        """Which of *docs* hold every one of *words* (None: none do)."""
        if words is None:
            return set()
        for word in words:
            if not docs:
                break
            docs = self.holding(leaf, word, sorted(docs))
        return docs


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
