"""Index and search benchmark: our Whoosh index, our PostgreSQL index and tantivy on one corpus.

Run:  python -m benchmarks.index_search [--sizes 10000,100000] [--video-segments 120]
      python -m benchmarks.index_search --backends whoosh,postgres,tantivy --sizes 100000,1000000
      python -m benchmarks.index_search [--baseline CHECKOUT] [--search-only INDEX_ROOT]

Builds indexes of N transcript segments (synthetic text with a Zipf word distribution plus
real transcript sentences), one video (one commit) at a time, and measures segments/s,
commit time p50/p95/max (and the max of the last tenth of commits, i.e. adding one video to
an index of nearly N segments), size on disk, time to open, and query latency p50/p95 for
rare terms, common terms, AND of 2-3 terms and 2-word phrases, with the searcher reused as the
API does.  It then rebuilds the same corpus in one go, as ``briefing reindex`` does, and
measures that rate too.  tantivy (the ``tantivy`` package) indexes and answers the same
corpus and queries in the same run as the reference point.  The PostgreSQL index
(:mod:`indexer.pgsearch`) writes one video per transaction into a scratch database
(``pgsearch_bench_*`` after BRIEFING_BENCH_PG_PREFIX, dropped after each size); its size is
that of its tables and indexes.
The last table shows how each backend's p95 grows from one size to the next.

With ``--baseline CHECKOUT`` (another checkout of this project, e.g. ``git worktree add
/tmp/base main``), that code's ``SearchIndex`` answers the same queries on the same Whoosh index
in a second process, query by query in turn with ours, and the two are printed side by side
with how many queries both answered alike.  ``--search-only INDEX_ROOT`` skips the building
and the other backends: it times the searches on a Whoosh index built before from the same
corpus (e.g. by :func:`index_only`).
"""

from __future__ import annotations

import argparse
import itertools
import json
import multiprocessing
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import psycopg
from whoosh import index as windex

from benchmarks.machine import describe
from benchmarks.pgdb import scratch_database
from indexer.backend import SearchBackend
from indexer.domain import ArticleRef, Clip, Segment, Transcript, Word
from indexer.generations import _new_generation, _write_current
from indexer.index import SearchIndex, rebuild_index
from indexer.pgsearch import PgSearchIndex
from indexer.pgsearch.documents import segment_rows
from indexer.schema import PHONE_KEYS_FIELD, PHONES_FIELD, build_schema

REAL_SENTENCES = (
    "Good morning, this is the daily situation report.",
    "The harbour reopened at dawn after the storm damage was cleared.",
    "Engineers say the old bridge over the river will stay closed until Friday.",
    "The water supply has been restored to most homes in the eastern district.",
    "A convoy of trucks carrying food and medicine arrived in the city last night.",
    "The ceasefire is holding, and relief workers can now reach the villages.",
    "Officials at the press conference raised the flood warning level.",
    "Thousands of sandbags were handed out to families near the river bank.",
)
# Share of words a recogniser doubts (probability below 0.6) in benchmarks.search_quality.
DOUBTED_SHARE = 0.19
_SYLLABLES = ("ka", "ri", "mo", "ten", "sal", "vo", "ber", "lin", "du", "ra", "shi", "gor",
              "pa", "ne", "tro", "vik", "an", "el", "ost", "mar", "zu", "ha", "qi", "dor")


def vocabulary(size: int, rng: random.Random) -> list[str]:
    """*size* distinct pseudo-words, shortest (most frequent) first."""
    words: list[str] = []
    seen: set[str] = set()
    while len(words) < size:
        word = "".join(rng.choice(_SYLLABLES) for _ in range(rng.choice((1, 2, 2, 3, 3, 4))))
        if word not in seen:
            seen.add(word)
            words.append(word)
    words.sort(key=len)
    return words


@dataclass(frozen=True)
class Corpus:
    """Videos of segments, plus the query sets drawn from the same vocabulary."""

    videos: list[Transcript]
    queries: dict[str, list[str]]


