"""The system of record on both backends, side by side: the data dir's JSON files and
PostgreSQL (BRIEFING_DATABASE_URL).

Run:  python -m benchmarks.records [--videos 200] [--articles 400] [--segments 60]
          [--admin-url postgresql://postgres@127.0.0.1:5432/postgres]

Creates a database of its own (``benchmarks_records_<pid>_<hex>``, dropped at the end) and a
temporary data dir, then times the same calls on each: saving articles, adopting downloads and
saving their transcripts, linking articles to video URLs, reading every transcript back (what
a reindex does), one page of ``briefing list videos`` and ``linking_articles`` per video.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import secrets
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import psycopg

from benchmarks.machine import describe
from indexer.domain import Article, Segment, Transcript, Word
from worker.storage.catalog import ListFilters, list_videos
from worker.storage.datadir import DataDir
from worker.storage.interfaces import Records, Runs
from worker.storage.pg.migrate import upgrade
from worker.storage.pg.pool import close_pools
from worker.storage.pg.records import PgRecords, close_lock_pools
from worker.storage.pg.runs import PgRuns
from worker.storage.runs import FileRuns


def _transcript(video_id: str, segments: int) -> Transcript:
    segs = []
    for n in range(segments):
        start = n * 5.0
        words = tuple(Word(f" word{i}", start + i * 0.4, start + i * 0.4 + 0.3, 0.9)
                      for i in range(12))
        segs.append(Segment(n, start, start + 5.0, "".join(w.word for w in words).strip(),
                            words))
    return Transcript(video_id, "en", segments * 5.0, "tiny.en", "1", tuple(segs))


def _timed(label: str, results: dict[str, dict[str, float]], backend: str,
           work: Callable[[], object]) -> None:
    start = time.perf_counter()
    work()
    results.setdefault(label, {})[backend] = time.perf_counter() - start


def _run(records: Records, runs: Runs, backend: str, args: argparse.Namespace,
         results: dict[str, dict[str, float]]) -> None:
    articles = [Article(id=f"{n:016x}", url=f"https://news.example/{n}",
                        title=f"Article {n}", text="text " * 200, source="Daily",
                        published=f"2026-11-{1 + n % 28:02d}",
                        video_urls=(f"https://media.example/{n % args.videos}.mp4",))
                for n in range(args.articles)]

    def save_articles() -> None:
        for article in articles:
            records.save_article(article)

    video_ids: list[str] = []

    def adopt_and_transcribe() -> None:
        for n in range(args.videos):
            payload = f"video {n} {backend}".encode()
            temp = records.tmp / f"dl-{n}.part"
            temp.write_bytes(payload)
            sha = hashlib.sha256(payload).hexdigest()
            meta = records.adopt_video(temp, sha, len(payload), "mp4",
                                       f"https://media.example/{n}.mp4")
            records.save_transcript(_transcript(meta.video_id, args.segments))
            video_ids.append(meta.video_id)

    def link() -> None:
        for article in articles:
            url = article.video_urls[0]
            records.update_source(url, add_article=article.id,
                                  video_id=video_ids[int(url.rsplit("/", 1)[1][:-4])])

    _timed(f"save {args.articles} articles", results, backend, save_articles)
    _timed(f"adopt {args.videos} videos + transcripts", results, backend, adopt_and_transcribe)
    _timed(f"link {args.articles} articles to URLs", results, backend, link)
    _timed("read every transcript", results, backend, lambda: sum(1 for _ in records.transcripts()))
    _timed("list videos (one page)", results, backend,
           lambda: list_videos(records, ListFilters(), runs=runs, limit=20))
    _timed("linking_articles of each video", results, backend,
           lambda: [records.linking_articles(v) for v in video_ids])


def main() -> None:
    """Run both backends and print the times side by side."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=200)
    parser.add_argument("--articles", type=int, default=400)
    parser.add_argument("--segments", type=int, default=60)
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    name = f"benchmarks_records_{os.getpid()}_{secrets.token_hex(3)}"
    with psycopg.connect(args.admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    info = psycopg.conninfo.conninfo_to_dict(args.admin_url)
    info["dbname"] = name
    url = psycopg.conninfo.make_conninfo(**{k: str(v) for k, v in info.items()})
    results: dict[str, dict[str, float]] = {}
    try:
        upgrade(url)
        with tempfile.TemporaryDirectory(prefix="briefing-records-") as tmp:
            embedded = Path(tmp) / "embedded"
            _run(DataDir(embedded), FileRuns(embedded), "files", args, results)
            _run(PgRecords(url, Path(tmp) / "media", Path(tmp) / "scratch"),
                 PgRuns(url, Path(tmp) / "scratch"), "postgres",
                 args, results)
    finally:
        close_lock_pools()
        close_pools()
        with psycopg.connect(args.admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    print(describe())
    print(f"{'operation':42} {'files':>9} {'postgres':>9} {'ratio':>7}")
    for label, times in results.items():
        print(f"{label:42} {times['files']:8.2f}s {times['postgres']:8.2f}s "
              f"{times['postgres'] / times['files']:6.2f}x")


if __name__ == "__main__":
    main()
