"""Sound-alike keys for names, tuned to how small Whisper models misspell them.

A key is the word's consonant skeleton with similar sounds merged, so that spellings a
listener would pronounce alike share it: "Kharkiv", "Karkiv" and "Carcave" -> ``KRKF``;
"Belgorod" and "Belgrad" -> ``PLKRT``; "Hodeidah" and "Odida" -> ``ATT``.  It is our own
simplification in the spirit of Metaphone (Lawrence Philips), chosen over Double Metaphone
because the errors to forgive are a recogniser's (dropped "h", doubled letters, c/k, v/f/w,
t/d, s/z, vowels anywhere), not an English speaker's spelling of a foreign name.

Only capitalised words of transcripts get keys (see :mod:`indexer.schema`): names are what
the recogniser mangles, and a key shared by "added" and "Odida" must not flood a search.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache

from whoosh.analysis import Token

from indexer.normalize import WordTokenizer, normal_words

MIN_LETTERS = 4
MIN_KEY = 3

# Order matters: longer spellings first.
_SPELLINGS = (
    ("sch", "s"), ("tsch", "s"), ("tch", "s"), ("tsh", "s"), ("ch", "s"), ("sh", "s"),
    ("zh", "s"), ("ts", "s"), ("tz", "s"), ("ph", "f"), ("kh", "k"), ("gh", "k"),
    ("th", "t"), ("dh", "d"), ("ck", "k"), ("qu", "k"), ("x", "ks"),
)
_SOFT_C = re.compile(r"c(?=[eiy])")
_CLASSES = str.maketrans({
    "b": "P", "p": "P", "f": "P", "v": "P",
    "c": "K", "k": "K", "q": "K", "g": "K",
    "d": "T", "t": "T",
    "s": "S", "z": "S", "j": "S",
    "l": "L", "r": "R", "m": "M", "n": "N",
})
_VOWELS = set("aeiouyhw")


@lru_cache(maxsize=50_000)
def sound_key(word: str) -> str:
    """The sound-alike key of a folded lower-case word ("" when it has too few letters)."""
    letters = "".join(c for c in word if "a" <= c <= "z")
    if len(letters) < MIN_LETTERS:
        return ""
    text = letters
    for spelling, sound in _SPELLINGS:
        text = text.replace(spelling, sound)
    text = _SOFT_C.sub("s", text)
    # Doubled letters sound single ("Kassala", "Kasala").
    text = re.sub(r"(.)\1+", r"\1", text)
    # A leading vowel (or a silent-ish h, w, y) is kept as one mark: "Odida" is not "Dida".
    first_vowel = text[0] in _VOWELS
    skeleton = "".join(c.translate(_CLASSES) for c in text if c not in _VOWELS)
    key = ("A" if first_vowel else "") + skeleton
    # Two symbols ("ST": Jeddah, City, Said, Sittwe...) sound like far too many names.
    return key if len(key) >= MIN_KEY else ""


class SoundKeyTokenizer(WordTokenizer):
    """A Whoosh analyzer emitting the sound key of each capitalised word (names)."""

    def __call__(self, value: str, positions: bool = False, chars: bool = False,
                 keeporiginal: bool = False, removestops: bool = True, start_pos: int = 0,
                 start_char: int = 0, tokenize: bool = True, mode: str = "",
                 **kwargs: object) -> Iterator[Token]:
        """Yield a token per capitalised word that has a key."""
        for pos, word in enumerate(normal_words(value)):
            key = sound_key(word.surface) if word.capital else ""
            if key:
                yield self.word_token(key, word, pos, positions=positions, chars=chars,
                                      removestops=removestops, mode=mode,
                                      start_pos=start_pos, start_char=start_char, **kwargs)
