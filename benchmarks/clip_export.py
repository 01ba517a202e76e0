"""Clip export: a 30 s clip from a 60-minute video, stream copy against re-encoding.

Run:  python -m benchmarks.clip_export [--start 2477.3] [--seconds 30] [--keep DIR]

Builds two 60-minute videos in a temporary folder by looping a short source with ffmpeg's
stream copy (seconds, not an hour of encoding):

* ``fixture``: ``tests/fixtures/media/briefing-a.mp4`` (160x90, 2 fps, one keyframe per
  loop of 32 s), looped;
* ``720p``: 32 s of 1280x720 at 25 fps with a keyframe every 2 s (as news sites encode),
  with the fixture's speech, encoded once and looped.

Then cuts the same 30 s from each with :func:`worker.clips.cut_clip`, once per mode, side by
side, and prints the time taken, the file size, and how far the clip's length is from the
one asked (a stream copy starts at the keyframe before the start, so its clip is longer).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from benchmarks.machine import describe
from worker.clips import CutMode, cut_clip, media_facts
from worker.speech.media import ffmpeg_binary

FIXTURE = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "media" / "briefing-a.mp4"
HOUR = 3600.0


def _ffmpeg(*args: str) -> None:
    subprocess.run([ffmpeg_binary(), "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
                    *args], check=True)


def _loop_to_an_hour(source: Path, dest: Path) -> None:
    _ffmpeg("-stream_loop", "-1", "-i", str(source), "-t", f"{HOUR:.0f}", "-c", "copy",
            "-movflags", "+faststart", str(dest))


def build_sources(folder: Path) -> dict[str, Path]:
    """The two hour-long videos (see the module's docstring)."""
    fixture = folder / "fixture-60min.mp4"
    _loop_to_an_hour(FIXTURE, fixture)
    short = folder / "720p-32s.mp4"
    _ffmpeg("-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=25:duration=32",
            "-i", str(FIXTURE), "-map", "0:v", "-map", "1:a", "-c:v", "libx264",
            "-preset", "veryfast", "-g", "50", "-keyint_min", "50", "-sc_threshold", "0",
            "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", str(short))
    hd = folder / "720p-60min.mp4"
    _loop_to_an_hour(short, hd)
    return {"fixture": fixture, "720p": hd}


def main() -> None:
    """Build the sources, cut the clip both ways, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--start", type=float, default=2477.3)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--keep", type=Path, default=None, help="Build the videos here and "
                        "keep them.")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="clip-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        started = time.perf_counter()
        sources = build_sources(folder)
        print(f"machine: {describe()}; load average {os.getloadavg()[0]:.2f} "
              f"(the machine is shared)")
        print(f"built the 60-minute videos in {time.perf_counter() - started:.1f} s: " +
              ", ".join(f"{name} {path.stat().st_size / 1e6:.0f} MB"
                        for name, path in sources.items()))
        end = args.start + args.seconds
        print(f"clip {args.start:.1f}-{end:.1f} s ({args.seconds:g} s asked)\n")
        print(f"{'source':8} {'mode':9} {'seconds':>8} {'size':>10} {'length':>8} "
              f"{'off by':>7}")
        for name, source in sources.items():
            fps = media_facts(source).fps or 0
            for mode in (CutMode.COPY, CutMode.REENCODE):
                out = folder / f"{name}-{mode}.mp4"
                began = time.perf_counter()
                cut_clip(source, args.start, end, out, mode=mode)
                took = time.perf_counter() - began
                length = media_facts(out).duration
                print(f"{name:8} {mode:9} {took:8.2f} {out.stat().st_size / 1e3:8.0f} kB "
                      f"{length:7.2f}s {length - args.seconds:+6.2f}s"
                      f"{'' if not fps else f'  (one frame: {1 / fps:.2f} s)'}")
    finally:
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
