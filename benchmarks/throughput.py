"""Search throughput: `briefing serve` processes under concurrent clients, per store, one run.

Run:  python -m benchmarks.throughput (--data-dir DIR | --build-segments 20000)
                                      [--database-url postgresql://…] [--apis 2] [--clients 16]
                                      [--seconds 20] [--rounds 2] [--baseline REV]

Starts ``--apis`` real ``briefing serve`` processes per store (each with its own port and
scratch dir, no broker) and ``--clients`` concurrent HTTP clients (asyncio, keep-alive, spread
over the processes) sending ``GET /search`` for a fixed time after a warm-up, then reports
requests per second and latency p50/p95/p99, overall and per query kind, and for a
database the most sessions the store's processes held at once (by their PGAPPNAME).  The
stores are measured side by side in the same run, alternating in ``--rounds``:

* embedded: Whoosh in ``--data-dir`` (an already-filled data dir), or in a temporary one that
  ``--build-segments N`` fills with the index benchmark's synthetic corpus (its transcripts are
  saved too, so ``briefing transfer --to URL`` can copy it into PostgreSQL);
* postgres (with ``--database-url``): a database at the current schema, already filled, or
  filled by ``--build-segments N`` with the same corpus through the store factory's search
  index (skipped when it already holds as many documents);
* with ``--baseline REV`` as well: the same database served by the code of git revision REV
  (checked out in a scratch worktree), the baseline a change to the API or the PostgreSQL
  search is measured against in the same run.

The queries are drawn from the same vocabulary as ``benchmarks.index_search`` (rare and common
terms, AND of 2-3 terms, 2-word phrases, misheard names that run the sound-alike pass), so they
hit an index built by either benchmark.  The clients share the machine with the servers: on
few cores they take CPU from them, which the figures include.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from benchmarks.index_search import (
    REAL_SENTENCES,
    Corpus,
    _misspelt,
    build_corpus,
    vocabulary,
)
from benchmarks.machine import describe
from indexer.domain import ArticleRef
from indexer.index import SearchIndex, rebuild_index
from worker.settings import Settings
from worker.storage.datadir import DataDir

KINDS = ("rare term", "common term", "AND of 2-3 terms", "2-word phrase", "sound-alike name")


def search_queries(count: int = 40, seed: int = 11) -> list[tuple[str, str]]:
    """(kind, query) pairs from benchmarks.index_search's vocabulary (its seed, 7)."""
    vocab = vocabulary(30_000, random.Random(7))
    rng = random.Random(seed)
    known = set(vocab)
    drawn: dict[str, list[str]] = {
        "rare term": [vocab[i] for i in rng.sample(range(20_000, 30_000), count)],
        "common term": [vocab[i] for i in range(5, 5 + count)],
        "AND of 2-3 terms": [" ".join(vocab[rng.randint(20, 3000)]
                                      for _ in range(rng.choice((2, 3))))
                             for _ in range(count)],
        "2-word phrase": [
            '"{}"'.format(" ".join(rng.choice(REAL_SENTENCES).split()[i:i + 2])
                          .strip(".,").lower())
            for i in (rng.randint(0, 5) for _ in range(count))],
        "sound-alike name": [_misspelt(vocab[i], rng, known)
                             for i in rng.sample(range(10_000, 30_000), count)],
    }
    return [(kind, query) for kind in KINDS for query in drawn[kind]]


REFS = [ArticleRef("https://news.example/a", "A story", "Example", "2026-11-20")]


def build_data_dir(data_dir: Path, corpus: Corpus) -> None:
    """A data dir whose transcripts and Whoosh index hold *corpus*."""
    data = DataDir(data_dir)
    for video in corpus.videos:
        data.save_transcript(video)

    def fill(fresh: SearchIndex) -> None:
        for video in corpus.videos:
            fresh.add_transcript(video, f"https://news.example/{video.video_id}.mp4", REFS)

    rebuild_index(data.index_root, fill)


def _database_index(url: str, media: Path) -> SearchIndex:
    # The fleet store's factory: imported here, so the embedded runs need none of it.
    from worker.storage.stores import open_search_index

    return open_search_index(Settings(data_dir=media, database_url=url))


def database_documents(url: str, media: Path) -> int:
    """Documents in the search index of the database at *url*."""
    index = _database_index(url, media)
    try:
        return index.doc_count()
    finally:
        index.close()


def fill_database(url: str, media: Path, corpus: Corpus) -> None:
    """Write *corpus* into the search index of the database at *url* (at the current
    schema), one video per transaction as the workers do."""
    index = _database_index(url, media)
    try:
        for video in corpus.videos:
            index.add_transcript(video, f"https://news.example/{video.video_id}.mp4", REFS)
        index.after_bulk_load()
    finally:
        index.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _briefing() -> list[str]:
    script = shutil.which("briefing")
    return [script] if script else [sys.executable, "-m", "api"]


