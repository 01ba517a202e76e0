"""Our small query language: words are ANDed, "quoted phrases" match in order.

We parse queries ourselves instead of exposing Whoosh's full syntax: analysts type names and
phrases, not field queries, and a stranger's `title:[a TO` or leading `*` must never reach the
engine as an expensive or broken query.

A query is a list of required *clauses* (a bare word, a hyphenated word, a quoted phrase).
Each clause has one or more *options*, any of which answers it; an option is a tuple of term
sequences that must all occur.  Parsing gives each clause one option; :func:`expand` adds
the spellings the index actually holds ("ceasefire" = "cease-fire" = "cease fire"), and
:func:`sound_alike_query` the names that merely sound alike.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, replace

from whoosh import query as wq

from indexer.errors import QueryError
from indexer.normalize import NormWord, normal_words, stem
from indexer.phonetic import JOINED_MIN_KEY, MAX_JOINED_WORDS, sound_keys
from indexer.schema import SOUNDS_FIELD

MAX_QUERY_CHARS = 1000
MAX_QUERY_TERMS = 32
SEARCH_FIELDS = ("text", "title")
# A compound is split into two known words only when its first part has at least MIN_PART
# letters (two-letter ones turn "inside" into "in side" and "today" into "to day") and its
# second at least MIN_TAIL: a compound ending in a particle ("followup", "checkin") is common.
MIN_PART = 3
MIN_TAIL = 2
MAX_OPTIONS = 6
# Sound-alike matching leaves out short words ("of", "el", "au", "Mei" in "Mei-Ling"): too
# short to compare by sound, and usually not the part of a name a recogniser gets right.
LOOSE_MIN_LETTERS = 4
# A heard name may run on by this many letters past the query's ("Kivu" heard as "Kivupa").
MAX_RUN_ON = 3
# A name of this many words or more may be heard with one of its longer words wrong, when the
# wrong word starts with the same SLOT_SAME_SOUNDS symbols ("Bab el-Mandeb" as "Bab
# el-Mansouri": MN...).  The other words, said in order around it, make up for it.
SLOT_MIN_WORDS = 3
SLOT_MAX_WORDS = 5
SLOT_SAME_SOUNDS = 2
# Sound keys this long may differ in one symbol ("Balochistan" PLSSTN, "Balakistan" PLKSTN).
KEY_FUZZY_MIN = 6

_TOKEN = re.compile(r'"([^"]*)"|([^\s"]+)')
_LETTERS_RUN = re.compile(r"[^\W\d_]+")

# English function words.  The index keeps them (spoken phrases such as "the bridge at" must
# match), so a query made of nothing else would match nearly every document: it is refused.
# Words that are often nouns or names stay out ("us", "may", "will", "can"); a word written
# in capitals is an acronym ("WHO", "IT"), never a stopword.
STOPWORDS = frozenset({
    "a", "an", "the", "and", "or", "but", "nor", "so", "yet", "of", "in", "on", "at", "to",
    "for", "from", "by", "with", "as", "into", "onto", "upon", "about", "over", "under",
    "than", "then", "that", "this", "these", "those", "there", "here", "is", "are", "was",
    "were", "be", "been", "being", "am", "do", "does", "did", "has", "have", "had", "i",
    "me", "my", "we", "our", "you", "your", "he", "him", "his", "she", "her", "it", "its",
    "they", "them", "their", "what", "which", "who", "whom", "whose", "if", "not", "no",
})

Sequence = tuple[str, ...]
Option = tuple[Sequence, ...]


@dataclass(frozen=True)
class Clause:
    """One required part of a query and the term sequences that answer it."""

    text: str
    options: tuple[Option, ...]
    words: tuple[str, ...]  # folded lower-case words, unstemmed, for sound-alike matching
    quoted: bool = False


@dataclass(frozen=True)
class ParsedQuery:
    """A query reduced to required clauses of analysed index terms."""

    raw: str
    clauses: tuple[Clause, ...]

    @property
    def terms(self) -> tuple[str, ...]:
        """Single-term clauses, as parsed (before expansion)."""
        return tuple(c.options[0][0][0] for c in self.clauses
                     if len(c.options[0]) == 1 and len(c.options[0][0]) == 1)

    @property
    def phrases(self) -> tuple[tuple[str, ...], ...]:
        """Multi-term clauses, as parsed (before expansion)."""
        return tuple(c.options[0][0] for c in self.clauses
                     if len(c.options[0]) == 1 and len(c.options[0][0]) > 1)

    def all_terms(self) -> set[str]:
        """Every index term any option of any clause mentions."""
        return {t for c in self.clauses for o in c.options for s in o for t in s}


def _clean(text: str) -> str:
    # Control characters (NUL included) carry no meaning in a search and upset some parsers.
    return "".join(" " if unicodedata.category(c) == "Cc" else c for c in text)


def _clause(text: str, words: list[NormWord], quoted: bool) -> Clause:
    sequence = tuple(w.stem for w in words)
    return Clause(text, ((sequence,),), tuple(w.surface for w in words), quoted)


def _pieces(text: str) -> list[tuple[str, list[NormWord], bool]]:
    """(text, normalised words, quoted) of each phrase and each bare word of *text*.

    Runs of bare words are normalised together, so that "forty thousand" is the one number
    40000 as in the index, not 40 AND thousand.
    """
    out: list[tuple[str, list[NormWord], bool]] = []
    run: list[tuple[int, int]] = []  # spans of consecutive bare words in *text*

    def flush() -> None:
        if not run:
            return
        begin, finish = run[0][0], run[-1][1]
        groups: dict[int, list[NormWord]] = {}
        for word in normal_words(text[begin:finish]):
            at = begin + word.start
            owner = next(i for i, (s, e) in enumerate(run) if s <= at < e)
            groups.setdefault(owner, []).append(word)
        for owner, words in sorted(groups.items()):
            last = max(begin + w.end for w in words)
            out.append((text[run[owner][0] : max(last, run[owner][1])], words, False))
        run.clear()

    for match in _TOKEN.finditer(text):
        quoted, _ = match.groups()
        if quoted is None:
            run.append(match.span())
            continue
        flush()
        words = normal_words(quoted)
        if words:
            out.append((quoted, words, True))
    flush()
    return out


def parse_query(text: str) -> ParsedQuery:
    """Parse *text* into required clauses, or raise :class:`QueryError`."""
    if len(text) > MAX_QUERY_CHARS:
        raise QueryError(f"query is too long ({len(text)} characters, at most {MAX_QUERY_CHARS})")
    cleaned = _clean(text)
    if cleaned.count('"') % 2:
        raise QueryError('unbalanced quote in query: close every "phrase" with a second "')
    clauses: list[Clause] = []
    for piece, words, quoted in _pieces(cleaned):
        # A bare hyphenated word ("cease-fire") is a phrase of its parts, as indexed.
        clause = _clause(piece, words, quoted)
        if all(clause.options[0] != c.options[0] for c in clauses):
            clauses.append(clause)
    if not clauses:
        raise QueryError("query has no searchable words")
    stopwords = only_stopwords(cleaned, clauses)
    if stopwords:
        raise QueryError(f"only stopwords: {', '.join(stopwords)}; nothing to search for")
    if sum(len(c.words) for c in clauses) > MAX_QUERY_TERMS:
        raise QueryError(f"query has too many words (at most {MAX_QUERY_TERMS})")
    return ParsedQuery(raw=text, clauses=tuple(clauses))


def only_stopwords(text: str, clauses: list[Clause]) -> list[str]:
    """The words of a query made only of stopwords (empty if it has anything else to find).

    A quoted phrase of two or more words ("to be or not to be") is searched as written:
    its words in that order are something to find.
    """
    if any(c.quoted and len(c.words) > 1 for c in clauses):
        return []
    words = [w for c in clauses for w in c.words]
    if not all(w in STOPWORDS for w in words):
        return []
    if any(len(w) > 1 and w.isupper() for w in _LETTERS_RUN.findall(text)):
        return []  # "WHO", "US", "IT": acronyms
    return list(dict.fromkeys(words))


# -- compounds --------------------------------------------------------------------------------


def _joined(words: tuple[str, ...], sequence: Sequence,
            has_term: Callable[[str], bool]) -> list[Sequence]:
    """*sequence* with one adjacent pair of words written as one ("cease fire" -> ceasefire)."""
    out: list[Sequence] = []
    if len(words) != len(sequence):
        return out
    for i in range(len(words) - 1):
        if words[i].isalpha() and words[i + 1].isalpha():
            joined = stem(words[i] + words[i + 1])
            if has_term(joined):
                out.append((*sequence[:i], joined, *sequence[i + 2 :]))
    return out


def _split(words: tuple[str, ...], sequence: Sequence,
           has_term: Callable[[str], bool]) -> list[Sequence]:
    """*sequence* with one word written as two ("ceasefire" -> cease fire), when the index
    holds both parts."""
    out: list[Sequence] = []
    if len(words) != len(sequence):
        return out
    for i, word in enumerate(words):
        if not word.isalpha() or len(word) < MIN_PART + MIN_TAIL:
            continue
        for cut in range(MIN_PART, len(word) - MIN_TAIL + 1):
            left, right = stem(word[:cut]), stem(word[cut:])
            if has_term(left) and has_term(right):
                out.append((*sequence[:i], left, right, *sequence[i + 1 :]))
    return out


def expand(parsed: ParsedQuery, has_term: Callable[[str], bool]) -> ParsedQuery:
    """Add the compound spellings the index holds (*has_term* asks its term list).

    "ceasefire" also matches "cease fire" and "cease-fire"; "cease-fire" and a quoted
    "cease fire" also match "ceasefire"; two bare words "peace keepers" also match
    "peacekeepers".
    """
    clauses: list[Clause] = []
    for clause in parsed.clauses:
        base = clause.options[0][0]
        extra = _joined(clause.words, base, has_term) + _split(clause.words, base, has_term)
        options = list(clause.options)
        options.extend((seq,) for seq in extra if (seq,) not in options)
        previous = clauses[-1] if clauses else None
        if (previous is not None and not clause.quoted and not previous.quoted
                and len(previous.options) == 1 and len(previous.words) == 1
                and len(clause.words) == 1 and previous.words[0].isalpha()
                and clause.words[0].isalpha()):
            joined = stem(previous.words[0] + clause.words[0])
            if has_term(joined):
                both = (previous.options[0][0], base)
                clauses[-1] = Clause(f"{previous.text} {clause.text}",
                                     (both, ((joined,),)),
                                     (*previous.words, *clause.words))
                continue
        clauses.append(replace(clause, options=tuple(options[:MAX_OPTIONS])))
    return replace(parsed, clauses=tuple(clauses))


# -- Whoosh queries ---------------------------------------------------------------------------


def _sequence_query(sequence: Sequence, field: str) -> wq.Query:
    if len(sequence) == 1:
        return wq.Term(field, sequence[0])
    return wq.Phrase(field, list(sequence))


def _clause_query(clause: Clause, fields: tuple[str, ...]) -> wq.Query:
    options: list[wq.Query] = []
    for option in clause.options:
        parts = [wq.Or([_sequence_query(seq, f) for f in fields]) for seq in option]
        options.append(parts[0] if len(parts) == 1 else wq.And(parts))
    return options[0] if len(options) == 1 else wq.Or(options)


def to_whoosh(parsed: ParsedQuery, fields: tuple[str, ...] = SEARCH_FIELDS) -> wq.Query:
    """The Whoosh query matching documents whose text or title answers every clause."""
    parts = [_clause_query(c, fields) for c in parsed.clauses]
    return parts[0] if len(parts) == 1 else wq.And(parts)


def fuzzy_distance(word: str) -> int:
    """How many edits a sound-alike spelling of *word* may differ by (0: none allowed)."""
    if not word.isalpha() or len(word) < 5:
        return 0
    return 1 if len(word) < 9 else 2


def _key_query(key: str) -> wq.Query:
    if len(key) >= KEY_FUZZY_MIN:
        return wq.FuzzyTerm(SOUNDS_FIELD, key, maxdist=1, prefixlength=1)
    return wq.Term(SOUNDS_FIELD, key)


def _loose_word(word: str) -> wq.Query | None:
    alternatives: list[wq.Query] = [wq.Term("text", stem(word))]
    alternatives.extend(_key_query(key) for key in sound_keys(word))
    distance = fuzzy_distance(word)
    if distance:
        alternatives.append(wq.FuzzyTerm("text", word, maxdist=distance, prefixlength=1))
    if word.isalpha():
        # Whisper glues a syllable of the next word onto a name ("Kivupa province").
        alternatives.append(wq.Prefix("text", word))
    return wq.Or(alternatives) if len(alternatives) > 1 else None


def joined_keys(parsed: ParsedQuery) -> tuple[str, ...]:
    """The sound keys of a query of two to four words read as one ("Deir ez-Zor" ->
    "deirezzor"), to be compared with runs of adjacent words heard ("deer as zor")."""
    words = query_words(parsed)
    if not 2 <= len(words) <= MAX_JOINED_WORDS + 1 or not all(w.isalpha() for w in words):
        return ()
    return sound_keys("".join(words), JOINED_MIN_KEY)


def query_words(parsed: ParsedQuery) -> tuple[str, ...]:
    """Every word of the query, in order (folded, unstemmed)."""
    return tuple(w for c in parsed.clauses for w in c.words)


def slot_words(parsed: ParsedQuery) -> list[int]:
    """Which words of a multi-word name may be the one heard wrong (see SLOT_MIN_WORDS)."""
    words = query_words(parsed)
    if not SLOT_MIN_WORDS <= len(words) <= SLOT_MAX_WORDS or not all(w.isalpha()
                                                                      for w in words):
        return []
    return [i for i, w in enumerate(words) if len(w) >= LOOSE_MIN_LETTERS
            and sound_keys(w, SLOT_SAME_SOUNDS)]


def sound_alike_query(parsed: ParsedQuery) -> wq.Query | None:
    """Transcript segments where each clause is said exactly or by a sound-alike name, or
    where the whole (short) query is said alike as one run of words.

    None when no clause has a word that could be misheard (numbers, short words).
    """
    parts: list[wq.Query] = []
    loose_any = False
    for clause in parsed.clauses:
        # Only the clause as written: its compound spellings are phrases that Whoosh checks
        # position by position, too slow to repeat at every sound-alike candidate.
        exact = _clause_query(replace(clause, options=clause.options[:1]), ("text",))
        words = [w for w in clause.words if len(w) >= LOOSE_MIN_LETTERS]
        loose = [_loose_word(w) for w in words]
        if not words or all(q is None for q in loose):
            parts.append(exact)
            continue
        loose_any = True
        each = [q if q is not None else wq.Term("text", stem(w)) for w, q in zip(words, loose,
                                                                               strict=True)]
        alike = each[0] if len(each) == 1 else wq.And(each)
        # The exact hits are masked out of this search: with one clause, its exact form
        # (compound and split options, phrases) can only find masked documents.
        parts.append(alike if len(parsed.clauses) == 1 else wq.Or([exact, alike]))
    whole = [_key_query(key) for key in joined_keys(parsed)]
    every = query_words(parsed)
    # Candidates only: the clip checks that the other words stand in order around the slot.
    whole.extend(wq.And([wq.Term("text", stem(w)) for j, w in enumerate(every) if j != i])
                 for i in slot_words(parsed))
    if not loose_any and not whole:
        return None
    found = parts[0] if len(parts) == 1 else wq.And(parts)
    if not loose_any:
        return wq.Or(whole)
    return wq.Or([found, *whole]) if whole else found
