"""Hostile media: playlists in disguise never make ffmpeg open other files or URLs."""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import MANIFEST, MEDIA
from tests.siteserver import Site
from worker.errors import MediaError
from worker.pipeline import ModelProvider
from worker.speech.media import extract_audio, ffmpeg_binary
from worker.speech.transcribe import transcribe

FAKE_FTYP = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"


class Tripwire:
    """A FIFO standing in for a secret file: opening it for reading trips the wire."""

    def __init__(self, path: Path) -> None:
        self.path = path
        os.mkfifo(path)
        self.tripped = threading.Event()
        self._stop = False
        self._thread = threading.Thread(target=self._wait, daemon=True)
        self._thread.start()

    def _wait(self) -> None:
        # open() for writing blocks until somebody opens the FIFO for reading.
        fd = os.open(self.path, os.O_WRONLY)
        if not self._stop:
            self.tripped.set()
        os.close(fd)

    def close(self) -> None:
        self._stop = True
        fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK)  # release the waiting thread
        self._thread.join(timeout=5)
        os.close(fd)


@pytest.fixture
def traps(tmp_path: Path) -> Iterator[tuple[Tripwire, Site]]:
    wire = Tripwire(tmp_path / "secret.txt")
    site = Site(tmp_path).start()
    yield wire, site
    site.stop()
    wire.close()


def _payloads(secret: Path, url: str) -> dict[str, bytes]:
    hls = (f"#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\nfile://{secret}\n"
           f"#EXTINF:10,\n{url}\n#EXT-X-ENDLIST\n").encode()
    concat = f"ffconcat version 1.0\nfile '{secret}'\nfile '{url}'\n".encode()
    avi = (b"RIFF\x00\x10\x00\x00AVI LIST\x00\x01\x00\x00hdrlavih" + b"\0" * 64
           + b"GAB2\x00" + hls)
    return {
        "hls.mp4": hls,
        "concat.mp4": concat,
        "gab2.mp4": avi,
        # An MP4 signature in front, so the sniffer lets it through to ffmpeg.
        "ftyp-hls.mp4": FAKE_FTYP + hls,
        "ftyp-concat.mp4": FAKE_FTYP + concat,
    }


@pytest.mark.parametrize("name", ["hls.mp4", "concat.mp4", "gab2.mp4", "ftyp-hls.mp4",
                                  "ftyp-concat.mp4"])
def test_playlist_disguised_as_mp4_touches_nothing(
    tmp_path: Path, traps: tuple[Tripwire, Site], name: str
) -> None:
    wire, site = traps
    crafted = tmp_path / name
    crafted.write_bytes(_payloads(wire.path, site.url("recorded.ts"))[name])
    with pytest.raises(MediaError):
        extract_audio(crafted, timeout=20)
    assert not wire.tripped.wait(0.5), "ffmpeg opened the secret file"
    assert site.hits == [], "ffmpeg fetched a URL"


def _ffmpeg_children(marker: str) -> list[int]:
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if marker.encode() in cmdline and b"ffmpeg" in cmdline:
            found.append(int(pid))
    return found


def test_ffmpeg_time_limit_kills_its_process_group(tmp_path: Path) -> None:
    # A long input: the fixture looped many times, so decoding cannot finish in time.
    long_video = tmp_path / "long-unique-marker.mp4"
    subprocess.run([ffmpeg_binary(), "-loglevel", "error", "-stream_loop", "200", "-i",
                    str(MEDIA / "briefing-b.mp4"), "-c", "copy", str(long_video)], check=True)
    with pytest.raises(MediaError, match="took longer than"):
        extract_audio(long_video, timeout=0.05)
    assert _ffmpeg_children("long-unique-marker") == []


@pytest.fixture(scope="module")
def speech_then_music(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two spoken sentences followed by half a minute of synthetic music."""
    out = tmp_path_factory.mktemp("music") / "speech-music.mp4"
    speech_end = MANIFEST["speech-then-silence.mp4"]["sentences"][-1]["end"] + 0.4
    chords = ("0.2*sin(2*PI*220*t)*(1+sin(2*PI*2*t))/2+0.15*sin(2*PI*277*t)"
              "+0.1*sin(2*PI*330*t)*lt(t-floor(t)\\,0.5)")
    subprocess.run([
        ffmpeg_binary(), "-loglevel", "error", "-i", str(MEDIA / "speech-then-silence.mp4"),
        "-f", "lavfi", "-i", f"aevalsrc={chords}:s=22050:d=30",
        "-filter_complex",
        f"[0:a]atrim=0:{speech_end}[s];[s][1:a]concat=n=2:v=0:a=1[a]",
        "-map", "[a]", "-c:a", "aac", "-b:a", "48k", str(out)], check=True)
    return out


@pytest.mark.parametrize("tail", ["silence", "music"])
def test_no_invented_text_after_the_speech(models: ModelProvider, speech_then_music: Path,
                                           tail: str) -> None:
    source = MEDIA / "speech-then-silence.mp4" if tail == "silence" else speech_then_music
    speech_end = MANIFEST["speech-then-silence.mp4"]["sentences"][-1]["end"]
    result = transcribe(extract_audio(source), models.get(), "t")
    assert result.duration > speech_end + 20
    late = [w for s in result.segments for w in s.words if w.start > speech_end + 1.0]
    assert late == [], f"invented words in the {tail}: {late}"
    assert "weather" in " ".join(s.text.lower() for s in result.segments)
