"""``briefing transfer``: a synthetic archive moved into PostgreSQL, beside the embedded
baseline of rebuilding its Whoosh index (``briefing reindex``) from the same data dir.

Run:  python -m benchmarks.transfer [--articles 400] [--videos 200] [--segments 60]
          [--jobs 400]

Builds a temporary data dir (articles each linking a video URL, video records with a few
bytes of "media", transcripts of --segments 12-word segments, one job per article, two watches
with hits), a scratch database (``benchmarks_transfer_<pid>``, dropped at the end), then
times, in one run: the Whoosh rebuild of the data dir; the transfer (records, jobs, watches,
then the search index); the same transfer run again (nothing to change).
"""

from __future__ import annotations

import argparse
import hashlib
import random
import tempfile
import time
from pathlib import Path

from benchmarks.machine import describe
from benchmarks.pgdb import scratch_database
from indexer.domain import Article, Segment, Transcript, Word
from indexer.pgsearch import PgSearchIndex
from worker.pipeline.maintenance import reindex
from worker.storage.datadir import DataDir
from worker.storage.jobs import JobStore
from worker.storage.pg.records import PgRecords, close_lock_pools
from worker.storage.states import JobState, VideoState
from worker.storage.transfer import TransferReport, paired_stores, transfer
from worker.storage.watches import WatchStore
from worker.watching.domain import HitKind, Match

_TEXT = ("the harbour reopened at dawn after storm damage was cleared engineers say old bridge "
          "over river will stay closed until friday water supply has been restored to most "
          "homes in eastern district convoy of trucks carrying food and medicine arrived city "
          "last night ceasefire is holding relief workers can now reach villages mayor gave "
          "update on flood schools valley remain residents asked move cars higher ground "
          "volunteers filled thousands sandbags along riverbank Qamishli Mindanao Kherson")
_WORDS = _TEXT.split()


def _transcript(video_id: str, segments: int, rng: random.Random) -> Transcript:
    segs = []
    for n in range(segments):
        start = n * 5.0
        words = tuple(Word(f" {rng.choice(_WORDS)}", start + i * 0.4, start + i * 0.4 + 0.3,
                           0.4 if i % 7 == 3 else 0.95) for i in range(12))
        segs.append(Segment(n, start, start + 5.0, "".join(w.word for w in words).strip(),
                            words))
    return Transcript(video_id, "en", segments * 5.0, "tiny.en", "1", tuple(segs))


def _build(root: Path, args: argparse.Namespace) -> None:
    rng = random.Random(12)
    data = DataDir(root)
    video_ids = []
    for n in range(args.videos):
        payload = f"video {n}".encode()
        temp = data.tmp / f"dl-{n}.part"
        temp.write_bytes(payload)
        meta = data.adopt_video(temp, hashlib.sha256(payload).hexdigest(), len(payload), "mp4",
                                f"https://media.example/{n}.mp4")
        data.save_transcript(_transcript(meta.video_id, args.segments, rng))
        video_ids.append(meta.video_id)
    jobs = JobStore(data.jobs_db)
    for n in range(args.articles):
        url = f"https://media.example/{n % args.videos}.mp4"
        article = Article(id=f"{n:016x}", url=f"https://news.example/{n}",
                          title=f"Article {n}", text=" ".join(rng.choices(_WORDS, k=200)),
                          source="Daily", published=f"2026-11-{1 + n % 28:02d}",
                          video_urls=(url,))
        data.save_article(article)
        data.update_source(url, add_article=article.id, video_id=video_ids[n % args.videos],
                           state=VideoState.DONE)
        if n < args.jobs:
            job = jobs.create(article.url, runner="queue")
            jobs.set_article(job, article.id, article.title, [url])
            jobs.update_video(job, url, state=VideoState.DONE, video_id=video_ids[n % args.videos])
            jobs.set_job_state(job, JobState.DONE)
    watches = WatchStore(data.watches_db)
    for name in ("storms", "bridges"):
        watch = watches.add(name, name[:-1], webhook_url="http://127.0.0.1:9/hook")
        for video_id in video_ids[:50]:
            watches.record(f"v:{video_id}", [(watch, [
                Match(kind=HitKind.CLIP, video_id=video_id, start=5.0, end=10.0)])])


def _copy(source: DataDir, url: str, media: Path) -> TransferReport:
    target = PgRecords(url, media, media / "tmp")
    index = PgSearchIndex(url)
    try:
        jobs, watches = paired_stores(source, target)
        return transfer(source, target, index, jobs=jobs, watches=watches)
    finally:
        index.close()


def main() -> None:
    """Build the archive, time the baseline and both transfers, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=400)
    parser.add_argument("--videos", type=int, default=200)
    parser.add_argument("--segments", type=int, default=60)
    parser.add_argument("--jobs", type=int, default=400)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="briefing-transfer-") as tmp, \
            scratch_database("benchmarks_transfer") as url:
        root = Path(tmp) / "data"
        _build(root, args)
        source = DataDir(root)
        start = time.perf_counter()
        reindex(source)
        whoosh = time.perf_counter() - start
        start = time.perf_counter()
        first = _copy(source, url, root)
        copied = time.perf_counter() - start
        start = time.perf_counter()
        again = _copy(source, url, root)
        rerun = time.perf_counter() - start
        close_lock_pools()
    print(describe())
    records = sum(t.total for t in first.tallies if str(t.kind) != "index")
    indexed = next(t.copied for t in first.tallies if str(t.kind) == "index")
    segments = args.videos * args.segments
    print(f"archive: {args.articles} articles, {args.videos} videos x {args.segments} "
          f"segments ({segments} segments), {args.jobs} jobs, 2 watches")
    print(f"{'whoosh reindex (baseline)':34} {whoosh:8.2f}s  "
          f"{(args.articles + args.videos) / whoosh:8.0f} docs/s")
    print(f"{'transfer':34} {copied:8.2f}s  {(records + indexed) / copied:8.0f} items/s "
          f"({records} records, {indexed} index entries; {copied / whoosh:.2f}x the baseline)")
    print(f"{'transfer again (nothing to change)':34} {rerun:8.2f}s  "
          f"{records / rerun:8.0f} items/s (changed: {again.changed})")
    for tally in first.tallies:
        print(f"  {tally.kind:12} {tally.copied:7} copied")


if __name__ == "__main__":
    main()
