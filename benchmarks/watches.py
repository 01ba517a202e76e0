"""Watches: what evaluating every watch costs per newly indexed video, beside indexing it.

    python -m benchmarks.watches [--base-segments 20000] [--videos 10] [--watches 10,100,1000]
                                 [--baseline /path/to/a/checkout/of/the/old/code]

An index of ``--base-segments`` synthetic segments (``benchmarks.index_search``'s corpus:
Zipf words, real sentences mixed in, 120 segments a video, about a 15-minute briefing) is
built in bulk; then ``--videos`` more videos are indexed one at a time as the index step does
(``SearchIndex.add_transcript`` and the merges of ``compact``), and after each, the watches
are evaluated as the step does (``worker.watching.evaluate.evaluate_video``: the percolator's
in-memory index of that video, every watch's query with the search's analysis and
sound-alike pass, the hits recorded in an SQLite watch store).  Side by side: the cost of
indexing that video, and (for the smaller watch counts) re-running every watch's query over
the whole index instead, which is what the percolator avoids.

With ``--baseline`` (another checkout of briefing, e.g. ``git worktree add /tmp/base <commit>``)
each video is also evaluated by that code, in a process of its own that builds the same corpus
and watches, right after (or, every other video, right before) this code: side by side in one
run, under the same load.

Watches are a mix an analyst might keep: 40 % capitalised names (which take the sound-alike
pass whenever they are not said exactly: nearly always), 30 % rare words, 20 % ANDs of two
words, 10 % three-word phrases of the real sentences the corpus mixes in (those fire on most
videos); a tenth filtered by source, a tenth clips only, a tenth with a webhook.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from benchmarks.index_search import REAL_SENTENCES, build_corpus, vocabulary
from benchmarks.machine import describe
from indexer.domain import ArticleRef, Transcript
from indexer.index import SearchIndex, rebuild_index
from indexer.percolate import Percolator
from worker.storage.watches import WatchStore
from worker.watching.evaluate import evaluate_video

PER_VIDEO = 120
ARTICLE = ArticleRef("https://news.example.org/briefing", "Daily briefing", "Example News",
                     "2026-11-20")


def watch_queries(count: int, seed: int = 11) -> list[tuple[str, dict[str, object]]]:
    """*count* watch queries and filters drawn from the corpus's vocabulary."""
    rng = random.Random(seed)
    vocab = vocabulary(30_000, random.Random(7))  # build_corpus's words (same seed)
    made: list[tuple[str, dict[str, object]]] = []
    for n in range(count):
        kind = n % 10
        if kind < 4:  # a name: capitalised, so the sound-alike pass runs unless said exactly
            query = vocab[rng.randint(2_000, 29_999)].capitalize()
        elif kind < 7:
            query = vocab[rng.randint(10_000, 29_999)]
        elif kind < 9:
            query = f"{vocab[rng.randint(1_000, 20_000)]} {vocab[rng.randint(1_000, 20_000)]}"
        else:  # a phrase of the real sentences: these fire on most videos
            words = rng.choice(REAL_SENTENCES).rstrip(".").replace(",", "").split()
            start = rng.randint(0, len(words) - 3)
            query = '"' + " ".join(words[start:start + 3]) + '"'
        filters: dict[str, object] = {}
        if n % 10 == 3:
            filters["source"] = "Example News"
        if n % 10 == 5:
            filters["clips_only"] = True
        if n % 10 == 7:
            filters["webhook_url"] = "https://hooks.example.org/briefing"
        made.append((query, filters))
    return made


def fill_store(path: Path, count: int) -> WatchStore:
    """A watch store holding *count* watches."""
    store = WatchStore(path)
    for n, (query, filters) in enumerate(watch_queries(count)):
        store.add(f"watch {n}", query, source=str(filters.get("source", "")),
                  clips_only=bool(filters.get("clips_only", False)),
                  webhook_url=str(filters.get("webhook_url", "")))
    return store


