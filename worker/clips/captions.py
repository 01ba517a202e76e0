"""A transcript's words inside a clip, and the same words moved to clip time."""

from __future__ import annotations

from dataclasses import replace

from indexer.domain import Segment, Transcript, Word

__all__ = ["clip_transcript", "words_in"]


def words_in(transcript: Transcript, start: float, end: float) -> list[Word]:
    """The words said between *start* and *end* (seconds of the original): those whose
    middle falls inside, so a word cut at the edge counts where most of it is."""
    return [w for seg in transcript.segments for w in seg.words
            if start <= (w.start + w.end) / 2 <= end]


def clip_transcript(transcript: Transcript, start: float, end: float) -> Transcript:
    """The part of *transcript* inside the clip, its times counted from the clip's start
    (clamped to the clip), so its subtitles line up with the cut file."""
    length = end - start

    def moved(word: Word) -> Word:
        return replace(word, start=round(min(max(word.start - start, 0.0), length), 3),
                       end=round(min(max(word.end - start, 0.0), length), 3))

    segments: list[Segment] = []
    for seg in transcript.segments:
        words = tuple(moved(w) for w in seg.words if start <= (w.start + w.end) / 2 <= end)
        if not words:
            continue
        text = "".join(w.word for w in words).strip()
        segments.append(Segment(len(segments), words[0].start, words[-1].end, text, words))
    return replace(transcript, duration=round(length, 3), segments=tuple(segments))
