"""Pronunciations as phones, how alike two phones sound, and the keys of a phone index.

Plain functions (words in, phones or keys out), so that any store can keep what they give.

* :func:`pronounce` turns words into phones with espeak-ng (its American English rules and
  dictionary), called in-process through its C API on the library and data the
  ``espeakng-loader`` wheel ships: ``pip install`` is all it needs, and it works offline.
  Phones are IPA segments as ``panphon`` knows them ("dʒ" is "d" then "ʒ"; length and
  stress are dropped: a recogniser's vowels are not worth that detail).
* :func:`phone_distance` is how unlike two phones are, from their articulatory features
  (``panphon``'s table): "k" and "g" differ in voicing only, "k" and "a" in nearly everything.
* :func:`phone_keys` gives the keys a segment is found by: the consonant skeleton (phones
  reduced to a few classes, see :func:`phone_class`) of each heard word and of runs of
  adjacent words, so a name heard as two words, or two words heard glued as one, shares
  keys with the query.  Keys only find candidates; an alignment (``indexer.phonematch``)
  decides.
"""

from __future__ import annotations

import csv
import ctypes
import importlib.util
import threading
import unicodedata
from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # NumPy loads with the first alignment, not with every search
    import numpy as np
    import numpy.typing as npt

# espeak-ng's voice for both sides: what the recogniser wrote and what the analyst typed are
# read with the same rules, so their mistakes are alike.
VOICE = "en-us"
# Between the phones of one word in a stored value (IPA segments never contain it).
PHONE_SEP = "."
# espeak-ng's API: output mode, text encoding, and IPA with "_" between phonemes.
_AUDIO_SYNCHRONOUS = 0x02
_CHARS_UTF8 = 1
_IPA_MODE = 0x02 | ord("_") << 8
_ESPEAK_LOCK = threading.Lock()
# Words kept in the pronunciation cache (a process's vocabulary, most of it repeats).
CACHE_WORDS = 200_000
# Runs of up to this many adjacent heard words are keyed as one word too.
MAX_RUN = 3
# Consonant skeletons shorter than this are keyed with their vowels ("kama" for "Goma"):
# two consonant classes alone ("km") are said in too many words.
MIN_SKELETON = 3

_VOWEL_CLASS = "a"
# espeak-ng symbols panphon does not know, as segments it does.
_IPA_FIXES = (("ɚ", "əɹ"), ("ɝ", "ɜɹ"), ("ᵻ", "ɪ"), ("ɐ", "ə"), ("ː", ""), ("ˈ", ""),
              ("ˌ", ""), ("ʲ", ""), ("̃", ""), ("ɬ", "l"), ("ʔ", ""))
# Features compared for a phone's distance (tone and length say nothing in English).
_FEATURES = ("syl", "son", "cons", "cont", "delrel", "lat", "nas", "strid", "voi", "sg",
             "cg", "ant", "cor", "distr", "lab", "hi", "lo", "back", "round", "tense")


class _Espeak:
    """The espeak-ng library of the ``espeakng-loader`` wheel, loaded once per process and
    called through its C API (``espeak_TextToPhonemes``); calls are serialised, as the
    library keeps global state."""

    def __init__(self, voice: str = VOICE) -> None:
        import espeakng_loader

        lib = ctypes.cdll.LoadLibrary(espeakng_loader.get_library_path())
        data = espeakng_loader.get_data_path().encode()
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p,
                                          ctypes.c_int]
        # AUDIO_OUTPUT_SYNCHRONOUS: no audio device, nothing played.
        if lib.espeak_Initialize(_AUDIO_SYNCHRONOUS, 0, data, 0) <= 0:
            raise OSError("espeak-ng could not be initialised")
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        if lib.espeak_SetVoiceByName(voice.encode()) != 0:
            raise OSError(f"espeak-ng has no voice {voice!r}")
        lib.espeak_TextToPhonemes.restype = ctypes.c_char_p
        lib.espeak_TextToPhonemes.argtypes = [ctypes.POINTER(ctypes.c_char_p), ctypes.c_int,
                                              ctypes.c_int]
        self._lib = lib
        self._voice = voice.encode()
        self.cache: dict[str, tuple[str, ...]] = {}

    def ipa(self, words: list[str]) -> list[str]:
        """espeak-ng's IPA of each word (phones separated by "_", clauses by spaces)."""
        out: list[str] = []
        with _ESPEAK_LOCK:
            # The library has one voice per process: set ours for every batch.
            self._lib.espeak_SetVoiceByName(self._voice)
            for word in words:
                text = ctypes.c_char_p(word.encode())
                pointer = ctypes.pointer(text)
                pieces: list[str] = []
                # One call per clause; the library moves the pointer on, NULL at the end.
                while pointer.contents.value:
                    found = self._lib.espeak_TextToPhonemes(pointer, _CHARS_UTF8, _IPA_MODE)
                    if found:
                        pieces.append(found.decode("utf-8", "replace"))
                out.append(" ".join(pieces))
        return out


