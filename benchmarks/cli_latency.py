"""CLI latency: `briefing search` end to end against a bare Whoosh open + search, same run.

Run:  python -m benchmarks.cli_latency [--segments 100000] [--runs 7] [--data-dir DIR]

Builds (or reuses, with ``--data-dir``) a data dir whose index holds N transcript segments
from the index benchmark's corpus, then times, from process start to exit, alternating:

* ``python -c pass``: the interpreter alone, the floor of any Python command;
* a bare ``python -c`` that imports Whoosh, opens the index and prints the top 10 hits;
* ``briefing search QUERY --json`` and ``briefing search QUERY`` (the rich table).

Each figure is the median of ``--runs`` repetitions over a few queries.  It also lists any
heavy module (faster-whisper, CTranslate2, onnxruntime, Celery, FastAPI, uvicorn, NumPy) that
a search imports, read from ``python -X importtime``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks.index_search import build_corpus
from benchmarks.machine import describe
from indexer.domain import ArticleRef
from indexer.index import SearchIndex, rebuild_index

HEAVY = ("faster_whisper", "ctranslate2", "onnxruntime", "celery", "fastapi", "uvicorn",
         "numpy", "httpx", "pydantic_settings")
QUERIES = ("harbour", "flood warning", '"relief workers"')

_BARE = """
import sys
from whoosh import index
from whoosh.qparser import QueryParser
gen = open(sys.argv[1] + "/CURRENT").read().strip()
ix = index.open_dir(sys.argv[1] + "/" + gen)
with ix.searcher() as searcher:
    query = QueryParser("text", ix.schema).parse(sys.argv[2])
    for hit in searcher.search(query, limit=10):
        print(hit["video_id"], hit["start"], hit["end"], hit["text"])
"""


def _briefing() -> list[str]:
    script = shutil.which("briefing")
    return [script] if script else [sys.executable, "-m", "api"]


def build_data_dir(data_dir: Path, segments: int) -> None:
    """An index of *segments* transcript segments under *data_dir*/index (kept if present)."""
    root = data_dir / "index"
    if (root / "CURRENT").is_file():
        index = SearchIndex(root)
        count = index.doc_count()
        index.close()
        if count >= segments:
            return
    corpus = build_corpus(segments, 120)
    refs = [ArticleRef("https://news.example/a", "A story", "Example", "2026-11-20")]

    def fill(fresh: SearchIndex) -> None:
        for video in corpus.videos:
            fresh.add_transcript(video, f"https://news.example/{video.video_id}.mp4", refs)

    rebuild_index(root, fill)


def _wall(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{argv[:4]} failed: {done.stderr.decode(errors='replace')[-400:]}")
    return elapsed


def heavy_imports(env: dict[str, str]) -> list[str]:
    """Heavy top-level modules a `briefing search` imports."""
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "api", "search",
                           QUERIES[0], "--json"], env=env, capture_output=True, text=True,
                          check=True)
    loaded = {line.rsplit("|", 1)[-1].strip().split(".")[0]
              for line in done.stderr.splitlines() if line.startswith("import time:")}
    return [name for name in HEAVY if name in loaded]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--segments", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="build (or reuse) the index here instead of a temporary dir")
    args = parser.parse_args()
    print(f"machine: {describe()}")
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="bench-cli-"))
    try:
        started = time.perf_counter()
        build_data_dir(data_dir, args.segments)
        print(f"index of {args.segments:,} segments ready in "
              f"{time.perf_counter() - started:.0f} s: {data_dir}")
        env = {**os.environ, "BRIEFING_DATA_DIR": str(data_dir), "COLUMNS": "120"}
        root = str(data_dir / "index")
        commands: dict[str, Callable[[str], list[str]]] = {
            "python -c pass": lambda q: [sys.executable, "-c", "pass"],
            "bare Whoosh open + search": lambda q: [sys.executable, "-c", _BARE, root, q],
            "briefing search --json": lambda q: [*_briefing(), "search", q, "--json"],
            "briefing search (table)": lambda q: [*_briefing(), "search", q],
        }
        times: dict[str, list[float]] = {name: [] for name in commands}
        for argv in commands.values():  # warm the page cache once
            _wall(argv(QUERIES[0]), env)
        for _ in range(args.runs):
            for query in QUERIES:
                for name, argv in commands.items():  # alternate, so drift hits all alike
                    times[name].append(_wall(argv(query), env))
        base = statistics.median(times["bare Whoosh open + search"])
        print(f"\n### `briefing search` at {args.segments:,} segments "
              f"(median of {len(times['python -c pass'])} runs)\n")
        print("| command | median wall (s) | / bare Whoosh |")
        print("| --- | ---: | ---: |")
        for name, values in times.items():
            median = statistics.median(values)
            print(f"| {name} | {median:.3f} | {median / base:.2f} |")
        heavy = heavy_imports(env)
        print(f"\nheavy modules imported by a search: {', '.join(heavy) or 'none'}")
    finally:
        if args.data_dir is None:
            shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
