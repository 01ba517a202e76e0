"""The phonetic pass of a search: what a segment stores for it, and which segments sound
like the query.

At index time each heard word's phones and probability are stored with the segment, and its
phone keys (:func:`indexer.phones.phone_keys`) are indexed.  At query time the query's keys
find candidate segments among the index's keys (those alike by edit distance, read from the
term list once per searcher), and :func:`match_segments` aligns the query's phones with
each candidate's (:mod:`indexer.phonematch`) to decide, and to find the words to mark.

:func:`match_segments` takes plain words, phones and probabilities, so any store holding
what :func:`segment_phone_fields` gives can use it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rapidfuzz import fuzz, process

from indexer.clips import _exact_positions, _stream
from indexer.domain import Word
from indexer.phones import (
    phone_keys,
    pronounce,
    read_phones,
    skeleton,
    stored_phones,
)
from indexer.phonetic import DOUBT_BELOW
from indexer.postings import document_numbers
from indexer.query import STOPWORDS, ParsedQuery
from indexer.schema import KIND_SEGMENT, PHONE_KEYS_FIELD, PHONES_FIELD
from indexer.vocabulary import TermLists

if TYPE_CHECKING:  # it loads NumPy: only once a search gets as far as aligning
    from indexer.phonematch import Layout, PhoneHit

# A target (a clause, or the whole query) is compared by sound only from this many phones
# up: shorter words ("Goma" has four) sound like too many others.
MIN_TARGET_PHONES = 4
# Similarity (0-1) a stretch must reach to answer a target of fewer than LONG_TARGET phones,
# of fewer than LONGER_TARGET, and of more: the longer the target, the less a stretch that
# is not it can sound as alike by chance.
SHORT_THRESHOLD = 0.82
THRESHOLD = 0.72
LONGER_THRESHOLD = 0.65
LONG_TARGET = 6
LONGER_TARGET = 10
# Words heard with at least this probability were heard as the recogniser meant them:
# a stretch made only of such words must sound closer still.
CONFIDENT = 0.85
CONFIDENT_EXTRA = 0.1
# Words heard with less than this probability were guesses at something the recogniser
# did not know (a name, often): a stretch made only of them may sound less alike.
UNSURE = 0.45
UNSURE_BONUS = 0.1
# And when the query was heard exactly elsewhere, closer still (see match_segments).
EXACT_EXTRA = 0.1
# Matches less alike than the best one by more than this are dropped: when one stretch
# sounds nearly like the query, those that only resemble it are noise.
RELATIVE_MARGIN = 0.15
# Keys of the index compared with a query key must be this alike (rapidfuzz ratio, 0-100),
# at most MAX_KEY_TERMS of them, and at most MAX_CANDIDATES segments are aligned.
KEY_SIMILARITY = 66.0
MAX_KEY_TERMS = 24
MAX_CANDIDATES = 100
# Each word's probability is stored as one character: this plus its percent.
_PERCENT_BASE = 48
UPGRADE_NOTICE = ("this index has no phone index, so names are matched by spelling-based "
                  "sound keys only: run `briefing reindex` to build it")


@dataclass(frozen=True)
class PhoneticTuning:
    """Which parts of the phonetic pass a search uses (all, but for measuring each)."""

    # Substitutions weighted by articulatory features (else every different phone costs 1).
    features: bool = True
    # Stretches of words the recogniser was sure of must sound closer, those it guessed at
    # may sound less alike, and a doubted word may hold more than the query.
    gate: bool = True
    # The whole query as one target, across its clauses ("Al Mansouri" as "Almansuri").
    whole: bool = True
    # The spelling-based pass of before (indexer.phonetic: sound keys, fuzzy spellings, run-ons,
    # a long name with one word wrong) runs as well.  Off: on our benchmark it adds nothing
    # the phones miss (README, ablation) and costs a second search.  An index made before
    # the phone index always runs it.
    keys: bool = False
    # The phone index is used at all (off: only the spelling-based pass, as before it).
    phones: bool = True


@dataclass(frozen=True)
class Target:
    """What a segment must sound like: the query's clauses *clauses* (indexes) said as one
    stretch, their phones run together."""

    clauses: tuple[int, ...]
    phones: tuple[str, ...]
    key: str
    # The keys of its words and runs of them too: the segment may key only the part of a
    # name the recogniser doubted ("Kivupa" of "North Kivupa").
    keys: tuple[str, ...] = ()


@dataclass(frozen=True)
class PhoneticMatch:
    """Which words of a segment answer the query, some of them only by sound."""

    indexes: tuple[int, ...]
    heard: str  # the words heard where the query's sounded
    similarity: float


def segment_phone_fields(words: Sequence[Word]) -> dict[str, Any]:
    """What a segment heard as *words* stores for phonetic search: each word's phones (words
    separated by spaces, phones by dots) with each word's probability (a character per word,
    its percent after :data:`_PERCENT_BASE`), and its phone keys (space-separated).
    Nothing without words."""
    if not words:
        return {}
    phones = pronounce([w.word for w in words])
    # Words the recogniser doubted, and names as it wrote them (it may be sure of a
    # wrong one: "Chichagong" 0.67 for "Chittagong").
    keys = phone_keys(phones, [w.probability < DOUBT_BELOW or w.word.strip()[:1].isupper()
                               for w in words])
    return {
        # Two strings pickle many times faster than a list per word.
        PHONES_FIELD: (" ".join(stored_phones(phones)),
                       "".join(chr(_PERCENT_BASE + round(w.probability * 100)) for w in words)),
        PHONE_KEYS_FIELD: " ".join(keys),
    }


def query_targets(parsed: ParsedQuery, *, whole: bool = True) -> list[Target]:
    """The targets of *parsed*: each clause worth comparing by sound and, with *whole*,
    each pair of adjacent clauses and all of them, said as one ("sea wall" heard as
    "seawall", "Al Mansouri" as "Almansuri")."""
    return list(_targets(parsed, whole))


# Kept: the percolator asks for the same saved queries' targets for every new video.
@functools.lru_cache(maxsize=4096)
def _targets(parsed: ParsedQuery, whole: bool) -> tuple[Target, ...]:
    usable: dict[int, list[tuple[str, ...]]] = {}
    for i, clause in enumerate(parsed.clauses):
        words = [w for w in clause.words if w not in STOPWORDS or len(clause.words) > 1]
        if words and not any(c.isdigit() for w in words for c in w):
            usable[i] = pronounce(words)
    runs: list[tuple[int, ...]] = [(i,) for i in usable]
    if whole:
        n = len(parsed.clauses)
        runs += [(i, i + 1) for i in range(n - 1) if i in usable and i + 1 in usable]
        if n > 2 and len(usable) == n:
            runs.append(tuple(range(n)))
    out: list[Target] = []
    for run in runs:
        said = [w for i in run for w in usable[i] if w]
        phones = tuple(p for w in said for p in w)
        key = skeleton(phones)
        if len(phones) >= MIN_TARGET_PHONES and key:
            parts = {skeleton(p for w in said[a:b] for p in w)
                     for a in range(len(said)) for b in range(a + 1, len(said) + 1)}
            out.append(Target(run, phones, key, tuple(sorted(k for k in parts if k))))
    return tuple(out)


def alike_keys(vocabulary: TermLists, targets: Sequence[Target]) -> list[str]:
    """The phone keys of *vocabulary* like a target's (the MAX_KEY_TERMS most alike of each
    target's keys, the first in the vocabulary's order among equals), most alike first."""
    import numpy as np  # here, not at import: `briefing search` starts without NumPy

    scored: dict[str, float] = {}
    # Keys are compared among those starting with the same class: a recogniser keeps a
    # name's first sound far more often than the rest.  The keys sharing one are compared
    # in one call: reading the vocabulary's strings is much of the cost (half of it, for 6
    # keys among 44,000 at 1M segments).
    keys = sorted({k for t in targets for k in (t.key, *t.keys)})
    for first in sorted({k[:1] for k in keys}):
        group = [k for k in keys if k[:1] == first]
        terms = vocabulary.starting(PHONE_KEYS_FIELD, first)
        if not terms:
            continue
        similarity = process.cdist(group, terms, scorer=fuzz.ratio,
                                   score_cutoff=KEY_SIMILARITY, dtype=np.float64)
        for row in similarity:
            found = np.flatnonzero(row)  # below the cutoff, 0
            if len(found) > MAX_KEY_TERMS:
                found = found[np.lexsort((found, -row[found]))[:MAX_KEY_TERMS]]
            for i in found.tolist():
                score = float(row[i])
                if score > scored.get(terms[i], 0.0):
                    scored[terms[i]] = score
    # Ties broken by the term: the candidates are cut at MAX_CANDIDATES, and a set's order
    # changes from one process to the next.
    return sorted(scored, key=lambda t: (-scored[t], t))


def candidate_documents(reader: Any, vocabulary: TermLists, targets: Sequence[Target],
                        restrict: set[int] | None, excluded: set[int], *,
                        memo: PhoneticMemo | None = None) -> list[int]:
    """Segments with a phone key like a target's, most alike first (at most
    :data:`MAX_CANDIDATES`); a key's segments are read through *memo* when given."""
    out: list[int] = []
    seen: set[int] = set()
    for term in alike_keys(vocabulary, targets):
        for doc in (memo.documents(term) if memo is not None
                    else document_numbers(reader, PHONE_KEYS_FIELD, term)):
            if doc in seen or doc in excluded or (restrict is not None and doc not in restrict):
                continue
            seen.add(doc)
            out.append(doc)
            if len(out) >= MAX_CANDIDATES:
                return out
    return out


