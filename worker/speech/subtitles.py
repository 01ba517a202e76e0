"""Transcripts as subtitles (SRT, WebVTT), plain text or JSON."""

from __future__ import annotations

import json
from dataclasses import dataclass

from indexer.domain import Segment, Transcript, Word

MAX_LINE_CHARS = 42  # the usual broadcast limit per subtitle line
MAX_LINES = 2
MAX_CUE_SECONDS = 7.0
# Characters per second a viewer can read comfortably (the usual broadcast guideline is 17-20);
# a cue stays up at least this long when the gap before the next one allows it.
MAX_READING_CPS = 20.0
MIN_CUE_SECONDS = 0.3
FORMATS = ("json", "srt", "vtt", "txt")


@dataclass(frozen=True)
class Cue:
    """One subtitle: a time span and up to two short lines."""

    start: float
    end: float
    lines: tuple[str, ...]


def _wrap(text: str) -> list[str]:
    lines: list[str] = []
    current = ""
    for word in text.split():
        candidate = f"{current} {word}".strip()
        if len(candidate) <= MAX_LINE_CHARS or not current:
            current = candidate
        else:
            lines.append(current)
            current = word
    if current:
        lines.append(current)
    return lines


def _segment_words(segment: Segment) -> list[Word]:
    if segment.words:
        return list(segment.words)
    return [Word(segment.text, segment.start, segment.end)]


def cues(transcript: Transcript) -> list[Cue]:
    """Split segments into cues that fit two lines and a few seconds each."""
    out: list[Cue] = []
    limit = MAX_LINE_CHARS * MAX_LINES
    for segment in transcript.segments:
        group: list[Word] = []
        for word in _segment_words(segment):
            text = " ".join(w.word.strip() for w in [*group, word])
            too_long = len(_wrap(text)) > MAX_LINES or len(text) > limit
            too_slow = bool(group) and word.end - group[0].start > MAX_CUE_SECONDS
            if group and (too_long or too_slow):
                out.append(_cue(group))
                group = []
            group.append(word)
        if group:
            out.append(_cue(group))
    # Cues must not overlap and must stay up long enough to be read: speech often runs faster
    # than 20 characters a second, so a cue borrows time from the silence after it.
    fixed: list[Cue] = []
    for index, cue in enumerate(out):
        chars = len(" ".join(cue.lines))
        reading = min(chars / MAX_READING_CPS, MAX_CUE_SECONDS)
        end = max(cue.end, cue.start + MIN_CUE_SECONDS, cue.start + reading)
        if index + 1 < len(out):
            end = min(end, out[index + 1].start)
        fixed.append(Cue(cue.start, max(end, cue.start + 0.001), cue.lines))
    return fixed


def _cue(words: list[Word]) -> Cue:
    text = " ".join(w.word.strip() for w in words)
    return Cue(words[0].start, words[-1].end, tuple(_wrap(text)))


def _stamp(seconds: float, sep: str) -> str:
    millis = round(max(0.0, seconds) * 1000)
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, ms = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{sep}{ms:03d}"


def to_srt(transcript: Transcript) -> str:
    """SubRip text: numbered cues, comma before milliseconds."""
    blocks = []
    for number, cue in enumerate(cues(transcript), start=1):
        times = f"{_stamp(cue.start, ',')} --> {_stamp(cue.end, ',')}"
        blocks.append("\n".join([str(number), times, *cue.lines]))
    return "\n\n".join(blocks) + ("\n" if blocks else "")


def _vtt_text(line: str) -> str:
    # WebVTT cue text is markup: "&", "<" and ">" must be character references
    # (https://www.w3.org/TR/webvtt1/#cue-text); that also keeps "-->" out of cue text.
    return line.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def to_vtt(transcript: Transcript) -> str:
    """WebVTT text: a header, then cues with a dot before milliseconds, text escaped."""
    blocks = ["WEBVTT"]
    for cue in cues(transcript):
        lines = [_vtt_text(line) for line in cue.lines]
        blocks.append("\n".join([f"{_stamp(cue.start, '.')} --> {_stamp(cue.end, '.')}", *lines]))
    return "\n\n".join(blocks) + "\n"


def to_txt(transcript: Transcript) -> str:
    """Plain text, one segment a line."""
    return "".join(f"{segment.text.strip()}\n" for segment in transcript.segments)


def render(transcript: Transcript, fmt: str) -> str:
    """The transcript in *fmt*: one of :data:`FORMATS`."""
    if fmt == "json":
        return json.dumps(transcript.to_json(), ensure_ascii=False, indent=2) + "\n"
    if fmt == "srt":
        return to_srt(transcript)
    if fmt == "vtt":
        return to_vtt(transcript)
    if fmt == "txt":
        return to_txt(transcript)
    raise ValueError(f"unknown transcript format {fmt!r}; use one of {', '.join(FORMATS)}")
