"""Priming transcription with the words of the articles that link a video.

Small Whisper models mangle exactly the words a search is for: place names, people, groups.
The articles that link a video usually print those names, spelled right.  We pass them to
faster-whisper as ``hotwords`` (a prompt placed before every 30-second window, see
https://github.com/SYSTRAN/faster-whisper/pull/731), so the decoder prefers "Kharkiv" to
"Carcave" when the audio allows either.

Only names and rare words go in, never whole sentences: a prompt that reads like speech is
what a model repeats on silence (hallucination), while a list of names is not.  VAD removes
the long silences before the model sees them, which is the other half of that guard.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import replace

from indexer.domain import Article
from indexer.normalize import stem
from worker.speech.transcribe import PRIME_HOTWORDS, PRIME_OFF, PRIME_PROMPT, TranscribeOptions

# Whisper's prompt holds at most 223 tokens; names cost 2-4 tokens each.
MAX_TERMS = 40
MAX_CHARS = 400

# Lower-case words that join the capitalised parts of one name ("Cape of Good Hope",
# "Bab el-Mandeb", "Deir ez-Zor", "Port-au-Prince").
_JOINERS = {"of", "el", "al", "ez", "ed", "es", "de", "del", "la", "le", "du", "da", "do",
            "dos", "van", "von", "bin", "bint", "ibn", "y", "au"}

# Capitalised words that are names of nothing a transcript would miss.
_COMMON = {
    "a", "an", "the", "this", "that", "these", "those", "it", "its", "he", "she", "they", "we",
    "i", "you", "our", "their", "his", "her", "in", "on", "at", "to", "from", "for", "by",
    "with", "and", "but", "or", "as", "after", "before", "while", "when", "where", "also",
    "watch", "read", "more", "live", "video", "update", "latest", "breaking", "news", "photo",
    "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "january",
    "february", "march", "april", "may", "june", "july", "august", "september", "october",
    "november", "december", "mr", "mrs", "ms", "dr", "president", "minister", "prime",
    "government", "police", "army", "officials", "today", "yesterday", "tomorrow",
}

_WORD = re.compile(r"[^\W\d_](?:[\w'’-]*\w)?", re.UNICODE)
_SENTENCE_BREAK = re.compile(r"[.!?…]\s+|\n+|\s[|–—]\s")
_POSSESSIVE = re.compile(r"['’]s$")


def _is_capitalised(word: str) -> bool:
    return any(part[:1].isupper() for part in re.split(r"[-'’]", word) if part)


def _key(term: str) -> str:
    folded = unicodedata.normalize("NFKD", term.casefold())
    return "".join(c for c in folded if c.isalnum())


def _mid_sentence_capitals(text: str) -> set[str]:
    out: set[str] = set()
    for sentence in _SENTENCE_BREAK.split(text):
        words = [m.group(0) for m in _WORD.finditer(sentence)]
        out.update(_key(w) for w in words[1:] if _is_capitalised(w))
    return out


def _looks_like_name(word: str) -> bool:
    """A sentence's first word that is probably a name: long, and not an inflected English
    form ("Guayaquil police..." yes; "Carriers are...", "Negotiators said..." no)."""
    lower = word.casefold()
    return len(lower) >= 6 and lower.isalpha() and stem(lower) == lower


def _names_in(text: str, known: set[str]) -> Iterable[str]:
    """Runs of capitalised words (joiners allowed inside) and hyphenated compounds.

    A sentence's first word starts a name only if it is capitalised mid-sentence somewhere
    (*known*): "Shelling" opens a sentence, "Kharkiv" is a name wherever it stands.
    """
    for sentence in _SENTENCE_BREAK.split(text):
        words = [_POSSESSIVE.sub("", m.group(0)) for m in _WORD.finditer(sentence)]
        run: list[str] = []
        for position, word in enumerate([*words, ""]):
            capital = (bool(word) and _is_capitalised(word) and word.casefold() not in _COMMON
                       and (position > 0 or _key(word) in known or _looks_like_name(word)
                            or (len(words) > 1 and _is_capitalised(words[1]))))
            if capital:
                run.append(word)
                continue
            if run and word.casefold() in _JOINERS:
                run.append(word)
                continue
            while run and run[-1].casefold() in _JOINERS:
                run.pop()
            if run:
                yield " ".join(run)
            run = []
            if word and "-" in word and len(word) >= 7:
                yield word


def priming_terms(articles: Sequence[Article], *, max_terms: int = MAX_TERMS) -> list[str]:
    """Proper nouns and hyphenated compounds of *articles*, the most repeated first."""
    texts = [t for a in articles for t in (a.title, a.text)]
    known: set[str] = set()
    for text in texts:
        known |= _mid_sentence_capitals(text)
    counts: dict[str, int] = {}
    first: dict[str, str] = {}
    for text in texts:
        for term in _names_in(text, known):
            key = _key(term)
            if key and key not in _COMMON:
                counts[key] = counts.get(key, 0) + 1
                first.setdefault(key, term)
    # Dicts keep insertion order, so ties stay in reading order.
    keys = sorted(counts, key=lambda k: -counts[k])
    out: list[str] = []
    size = 0
    for key in keys:
        term = first[key]
        if any(_contains_words(first[other], term) for other in keys):
            continue  # "Mandeb" adds nothing next to "Bab el-Mandeb"
        size += len(term) + 2
        if len(out) >= max_terms or size > MAX_CHARS:
            break
        out.append(term)
    return out


def _contains_words(longer: str, shorter: str) -> bool:
    a = [_key(w) for w in longer.split()]
    b = [_key(w) for w in shorter.split()]
    return len(b) < len(a) and any(a[i : i + len(b)] == b for i in range(len(a) - len(b) + 1))


def primed_options(options: TranscribeOptions, articles: Sequence[Article]) -> TranscribeOptions:
    """*options* with the articles' names as hotwords or initial prompt, per ``options.prime``.

    Explicit ``hotwords``/``initial_prompt`` set by the caller win over the articles.
    """
    if options.prime == PRIME_OFF or not articles:
        return options
    terms = priming_terms(articles)
    if not terms:
        return options
    text = ", ".join(terms)
    if options.prime == PRIME_PROMPT:
        return options if options.initial_prompt else replace(options, initial_prompt=text)
    if options.prime == PRIME_HOTWORDS:
        return options if options.hotwords else replace(options, hotwords=text)
    return options