@dataclass(frozen=True)
class Heard:
    """A segment as the phonetic pass reads it."""

    tokens: tuple[str, ...]  # the words as stored (Whisper's pieces)
    phones: tuple[tuple[str, ...], ...]
    probabilities: tuple[float, ...]

    @classmethod
    def from_stored(cls, words: Sequence[Sequence[Any]], phones: Sequence[str]) -> Heard:
        """From the stored ``words`` and ``phones`` fields of a segment."""
        spoken, percents = phones
        return cls(tuple(str(w[0]) for w in words), tuple(read_phones(spoken.split(" "))),
                   tuple((ord(c) - _PERCENT_BASE) / 100 for c in percents))


def read_segment(searcher: Any, docnum: int) -> tuple[dict[str, Any], Heard | None]:
    """The stored fields of document *docnum* of *searcher* and, for a segment stored with
    its phones, that segment as the phonetic pass reads it (else None: an article, or a
    segment of an index made before the phone index)."""
    doc = searcher.stored_fields(docnum)
    if doc.get("kind") != KIND_SEGMENT or not doc.get(PHONES_FIELD):
        return doc, None
    return doc, Heard.from_stored(doc.get("words", []), doc[PHONES_FIELD])


class PhoneticMemo:
    """What the phonetic pass reads of one searcher whose documents never change, kept for
    every query read from it: the documents of each phone key, each segment's stored fields
    and phones, and their phones laid out for aligning.

    For a small index read for many queries (the percolator's index of one video, matched
    against every watch: reading and aligning the same hundred segments again for each
    watch was most of the cost).  It keeps all it reads, so a searcher of the whole index
    has none.
    """

    def __init__(self, searcher: Any) -> None:
        self._searcher = searcher
        self._documents: dict[str, tuple[int, ...]] = {}
        self._segments: dict[int, tuple[dict[str, Any], Heard | None]] = {}
        # Per gate: every segment with phones laid out once, and where each one lies.
        self._layouts: dict[bool, tuple[Layout, dict[int, int]]] = {}

    def documents(self, key: str) -> tuple[int, ...]:
        """The documents holding the phone key *key*, read once."""
        found = self._documents.get(key)
        if found is None:
            ids = self._searcher.reader().postings(PHONE_KEYS_FIELD, key).all_ids()
            found = self._documents[key] = tuple(ids)
        return found

    def segment(self, docnum: int) -> tuple[dict[str, Any], Heard | None]:
        """:func:`read_segment` of document *docnum*, read once."""
        found = self._segments.get(docnum)
        if found is None:
            found = self._segments[docnum] = read_segment(self._searcher, docnum)
        return found

    def layout(self, segments: Sequence[Heard], gate: bool) -> Layout:
        """*segments* (each one read by :meth:`segment`) laid out for aligning, as
        :func:`match_segments` lays them out, cut from one layout of every segment."""
        layout, where = self._layout(gate)
        return layout.subset([where[id(s)] for s in segments])

    def _layout(self, gate: bool) -> tuple[Layout, dict[int, int]]:
        found = self._layouts.get(gate)
        if found is None:
            from indexer.phonematch import Layout

            heard = [h for n in self._searcher.reader().all_doc_ids()
                     if (h := self.segment(n)[1]) is not None]
            # By identity: the memo hands out one Heard per segment and keeps it.
            found = (Layout([h.phones for h in heard], _doubted(heard, gate)),
                     {id(h): i for i, h in enumerate(heard)})
            self._layouts[gate] = found
        return found


