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
    vtt = to_vtt(t)
    assert "a --&gt; b" in vtt  # shown as "a --> b" by players
    assert vtt.count("-->") == 1


def test_vtt_escapes_markup_characters_in_cue_text() -> None:
    text = "AT&T said <b>no</b> > yes"
    ws = tuple(Word(f" {w}", i * 0.5, i * 0.5 + 0.4) for i, w in enumerate(text.split()))
    vtt = to_vtt(Transcript("v", "en", 5.0, "m", "1", (Segment(0, 0.0, 2.5, text, ws),)))
    body = vtt.split("\n", 3)[3]
    assert body.strip() == "AT&amp;T said &lt;b&gt;no&lt;/b&gt; &gt; yes"
    # SRT is plain text: nothing to escape there.
    srt = to_srt(Transcript("v", "en", 5.0, "m", "1", (Segment(0, 0.0, 2.5, text, ws),)))
    assert "AT&T said <b>no</b> > yes" in srt


def test_fast_speech_cues_stay_up_long_enough_to_read_when_there_is_room() -> None:
    # 60 characters spoken in one second, then four seconds of silence before the next cue.
    fast = "Ministers agreed the harbour convoy plan late on Thursday"
    ws = tuple(Word(f" {w}", i * 0.1, i * 0.1 + 0.1) for i, w in enumerate(fast.split()))
    later = (Word(" Next", 5.0, 5.4), Word(" point", 5.4, 5.8))
    t = Transcript("v", "en", 6.0, "m", "1", (Segment(0, 0.0, ws[-1].end, fast, ws),
                                             Segment(1, 5.0, 5.8, "Next point", later)))
    first, second = cues(t)
    assert len(fast) / (first.end - first.start) <= 20.0 + 1e-9
    assert first.end <= second.start
    # No room: a cue never runs into the next one, whatever its reading speed.
    tight = (Word(" Next", ws[-1].end + 0.05, 1.2), Word(" point", 1.2, 1.4))
    t2 = Transcript("v", "en", 2.0, "m", "1", (Segment(0, 0.0, ws[-1].end, fast, ws),
                                              Segment(1, tight[0].start, 1.4, "Next", tight)))
    a, b = cues(t2)
    assert a.end == b.start