@lru_cache(maxsize=4)
def _espeak(voice: str = VOICE) -> _Espeak:
    return _Espeak(voice)


@lru_cache(maxsize=1)
def _feature_table() -> dict[str, dict[str, int]]:
    """panphon's table of segments and their features (+1, 0, -1), read from its data file:
    importing panphon loads pandas, a second a search need not pay."""
    spec = importlib.util.find_spec("panphon")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("panphon is not installed (pip install panphon)")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "ipa_all.csv"
    values = {"+": 1, "-": -1, "0": 0}
    with path.open(encoding="utf-8", newline="") as fh:
        rows = csv.reader(fh)
        names = next(rows)[1:]
        return {row[0]: {n: values.get(v, 0) for n, v in zip(names, row[1:], strict=True)}
                for row in rows if row}


def features(phone: str) -> dict[str, int] | None:
    """The articulatory features of an IPA segment (panphon's), or None if unknown; a
    segment with marks panphon does not list is read as its letter."""
    table = _feature_table()
    found = table.get(phone)
    if found is None and len(phone) > 1:
        found = table.get(phone[0])
    return found


def spoken_form(word: str) -> str:
    """The letters and digits of *word* as espeak-ng should read them ("" for none)."""
    folded = unicodedata.normalize("NFKC", word).lower()
    kept = "".join(c if c.isalnum() else " " for c in folded)
    return " ".join(kept.split())


def _segments(ipa: str) -> tuple[str, ...]:
    """espeak-ng's phones as segments: one letter each, with the marks that follow it
    (what panphon's ``ipa_segs`` gives for espeak-ng's symbols, without loading its table
    at index time)."""
    for wrong, right in _IPA_FIXES:
        ipa = ipa.replace(wrong, right)
    out: list[str] = []
    for c in ipa:
        if c in " |_":
            continue
        if out and (unicodedata.combining(c) or unicodedata.category(c) == "Lm"):
            out[-1] += c
        else:
            out.append(c)
    return tuple(out)


def pronounce(words: Sequence[str], voice: str = VOICE) -> list[tuple[str, ...]]:
    """The phones of each of *words* (a word with no letters or digits has none)."""
    engine = _espeak(voice)
    forms = [spoken_form(w) for w in words]
    missing = sorted({f for f in forms if f and f not in engine.cache})
    if missing:
        if len(engine.cache) + len(missing) > CACHE_WORDS:
            engine.cache.clear()
        for form, ipa in zip(missing, engine.ipa(missing), strict=True):
            engine.cache[form] = _segments(ipa)
    return [engine.cache.get(f, ()) if f else () for f in forms]


@lru_cache(maxsize=4096)
def phone_class(phone: str) -> str:
    """A coarse class of *phone* for keys, from its features: "a" any vowel, "p" labial,
    "t" coronal stop (and the flap), "s" sibilant, "k" dorsal, "n" nasal, "l", "r"; ""
    for what a recogniser drops or adds freely (h, w, j, the glottal stop)."""
    fts = features(phone)
    if fts is None:
        return ""

    def on(name: str) -> bool:
        return bool(fts[name] > 0)

    if on("syl"):
        return _VOWEL_CLASS
    if on("nas"):
        return "n"
    if on("lat"):
        return "l"
    if on("son"):
        if on("cor"):
            return "r" if not on("cons") else "t"
        return ""
    if on("lab"):
        return "p"
    if on("strid"):
        return "s"
    if on("cor"):
        return "t"
    if on("hi") or on("back"):
        return "k"
    return ""