# Run by the baseline's own Python path (cwd and PYTHONPATH: its checkout), so it uses only
# what the base commit's benchmarks/watches.py already had.  One JSON line in per video (its
# number among the new ones), one out: each watch count's wall and CPU seconds and new hits.
_BASELINE_CHILD = """
import json, sys, tempfile, time
from pathlib import Path
from benchmarks.index_search import build_corpus
from benchmarks.watches import ARTICLE, PER_VIDEO, fill_store
from worker.watching.evaluate import evaluate_video
total, videos, counts = json.loads(sys.argv[1])
new = build_corpus(total, PER_VIDEO).videos[-videos:]
work = Path(tempfile.mkdtemp(prefix="bench-watches-baseline-"))
stores = {count: fill_store(work / f"watches-{count}.sqlite3", count) for count in counts}
print("ready", flush=True)
for line in sys.stdin:
    video = new[json.loads(line)]
    url = f"https://media.example.org/{video.video_id}.mp4"
    out = {}
    for count in counts:
        wall, cpu = time.perf_counter(), time.process_time()
        recorded = evaluate_video(stores[count], video, url, [ARTICLE])
        out[count] = [time.perf_counter() - wall, time.process_time() - cpu, len(recorded.new)]
    print(json.dumps(out), flush=True)
"""


class _Baseline:
    """The old code evaluating the same videos against the same watches, in its own process."""

    def __init__(self, checkout: Path, total: int, videos: int, counts: Sequence[int]) -> None:
        env = {**os.environ, "PYTHONPATH": str(checkout)}
        self._child = subprocess.Popen(
            [sys.executable, "-c", _BASELINE_CHILD, json.dumps([total, videos, list(counts)])],
            cwd=checkout, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self._child.stdin is not None and self._child.stdout is not None
        self._in, self._out = self._child.stdin, self._child.stdout
        if self._out.readline().strip() != "ready":
            raise RuntimeError(f"the baseline at {checkout} did not start")

    def evaluate(self, video: int) -> dict[int, tuple[float, float, int]]:
        """Each watch count's (wall seconds, CPU seconds, new hits) for new video *video*."""
        self._in.write(f"{video}\n")
        self._in.flush()
        answer = json.loads(self._out.readline())
        return {int(count): (wall, cpu, hits) for count, (wall, cpu, hits) in answer.items()}

    def close(self) -> None:
        self._in.close()
        self._child.wait(timeout=60)


def _index_video(index: SearchIndex, video: Transcript) -> float:
    started = time.perf_counter()
    index.add_transcript(video, f"https://media.example.org/{video.video_id}.mp4", [ARTICLE])
    while index.compact():
        pass
    return time.perf_counter() - started


def _ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:,.0f} / {max(values) * 1000:,.0f}"


def _p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[18] if len(values) > 1 \
        else values[0]