@dataclass
class Store:
    """One store under test and the API processes serving it."""

    name: str
    env: dict[str, str]
    urls: list[str] = field(default_factory=list)
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    samples: list[tuple[str, float, int]] = field(default_factory=list)
    seconds: float = 0.0
    code: Path | None = None  # serve this checkout's code instead of the installed one
    connections: int = 0  # the most database sessions its processes held at once


def _sessions(url: str, store: Store, until: float) -> None:
    """Record the most database sessions *store*'s processes hold (by their application
    name, PGAPPNAME) until *until*, sampling every 0.2 s."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        while time.perf_counter() < until:
            row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name"
                               " = %s", (store.env["PGAPPNAME"],)).fetchone()
            store.connections = max(store.connections, int(row[0]) if row else 0)
            time.sleep(0.2)


@contextlib.contextmanager
def checkout(revision: str, where: Path) -> Iterator[Path]:
    """The code of git *revision* of this repository, in a worktree at *where*."""
    repo = Path(__file__).resolve().parents[1]
    subprocess.run(["git", "worktree", "add", "--detach", str(where), revision], cwd=repo,
                   check=True, capture_output=True)
    try:
        found = subprocess.run([sys.executable, "-c", "import api; print(api.__file__)"],
                               cwd=where, env={**os.environ, "PYTHONPATH": str(where)},
                               check=True, capture_output=True, text=True).stdout.strip()
        if not Path(found).is_relative_to(where):
            raise SystemExit(f"the baseline's code is not imported from {where}: {found}")
        yield where
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(where)], cwd=repo,
                       check=False, capture_output=True)


@contextlib.contextmanager
def serving(store: Store, count: int, work: Path) -> Iterator[None]:
    """*count* `briefing serve` processes on *store*, each with a scratch dir of its own."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("BRIEFING_")}
    try:
        for n in range(count):
            own = work / f"{store.name}-{n}"
            (own / "scratch").mkdir(parents=True)
            port = _free_port()
            env = {**base, **store.env, "BRIEFING_SCRATCH_DIR": str(own / "scratch")}
            command = _briefing()
            if store.code is not None:  # ahead of the installed code on the import path
                env["PYTHONPATH"] = str(store.code)
                command = [sys.executable, "-m", "api"]
            with open(own / "serve.log", "wb") as log:
                store.procs.append(subprocess.Popen(
                    [*command, "serve", "--port", str(port)], env=env, stdout=log,
                    stderr=subprocess.STDOUT, start_new_session=True, cwd=store.code))
            store.urls.append(f"http://127.0.0.1:{port}")
        for url, proc, n in zip(store.urls, store.procs, range(count), strict=True):
            status = _wait_healthz(url, proc)
            if status != 200:
                print(f"warning: {store.name} API {n} answers /healthz with {status} "
                      f"(see {work / f'{store.name}-{n}' / 'serve.log'})", flush=True)
        yield
    finally:
        for proc in store.procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in store.procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


def _wait_healthz(url: str, proc: subprocess.Popen[bytes], timeout: float = 180) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"`briefing serve` for {url} exited with {proc.returncode}")
        with contextlib.suppress(httpx.HTTPError):
            return httpx.get(url + "/healthz", timeout=10).status_code
        time.sleep(0.2)
    raise SystemExit(f"`briefing serve` at {url} did not answer in {timeout:.0f} s")


async def _client(url: str, queries: list[tuple[str, str]], until: float, rng: random.Random,
                  samples: list[tuple[str, float, int]] | None) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        while time.perf_counter() < until:
            kind, query = rng.choice(queries)
            started = time.perf_counter()
            try:
                answer = await client.get("/search", params={"q": query, "limit": 10})
                status = answer.status_code
            except httpx.HTTPError:
                status = 0
            if samples is not None:
                samples.append((kind, (time.perf_counter() - started) * 1000, status))


async def _load(store: Store, queries: list[tuple[str, str]], clients: int, seconds: float,
                warmup: float, seed: int) -> None:
    """*clients* clients spread over the store's APIs: a warm-up, then *seconds* measured."""
    rng = random.Random(seed)
    for measured, span in ((False, warmup), (True, seconds)):
        until = time.perf_counter() + span
        started = time.perf_counter()
        sampled = ([asyncio.to_thread(_sessions, store.env["BRIEFING_DATABASE_URL"], store,
                                      until)]
                   if measured and "PGAPPNAME" in store.env else [])
        await asyncio.gather(*(
            _client(store.urls[n % len(store.urls)], queries, until,
                    random.Random(rng.random()), store.samples if measured else None)
            for n in range(clients)), *sampled)
        if measured:
            store.seconds += time.perf_counter() - started


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else 0.0


