"""Reading a term's postings a block at a time.

Whoosh stores postings in blocks of up to 128 document numbers, each one pickled tuple of
differences from the previous number, but steps through a block one posting at a time,
several Python calls each: ``Matcher.all_ids`` takes about 1 us a posting (4 ms for a word
said in 4,000 segments), and ``skip_to`` walks up to 127 postings to reach a document in
the block.  Here a block is read whole, and searched by bisection.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from itertools import accumulate
from typing import Any

from whoosh.codec.whoosh3 import W3LeafMatcher
from whoosh.matching.wrappers import FilterMatcher

# A posting list at most this many times as long as the documents looked up in it is read
# whole: a skip to each of them costs about as much as reading this many postings.
READ_WHOLE = 8


def document_numbers(reader: Any, field: str, word: str) -> list[int]:
    """The numbers of the live documents of *reader* holding *word* in *field*, ascending
    (none when the field or the word is not in it)."""
    if field not in reader.schema or (field, word) not in reader:
        return []
    if not reader.is_atomic():
        out: list[int] = []
        for leaf, offset in reader.leaf_readers():
            out.extend(d + offset for d in document_numbers(leaf, field, word))
        return out
    found = reader.postings(field, word)
    if isinstance(found, FilterMatcher):
        found = found.child  # deleted documents are left out below, in one pass
    if isinstance(found, W3LeafMatcher) and not found._byteids:
        numbers: list[int] = []
        # Whoosh's own fields, read as its W3LeafMatcher reads them (whoosh/codec/whoosh3.py).
        while found.is_active():
            if found._data is None:
                found._read_data()
            numbers.extend(accumulate(found._data[0]))
            found._next_block()
    else:
        numbers = list(found.all_ids())
    if reader.has_deletions():
        numbers = [d for d in numbers if not reader.is_deleted(d)]
    return numbers


def skip_to(matcher: Any, target: int) -> None:
    """``matcher.skip_to(target)`` (an active matcher moves to its first document at or
    after *target*), by bisection inside a block for Whoosh's own leaf matcher."""
    if type(matcher) is not W3LeafMatcher:
        matcher.skip_to(target)
        return
    # Whoosh's own fields, used as W3LeafMatcher.skip_to uses them.
    if target > matcher._maxid:
        matcher._skip_to_block(lambda: target > matcher._maxid)
        if not matcher.is_active():
            return
    if matcher._ids is None:
        matcher._read_ids()
    matcher._i = bisect_left(matcher._ids, target, matcher._i)


def holding(reader: Any, field: str, word: str, docs: Sequence[int]) -> set[int]:
    """Which of the documents *docs* (numbers of *reader*, ascending) hold *word* in
    *field*: its postings are skipped from one to the next, the blocks between never
    read, or read whole where the documents are many for the postings."""
    out: set[int] = set()
    if not docs or field not in reader.schema or (field, word) not in reader:
        return out
    leaves = [(reader, 0)] if reader.is_atomic() else reader.leaf_readers()
    for leaf, offset in leaves:
        size = leaf.doc_count_all()
        mine = [d - offset for d in docs if offset <= d < offset + size]
        if not mine or (field, word) not in leaf:
            continue
        if leaf.doc_frequency(field, word) <= READ_WHOLE * len(mine):
            out.update(d + offset for d in set(mine).intersection(
                document_numbers(leaf, field, word)))
            continue
        found = leaf.postings(field, word)
        if isinstance(found, FilterMatcher):
            found = found.child  # *docs* are live documents
        for doc in mine:
            if not found.is_active():
                break
            skip_to(found, doc)
            if found.is_active() and found.id() == doc:
                out.add(doc + offset)
    return out
