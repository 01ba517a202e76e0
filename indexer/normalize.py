"""Text normalisation shared by documents and queries: one function, so both sides agree.

Speech recognition and newsrooms spell the same words differently: "Bogotá" and "Bogota",
"eleven" and "11", "40%" and "forty percent", "Cox's" and "Coxs".  :func:`normal_words` turns
a text into the words the index stores:

* diacritics folded ("Wiśniewski" -> "wisniewski"), case folded, apostrophes dropped
  (a final possessive "'s" goes: "Cox's" -> "cox");
* hyphenated words split into their parts ("cease-fire" -> "cease", "fire"; the query side
  also tries the joined and split forms that the index holds, see :mod:`indexer.query`);
* numbers as digits: "1,500" -> "1500", "forty thousand" -> "40000", "twenty-five" -> "25",
  "one point two" -> "1.2", "sixth" -> "6th", "40%" -> "40 percent"; "million" and larger
  stay words, as Whisper writes "1.2 million";
* English (Porter) stems, except that a capitalised word — usually a name — is also kept
  whole beside its stem, so "Sittwe" stays findable as "sittwe" (not only "sittw") and
  sound-alike matching compares whole names.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

from whoosh.analysis import Token, Tokenizer
from whoosh.lang.porter import stem as _porter

_TOKEN = re.compile(r"\d+(?:[.,]\d+)*(?:%|(?:st|nd|rd|th)\b)?|[^\W_]+(?:['’][^\W_]+)*")
_THOUSANDS = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?")

# Letters that Unicode does not decompose into a base letter and a mark.
_LETTERS = str.maketrans({"ß": "ss", "æ": "ae", "Æ": "AE", "ø": "o", "Ø": "O", "ł": "l",
                          "Ł": "L", "đ": "d", "Đ": "D", "ı": "i", "œ": "oe", "Œ": "OE",
                          "þ": "th", "Þ": "TH", "ð": "d", "Ð": "D", "’": "'"})

_UNITS = {"zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
          "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
          "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17,
          "eighteen": 18, "nineteen": 19}
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
         "eighty": 80, "ninety": 90}
_ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6,
             "seventh": 7, "eighth": 8, "ninth": 9, "tenth": 10, "eleventh": 11,
             "twelfth": 12, "thirteenth": 13, "fourteenth": 14, "fifteenth": 15,
             "sixteenth": 16, "seventeenth": 17, "eighteenth": 18, "nineteenth": 19,
             "twentieth": 20, "thirtieth": 30, "fortieth": 40, "fiftieth": 50,
             "sixtieth": 60, "seventieth": 70, "eightieth": 80, "ninetieth": 90,
             "hundredth": 100, "thousandth": 1000}
_SCALES = {"hundred": 100, "thousand": 1000}


def fold(text: str) -> str:
    """*text* without diacritics (and with typographic apostrophes made plain)."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_LETTERS))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@lru_cache(maxsize=50_000)
def stem(word: str) -> str:
    """The Porter stem of a lower-case word; numbers are left alone."""
    return word if not word.isalpha() else _porter(word)


@dataclass(frozen=True)
class NormWord:
    """One normalised word, where it came from, and how the index stores it."""

    surface: str  # folded, lower-case, unstemmed ("kharkiv", "40000", "ceasefire")
    stem: str
    start: int  # character span in the original text
    end: int
    capital: bool  # written with a capital letter: probably a name

    def terms(self) -> tuple[str, ...]:
        """The index terms at this word's position: its stem, and a capitalised word whole."""
        if self.capital and self.surface != self.stem:
            return (self.stem, self.surface)
        return (self.stem,)


@dataclass
class _Raw:
    text: str  # folded lower-case
    start: int
    end: int
    capital: bool
    number: bool