def _base(target: Target) -> float:
    size = len(target.phones)
    return (SHORT_THRESHOLD if size < LONG_TARGET
            else THRESHOLD if size < LONGER_TARGET else LONGER_THRESHOLD)


def _doubted(segments: Sequence[Heard], gate: bool) -> list[list[bool]] | None:
    return [[p < DOUBT_BELOW for p in s.probabilities] for s in segments] if gate else None


def _threshold(target: Target, hit: PhoneHit, heard: Heard, tuning: PhoneticTuning,
               exact_elsewhere: bool) -> float:
    needed = _base(target)
    heard_as = heard.probabilities[hit.first : hit.last + 1]
    # Either reason to doubt a sound-alike is enough; both together say no more.
    extra = EXACT_EXTRA if exact_elsewhere else 0.0
    if tuning.gate and all(p >= CONFIDENT for p in heard_as):
        extra = max(extra, CONFIDENT_EXTRA)
    elif tuning.gate and not exact_elsewhere and all(p < UNSURE for p in heard_as):
        extra -= UNSURE_BONUS
    return needed + extra


def _answer(heard: Heard, parsed: ParsedQuery, targets: Sequence[Target],
            similarities: Sequence[float | None], hit: Callable[[int], PhoneHit | None],
            tuning: PhoneticTuning, exact_elsewhere: bool) -> PhoneticMatch | None:
    """The match in *heard*, given each target's best similarity there (None below the
    floor) and *hit* to work out a target's stretch."""
    if all(s is None for s in similarities):
        return None  # nothing sounds like any target (most candidates)
    exact: dict[int, set[int]] = {}
    # A query of one clause is said exactly in none of them: those are the exact pass's.
    stream = _stream(heard.tokens) if len(parsed.clauses) > 1 else []
    for c, clause in enumerate(parsed.clauses if stream else ()):
        positions = _exact_positions(stream, clause)
        if positions:
            exact[c] = {i for pos in positions
                        for i in range(stream[pos][1], stream[pos][2] + 1)}
    if len(exact) == len(parsed.clauses):
        return None  # every clause said exactly: not this pass's to show
    # The best stretch answering each clause by sound (alone or with its neighbours): the
    # most alike target first (ties in the targets' order), so a stretch is worked out only
    # for a target that may still answer a clause.
    sounded: dict[int, tuple[PhoneHit, Target]] = {}
    for k in sorted((k for k, s in enumerate(similarities) if s is not None),
                    key=lambda k: -(similarities[k] or 0.0)):
        target = targets[k]
        answers = [c for c in target.clauses if c not in exact and c not in sounded]
        if not answers:
            continue
        found = hit(k)
        if found is None or found.similarity < _threshold(target, found, heard, tuning,
                                                          exact_elsewhere):
            continue
        for c in answers:
            sounded[c] = (found, target)
    if len(exact) + len(sounded) < len(parsed.clauses):
        return None
    indexes = set().union(*exact.values()) if exact else set()
    spans: list[tuple[int, int]] = []
    for a, b in sorted({(h.first, h.last) for h, _ in sounded.values()}):
        if spans and a <= spans[-1][1] + 1:
            spans[-1] = (spans[-1][0], max(b, spans[-1][1]))
        else:
            spans.append((a, b))
        indexes.update(range(a, b + 1))
    heard_text = " … ".join(" ".join(w.strip() for w in heard.tokens[a : b + 1])
                            for a, b in spans)
    return PhoneticMatch(tuple(sorted(indexes)), heard_text,
                         min(h.similarity for h, _ in sounded.values()))


