"""Cutting a stretch out of a stored video with ffmpeg: re-encoded (frame-accurate) or
stream-copied (keyframe-aligned, measured in ``benchmarks/clip_export.py``)."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from worker.containers import CONTAINERS
from worker.errors import MediaError
from worker.speech.media import container_of, ffmpeg_binary, run_ffmpeg

__all__ = ["CutMode", "MediaFacts", "cut_clip", "media_facts"]


class CutMode(StrEnum):
    """How a clip is cut.

    ``reencode`` decodes from the keyframe before the start and encodes exactly the asked
    stretch: the clip starts on the asked frame.  ``copy`` copies the packets, so the clip
    starts at the keyframe at or before the start, which in a news video can be many seconds
    earlier (the fixtures have one keyframe per 125 s); it is kept for the benchmark.
    """

    REENCODE = "reencode"
    COPY = "copy"


# Encoder settings of a re-encoded clip: H.264 and AAC play everywhere a browser does;
# "veryfast" costs little quality at clip lengths.  Bit-exact flags keep ffmpeg's version
# string out of the file.
_REENCODE = ["-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-pix_fmt", "yuv420p",
             "-c:a", "aac", "-b:a", "128k"]


def cut_clip(media: Path, start: float, end: float, dest: Path, *,
             mode: CutMode = CutMode.REENCODE, timeout: float = 1800.0,
             name: str = "the video") -> None:
    """Write the stretch *start* to *end* (seconds) of *media* to *dest* as an MP4.

    The input guards of the audio decoding hold: the demuxer is forced from the sniffed
    container and only the ``file`` protocol is allowed.  Metadata of the original (titles,
    encoder tags) is not carried over.  Raises :class:`MediaError` on failure or time-out.
    """
    container = container_of(media, name)
    if mode is CutMode.REENCODE:
        # The audio cut to the sample, and its encoder delay left to the MP4 edit list
        # (which "-avoid_negative_ts make_zero" would undo): otherwise the file is up to an
        # audio frame (21-46 ms) longer than asked, more than a frame of 25 fps video.
        codecs = [*_REENCODE, "-af", f"atrim=0:{end - start:.3f}"]
    else:
        # Copied packets keep their timestamps from the keyframe before the start.
        codecs = ["-c", "copy", "-avoid_negative_ts", "make_zero"]
    argv = [ffmpeg_binary(), "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
            # Before -i: a fast seek to the keyframe before the start; with re-encoding
            # ffmpeg then decodes and drops the frames up to the exact start.
            "-ss", f"{start:.3f}",
            "-f", CONTAINERS[container].demuxer, "-protocol_whitelist", "file",
            "-i", f"file:{media.resolve()}",
            "-t", f"{end - start:.3f}",
            "-map", "0:v:0?", "-map", "0:a:0?", "-map_metadata", "-1", "-sn", "-dn",
            *codecs, "-movflags", "+faststart",
            "-fflags", "+bitexact", "-flags:v", "+bitexact", "-flags:a", "+bitexact",
            "-f", "mp4", f"file:{dest.resolve()}"]
    run_ffmpeg(argv, timeout=timeout, name=name)


@dataclass(frozen=True)
class MediaFacts:
    """What the container says of a file: its duration and its video frame rate."""

    duration: float
    fps: float | None  # None for a file without a video stream


_DURATION = re.compile(r"Duration: (\d+):(\d\d):(\d\d(?:\.\d+)?)")
_FPS = re.compile(r"Video:.*?(\d+(?:\.\d+)?) fps")


def media_facts(path: Path, *, timeout: float = 60.0) -> MediaFacts:
    """Duration (from the container's header) and frame rate of *path*."""
    argv = [ffmpeg_binary(), "-nostdin", "-hide_banner", "-protocol_whitelist", "file",
            "-i", f"file:{path.resolve()}"]
    try:
        proc = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                              timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise MediaError(f"ffmpeg took longer than {timeout:.0f} s to read {path.name}") from None
    stderr = proc.stderr.decode("utf-8", errors="replace")
    found = _DURATION.search(stderr)
    if found is None:
        raise MediaError(f"{path.name} does not say how long it is", stderr)
    hours, minutes, seconds = found.groups()
    fps = _FPS.search(stderr)
    return MediaFacts(int(hours) * 3600 + int(minutes) * 60 + float(seconds),
                      float(fps.group(1)) if fps else None)
