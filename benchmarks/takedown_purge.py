"""Takedown: what rewriting the index segments that keep a removed video's deleted documents
costs, against only deleting them (which leaves their text in the segment files).

Run:  python -m benchmarks.takedown_purge [--videos 600] [--segments 30]

Builds an index of synthetic transcripts (videos x segments documents, compacted as the
pipeline leaves it), copies it, then takes the same video out of each copy side by side:
``delete`` as before the review (delete its documents, run the due merges), ``purge`` as a
takedown now does (the same, then ``SearchIndex.purge``).  Prints the time of each and how
many deleted documents of the video are still in the segment files.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import tempfile
import time
from pathlib import Path

from benchmarks.machine import describe
from indexer.domain import ArticleRef, Segment, Transcript, Word
from indexer.index import SearchIndex

_WORDS = ("harbour", "storm", "bridge", "convoy", "river", "flood", "mayor", "council",
          "water", "supply", "relief", "workers", "road", "station", "power", "grid",
          "warning", "level", "evacuation", "shelter", "hospital", "school", "ferry", "port",
          "coast", "town", "city", "region", "minister", "briefing", "update")


def _transcript(video_id: str, segments: int, rng: random.Random) -> Transcript:
    segs = []
    for n in range(segments):
        start = n * 5.0
        words = tuple(Word(f" {rng.choice(_WORDS)}", start + i * 0.4, start + i * 0.4 + 0.3,
                           0.9) for i in range(12))
        segs.append(Segment(n, start, start + 5.0, "".join(w.word for w in words).strip(),
                            words))
    return Transcript(video_id, "en", segments * 5.0, "tiny.en", "bench", tuple(segs))


def build(root: Path, videos: int, segments: int) -> list[str]:
    """An index of *videos* synthetic transcripts, committed in batches and compacted."""
    rng = random.Random(15)
    index = SearchIndex(root)
    ids = [f"{n:016x}" for n in range(videos)]
    try:
        for first in range(0, videos, 50):
            with index.batch():
                for video_id in ids[first:first + 50]:
                    index.add_transcript(_transcript(video_id, segments, rng),
                                         f"https://news.example/{video_id}.mp4",
                                         [ArticleRef(f"https://news.example/a/{video_id}",
                                                     f"Article {video_id}")])
            while index.compact():
                pass
    finally:
        index.close()
    return ids


def _left_over(index: SearchIndex, video_id: str) -> int:
    reader = index._ix.reader()
    try:
        segments = getattr(reader, "readers", [reader])
        return sum(1 for seg in segments for n in range(seg.doc_count_all())
                   if seg.is_deleted(n) and seg.stored_fields(n).get("video_id") == video_id)
    finally:
        reader.close()


def main() -> None:
    """Build the index, take a video out both ways, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=600)
    parser.add_argument("--segments", type=int, default=30)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="purge-bench-"))
    try:
        began = time.perf_counter()
        ids = build(folder / "delete", args.videos, args.segments)
        shutil.copytree(folder / "delete", folder / "purge")
        print(f"machine: {describe()}; load average {os.getloadavg()[0]:.2f} "
              f"(the machine is shared)")
        print(f"index of {args.videos * args.segments} documents built in "
              f"{time.perf_counter() - began:.1f} s")
        victim = ids[len(ids) // 3]  # in an early, large segment
        print(f"{'way':7} {'seconds':>8} {'segments':>9} {'deleted docs left':>18}")
        for way in ("delete", "purge"):
            index = SearchIndex(folder / way)
            try:
                began = time.perf_counter()
                index.remove_video(victim)
                while index.compact():
                    pass
                if way == "purge":
                    index.purge([victim], [])
                took = time.perf_counter() - began
                print(f"{way:7} {took:8.2f} {index.segment_count():9} "
                      f"{_left_over(index, victim):18}")
            finally:
                index.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
