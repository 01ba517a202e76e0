"""Subtitle rendering rules, independent of the model."""

from __future__ import annotations

import itertools
import re

from indexer.domain import Segment, Transcript, Word
from worker.speech.subtitles import MAX_LINE_CHARS, cues, to_srt, to_vtt


def long_transcript() -> Transcript:
    text = ("This is a deliberately long segment of speech that goes on and on about the "
            "harbour, the bridge, the convoy and the relief workers for far too long to fit")
    ws = tuple(Word(f" {w}", i * 0.3, i * 0.3 + 0.25) for i, w in enumerate(text.split()))
    return Transcript("v", "en", 20.0, "m", "1", (Segment(0, 0.0, ws[-1].end, text, ws),))


def test_long_segments_split_into_short_cues() -> None:
    result = cues(long_transcript())
    assert len(result) > 1
    for cue in result:
        assert 1 <= len(cue.lines) <= 2
        assert all(len(line) <= MAX_LINE_CHARS for line in cue.lines)
        assert cue.end - cue.start <= 7.0
    assert all(a.end <= b.start for a, b in itertools.pairwise(result))


def test_srt_and_vtt_timestamps() -> None:
    srt = to_srt(long_transcript())
    assert srt.startswith("1\n00:00:00,000 --> 00:00:")
    assert re.findall(r"^\d+$", srt, re.M) == [str(i) for i in range(1, len(cues(
        long_transcript())) + 1)]
    vtt = to_vtt(long_transcript())
    assert vtt.startswith("WEBVTT\n\n00:00:00.000 --> ")


def test_cue_text_cannot_break_vtt_timing_lines() -> None:
    t = Transcript("v", "en", 2.0, "m", "1",
                   (Segment(0, 0.0, 1.0, "a --> b", (Word(" a", 0, .3), Word(" -->", .3, .6),
                                                     Word(" b", .6, 1.0))),))
    assert "a -> b" in to_vtt(t)
