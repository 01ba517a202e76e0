"""ffmpeg: recognising containers and turning a video into 16 kHz mono audio for Whisper."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import IO

import ffmpeg
import numpy as np
import numpy.typing as npt

from worker.containers import CONTAINERS, describe_head, sniff_container
from worker.errors import MediaError

SAMPLE_RATE = 16_000
# Long audio is transcribed in windows of this many seconds, each cut at the quietest moment
# of its last CUT_SEARCH_SECONDS (frames of CUT_FRAME_SECONDS), so memory stays flat.
WINDOW_SECONDS = 300.0
CUT_SEARCH_SECONDS = 30.0
CUT_FRAME_SECONDS = 0.1
@cache
def ffmpeg_binary() -> str:
    """The system ffmpeg when on PATH, else the binary shipped by the imageio-ffmpeg wheel."""
    found = shutil.which("ffmpeg")
    if found:
        return found
    try:
        import imageio_ffmpeg
    except ImportError as exc:  # pragma: no cover - a dependency of ours
        raise MediaError("ffmpeg not found: install ffmpeg or imageio-ffmpeg") from exc
    return str(imageio_ffmpeg.get_ffmpeg_exe())


def container_of(path: Path, name: str | None = None) -> str:
    """Sniff *path*'s container, raising MediaError when it is not a video we accept."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(64)
    except OSError as exc:
        raise MediaError(f"cannot read {path}: {exc.strerror}") from exc
    kind = sniff_container(head)
    if kind is None:
        raise MediaError(f"{name or path.name} is not a video ({describe_head(head)})")
    return kind


def audio_command(path: Path, container: str) -> list[str]:
    """The ffmpeg argv that writes *path*'s first audio track as 16 kHz mono s16le to stdout."""
    stream = ffmpeg.input(
        f"file:{path.resolve()}",
        f=CONTAINERS[container].demuxer,
        protocol_whitelist="file",
    )
    out = ffmpeg.output(
        stream["a:0"], "pipe:1", format="s16le", acodec="pcm_s16le", ac=1, ar=SAMPLE_RATE
    )
    argv = list(out.compile(cmd=ffmpeg_binary()))
    # Global options first: ffmpeg may ignore options that trail the output.
    return [argv[0], "-nostdin", "-hide_banner", "-loglevel", "error", *argv[1:]]


_DURATION = re.compile(r"Duration: (\d+):(\d\d):(\d\d(?:\.\d+)?)")


def probe_duration(path: Path, *, timeout: float = 60.0, name: str | None = None) -> float:
    """A video's duration in seconds, read from its container's header (nothing is decoded).

    The same guards as :func:`audio_command`: the demuxer is forced from the sniffed
    container and only the ``file`` protocol is allowed.  A header can lie; the time limits
    this feeds only decide how long a transcription may take, never what is trusted.
    """
    name = name or path.name
    container = container_of(path, name)
    argv = [ffmpeg_binary(), "-nostdin", "-hide_banner", "-f", CONTAINERS[container].demuxer,
            "-protocol_whitelist", "file", "-i", f"file:{path.resolve()}"]
    try:
        # Without an output ffmpeg prints the input's description and exits non-zero.
        proc = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                              timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise MediaError(f"ffmpeg took longer than {timeout:.0f} s to read {name}") from None
    stderr = proc.stderr.decode("utf-8", errors="replace")
    match = _DURATION.search(stderr)
    if match is None:
        if "Duration: N/A" in stderr:
            raise MediaError(f"{name} does not say how long it is", stderr)
        raise MediaError(_explain(stderr, name), stderr)
    hours, minutes, seconds = match.groups()
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def _explain(stderr: str, name: str) -> str:
    lowered = stderr.lower()
    if "matches no streams" in lowered or "does not contain any stream" in lowered:
        return f"{name} has no audio track"
    if "moov atom not found" in lowered:
        return f"{name} is truncated or damaged (moov atom not found)"
    if "invalid data found" in lowered:
        return f"{name} is not a readable video (invalid data)"
    last = stderr.strip().splitlines()[-1] if stderr.strip() else "no details"
    return f"ffmpeg failed on {name}: {last}"