def build_corpus(n_segments: int, per_video: int, seed: int = 7) -> Corpus:
    """Synthetic transcripts with realistic word frequencies and real sentences mixed in."""
    rng = random.Random(seed)
    vocab = vocabulary(30_000, rng)
    # Cumulative once: `choices(weights=...)` would re-add 30,000 weights for every segment
    # (the same draws either way).
    cum_weights = list(itertools.accumulate(1.0 / (rank + 1) ** 1.07
                                            for rank in range(len(vocab))))
    videos: list[Transcript] = []
    segments: list[Segment] = []
    clock = 0.0
    for n in range(n_segments):
        if n % 10 == 0:
            text = rng.choice(REAL_SENTENCES)
        else:
            tokens = rng.choices(vocab, cum_weights=cum_weights, k=rng.randint(8, 22))
            text = " ".join(tokens).capitalize() + "."
        words = []
        for token in text.split():
            # About one word in five doubted (below 0.6), as tiny.en's words in
            # benchmarks.search_quality: the phone index keys those.
            probability = (rng.uniform(0.05, 0.6) if rng.random() < DOUBTED_SHARE
                           else rng.uniform(0.6, 1.0))
            words.append(Word(" " + token, round(clock, 2), round(clock + 0.3, 2),
                              round(probability, 3)))
            clock += 0.35
        segments.append(Segment(len(segments), words[0].start, words[-1].end, text,
                                tuple(words)))
        clock += 0.5
        if len(segments) == per_video or n == n_segments - 1:
            videos.append(Transcript(f"v{len(videos):06d}", "en", clock, "bench", "1",
                                     tuple(segments)))
            segments, clock = [], 0.0
    queries = {
        "rare term": [vocab[i] for i in rng.sample(range(20_000, 30_000), 40)],
        # A rare word with one vowel changed: no exact match, so every one runs the
        # phonetic pass (a misheard name).
        "sound-alike name (no exact match)": [
            _misspelt(vocab[i], rng, set(vocab)) for i in rng.sample(range(10_000, 30_000), 40)
        ],
        "common term": [vocab[i] for i in range(5, 45)],
        "AND of 2-3 terms": [
            " ".join(vocab[rng.randint(20, 3000)] for _ in range(rng.choice((2, 3))))
            for _ in range(40)
        ],
        "2-word phrase": [f'"{v}"' for v in (
            " ".join(rng.choice(REAL_SENTENCES).split()[i : i + 2]).strip(".,").lower()
            for i in (rng.randint(0, 5) for _ in range(40))
        )],
    }
    return Corpus(videos, queries)


def _misspelt(word: str, rng: random.Random, known: set[str]) -> str:
    vowels = [i for i, c in enumerate(word) if c in "aeiou"]
    for _ in range(20):
        i = rng.choice(vowels)
        other = word[:i] + rng.choice([v for v in "aeiou" if v != word[i]]) + word[i + 1 :]
        if other not in known:
            return other
    return word + "o"


# What the baseline's process runs: the same searches as ours, timed the same way (the
# time to pass a query and its answer between the processes is left out).
_BASELINE_SERVER = """
import json, sys, time
from pathlib import Path
from indexer.index import SearchIndex
index = SearchIndex(Path(sys.argv[1]))
for line in sys.stdin:
    query, sound_alike = json.loads(line)
    started = time.perf_counter()
    page = index.search_page(query, limit=10, sound_alike=sound_alike)
    ms = (time.perf_counter() - started) * 1000
    answer = [[type(r).__name__, round(r.score, 4), getattr(r, "video_id", ""),
               getattr(r, "start", 0.0), getattr(r, "match", "")] for r in page.results]
    print(json.dumps([ms, answer, page.total]), flush=True)
"""


def _answer(results: Sequence[object], total: int) -> list[object]:
    """What a page says, as compared between ours and the baseline (JSON-shaped)."""
    return [[[type(r).__name__, round(float(getattr(r, "score", 0.0)), 4),
              getattr(r, "video_id", ""), getattr(r, "start", 0.0),
              getattr(r, "match", "") if isinstance(r, Clip) else ""] for r in results],
            total]


