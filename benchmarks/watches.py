"""Watches: what evaluating every watch costs per newly indexed video, beside indexing it.

    python -m benchmarks.watches [--base-segments 20000] [--videos 10] [--watches 10,100,1000]

An index of ``--base-segments`` synthetic segments (``benchmarks.index_search``'s corpus:
Zipf words, real sentences mixed in, 120 segments a video, about a 15-minute briefing) is
built in bulk; then ``--videos`` more videos are indexed one at a time as the index step does
(``SearchIndex.add_transcript`` and the merges of ``compact``), and after each, the watches
are evaluated as the step does (``worker.watching.evaluate.evaluate_video``: the percolator's
in-memory index of that video, every watch's query with the search's analysis and
sound-alike pass, the hits recorded in an SQLite watch store).  Side by side: the cost of
indexing that video, and (for the smaller watch counts) re-running every watch's query over
the whole index instead, which is what the percolator avoids.

Watches are a mix an analyst might keep: 40 % capitalised names (which take the sound-alike
pass whenever they are not said exactly: nearly always), 30 % rare words, 20 % ANDs of two
words, 10 % three-word phrases of the real sentences the corpus mixes in (those fire on most
videos); a tenth filtered by source, a tenth clips only, a tenth with a webhook.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import tempfile
import time
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


def _index_video(index: SearchIndex, video: Transcript) -> float:
    started = time.perf_counter()
    index.add_transcript(video, f"https://media.example.org/{video.video_id}.mp4", [ARTICLE])
    while index.compact():
        pass
    return time.perf_counter() - started


def _ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:,.0f} / {max(values) * 1000:,.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-segments", type=int, default=20_000)
    parser.add_argument("--videos", type=int, default=10)
    parser.add_argument("--watches", default="10,100,1000")
    parser.add_argument("--rerun-videos", type=int, default=3,
                        help="videos on which the whole-index re-run is timed (10 and 100 "
                        "watches only: at 1,000 it takes minutes per video)")
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
        for n, video in enumerate(new):
            indexing.append(_index_video(index, video))
            url = f"https://media.example.org/{video.video_id}.mp4"
            started = time.perf_counter()
            Percolator.for_video(video, url, [ARTICLE]).close()
            building.append(time.perf_counter() - started)
            for count in counts:
                started = time.perf_counter()
                recorded = evaluate_video(stores[count], video, url, [ARTICLE])
                evaluating[count].append(time.perf_counter() - started)
                hits[count] += len(recorded.new)
            if n < args.rerun_videos:
                for count in rerun:
                    started = time.perf_counter()
                    for query, filters in watch_queries(count):
                        index.search_page(query, limit=50, source=filters.get("source"),
                                          kind="clip" if filters.get("clips_only") else None)
                    rerun[count].append(time.perf_counter() - started)
        index.close()
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
    print(f"\nload average at the end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