def _run_ffmpeg(argv: list[str], stdout: int | IO[bytes], timeout: float,
                name: str) -> tuple[bytes | None, str]:
    """Run ffmpeg in its own process group (a time-out kills it and anything it started);
    return what it wrote to a piped stdout and its stderr, or raise :class:`MediaError`."""
    proc = subprocess.Popen(
        argv, stdin=subprocess.DEVNULL, stdout=stdout, stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise MediaError(f"ffmpeg took longer than {timeout:.0f} s on {name}") from None
    except BaseException:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise
    stderr = err.decode("utf-8", errors="replace")
    if proc.returncode != 0:
        raise MediaError(_explain(stderr, name), stderr)
    return out, stderr


def run_ffmpeg(argv: list[str], *, timeout: float, name: str) -> str:
    """Run an ffmpeg command that writes its own output file, under the same time limit and
    error handling as the audio decoding; returns its stderr."""
    _, stderr = _run_ffmpeg(argv, subprocess.DEVNULL, timeout, name)
    return stderr


def extract_audio(path: Path, *, timeout: float = 1800.0,
                  name: str | None = None) -> npt.NDArray[np.float32]:
    """Decode *path*'s audio to a float32 16 kHz mono array, as faster-whisper expects.

    *name* is what error messages call the file (default: its file name).  The whole audio
    is held in memory: for videos of any length use :func:`decoded_audio`.
    """
    name = name or path.name
    raw, stderr = _run_ffmpeg(audio_command(path, container_of(path, name)), subprocess.PIPE,
                              timeout, name)
    count = len(raw or b"") // 2
    if count == 0:
        raise MediaError(f"{name} has no decodable audio", stderr)
    audio = np.frombuffer(raw or b"", dtype=np.int16, count=count).astype(np.float32)
    audio /= 32768.0
    return audio


class AudioFile:
    """Decoded 16 kHz mono s16le audio in a file, read back in windows of bounded size."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.samples = path.stat().st_size // 2

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.samples / SAMPLE_RATE

    def _read(self, start: int, stop: int) -> npt.NDArray[np.float32]:
        chunk = np.fromfile(self.path, dtype=np.int16, count=stop - start, offset=2 * start)
        audio = chunk.astype(np.float32)
        audio /= 32768.0
        return audio

    def windows(self, seconds: float = WINDOW_SECONDS
                ) -> Iterator[tuple[float, npt.NDArray[np.float32]]]:
        """``(offset in seconds, float32 audio)`` windows of at most *seconds* covering it all.

        Each window but the last ends at the quietest tenth of a second of its final
        :data:`CUT_SEARCH_SECONDS`, so that no word is cut in two.  Memory stays bounded by
        the window, whatever the length of the video: faster-whisper computes its features
        over the whole array it is given.
        """
        size = int(seconds * SAMPLE_RATE)
        search = min(int(CUT_SEARCH_SECONDS * SAMPLE_RATE), size // 2)
        start = 0
        while start < self.samples:
            if self.samples - start <= size + search:
                yield start / SAMPLE_RATE, self._read(start, self.samples)
                return
            window = self._read(start, start + size)
            cut = size - search + _quietest(window[size - search:])
            yield start / SAMPLE_RATE, window[:cut]
            start += cut


def _quietest(audio: npt.NDArray[np.float32]) -> int:
    """The middle of the quietest frame of *audio*, as a sample index."""
    frame = int(CUT_FRAME_SECONDS * SAMPLE_RATE)
    frames = audio[: len(audio) // frame * frame].reshape(-1, frame)
    energy = np.square(frames).mean(axis=1)
    return int(np.argmin(energy)) * frame + frame // 2


@contextmanager
def decoded_audio(path: Path, tmp_dir: Path, *, timeout: float = 1800.0,
                  name: str | None = None) -> Iterator[AudioFile]:
    """Decode *path*'s audio to 16 kHz mono PCM in a temporary file under *tmp_dir*.

    ffmpeg writes straight to the file, so memory does not grow with the video's length;
    the file is removed when the context ends.  Same guards and errors as
    :func:`extract_audio`.
    """
    name = name or path.name
    argv = audio_command(path, container_of(path, name))
    tmp_dir.mkdir(parents=True, exist_ok=True)
    fd, raw = tempfile.mkstemp(prefix="audio-", suffix=".s16le", dir=tmp_dir)
    try:
        with os.fdopen(fd, "wb") as out:
            _, stderr = _run_ffmpeg(argv, out, timeout, name)
        audio = AudioFile(Path(raw))
        if audio.samples == 0:
            raise MediaError(f"{name} has no decodable audio", stderr)
        yield audio
    finally:
        Path(raw).unlink(missing_ok=True)
