"""Segments merged aside by SearchIndex.compact: nothing lost, nothing duplicated."""

from __future__ import annotations

import multiprocessing
import random
from pathlib import Path

from indexer.compaction import MERGE_BACKSTOP, MERGE_FAN
from indexer.domain import ArticleRef, Clip, Segment, Transcript, Word
from indexer.index import SearchIndex

REFS = [ArticleRef("https://example.org/a", "Daily report")]
NAMES = ("harbour", "bridge", "convoy", "river", "station", "market", "school", "tower")


def video(n: int, version: int = 0, segments: int = 3) -> Transcript:
    """Video *n*: its segments say "marker{n}" and one word naming the version."""
    out = []
    for s in range(segments):
        text = f"marker{n} segment {s} says {NAMES[version % len(NAMES)]}"
        words = tuple(Word(" " + w, s * 10 + i * 0.5, s * 10 + i * 0.5 + 0.4)
                      for i, w in enumerate(text.split()))
        out.append(Segment(s, words[0].start, words[-1].end, text, words))
    return Transcript(f"v{n}", "en", 60.0, "tiny.en", "test", tuple(out))


def segments_of(index: SearchIndex, n: int) -> list[str]:
    """The texts of video *n*'s segment documents, read straight from the index."""
    searcher = index._get_searcher()
    return sorted(hit["text"] for hit in searcher.documents(video_id=f"v{n}"))


def test_compaction_keeps_every_document_and_bounds_segments(tmp_path: Path) -> None:
    index = SearchIndex(tmp_path / "index")
    for n in range(3 * MERGE_FAN):
        index.add_transcript(video(n), f"https://example.org/v{n}.mp4", REFS)
    before = index.segment_count()
    assert before >= 3 * MERGE_FAN  # commits never merge
    moved = 0
    while (step := index.compact()) > 0:
        moved += step
    assert moved >= 3 * MERGE_FAN * 3 - MERGE_FAN * 3
    assert index.segment_count() < MERGE_FAN
    assert index.doc_count() == 3 * MERGE_FAN * 3
    for n in range(3 * MERGE_FAN):
        hits = index.search(f"marker{n}", limit=10)
        assert {h.video_id for h in hits if isinstance(h, Clip)} == {f"v{n}"}
    index.close()


def test_a_killed_merge_leaves_nothing_that_is_trusted(tmp_path: Path) -> None:
    index = SearchIndex(tmp_path / "index")
    for n in range(MERGE_FAN):
        index.add_transcript(video(n), f"https://example.org/v{n}.mp4", REFS)
    generation = index._generation_path()
    # What a merge killed half-way leaves: its side directory with a partial segment.
    leftover = generation / "merging-killed"
    leftover.mkdir()
    (leftover / "MAIN_deadbeef.seg").write_bytes(b"\0" * 100)
    assert index.compact() == MERGE_FAN * 3
    assert not leftover.exists()
    assert index.doc_count() == MERGE_FAN * 3
    index.close()


def _reindex(root: str, rounds: int, seed: int) -> None:
    rng = random.Random(seed)
    index = SearchIndex(Path(root))
    for r in range(rounds):
        n = rng.randrange(4 * MERGE_FAN)
        index.add_transcript(video(n, version=r + 1), f"https://example.org/v{n}.mp4", REFS)
    index.close()


def test_videos_reindexed_while_merging_are_neither_lost_nor_doubled(tmp_path: Path) -> None:
    root = tmp_path / "index"
    index = SearchIndex(root)
    for n in range(4 * MERGE_FAN):
        index.add_transcript(video(n), f"https://example.org/v{n}.mp4", REFS)
    writer = multiprocessing.get_context("spawn").Process(target=_reindex,
                                                          args=(str(root), 60, 3))
    writer.start()
    merges = 0
    while writer.is_alive():
        merges += index.compact() > 0
    writer.join()
    assert writer.exitcode == 0
    while index.compact() > 0:
        merges += 1
    assert merges > 0
    for n in range(4 * MERGE_FAN):
        texts = segments_of(index, n)
        # Exactly one version of each video: three segments, all saying the same word.
        assert len(texts) == 3, (n, texts)
        assert len({t.split()[-1] for t in texts}) == 1, (n, texts)
    index.close()


def test_a_writer_that_never_merges_is_held_at_the_backstop(tmp_path: Path) -> None:
    index = SearchIndex(tmp_path / "index")
    for n in range(MERGE_BACKSTOP + MERGE_FAN):
        index.add_transcript(video(n), f"https://example.org/v{n}.mp4", REFS)
        assert index.segment_count() <= MERGE_BACKSTOP
    assert index.doc_count() == (MERGE_BACKSTOP + MERGE_FAN) * 3
    index.close()