def match_segments(segments: Sequence[Heard], parsed: ParsedQuery, targets: Sequence[Target],
                   tuning: PhoneticTuning = PhoneticTuning(), *,
                   exact_elsewhere: bool = False,
                   memo: PhoneticMemo | None = None) -> list[PhoneticMatch | None]:
    """For each segment, the words answering *parsed* with at least one clause only said
    alike (None when it does not, or when every clause is said exactly).

    *exact_elsewhere* says the query was heard exactly in other segments: a recogniser that
    knows the words makes a stretch that merely sounds alike less likely to be them, so it
    must sound closer.  Of the matches, those much less alike than the best one are
    dropped (:data:`RELATIVE_MARGIN`).  *segments* read through a *memo* are laid out
    by it.
    """
    from indexer.phonematch import Aligned, Layout

    layout = (memo.layout(segments, tuning.gate) if memo is not None
              else Layout([s.phones for s in segments], _doubted(segments, tuning.gate)))
    aligned = [Aligned(t.phones, layout, features=tuning.features) for t in targets]
    floors = [_base(t) + (EXACT_EXTRA if exact_elsewhere
                          else -UNSURE_BONUS if tuning.gate else 0.0) for t in targets]
    above = [[s is not None and s >= floor for s in a.similarities]
             for a, floor in zip(aligned, floors, strict=True)]
    # A clause with targets is answered, exactly or by sound, only where one of its targets
    # has a stretch above the floor (a word said exactly is such a stretch); only there are
    # the stretches worked out.
    covering = [[k for k, t in enumerate(targets) if c in t.clauses]
                for c in range(len(parsed.clauses))]
    out: list[PhoneticMatch | None] = []
    for n, heard in enumerate(segments):
        if any(ks and not any(above[k][n] for k in ks) for ks in covering):
            out.append(None)
            continue
        out.append(_answer(heard, parsed, targets,
                           [a.similarities[n] if above[k][n] else None
                            for k, a in enumerate(aligned)],
                           lambda k: aligned[k].hit(n),  # noqa: B023 (called at once)
                           tuning, exact_elsewhere))
    best = max((m.similarity for m in out if m is not None), default=0.0)
    return [m if m is not None and m.similarity >= best - RELATIVE_MARGIN else None
            for m in out]