def report(stores: list[Store], args: argparse.Namespace) -> None:
    print(f"\n{args.apis} API processes per store, {args.clients} clients, "
          f"{args.rounds} x {args.seconds:g} s measured per store\n")
    print("| store | req/s | p50 ms | p95 ms | p99 ms | errors | database sessions (most) |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for store in stores:
        times = [ms for _, ms, status in store.samples if status == 200]
        errors = sum(1 for _, _, status in store.samples if status != 200)
        sessions = store.connections if "PGAPPNAME" in store.env else "-"
        print(f"| {store.name} | {len(times) / store.seconds:,.1f} | "
              f"{_percentile(times, 0.5):.0f} | {_percentile(times, 0.95):.0f} | "
              f"{_percentile(times, 0.99):.0f} | {errors} | {sessions} |")
    print("\np95 ms by query kind (p50 in brackets):\n")
    print("| kind | " + " | ".join(s.name for s in stores) + " |")
    print("| --- |" + " --- |" * len(stores))
    for kind in KINDS:
        cells = []
        for store in stores:
            times = [ms for k, ms, status in store.samples if k == kind and status == 200]
            cells.append(f"{_percentile(times, 0.95):.0f} ({statistics.median(times):.0f})"
                         if times else "-")
        print(f"| {kind} | " + " | ".join(cells) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="an already-filled embedded data dir (its Whoosh index is searched)")
    parser.add_argument("--build-segments", type=int, default=0,
                        help="build the data dir with this many synthetic segments first "
                        "(into --data-dir when given and empty, else a temporary folder), and "
                        "write them into --database-url's index when it holds fewer")
    parser.add_argument("--database-url", default=None,
                        help="also measure PostgreSQL: a database at the current schema "
                        "(`briefing db upgrade`), filled or filled by --build-segments")
    parser.add_argument("--apis", type=int, default=2)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=2,
                        help="alternate the stores this many times (evens out machine load)")
    parser.add_argument("--no-embedded", action="store_true",
                        help="measure the database alone (--build-segments then fills it only)")
    parser.add_argument("--baseline", default=None, metavar="REV",
                        help="also serve the database with the code of git revision REV")
    args = parser.parse_args()
    if (args.baseline or args.no_embedded) and not args.database_url:
        parser.error("--baseline and --no-embedded measure the PostgreSQL store: give "
                     "--database-url")
    if args.data_dir is None and not args.build_segments and not args.database_url:
        parser.error("give --data-dir, --build-segments or --database-url")

    print(f"machine: {describe()}")
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    work = Path(tempfile.mkdtemp(prefix="bench-throughput-"))
    try:
        data_dir = None if args.no_embedded else args.data_dir
        (work / "media").mkdir()
        if args.build_segments:
            data_dir = None if args.no_embedded else data_dir or work / "data"
            build_dir = data_dir is not None and not (
                DataDir(data_dir).index_root / "CURRENT").is_file()
            fill = bool(args.database_url) and database_documents(
                args.database_url, work / "media") < args.build_segments
            corpus = build_corpus(args.build_segments, 120) if build_dir or fill else None
            if corpus is not None and data_dir is not None and build_dir:
                started = time.perf_counter()
                build_data_dir(data_dir, corpus)
                print(f"built {args.build_segments:,} segments into {data_dir} in "
                      f"{time.perf_counter() - started:.0f} s", flush=True)
            if corpus is not None and fill:
                started = time.perf_counter()
                fill_database(args.database_url, work / "media", corpus)
                print(f"wrote {args.build_segments:,} segments into the database in "
                      f"{time.perf_counter() - started:.0f} s", flush=True)
            if data_dir is not None and not build_dir:
                print(f"{data_dir} already has an index: not rebuilt", flush=True)
            if args.database_url and not fill:
                print("the database already holds as many documents: not written", flush=True)
            del corpus
        stores: list[Store] = []
        if data_dir is not None:
            stores.append(Store("embedded (Whoosh)", {"BRIEFING_DATA_DIR": str(data_dir)}))
        if args.database_url:
            # With a database only media lives in the data dir: an empty one will do.
            stores.append(Store("PostgreSQL", {"BRIEFING_DATA_DIR": str(work / "media"),
                                               "BRIEFING_DATABASE_URL": args.database_url,
                                               "PGAPPNAME": "bench-throughput"}))
        queries = search_queries()
        with contextlib.ExitStack() as stack:
            if args.baseline:
                code = stack.enter_context(checkout(args.baseline, work / "baseline"))
                stores.append(Store(f"PostgreSQL at {args.baseline}",
                                    {**stores[-1].env, "PGAPPNAME": "bench-throughput-base"},
                                    code=code))
            for store in stores:
                stack.enter_context(serving(store, args.apis, work))
                # Every tenth synthetic segment is a real sentence: an index filled by either
                # benchmark finds these words; an empty or wrong store shows here.
                for probe in ("harbour", '"water supply"'):
                    total = httpx.get(store.urls[0] + "/search", params={"q": probe},
                                      timeout=60).json().get("total")
                    print(f"{store.name}: {probe} finds {total} results", flush=True)
            for round_ in range(args.rounds):
                for n, store in enumerate(stores):
                    asyncio.run(_load(store, queries, args.clients, args.seconds,
                                      args.warmup, seed=round_ * 100 + n))
                    print(f"round {round_ + 1}, {store.name}: "
                          f"{len(store.samples)} requests so far", flush=True)
        report(stores, args)
        print(f"\nload average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
