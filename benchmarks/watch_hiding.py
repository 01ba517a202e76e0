"""Watches during a takedown: what leaving out the items of unfinished takedowns costs the
watch store's readers and senders, against reading with nothing hidden.

Run:  python -m benchmarks.watch_hiding [--watches 100] [--videos 2000] [--hidden 1,10,100]
                                        [--database-url postgresql://…]

Fills a store with every watch finding two clips in every video (watches x videos x 2 hits,
each with a pending webhook), then, side by side in one run, times ``hits`` (a watch's
newest 100, the API's page), ``hit_counts`` (the page's panel), ``claim`` of up to 50 due
deliveries (released again, so every round claims the same) and ``pending`` with nothing
hidden and with *hidden* videos being taken down; last, ``withdraw`` of those videos' hits.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks.machine import describe
from worker.storage.datadir import Hidden
from worker.storage.watch_interface import WatchStoreLike
from worker.storage.watches import NOTHING_HIDDEN, HitKind, Match, WatchStore


def fill(store: WatchStoreLike, watches: int, videos: int) -> list[str]:
    """*watches* watches, each with two hits in every one of *videos* videos."""
    added = [store.add(f"w{n}", f"word{n}", webhook_url="https://hooks.example/h")
             for n in range(watches)]
    ids = [f"{n:016x}" for n in range(videos)]
    for video_id in ids:
        found = [Match(kind=HitKind.CLIP, video_id=video_id, start=s, end=s + 5.0,
                       url=f"https://news.example/{video_id}.mp4", title="A briefing",
                       text="said it", highlight="<mark>said</mark> it",
                       articles=((f"https://news.example/a/{video_id}", "A briefing"),))
                 for s in (10.0, 60.0)]
        store.record(f"v:{video_id}", [(w, found) for w in added])
    return ids


def _ms(work: Callable[[], object], rounds: int) -> float:
    took = []
    for _ in range(rounds):
        started = time.perf_counter()
        work()
        took.append((time.perf_counter() - started) * 1000)
    return statistics.median(took)


def _run(store: WatchStoreLike, name: str, args: argparse.Namespace, sizes: list[int],
         settle: Callable[[], None] = lambda: None) -> None:
    """Fill *store*, time each reader with and without hidden items, then withdraw."""
    started = time.perf_counter()
    ids = fill(store, args.watches, args.videos)
    took = time.perf_counter() - started
    settle()
    print(f"\n[{name}] {args.watches} watches x {args.videos} videos x 2 = "
          f"{args.watches * args.videos * 2} hits, each with a pending webhook, "
          f"written in {took:.1f} s ({took / args.videos * 1000:.1f} ms per video's record)")
    watch = store.watches()[0]
    far = time.time() + 3600  # due now: claim every round, and release again

    def claim(hidden: Hidden) -> None:
        store.claim(now=far, lease=0.0, hidden=hidden)

    print(f"{'hidden videos':>13} {'hits ms':>8} {'hit_counts ms':>14} {'claim ms':>9} "
          f"{'pending ms':>11}")
    for hidden in [NOTHING_HIDDEN, *(Hidden(frozenset(ids[:n])) for n in sizes)]:
        times = [_ms(work, args.rounds) for work in (
            lambda h=hidden: store.hits(watch, limit=100, hidden=h),
            lambda h=hidden: store.hit_counts(h),
            lambda h=hidden: claim(h),
            lambda h=hidden: store.pending(h))]
        print(f"{len(hidden.video_ids):13} {times[0]:8.2f} {times[1]:14.2f} "
              f"{times[2]:9.2f} {times[3]:11.2f}")
    for n in sizes:
        started = time.perf_counter()
        gone = store.withdraw(ids[-n:], ())
        print(f"withdraw the hits of {n} video(s): {gone} hits in "
              f"{(time.perf_counter() - started) * 1000:.1f} ms")
        ids = ids[:-n]


def main() -> None:
    """Fill each backend's store, time each reader with and without hidden items, print
    the tables (the embedded store first: the baseline)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--watches", type=int, default=100)
    parser.add_argument("--videos", type=int, default=2000)
    parser.add_argument("--hidden", default="1,10,100")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--database-url", default="",
                        help="also measure the PostgreSQL store in this (empty, upgraded) "
                             "database; its watch tables are emptied first")
    args = parser.parse_args()
    sizes = [int(n) for n in args.hidden.split(",")]
    print(f"machine: {describe()}; load average {os.getloadavg()[0]:.2f} at the start")
    with tempfile.TemporaryDirectory() as tmp:
        _run(WatchStore(Path(tmp) / "watches.sqlite3"), "embedded (SQLite)", args, sizes)
    if args.database_url:
        import psycopg

        from worker.storage.pg.migrate import require_current
        from worker.storage.pg.watches import PgWatchStore

        require_current(args.database_url)
        with psycopg.connect(args.database_url, autocommit=True) as conn:
            conn.execute("TRUNCATE watches, watch_hits, watch_deliveries RESTART IDENTITY")

        def analyze() -> None:
            # What autovacuum does within a minute of a bulk fill: the planner's statistics.
            with psycopg.connect(args.database_url, autocommit=True) as conn:
                conn.execute("ANALYZE watches, watch_hits, watch_deliveries")

        _run(PgWatchStore(args.database_url), "PostgreSQL", args, sizes, analyze)
    print(f"load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
