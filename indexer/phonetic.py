"""Sound-alike keys for names, tuned to how small Whisper models misspell them.

Spelling-based, and since the phone index (``indexer.phonesearch``) the search of indexes
made before it (their ``sounds`` field), and the spelling pass a search may run beside it.

A key is the word's consonant skeleton with similar sounds merged, so that spellings a
listener would pronounce alike share it: "Kharkiv", "Karkiv" and "Carcave" -> ``KRKP``;
"Belgorod" and "Belgrad" -> ``PLKRT``; "Hodeidah" and "Odida" -> ``ATT``.  It is our own
simplification in the spirit of Lawrence Philips' Metaphone: the errors to forgive are a
recogniser's (dropped "h", doubled letters, c/k, v/f/p, t/d, s/z, vowels anywhere), not an
English speaker's spelling of a foreign name.

Like Philips' Double Metaphone, a spelling that is read two ways gives a word a second,
*alternate* key: "ch" is "sh" in "Chiapas" but "k" in "Mechel" (heard for "Mekelle"); a soft
"g" may be a "j"; "kh" and "gh" may be silent; "w" may be a "v" ("Wisniewski").  Two words
sound alike when any key of one is a key of the other.

A recogniser also cuts a name it does not know into common words ("Deir ez-Zor" heard as
"deer as zor") or glues it to the word before ("at Iquitos" as "atiquitos").  So
:func:`heard_keys` keys, besides each capitalised word (a name as heard), every run of two or
three adjacent words read as one, and a word with a short English word glued to its front
read without it.  Those looser readings are kept in check three ways: their keys must be
longer (:data:`JOINED_MIN_KEY`); they are only made where the recogniser doubted a word
(its word probability, :data:`DOUBT_BELOW`), since "main water" heard with confidence is
not "Mandera"; and a run never starts or ends with a function word ("the harbor").
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from functools import lru_cache

from whoosh.analysis import Token

from indexer.domain import Word
from indexer.normalize import NormWord, WordTokenizer, normal_words

MIN_LETTERS = 4
MIN_KEY = 3
# Keys of joined or unglued words are compared only from this many symbols up.
JOINED_MIN_KEY = 4
# Runs of up to this many adjacent words are also keyed as one word.
MAX_JOINED_WORDS = 3
# Short words a recogniser glues to the front of a name it does not know ("atiquitos"),
# and how many letters must be left after one for the rest to be keyed.
GLUED_WORDS = ("and", "the", "at", "in", "of", "on", "to")
GLUED_MIN_REST = 5
# Looser readings (a spelling's second reading, runs of words, glued words) are keyed only
# where the recogniser doubted a word, its probability below DOUBT_BELOW: a name it did not
# know comes out as words it doubts ("deer" 0.55, "zor" 0.42; "chemistry" 0.07), while
# "main water" heard with confidence (0.83, 0.92) would otherwise sound like "Mandera".
DOUBT_BELOW = 0.6
# In the text the sounds field indexes (see sounds_text), the mark of a doubted word.
DOUBT_MARK = "~"
# A run of words read as one neither starts nor ends with one of these: a name misheard as
# common words does not take in the article or preposition next to it ("the harbor").
FUNCTION_WORDS = frozenset({
    "a", "an", "the", "and", "or", "but", "of", "in", "on", "at", "to", "by", "for", "from",
    "with", "as", "is", "are", "was", "were", "be", "has", "have", "had", "it", "its", "that",
    "this",
})

# Spellings read as one sound: (spelling, primary, alternate), longer spellings first.
# "" is a sound that may be silent (or heard as "h", which we drop too).
_DIGRAPHS = (
    ("tsch", "S", "S"), ("sch", "S", "SK"), ("tch", "S", "S"), ("tsh", "S", "S"),
    ("ch", "S", "K"), ("sh", "S", "S"), ("zh", "S", "S"), ("cz", "S", "S"), ("sz", "S", "S"),
    ("ts", "S", "S"), ("tz", "S", "S"), ("ph", "P", "P"), ("kh", "K", ""), ("gh", "K", ""),
    ("th", "T", "T"), ("dh", "T", "T"), ("ck", "K", "K"), ("qu", "K", "K"), ("x", "KS", "S"),
)
_LETTERS = {
    "b": "P", "p": "P", "f": "P", "v": "P",
    "c": "K", "k": "K", "q": "K", "g": "K",
    "d": "T", "t": "T",
    "s": "S", "z": "S",
    "l": "L", "r": "R", "m": "M", "n": "N",
}
_VOWELS = set("aeiouyh")
_FRONT = set("eiy")  # vowels that soften a "c" or "g" before them
_VOWEL = "."  # a vowel's mark while a key is built: adjacent like sounds merge only without one


def _letters(word: str) -> str:
    """The ASCII letters of a folded word, doubled letters made single ("Kassala")."""
    out: list[str] = []
    for c in word:
        if "a" <= c <= "z" and (not out or out[-1] != c):
            out.append(c)
    return "".join(out)


def _sounds(text: str) -> tuple[str, str]:
    """The primary and alternate sound strings of *text*: codes, with vowels as marks."""
    primary: list[str] = []
    alternate: list[str] = []
    i = 0
    while i < len(text):
        for spelling, first, second in _DIGRAPHS:
            if text.startswith(spelling, i):
                primary.append(first or _VOWEL)
                alternate.append(second or _VOWEL)
                i += len(spelling)
                break
        else:
            c = text[i]
            after = text[i + 1 : i + 2]
            if c in _VOWELS:
                primary.append(_VOWEL)
                alternate.append(_VOWEL)
            elif c == "w":  # "w" is a vowel glide in English, a "v" in Polish or German
                primary.append(_VOWEL)
                alternate.append("P")
            elif c == "j":  # "j" as in "Jeddah", or "y" as in "Jakub"
                primary.append("S")
                alternate.append(_VOWEL)
            elif c == "c" and after in _FRONT:
                primary.append("S")
                alternate.append("S")
            elif c == "g" and after in _FRONT:  # hard in "Gilgit", a "j" in "Gelendzhik"
                primary.append("K")
                alternate.append("S")
            else:
                code = _LETTERS.get(c, "")
                primary.append(code)
                alternate.append(code)
            i += 1
    return "".join(primary), "".join(alternate)


def _key(sounds: str) -> str:
    # A leading vowel (or a silent-ish h, w, y) is kept as one mark: "Odida" is not "Dida".
    lead = "A" if sounds.startswith(_VOWEL) else ""
    out: list[str] = []
    previous = ""
    for code in sounds:
        # Like sounds side by side are one ("Tomasz": "sz"), not across a vowel ("Kaka").
        if code != _VOWEL and code != previous:
            out.append(code)
        previous = code
    return lead + "".join(out)


@lru_cache(maxsize=50_000)
def _readings(word: str) -> tuple[str, str]:
    """The primary and alternate key of a word, whatever their length ("" for few letters)."""
    text = _letters(word)
    if len(text) < MIN_LETTERS:
        return "", ""
    primary, alternate = _sounds(text)
    return _key(primary), _key(alternate)


def sound_keys(word: str, min_key: int = MIN_KEY) -> tuple[str, ...]:
    """The distinct keys of a folded lower-case word (primary, then alternate) that have at
    least *min_key* symbols; none for a word of fewer than :data:`MIN_LETTERS` letters."""
    keys: list[str] = []
    for key in _readings(word):
        # Two symbols ("ST": Jeddah, City, Said, Sittwe...) sound like far too many names.
        if len(key) >= min_key and key not in keys:
            keys.append(key)
    return tuple(keys)


def sound_key(word: str) -> str:
    """The primary sound-alike key of a folded lower-case word ("" when it has none)."""
    primary = _readings(word)[0]
    return primary if len(primary) >= MIN_KEY else ""


def _unglued(word: str) -> str:
    """*word* without a short English word glued to its front ("atiquitos" -> "iquitos")."""
    for short in GLUED_WORDS:
        if word.startswith(short) and len(word) - len(short) >= GLUED_MIN_REST:
            return word[len(short) :]
    return ""


def heard_keys(words: Sequence[NormWord],
               doubted: Sequence[bool] | None = None) -> Iterator[tuple[int, int, str, bool]]:
    """``(first, last, key, name)`` of each way *words* may say a name: a capitalised word
    (*name* true), a word with a short word glued on, or a run of adjacent words read as one
    (see the module docstring).  *first* and *last* index *words*.

    *doubted* flags the words the recogniser doubted; only they get the looser readings
    (see :data:`DOUBT_BELOW`).  None takes every word as doubted.
    """

    def doubt(i: int) -> bool:
        return doubted is None or doubted[i]

    for i, word in enumerate(words):
        if word.capital:
            # "Karachi" heard with confidence is not "Curacao" by a second reading (KRK).
            primary = sound_key(word.surface)
            for key in sound_keys(word.surface) if doubt(i) else (primary,) if primary else ():
                yield i, i, key, True
        # A name written as such is not another word with a short one glued on ("Thessaloniki").
        if word.surface.isalpha() and not word.capital and doubt(i):
            rest = _unglued(word.surface)
            for key in sound_keys(rest, JOINED_MIN_KEY) if rest else ():
                yield i, i, key, False
        if word.surface in FUNCTION_WORDS:
            continue
        run = ""
        any_doubt = False
        for j in range(i, min(i + MAX_JOINED_WORDS, len(words))):
            if not words[j].surface.isalpha():
                break
            run += words[j].surface
            any_doubt = any_doubt or doubt(j)
            if j > i and any_doubt and words[j].surface not in FUNCTION_WORDS:
                for key in sound_keys(run, JOINED_MIN_KEY):
                    yield i, j, key, False


def sounds_text(words: Sequence[Word], text: str) -> str:
    """What the sounds field indexes for a segment of *text* heard as *words*: the words,
    those the recogniser doubted marked with :data:`DOUBT_MARK`.  Without word timings,
    the plain *text*: every word is then taken as heard with confidence."""
    if not words:
        return text
    return " ".join((DOUBT_MARK if w.probability < DOUBT_BELOW else "") + w.word.strip()
                    for w in words if w.word.strip())


def _marked_words(value: str) -> tuple[list[NormWord], list[bool]]:
    """The words of a :func:`sounds_text` value and, for each, whether it was doubted."""
    out: list[NormWord] = []
    doubted: list[bool] = []
    for token in re.finditer(r"\S+", value):
        piece = token.group(0)
        mark = len(DOUBT_MARK) if piece.startswith(DOUBT_MARK) else 0
        at = token.start() + mark
        for word in normal_words(piece[mark:]):
            out.append(NormWord(word.surface, word.stem, at + word.start, at + word.end,
                                word.capital))
            doubted.append(bool(mark))
    return out, doubted


class SoundKeyTokenizer(WordTokenizer):
    """A Whoosh analyzer emitting the keys of :func:`heard_keys`, each at its first word."""

    def __call__(self, value: str, positions: bool = False, chars: bool = False,
                 keeporiginal: bool = False, removestops: bool = True, start_pos: int = 0,
                 start_char: int = 0, tokenize: bool = True, mode: str = "",
                 **kwargs: object) -> Iterator[Token]:
        """Yield a token per distinct key a word (or a run from it) may be heard as."""
        words, doubted = _marked_words(value)
        seen: set[tuple[int, str]] = set()
        for first, _, key, _ in heard_keys(words, doubted):
            if (first, key) in seen:
                continue
            seen.add((first, key))
            yield self.word_token(key, words[first], first, positions=positions, chars=chars,
                                  removestops=removestops, mode=mode,
                                  start_pos=start_pos, start_char=start_char, **kwargs)