def _spread(values: list[float]) -> str:
    """p50 / p95 / max in ms."""
    return (f"{statistics.median(values) * 1000:,.0f} / {_p95(values) * 1000:,.0f} / "
            f"{max(values) * 1000:,.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-segments", type=int, default=20_000)
    parser.add_argument("--videos", type=int, default=10)
    parser.add_argument("--watches", default="10,100,1000")
    parser.add_argument("--rerun-videos", type=int, default=3,
                        help="videos on which the whole-index re-run is timed (10 and 100 "
                        "watches only: at 1,000 it takes minutes per video)")
    parser.add_argument("--baseline", type=Path, default=None,
                        help="a checkout of the code to measure beside this one")
    args = parser.parse_args()
    counts = [int(c) for c in args.watches.split(",")]
    print(f"machine: {describe()}")
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    corpus = build_corpus(args.base_segments + args.videos * PER_VIDEO, PER_VIDEO)
    base, new = corpus.videos[:-args.videos], corpus.videos[-args.videos:]
    work = Path(tempfile.mkdtemp(prefix="bench-watches-"))
    try:
        started = time.perf_counter()
        rebuild_index(work / "index", lambda ix: [
            ix.add_transcript(v, f"https://media.example.org/{v.video_id}.mp4", [ARTICLE])
            for v in base])
        print(f"base index: {sum(len(v.segments) for v in base):,} segments in "
              f"{time.perf_counter() - started:.0f} s")
        stores = {count: fill_store(work / f"watches-{count}.sqlite3", count)
                  for count in counts}
        index = SearchIndex(work / "index")
        indexing: list[float] = []
        evaluating: dict[int, list[float]] = {count: [] for count in counts}
        building: list[float] = []
        rerun: dict[int, list[float]] = {count: [] for count in counts if count <= 100}
        hits: dict[int, int] = {count: 0 for count in counts}
        cpu: dict[int, list[float]] = {count: [] for count in counts}
        old: dict[int, list[tuple[float, float, int]]] = {count: [] for count in counts}
        baseline = (_Baseline(args.baseline.resolve(), args.base_segments
                              + args.videos * PER_VIDEO, args.videos, counts)
                    if args.baseline else None)
        for n, video in enumerate(new):
            indexing.append(_index_video(index, video))
            url = f"https://media.example.org/{video.video_id}.mp4"
            started = time.perf_counter()
            Percolator.for_video(video, url, [ARTICLE]).close()
            building.append(time.perf_counter() - started)
            if baseline is not None and n % 2:  # every other video, the baseline first
                for count, measured in baseline.evaluate(n).items():
                    old[count].append(measured)
            for count in counts:
                started, used = time.perf_counter(), time.process_time()
                recorded = evaluate_video(stores[count], video, url, [ARTICLE])
                evaluating[count].append(time.perf_counter() - started)
                cpu[count].append(time.process_time() - used)
                hits[count] += len(recorded.new)
            if baseline is not None and not n % 2:
                for count, measured in baseline.evaluate(n).items():
                    old[count].append(measured)
            if n < args.rerun_videos:
                for count in rerun:
                    started = time.perf_counter()
                    for query, filters in watch_queries(count):
                        index.search_page(query, limit=50, source=filters.get("source"),
                                          kind="clip" if filters.get("clips_only") else None)
                    rerun[count].append(time.perf_counter() - started)
        index.close()
        if baseline is not None:
            baseline.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"\n{args.videos} new videos of {PER_VIDEO} segments each, indexed one at a time into "
          f"{args.base_segments:,} segments; p50 / max ms per video "
          f"(the first video also parses every query once)\n")
    print("| watches | evaluation per video | of which the in-memory index | indexing that "
          "video (commit + merges) | evaluation / indexing (p50) | hits recorded | "
          "whole-index re-run of every watch | target ≤ 1 s |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for count in counts:
        ratio = statistics.median(evaluating[count]) / statistics.median(indexing)
        again = _ms(rerun[count]) if count in rerun else "not run"
        ok = "✓" if max(evaluating[count]) <= 1.0 else "✗"
        print(f"| {count:,} | {_ms(evaluating[count])} | {_ms(building)} | {_ms(indexing)} | "
              f"{ratio:.2f} | {hits[count]} | {again} | {ok} |")
    if args.baseline:
        print(f"\nSide by side with the code at {args.baseline} (wall p50 / p95 / max ms per "
              "video; CPU p50 ms, which load moves less)\n")
        print("| watches | evaluation, this code | CPU | evaluation, baseline | CPU | "
              "speed-up (p50) | indexing that video (p50) | this code / indexing (p50) | "
              "hits recorded, this code / baseline | target ≤ 1 s (p50) |")
        print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
        for count in counts:
            before = [wall for wall, _, _ in old[count]]
            before_cpu = [used for _, used, _ in old[count]]
            now = statistics.median(evaluating[count])
            ok = "✓" if now <= 1.0 else "✗"
            print(f"| {count:,} | {_spread(evaluating[count])} | "
                  f"{statistics.median(cpu[count]) * 1000:,.0f} | {_spread(before)} | "
                  f"{statistics.median(before_cpu) * 1000:,.0f} | "
                  f"{statistics.median(before) / now:.2f}× | "
                  f"{statistics.median(indexing) * 1000:,.0f} | "
                  f"{now / statistics.median(indexing):.2f} | "
                  f"{hits[count]} / {sum(h for _, _, h in old[count])} | {ok} |")
    print(f"\nload average at the end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