def _ordinal_suffix(n: int) -> str:
    if 10 <= n % 100 <= 20:
        return "th"
    return {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")


def _digits(token: str) -> list[str]:
    """A number written in digits as words: "1,500" -> ["1500"], "40%" -> ["40", "percent"]."""
    percent = token.endswith("%")
    token = token.rstrip("%")
    if _THOUSANDS.fullmatch(token):
        token = token.replace(",", "")
    words = [token]
    if percent:
        words.append("percent")
    return words


@lru_cache(maxsize=100_000)
def _folded(token: str) -> str:
    """A word token folded, lower-case, without its possessive and apostrophes (kept: a
    transcript says the same words again and again)."""
    return re.sub(r"'s$", "", fold(token).lower()).replace("'", "")


def _raw_words(text: str) -> list[_Raw]:
    out: list[_Raw] = []
    for match in _TOKEN.finditer(text):
        token = match.group(0)
        if token[0].isdigit():
            out.extend(_Raw(fold(w).lower(), match.start(), match.end(), False,
                            w != "percent") for w in _digits(token))
            continue
        folded = _folded(token)
        if folded:
            out.append(_Raw(folded, match.start(), match.end(), token[:1].isupper(), False))
    return out


def _number_at(words: list[_Raw], i: int) -> tuple[str, int] | None:
    """The number spelled from ``words[i]`` on, and how many words it takes, if any."""
    first = words[i].text
    if not (first in _UNITS or first in _TENS or first in _ORDINALS
            or (words[i].number and first.isdigit() and i + 1 < len(words)
                and words[i + 1].text in _SCALES)):
        return None
    total, current, j = 0, 0, i
    last_kind = ""
    ordinal = False
    while j < len(words):
        w = words[j].text
        if words[j].number and j == i and w.isdigit():
            current, last_kind = int(w), "digits"
        elif w in _UNITS and last_kind in ("", "tens", "scale"):
            if last_kind == "tens" and _UNITS[w] >= 10:
                break
            current += _UNITS[w]
            last_kind = "unit"
        elif w in _TENS and last_kind in ("", "scale"):
            current += _TENS[w]
            last_kind = "tens"
        elif w in _ORDINALS and last_kind in ("", "tens", "scale"):
            value = _ORDINALS[w]
            if value in (100, 1000):
                current = max(current, 1) * value
            else:
                current += value
            ordinal, j = True, j + 1
            break
        elif w in _SCALES and last_kind in ("unit", "tens", "digits"):
            if w == "hundred":
                current *= 100
            else:
                total, current = total + current * 1000, 0
            last_kind = "scale"
        elif (w == "and" and last_kind == "scale" and j + 1 < len(words)
              and (words[j + 1].text in _UNITS or words[j + 1].text in _TENS)):
            pass
        elif (w == "point" and last_kind in ("unit", "tens") and total == 0
              and j + 1 < len(words) and words[j + 1].text in _UNITS
              and _UNITS[words[j + 1].text] < 10):
            decimals = []
            k = j + 1
            while k < len(words) and words[k].text in _UNITS and _UNITS[words[k].text] < 10:
                decimals.append(str(_UNITS[words[k].text]))
                k += 1
            return f"{current}.{''.join(decimals)}", k - i
        else:
            break
        j += 1
    if last_kind == "digits" and not ordinal:
        return None
    value = total + current
    return (f"{value}{_ordinal_suffix(value)}" if ordinal else str(value)), j - i


def normal_words(text: str) -> list[NormWord]:
    """The normalised words of *text*, in order (see the module docstring)."""
    raw = _raw_words(text)
    out: list[NormWord] = []
    i = 0
    while i < len(raw):
        number = _number_at(raw, i)
        if number is not None:
            value, size = number
            out.append(NormWord(value, value, raw[i].start, raw[i + size - 1].end, False))
            i += size
            continue
        word = raw[i]
        out.append(NormWord(word.text, stem(word.text), word.start, word.end, word.capital))
        i += 1
    return out


def index_terms(text: str) -> list[str]:
    """Every index term of *text*, in order (stacked terms one after the other)."""
    return [term for word in normal_words(text) for term in word.terms()]


class WordTokenizer(Tokenizer):  # type: ignore[misc]
    """Base of our Whoosh tokenizers: equal by type, tokens placed at a word's position."""

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self)

    def __hash__(self) -> int:
        return hash(type(self))

    @staticmethod
    def word_token(text: str, word: NormWord, pos: int, *, positions: bool, chars: bool,
                   removestops: bool, mode: str, start_pos: int, start_char: int,
                   **kwargs: object) -> Token:
        """A token for *text* at *word*'s position and character span."""
        token = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        token.text = text
        token.boost = 1.0
        token.stopped = False
        if positions:
            token.pos = start_pos + pos
        if chars:
            token.startchar = start_char + word.start
            token.endchar = start_char + word.end
        return token


class NormalizingTokenizer(WordTokenizer):
    """A Whoosh analyzer emitting :func:`normal_words` terms with positions and offsets."""

    def __call__(self, value: str, positions: bool = False, chars: bool = False,
                 keeporiginal: bool = False, removestops: bool = True, start_pos: int = 0,
                 start_char: int = 0, tokenize: bool = True, mode: str = "",
                 **kwargs: object) -> Iterator[Token]:
        """Yield one token per term; a stacked term shares its word's position."""
        words = normal_words(value)
        for pos, word in enumerate(words):
            for term in word.terms():
                token = self.word_token(term, word, pos, positions=positions, chars=chars,
                                        removestops=removestops, mode=mode,
                                        start_pos=start_pos, start_char=start_char, **kwargs)
                if keeporiginal:
                    token.original = value[word.start : word.end]
                yield token