def skeleton(phones: Iterable[str]) -> str:
    """The key of a run of phones: its consonant classes, like ones side by side merged,
    or, when that is shorter than :data:`MIN_SKELETON`, its classes with vowels."""
    full: list[str] = []
    for phone in phones:
        code = phone_class(phone)
        if code and (not full or full[-1] != code):
            full.append(code)
    consonants: list[str] = []
    for code in full:
        if code != _VOWEL_CLASS and (not consonants or consonants[-1] != code):
            consonants.append(code)
    if len(consonants) >= MIN_SKELETON:
        return "".join(consonants)
    return "".join(full) if len(full) >= MIN_SKELETON else ""


def phone_keys(words: Sequence[tuple[str, ...]], doubted: Sequence[bool] | None = None,
               ) -> list[str]:
    """The distinct keys of a heard sentence given as each word's phones.

    Only what the recogniser doubted (or wrote as a name) is keyed (*doubted*; None takes
    all as doubted): each such word, also without its first sound, and each run of two or
    three adjacent words that starts and ends with one.  A name it did not know comes out
    as words it doubts ("chemistry" 0.07 for "Qamishli"; "Jo Mashwiesniewski" 0.16 and
    0.33 for "Tomasz Wiśniewski"); a word it was sure of is found by the exact pass, and
    keying every word and run would more than double the cost of indexing (each key is a
    term of its own in Whoosh).
    """

    def doubt(i: int) -> bool:
        return doubted is None or doubted[i]

    keys: dict[str, None] = {}
    n = len(words)
    for i in range(n):
        if not words[i] or not doubt(i):
            continue
        key = skeleton(words[i])
        if key:
            keys[key] = None
        if len(key) > MIN_SKELETON:
            # The word without its first sound: a short word glued to a name ("atiquitos").
            keys[key[1:]] = None
        run = list(words[i])
        for j in range(i + 1, min(i + MAX_RUN, n)):
            if not words[j]:
                break
            run.extend(words[j])
            if doubt(j):
                key = skeleton(run)
                if key:
                    keys[key] = None
    return list(keys)


class PhoneSet:
    """Phones numbered as they are met, with the matrix of their distances."""

    def __init__(self) -> None:
        self._ids: dict[str, int] = {}
        self._vectors: list[list[float]] = []
        self._matrix: npt.NDArray[np.float64] | None = None
        self._vowel: list[bool] = []
        self._lock = threading.Lock()

    def ids(self, phones: Iterable[str]) -> list[int]:
        """The number of each phone (new phones are added)."""
        out: list[int] = []
        for phone in phones:
            found = self._ids.get(phone)
            if found is None:
                found = self._add(phone)
            out.append(found)
        return out

    def known(self) -> dict[str, int]:
        """The numbers of the phones met so far (not to be changed)."""
        return self._ids

    def _add(self, phone: str) -> int:
        with self._lock:
            if phone in self._ids:
                return self._ids[phone]
            fts = features(phone)
            self._vectors.append([float(fts[f]) for f in _FEATURES] if fts is not None
                                 else [0.0] * len(_FEATURES))
            # Vowels, and what a recogniser drops or adds as freely (h, w, j).
            self._vowel.append(fts is not None and (fts["syl"] > 0 or not phone_class(phone)))
            self._matrix = None
            self._ids[phone] = len(self._vectors) - 1
            return self._ids[phone]

    @property
    def matrix(self) -> npt.NDArray[np.float64]:
        """Feature distance of every pair of known phones, 0 (alike) to 1."""
        import numpy as np

        with self._lock:
            if self._matrix is None or len(self._matrix) != len(self._vectors):
                stacked = np.array(self._vectors)
                diff = np.abs(stacked[:, None, :] - stacked[None, :, :]).sum(axis=2)
                self._matrix = diff / (2.0 * len(_FEATURES))
            return self._matrix

    def vowels(self) -> npt.NDArray[np.bool_]:
        """Whether each known phone is a vowel or a glide (or "h")."""
        import numpy as np

        return np.array(self._vowel, dtype=bool)


PHONES = PhoneSet()


def phone_distance(a: str, b: str) -> float:
    """How unlike phones *a* and *b* are by their articulatory features: 0 to 1."""
    first, second = PHONES.ids((a, b))
    return float(PHONES.matrix[first, second])


def stored_phones(words: Sequence[tuple[str, ...]]) -> list[str]:
    """Each word's phones as one string, as a store keeps them."""
    return [PHONE_SEP.join(w) for w in words]


def read_phones(stored: Sequence[str]) -> list[tuple[str, ...]]:
    """The inverse of :func:`stored_phones`."""
    return [tuple(s.split(PHONE_SEP)) if s else () for s in stored]
