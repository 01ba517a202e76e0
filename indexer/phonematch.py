"""Where a sentence sounds like the query: an alignment of phones across word boundaries.

The query's phones are aligned with the phones of what was heard, all of a sentence's words
run together, so a name heard as two words ("a leppo"), or two words heard as one
("portside"), lines up as well as a name heard as one wrong word ("chemistry" for
"Qamishli").  The alignment is semi-global: all of the query, any stretch of the sentence.
A substitution costs the two phones' articulatory feature distance (``indexer.phones``),
so "k" for "g" costs little and "k" for "a" much; a query phone not heard, or a heard phone
not in the query, costs a fixed amount (less for vowels, which recognisers and accents
change most).  The similarity is one less the cost over the cost of hearing nothing.

Many sentences are aligned at once: their phones are laid end to end with a barrier between
them, and each row of the dynamic programme is a few numpy operations over all of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from indexer.phones import PHONES

# What a missing query phone costs, and an extra heard phone, for consonants and for vowels
# (and h, w, j, as easily lost).
DELETE_CONSONANT = 0.8
DELETE_VOWEL = 0.45
INSERT_CONSONANT = 0.7
INSERT_VOWEL = 0.4
# A feature distance is scaled by this before use as a substitution cost (capped at 1):
# two phones differing in a fifth of their features are as unlike as unrelated ones.
SUBSTITUTION_SCALE = 2.5
# Heard phones of the matched words left outside the aligned stretch cost this share of an
# insertion: "Goma" inside "Gomorrah" is a weaker match than "Goma" heard alone.
OUTSIDE_SHARE = 0.5
# ... and in a word the recogniser doubted, this part of that.
DOUBTED_SHARE = 0.4
_BARRIER = 1e4
# More than a similarity can gain by rounding to three places.
_ROUNDING = 0.001


@dataclass(frozen=True)
class PhoneHit:
    """Where a sentence sounds like a target: words *first* to *last* (inclusive)."""

    first: int
    last: int
    similarity: float


def _costs(ids: npt.NDArray[np.int64], consonant: float, vowel: float,
           ) -> npt.NDArray[np.float64]:
    vowels = PHONES.vowels()
    return np.where(vowels[ids], vowel, consonant)


class Layout:
    """Sentences' phones laid end to end for aligning targets with all of them at once:
    column zero of each sentence is a barrier no alignment crosses."""

    def __init__(self, sentences: Sequence[Sequence[tuple[str, ...]]],
                 doubted: Sequence[Sequence[bool]] | None = None) -> None:
        flat: list[str] = []
        word_of: list[int] = []
        share: list[float] = []
        self.starts: list[int] = []
        for b, words in enumerate(sentences):
            self.starts.append(len(flat))
            flat.append("")
            word_of.append(-1)
            share.append(0.0)
            for w, phones in enumerate(words):
                weight = OUTSIDE_SHARE * (DOUBTED_SHARE if doubted is not None and doubted[b][w]
                                          else 1.0)
                flat.extend(phones)
                word_of.extend([w] * len(phones))
                share.extend([weight] * len(phones))
        self.starts.append(len(flat))
        self.size = len(flat)
        self.word_of = word_of
        self._owner = np.array(word_of, dtype=np.int64)
        self.barrier = np.array([not p for p in flat], dtype=bool)
        self.columns = np.zeros(self.size, dtype=np.int64)
        known = PHONES.known()
        found = [known.get(p, -1) for p in flat if p]
        # A phone met for the first time is numbered (and the distances grow) first.
        ids = PHONES.ids(p for p in flat if p) if -1 in found else found
        self.columns[~self.barrier] = ids
        self.insert = _costs(self.columns, INSERT_CONSONANT, INSERT_VOWEL)
        self.insert[self.barrier] = _BARRIER
        skipped = self.insert * np.array(share)
        skipped[self.barrier] = 0.0
        self._skipped = skipped
        self.cumulative = np.cumsum(self.insert)
        # What skipping the phones of column j's word up to j (j included) costs, and after
        # j: a stretch starting or ending inside a word pays for the rest of it.
        owner = self._owner
        running = np.cumsum(skipped)
        first_col = np.zeros(self.size, dtype=np.int64)
        new_word = np.ones(self.size, dtype=bool)
        new_word[1:] = owner[1:] != owner[:-1]
        first_col[new_word] = np.flatnonzero(new_word)
        first_col = np.maximum.accumulate(first_col)
        last_col = np.full(self.size, self.size - 1, dtype=np.int64)
        ends_word = np.ones(self.size, dtype=bool)
        ends_word[:-1] = owner[:-1] != owner[1:]
        last_col[ends_word] = np.flatnonzero(ends_word)
        last_col = np.minimum.accumulate(last_col[::-1])[::-1]
        # Kept for subset(): each column's word's bounds within its own sentence (a
        # barrier's are itself: what it holds is never read).
        here = np.arange(self.size)
        self._first_col = np.where(self.barrier, here, first_col)
        self._last_col = np.where(self.barrier, here, last_col)
        self._unskipped = ends_word | self.barrier
        self._running_sums(running)

    def _running_sums(self, running: npt.NDArray[np.float64]) -> None:
        before = running - running[self._first_col] + self._skipped[self._first_col]
        self.after = running[self._last_col] - running
        # Row zero: a stretch starting after column j pays for the phones of its first
        # word skipped up to j (nothing when j ends a word or is a barrier).
        self.initial = np.where(self._unskipped, 0.0, before)
        # The targets aligned so far: each one's last row, by (features, phone numbers).  A
        # target's rows depend only on its phones so far, so a target that starts with
        # another ("Al Mansouri" with "Al", a pair of clauses with its first) goes on from
        # the other's last row.  And each phone's substitution costs against every column.
        self._rows: dict[tuple[bool, tuple[int, ...]], npt.NDArray[np.float64]] = {}
        self._substitutions: dict[tuple[bool, int], npt.NDArray[np.float64]] = {}

    def subset(self, sentences: Sequence[int]) -> Layout:
        """A layout of these of its sentences (by number, in this order), the same as one
        laid out anew but without reading their phones again: for aligning a few
        sentences of many laid out once."""
        part = object.__new__(Layout)
        old = np.array([self.starts[b] for b in sentences], dtype=np.int64)
        lengths = np.array([self.starts[b + 1] for b in sentences], dtype=np.int64) - old
        part.starts = [0, *np.cumsum(lengths).tolist()]
        part.size = part.starts[-1]
        # Where each column was, and how far its sentence moved.
        moved = np.repeat(np.array(part.starts[:-1], dtype=np.int64) - old, lengths)
        take = np.arange(part.size) - moved
        part._owner = self._owner[take]
        part.word_of = part._owner.tolist()
        part.barrier = self.barrier[take]
        part.columns = self.columns[take]
        part.insert = self.insert[take]
        part._skipped = self._skipped[take]
        part._first_col = self._first_col[take] + moved
        part._last_col = self._last_col[take] + moved
        part._unskipped = self._unskipped[take]
        # Summed anew over these sentences only, as a new layout sums them (the sums of
        # the whole layout differ in their last bits).
        part.cumulative = np.cumsum(part.insert)
        part._running_sums(np.cumsum(part._skipped))
        return part

    def last_row(self, query: tuple[int, ...], sub_table: npt.NDArray[np.float64],
                 delete: npt.NDArray[np.float64], features: bool) -> npt.NDArray[np.float64]:
        """The last row of the dynamic programme aligning *query* (phone numbers) with every
        sentence: the cost of the best alignment of all of it ending at each column."""
        start, row = 0, self.initial
        for n in range(len(query), 0, -1):
            known = self._rows.get((features, query[:n]))
            if known is not None:
                start, row = n, known
                break
        diagonal = np.empty(self.size)
        for i in range(start, len(query)):
            sub = self._substitutions.get((features, query[i]))
            if sub is None:
                sub = sub_table[query[i], self.columns]
                sub[self.barrier] = _BARRIER
                self._substitutions[(features, query[i])] = sub
            diagonal[0] = _BARRIER * 10
            diagonal[1:] = row[:-1] + sub[1:]
            best = np.minimum(diagonal, row + delete[i])
            # Extra heard phones (moves along the row): D[j] = min_k (X[k] + ins(k+1..j)).
            row = self.cumulative + np.minimum.accumulate(best - self.cumulative)
        self._rows[(features, query)] = row
        return row


class Aligned:
    """A target aligned with every sentence of a layout at once: how alike each sentence's
    best stretch sounds (:attr:`similarities`, None for a sentence without phones), and
    where that stretch lies (:meth:`hit`).

    The stretch's end comes with the similarity; its start takes a small dynamic programme
    per sentence (:func:`_start_of`, in Python), so it is worked out only for the sentences
    asked about: most are dropped on their similarities alone.
    """

    def __init__(self, target: Sequence[str], layout: Layout, *, features: bool = True,
                 ) -> None:
        self.layout = layout
        count = len(layout.starts) - 1
        self.similarities: list[float | None] = [None] * count
        self._ends: list[int] = [0] * count
        if not target or not count:
            return
        numbers = tuple(PHONES.ids(target))
        query = np.array(numbers, dtype=np.int64)
        matrix = PHONES.matrix
        sub_table = (np.minimum(1.0, matrix * SUBSTITUTION_SCALE) if features
                     else (matrix > 0).astype(np.float64))
        delete = _costs(query, DELETE_CONSONANT, DELETE_VOWEL)
        final = layout.last_row(numbers, sub_table, delete, features) + layout.after
        total = float(delete.sum())
        # Each sentence's best end: the first column of its lowest cost (barriers left out).
        starts = np.array(layout.starts)
        phoned = np.flatnonzero(starts[1:] > starts[:-1] + 1)
        if phoned.size:
            firsts = starts[:-1][phoned] + 1
            costs = final.copy()
            costs[layout.barrier] = np.inf
            lowest = np.minimum.reduceat(costs, firsts)
            owner = np.repeat(np.arange(firsts.size), np.diff(np.append(firsts, layout.size)))
            columns = np.arange(firsts[0], layout.size)
            at_lowest = np.where(costs[firsts[0]:] == lowest[owner], columns, layout.size)
            ends = np.minimum.reduceat(at_lowest, firsts - firsts[0])
            for b, end, cost in zip(phoned.tolist(), ends.tolist(), final[ends].tolist(),
                                    strict=True):
                self._ends[b] = end
                self.similarities[b] = round(max(0.0, 1.0 - cost / total), 3)
        self._query, self._sub_table, self._delete = query, sub_table, delete

    def hit(self, sentence: int) -> PhoneHit | None:
        """The best stretch of sentence number *sentence* (None if it has no phones)."""
        similarity = self.similarities[sentence]
        if similarity is None:
            return None
        layout, end = self.layout, self._ends[sentence]
        span = _start_of(self._query, layout.columns, layout.starts[sentence] + 1, end,
                         self._sub_table, self._delete, layout.insert, layout.initial)
        return PhoneHit(layout.word_of[span], layout.word_of[end], similarity)


def align(target: Sequence[str], sentences: Sequence[Sequence[tuple[str, ...]]] | Layout, *,
          doubted: Sequence[Sequence[bool]] | None = None, features: bool = True,
          floor: float = 0.0) -> list[PhoneHit | None]:
    """The best stretch of each sentence (given as its words' phones, or laid out once for
    many targets) for *target*'s phones; None where the similarity is below *floor*.

    A stretch that starts or ends inside a word pays for the rest of that word
    (:data:`OUTSIDE_SHARE`), less in words the recogniser doubted (*doubted*, per sentence
    and word): a doubted word may be a name glued to the next word ("Shababhachak").  With
    *features* false, every substitution of two different phones costs 1 (for measuring
    what the feature distances add).
    """
    layout = sentences if isinstance(sentences, Layout) else Layout(sentences, doubted)
    aligned = Aligned(target, layout, features=features)
    return [aligned.hit(b) if s is not None and s >= floor else None
            for b, s in enumerate(aligned.similarities)]


def _start_of(query: npt.NDArray[np.int64], columns: npt.NDArray[np.int64], first: int,
              end: int, sub_table: npt.NDArray[np.float64], delete: npt.NDArray[np.float64],
              insert: npt.NDArray[np.float64], initial: npt.NDArray[np.float64]) -> int:
    """The first heard column of the best alignment ending at column *end* (a small
    dynamic programme over the columns before it, keeping where each path began)."""
    lo = max(first, end - 2 * len(query) - 4)
    width = end - lo + 1
    inf = float("inf")
    # The costs as Python floats, read once: indexing a NumPy array cell by cell is slow.
    subs = sub_table[np.ix_(query, columns[lo : end + 1])].tolist()
    deletes = delete.tolist()
    inserts = insert[lo : end + 1].tolist()
    # cost[j], start[j]: the best alignment of query[:i] ending at column lo + j.
    cost = initial[lo : end + 1].tolist()
    start = list(range(lo, end + 1))
    for i in range(len(query)):
        new_cost = [inf] * width
        new_start = [0] * width
        sub, gone = subs[i], deletes[i]
        for j in range(width):
            best, origin = cost[j] + gone, start[j]
            if j > 0:
                value = cost[j - 1] + sub[j]
                if value < best:
                    best, origin = value, start[j - 1] if i > 0 else lo + j
                value = new_cost[j - 1] + inserts[j]
                if value < best:
                    best, origin = value, new_start[j - 1]
            new_cost[j] = best
            new_start[j] = origin
        cost, start = new_cost, new_start
    return max(first, min(start[width - 1], end))