class Baseline:
    """Another checkout's SearchIndex on the same index, in a process of its own."""

    def __init__(self, checkout: Path, root: Path) -> None:
        env = {**os.environ, "PYTHONPATH": str(checkout)}
        self._process = subprocess.Popen(
            [sys.executable, "-c", _BASELINE_SERVER, str(root)], cwd=checkout, env=env,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def search(self, query: str, sound_alike: bool) -> tuple[float, list[object]]:
        """Milliseconds the baseline took, and its answer (see :func:`_answer`)."""
        assert self._process.stdin is not None and self._process.stdout is not None
        self._process.stdin.write(json.dumps([query, sound_alike]) + "\n")
        self._process.stdin.flush()
        line = self._process.stdout.readline()
        if not line:
            raise RuntimeError("the baseline's search process ended")
        ms, results, total = json.loads(line)
        return float(ms), [results, total]

    def close(self) -> None:
        """End the baseline's process."""
        if self._process.stdin is not None:
            self._process.stdin.close()
        self._process.wait(timeout=60)


@dataclass
class SideBySide:
    """Latencies of ours and the baseline's, measured in turn, and the answers that differ."""

    ours: dict[str, list[float]]
    baseline: dict[str, list[float]]
    differing: dict[str, int]


def time_side_by_side(index: SearchIndex, baseline: Baseline, queries: dict[str, list[str]],
                      sound_alike: bool, rounds: int = 3) -> SideBySide:
    """Each query by ours and by the baseline in turn (which goes first alternates)."""
    out = SideBySide({}, {}, {})
    for kind, qs in queries.items():
        ours: list[float] = []
        theirs: list[float] = []
        differing = 0
        for q in qs[:5]:  # warm caches
            index.search(q, limit=10, sound_alike=sound_alike)
            baseline.search(q, sound_alike)
        for n in range(rounds):
            for q in qs:
                if n % 2:
                    ms, answer = baseline.search(q, sound_alike)
                    theirs.append(ms)
                started = time.perf_counter()
                page = index.search_page(q, limit=10, sound_alike=sound_alike)
                ours.append((time.perf_counter() - started) * 1000)
                if not n % 2:
                    ms, answer = baseline.search(q, sound_alike)
                    theirs.append(ms)
                if n == 0 and json.loads(json.dumps(_answer(page.results, page.total))) != answer:
                    differing += 1
        out.ours[kind], out.baseline[kind], out.differing[kind] = ours, theirs, differing
    return out


def _side_rows(runs: dict[str, SideBySide], queries: dict[str, list[str]]) -> Iterator[str]:
    yield "\n### ours against the baseline, in turn on the same index\n"
    yield ("| query kind | sound-alike | baseline p50 / p95 (ms) | ours p50 / p95 (ms) "
           "| answers differing |")
    yield "| --- | --- | ---: | ---: | ---: |"
    for label, run in runs.items():
        for kind in run.ours:
            yield (f"| {kind} | {label} | {_percentile(run.baseline[kind], 0.5):.1f} / "
                   f"{_percentile(run.baseline[kind], 0.95):.1f} | "
                   f"{_percentile(run.ours[kind], 0.5):.1f} / "
                   f"{_percentile(run.ours[kind], 0.95):.1f} | "
                   f"{run.differing[kind]} of {len(queries[kind])} |")


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _time_queries(run: Callable[[str], object], queries: list[str],
                  rounds: int = 3) -> list[float]:
    for q in queries[:5]:
        run(q)  # warm caches
    times = []
    for _ in range(rounds):
        for q in queries:
            started = time.perf_counter()
            run(q)
            times.append((time.perf_counter() - started) * 1000)
    return times


Timings = dict[str, list[float]]


def _time_kinds(index: SearchBackend, corpus: Corpus) -> tuple[Timings, Timings]:
    """Each query kind's latencies on *index*, with the sound-alike pass and without."""
    latency = {kind: _time_queries(lambda q: index.search(q, limit=10), qs)
               for kind, qs in corpus.queries.items()}
    exact = {kind: _time_queries(lambda q: index.search(q, limit=10, sound_alike=False), qs)
             for kind, qs in corpus.queries.items()}
    return latency, exact
    return latency, exact



@dataclass
class EngineResult:
    """What one engine measured on one corpus."""

    seconds: float
    bulk_seconds: float
    commits_ms: list[float]
    size: int
    open_ms: float
    latency: dict[str, list[float]]
    # Whoosh only: the same queries without the sound-alike pass (search quality's fuzzy
    # matching of names), to show what each part costs.
    exact_latency: dict[str, list[float]] | None = None
    # Whoosh only: the merges run aside after the commits (SearchIndex.compact), and the
    # segments a search visits at the end.
    merges_ms: list[float] | None = None
    segments: int = 0
    # PostgreSQL only: the VACUUM ANALYZE run after the writes, and the segments/s of the
    # analysis alone (Python, the same for Whoosh).
    vacuum_ms: float | None = None
    analysis_rate: float | None = None
    # Whoosh with --baseline: ours and the baseline's in turn, with and without the
    # sound-alike pass.
    side_by_side: dict[str, SideBySide] | None = None


def without_phone_index(root: Path) -> None:
    """Create *root* as an index made before the phone index (no phone fields)."""
    path = _new_generation(root)
    schema = build_schema()
    for name in (PHONES_FIELD, PHONE_KEYS_FIELD):
        schema.remove(name)
    windex.create_in(str(path), schema)
    _write_current(root, path.name)


def index_only(corpus: Corpus, root: Path) -> float:
    """Seconds to write *corpus* one video per commit (merges included) into *root*."""
    index = SearchIndex(root)
    refs = [ArticleRef("https://news.example/a", "A story", "Example", "2026-11-20")]
    started = time.perf_counter()
    for video in corpus.videos:
        index.add_transcript(video, f"https://news.example/{video.video_id}.mp4", refs)
        compact_all(index)
    seconds = time.perf_counter() - started
    index.close()
    return seconds


def compare(index: SearchIndex, root: Path, checkout: Path,
            queries: dict[str, list[str]]) -> dict[str, SideBySide]:
    """Ours and *checkout*'s searches in turn on the index at *root*, with the sound-alike
    pass ("on") and without ("off")."""
    baseline = Baseline(checkout, root)
    try:
        return {label: time_side_by_side(index, baseline, queries, sound_alike)
                for label, sound_alike in (("on", True), ("off", False))}
    finally:
        baseline.close()


def bench_whoosh(corpus: Corpus, root: Path, *, bulk: bool = True,
                 baseline: Path | None = None) -> EngineResult:
    """Our index, one video per commit, as workers write it (and searched beside the
    *baseline* checkout's code, if given)."""
    index = SearchIndex(root)
    refs = [ArticleRef("https://news.example/a", "A story", "Example", "2026-11-20")]
    commits: list[float] = []
    merges: list[float] = []
    started = time.perf_counter()
    for video in corpus.videos:
        t0 = time.perf_counter()
        index.add_transcript(video, f"https://news.example/{video.video_id}.mp4", refs)
        commits.append((time.perf_counter() - t0) * 1000)
        merges += compact_all(index)
    seconds = time.perf_counter() - started  # merges included
    segments = index.segment_count()
    index.close()
    t0 = time.perf_counter()
    index = SearchIndex(root)
    index.search("harbour")
    open_ms = (time.perf_counter() - t0) * 1000
    latency, exact = _time_kinds(index, corpus)
    side = compare(index, root, baseline, corpus.queries) if baseline is not None else None
    index.close()
    size = _dir_size(root)

    def fill(fresh: SearchIndex) -> None:
        for video in corpus.videos:
            fresh.add_transcript(video, f"https://news.example/{video.video_id}.mp4", refs)

    bulk_seconds = 0.0
    if bulk:
        t0 = time.perf_counter()
        rebuild_index(root.with_name(root.name + "-rebuild"), fill)
        bulk_seconds = time.perf_counter() - t0
    return EngineResult(seconds, bulk_seconds, commits, size, open_ms, latency, exact, merges,
                        segments, side_by_side=side)


def compact_all(index: SearchIndex) -> list[float]:
    """Run the merges a worker runs after its commit; the time of each (ms)."""
    times: list[float] = []
    while True:
        t0 = time.perf_counter()
        if not index.compact():
            return times
        times.append((time.perf_counter() - t0) * 1000)


def bench_tantivy(corpus: Corpus, root: Path, *, bulk: bool = True) -> EngineResult:
    """The reference: tantivy with an English stemmer, stored times, one commit per video."""
    import tantivy

    builder = tantivy.SchemaBuilder()
    builder.add_text_field("text", stored=True, tokenizer_name="en_stem")
    builder.add_text_field("video_id", stored=True, tokenizer_name="raw")
    builder.add_float_field("start", stored=True)
    builder.add_float_field("end", stored=True)
    schema = builder.build()
    root.mkdir(parents=True, exist_ok=True)
    index = tantivy.Index(schema, path=str(root))
    writer = index.writer(heap_size=64_000_000, num_threads=1)
    commits = []
    started = time.perf_counter()
    for video in corpus.videos:
        t0 = time.perf_counter()
        for seg in video.segments:
            writer.add_document(tantivy.Document(text=seg.text, video_id=video.video_id,
                                                 start=seg.start, end=seg.end))
        writer.commit()
        commits.append((time.perf_counter() - t0) * 1000)
    seconds = time.perf_counter() - started
    writer.wait_merging_threads()
    t0 = time.perf_counter()
    index = tantivy.Index.open(str(root))
    index.reload()
    searcher = index.searcher()
    open_ms = (time.perf_counter() - t0) * 1000

    def run(q: str) -> object:
        query = index.parse_query(q, ["text"], conjunction_by_default=True)
        hits = searcher.search(query, 10).hits
        return [searcher.doc(address)["start"] for _score, address in hits]

    latency = {kind: _time_queries(run, qs) for kind, qs in corpus.queries.items()}
    size = _dir_size(root)

    if not bulk:
        return EngineResult(seconds, 0.0, commits, size, open_ms, latency)
    bulk_root = root.with_name(root.name + "-rebuild")
    bulk_root.mkdir(parents=True)
    t0 = time.perf_counter()
    bulk_writer = tantivy.Index(schema, path=str(bulk_root)).writer(heap_size=64_000_000,
                                                                   num_threads=1)
    for video in corpus.videos:
        for seg in video.segments:
            bulk_writer.add_document(tantivy.Document(text=seg.text, video_id=video.video_id,
                                                      start=seg.start, end=seg.end))
    bulk_writer.commit()
    bulk_writer.wait_merging_threads()
    bulk_seconds = time.perf_counter() - t0
    return EngineResult(seconds, bulk_seconds, commits, size, open_ms, latency)


def _row(name: str, ours: float, ref: float, digits: int = 1) -> str:
    ratio = ours / max(ref, 1e-3)
    return f"| {name} | {ours:,.{digits}f} | {ref:,.{max(digits, 2)}f} | {ratio:.1f} |"


def _rows(size: int, corpus: Corpus, ours: EngineResult, ref: EngineResult) -> Iterator[str]:
    yield f"\n### {size:,} segments ({len(corpus.videos)} videos, one commit each)\n"
    yield "| measure | Whoosh (ours) | tantivy | ours / tantivy |"
    yield "| --- | ---: | ---: | ---: |"
    yield _row("segments/s written, one commit per video", size / ours.seconds,
               size / ref.seconds, 0)
    yield _row("segments/s written, bulk rebuild", size / ours.bulk_seconds,
               size / ref.bulk_seconds, 0)
    for name, q in (("p50", 0.5), ("p95", 0.95)):
        yield _row(f"commit {name} (ms)", _percentile(ours.commits_ms, q),
                   _percentile(ref.commits_ms, q), 0)
    yield _row("commit max (ms)", max(ours.commits_ms), max(ref.commits_ms), 0)
    tail = max(1, len(ours.commits_ms) // 10)
    yield _row("commit max, last tenth (ms)", max(ours.commits_ms[-tail:]),
               max(ref.commits_ms[-tail:]), 0)
    if ours.merges_ms:
        yield (f"| merges run aside after commits (Whoosh; no lock held) | "
               f"{len(ours.merges_ms)} merges, p50 {_percentile(ours.merges_ms, 0.5):,.0f} ms, "
               f"max {max(ours.merges_ms):,.0f} ms | | |")
    yield f"| segments a search visits | {ours.segments} | | |"
    yield _row("size on disk (MB)", ours.size / 1e6, ref.size / 1e6)
    yield _row("open + first search (ms)", ours.open_ms, ref.open_ms, 0)
    for kind in ours.latency:
        for name, q in (("p50", 0.5), ("p95", 0.95)):
            yield _row(f"{kind} {name} (ms)", _percentile(ours.latency[kind], q),
                       _percentile(ref.latency[kind], q))
    for kind in ours.exact_latency or {}:
        assert ours.exact_latency is not None
        yield _row(f"{kind} p95, no sound-alike pass (ms)",
                   _percentile(ours.exact_latency[kind], 0.95),
                   _percentile(ref.latency[kind], 0.95))


def bench_append(index_root: Path, videos: int, per_video: int) -> list[float]:
    """Commit times (ms) of adding *videos* new videos one at a time to a copy of an index."""
    work = Path(tempfile.mkdtemp(prefix="bench-append-"))
    try:
        shutil.copytree(index_root, work / "index")
        index = SearchIndex(work / "index")
        before = index.doc_count()
        refs = [ArticleRef("https://news.example/a", "A story", "Example", "2026-11-20")]
        commits: list[float] = []
        merges: list[float] = []
        for n, video in enumerate(build_corpus(videos * per_video, per_video, seed=11).videos):
            added = Transcript(f"new{n:05d}", video.language, video.duration, video.model,
                               video.model_version, video.segments)
            t0 = time.perf_counter()
            index.add_transcript(added, f"https://news.example/{added.video_id}.mp4", refs)
            commits.append((time.perf_counter() - t0) * 1000)
            merges += compact_all(index)
        segments = index.segment_count()
        index.close()
        print(f"\n### adding {videos} videos of {per_video} segments, one commit each, to an "
              f"index of {before:,} documents\n")
        print(f"commit p50 {_percentile(commits, 0.5):,.0f} ms, "
              f"p95 {_percentile(commits, 0.95):,.0f} ms, max {max(commits):,.0f} ms; "
              f"{len(merges)} merges aside"
              + (f" (p50 {_percentile(merges, 0.5):,.0f} ms, max {max(merges):,.0f} ms)"
                 if merges else "") + f"; {segments} segments after")
        return commits
    finally:
        shutil.rmtree(work, ignore_errors=True)


def search_only(root: Path, size: int, per_video: int, baseline: Path | None) -> None:
    """Time the query kinds on an index already built from the corpus of *size* segments."""
    corpus = build_corpus(size, per_video)
    index = SearchIndex(root)
    index.search("harbour")
    try:
        print(f"\n### searches on {root} ({index.doc_count():,} documents)\n")
        print("| query kind | p50 / p95 (ms) | p95 without the sound-alike pass (ms) |")
        print("| --- | ---: | ---: |")
        for kind, qs in corpus.queries.items():
            on = _time_queries(lambda q: index.search(q, limit=10), qs)
            off = _time_queries(lambda q: index.search(q, limit=10, sound_alike=False), qs)
            print(f"| {kind} | {_percentile(on, 0.5):.1f} / {_percentile(on, 0.95):.1f} | "
                  f"{_percentile(off, 0.95):.1f} |", flush=True)
        if baseline is not None:
            for line in _side_rows(compare(index, root, baseline, corpus.queries),
                                   corpus.queries):
                print(line, flush=True)
    finally:
        index.close()
    print(f"load at the end: {_load()}")


# The tables of the PostgreSQL index (migration 0004).
SEARCH_TABLES = ("search_docs", "search_match", "search_phones", "search_terms")
_REFS = [ArticleRef("https://news.example/a", "A story", "Example", "2026-11-20")]
# The corpus a forked writer process reads (set before the fork).
_WRITING: tuple[Corpus, str, int] | None = None


def _write_share(share: int) -> list[float]:
    """Write every *writers*-th video of the corpus from *share* on; each commit's time."""
    assert _WRITING is not None
    corpus, url, writers = _WRITING
    index = PgSearchIndex(url)
    commits: list[float] = []
    for video in corpus.videos[share::writers]:
        t0 = time.perf_counter()
        index.add_transcript(video, f"https://news.example/{video.video_id}.mp4", _REFS)
        commits.append((time.perf_counter() - t0) * 1000)
    index.close()
    return commits


def analysis_rate(corpus: Corpus, videos: int = 40) -> float:
    """Segments/s of the analysis alone (documents made in Python, nothing written), on the
    first *videos* videos: the bound of one writer process, whatever the store."""
    sample = corpus.videos[:videos]
    t0 = time.perf_counter()
    for video in sample:
        list(segment_rows(video, f"https://news.example/{video.video_id}.mp4", _REFS))
    return sum(len(v.segments) for v in sample) / (time.perf_counter() - t0)


def bench_postgres(corpus: Corpus, url: str, *, bulk: bool = True,
                   writers: int = 1) -> EngineResult:
    """Our PostgreSQL index, one video per transaction, as workers write it (*writers*
    processes at once, each its own share of the videos)."""
    global _WRITING
    refs = _REFS
    started = time.perf_counter()
    if writers == 1:
        _WRITING = (corpus, url, 1)
        commits = _write_share(0)
    else:
        _WRITING = (corpus, url, writers)
        with multiprocessing.get_context("fork").Pool(writers) as pool:
            commits = [ms for share in pool.map(_write_share, range(writers)) for ms in share]
    seconds = time.perf_counter() - started
    _WRITING = None
    # What autovacuum does soon after a bulk of inserts (statistics for the planner, the
    # visibility map), done at once so the queries below do not race it.
    t0 = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        for table in SEARCH_TABLES:
            conn.execute(f"VACUUM ANALYZE {table}")
    vacuum_ms = (time.perf_counter() - t0) * 1000
    t0 = time.perf_counter()
    index = PgSearchIndex(url)
    index.search("harbour")
    open_ms = (time.perf_counter() - t0) * 1000
    latency, exact = _time_kinds(index, corpus)
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT sum(pg_total_relation_size(t))"
                           " FROM unnest(%s::regclass[]) t", (list(SEARCH_TABLES),)).fetchone()
    size = int(row[0]) if row else 0
    bulk_seconds = 0.0
    if bulk:
        def fill(fresh: PgSearchIndex) -> None:
            for video in corpus.videos:
                fresh.add_transcript(video, f"https://news.example/{video.video_id}.mp4", refs)

        t0 = time.perf_counter()
        index.rebuild(fill)
        bulk_seconds = time.perf_counter() - t0
    index.close()
    return EngineResult(seconds, bulk_seconds, commits, size, open_ms, latency, exact,
                        segments=1, vacuum_ms=vacuum_ms, analysis_rate=analysis_rate(corpus))


def _cell(value: float | None, digits: int) -> str:
    return "–" if value is None else f"{value:,.{digits}f}"


def _table(size: int, corpus: Corpus, results: dict[str, EngineResult]) -> Iterator[str]:
    """One column per backend: writing, size and query latency at one corpus size."""
    names = list(results)
    yield f"\n### {size:,} segments ({len(corpus.videos)} videos, one commit each)\n"
    yield "| measure | " + " | ".join(names) + " |"
    yield "| --- |" + " ---: |" * len(names)

    def row(label: str, pick: Callable[[EngineResult], float | None], digits: int = 1) -> str:
        return f"| {label} | " + " | ".join(_cell(pick(r), digits)
                                             for r in results.values()) + " |"

    yield row("segments/s written, one commit per video", lambda r: size / r.seconds, 0)
    yield row("segments/s of the analysis alone (Python, one process)",
              lambda r: r.analysis_rate, 0)
    yield row("segments/s written, bulk rebuild",
              lambda r: size / r.bulk_seconds if r.bulk_seconds else None, 0)
    for name, q in (("p50", 0.5), ("p95", 0.95)):
        yield row(f"commit {name} (ms)", lambda r, q=q: _percentile(r.commits_ms, q), 0)
    tail = max(1, len(corpus.videos) // 10)
    yield row("adding one video, last tenth: p50 (ms)",
              lambda r: _percentile(r.commits_ms[-tail:], 0.5), 0)
    yield row("adding one video, last tenth: max (ms)", lambda r: max(r.commits_ms[-tail:]), 0)
    yield row("VACUUM ANALYZE after the writes (ms)", lambda r: r.vacuum_ms, 0)
    yield row("size (MB)", lambda r: r.size / 1e6)
    yield row("open + first search (ms)", lambda r: r.open_ms, 0)
    for kind in corpus.queries:
        for name, q in (("p50", 0.5), ("p95", 0.95)):
            yield row(f"{kind} {name} (ms)",
                      lambda r, kind=kind, q=q: _percentile(r.latency[kind], q))
    for kind in corpus.queries:
        yield row(f"{kind} p95, no sound-alike pass (ms)",
                  lambda r, kind=kind: (_percentile(r.exact_latency[kind], 0.95)
                                        if r.exact_latency else None))


def _growth(sizes: list[int], runs: dict[int, dict[str, EngineResult]],
            kinds: list[str]) -> Iterator[str]:
    """p95 of each query kind at each size, per backend, and the ratio largest/smallest."""
    names = list(dict.fromkeys(n for r in runs.values() for n in r))
    yield f"\n### p95 (ms) from {sizes[0]:,} to {sizes[-1]:,} segments\n"
    yield "| query | backend | " + " | ".join(f"{n:,}" for n in sizes) + " | growth |"
    yield "| --- | --- |" + " ---: |" * (len(sizes) + 1)
    for kind in kinds:
        for name in names:
            p95 = [(_percentile(runs[n][name].latency[kind], 0.95) if name in runs[n]
                    else None) for n in sizes]
            known = [v for v in p95 if v is not None]
            growth = f"{known[-1] / max(known[0], 1e-3):.1f}×" if len(known) > 1 else "–"
            yield (f"| {kind} | {name} | " + " | ".join(_cell(v, 1) for v in p95)
                   + f" | {growth} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--backends", default="whoosh,tantivy",
                        help="comma-separated: whoosh, postgres, tantivy")
    parser.add_argument("--whoosh-max", type=int, default=0,
                        help="skip the Whoosh legs above this many segments (0: never)")
    parser.add_argument("--pg-writers", type=int, default=1,
                        help="PostgreSQL writer processes at once (a fleet's workers)")
    parser.add_argument("--no-bulk", action="store_true",
                        help="skip the bulk rebuilds (reindex) of every backend")
    parser.add_argument("--video-segments", type=int, default=120,
                        help="segments per video (a 15-minute briefing has about 120)")
    parser.add_argument("--append-to", type=Path, default=None,
                        help="only time adding videos one at a time to (a copy of) this index "
                        "root, e.g. one built by benchmarks.cli_latency --data-dir DIR")
    parser.add_argument("--append-videos", type=int, default=24)
    parser.add_argument("--baseline", type=Path, default=None,
                        help="another checkout of this project whose Whoosh search to time "
                        "beside ours, query by query in turn, on the same index")
    parser.add_argument("--search-only", type=Path, default=None, metavar="INDEX_ROOT",
                        help="only time searches (with --baseline: beside the baseline's) on "
                        "this Whoosh index root, built before from the corpus of the one size "
                        "given")
    args = parser.parse_args()
    if args.baseline is not None and not (args.baseline / "indexer" / "index.py").is_file():
        parser.error(f"--baseline {args.baseline}: not a checkout of this project")
    print(f"machine: {describe()}")
    if args.append_to is not None:
        bench_append(args.append_to, args.append_videos, args.video_segments)
        return
    if args.search_only is not None:
        print(f"load at the start: {_load()}")
        search_only(args.search_only, int(args.sizes.split(",")[0]), args.video_segments,
                    args.baseline)
        return
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    if args.baseline is not None and "whoosh" not in backends:
        parser.error("--baseline compares Whoosh searches: add whoosh to --backends")
    sizes = [int(s) for s in args.sizes.split(",")]
    runs: dict[int, dict[str, EngineResult]] = {}
    kinds: list[str] = []
    for size in sizes:
        corpus = build_corpus(size, args.video_segments)
        kinds = list(corpus.queries)
        results: dict[str, EngineResult] = {}
        before: float | None = None
        work = Path(tempfile.mkdtemp(prefix="bench-index-"))
        try:
            for backend in backends:
                print(f"{size:,} segments: {backend} ... ({_load()})", flush=True)
                if backend == "whoosh":
                    if args.whoosh_max and size > args.whoosh_max:
                        continue
                    if "tantivy" in backends and len(backends) == 2:
                        without_phone_index(work / "whoosh-before")
                        before = index_only(corpus, work / "whoosh-before")
                    results["Whoosh"] = bench_whoosh(corpus, work / "whoosh",
                                                     bulk=not args.no_bulk,
                                                     baseline=args.baseline)
                elif backend == "postgres":
                    with scratch_database(f"pgsearch_bench_{size}") as url:
                        name = ("PostgreSQL" if args.pg_writers == 1
                                else f"PostgreSQL, {args.pg_writers} writers")
                        results[name] = bench_postgres(corpus, url, bulk=not args.no_bulk,
                                                       writers=args.pg_writers)
                elif backend == "tantivy":
                    results["tantivy"] = bench_tantivy(corpus, work / "tantivy",
                                                       bulk=not args.no_bulk)
                else:
                    parser.error(f"unknown backend {backend!r}")
        finally:
            shutil.rmtree(work, ignore_errors=True)
        runs[size] = results
        print(f"load after {size:,}: {_load()}")
        if set(results) == {"Whoosh", "tantivy"} and not args.no_bulk:
            for line in _rows(size, corpus, results["Whoosh"], results["tantivy"]):
                print(line, flush=True)
        else:
            for line in _table(size, corpus, results):
                print(line, flush=True)
        if before is not None:
            print(f"| segments/s written, one commit per video, index without the phone "
                  f"index | {size / before:,.0f} (with it: "
                  f"{size / results['Whoosh'].seconds:,.0f}, "
                  f"{before / results['Whoosh'].seconds:.0%} of the speed) | | |", flush=True)
        if "Whoosh" in results and results["Whoosh"].side_by_side is not None:
            for line in _side_rows(results["Whoosh"].side_by_side, corpus.queries):
                print(line, flush=True)
    if len(sizes) > 1:
        for line in _growth(sizes, runs, kinds):
            print(line, flush=True)


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f}, {five:.2f}, {fifteen:.2f}"


if __name__ == "__main__":
    main()
