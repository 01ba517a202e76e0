"""Synthesising the benchmark's briefings with the true time of every spoken word.

Festival reads each sentence and reports, for every token of the text, the start and end of
the words it spoke for it (``word_start``/``word_end`` of the ``Word`` relation; a token such
as "1,500" is spoken as several words).  Sentences are trimmed to their audible part and
joined with fixed pauses, so every word's time in the final track is known to the sample.
Then a faint room tone (and, for one video, loud pink noise) is mixed in, and ffmpeg muxes
the track with a still colour picture into an MP4, like ``scripts/make_fixtures.py`` does
for the unit tests' fixtures.

The result is cached under the cache directory, keyed by a hash of the corpus and of the
settings below, so a second run does not synthesise again.
"""

from __future__ import annotations

import hashlib
import html
import json
import shutil
import subprocess
import tempfile
import wave
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from benchmarks.corpus import ARTICLES, VIDEOS, Article, Video

FESTIVAL_VOICE = "voice_cmu_us_slt_arctic_hts"
LEAD_SILENCE = 0.8
PAUSE = 0.7
WORD_GAP = 0.06  # between words spoken one at a time (espeak-ng voices)
TAIL_SILENCE = 1.2
SPEECH_THRESHOLD = 0.01  # of full scale: louder counts as speech when trimming
EDGE_MARGIN = 0.02
ROOM_TONE_DBFS = -62.0
VIDEO_FPS = 2
SEED = 20261120
_VERSION = 3  # bump when the synthesis changes in a way the corpus hash cannot see


class SynthError(Exception):
    """A tool is missing or produced something unexpected."""


@dataclass(frozen=True)
class Token:
    """A token of a sentence as written, and when its spoken words start and end."""

    text: str
    start: float
    end: float


@dataclass(frozen=True)
class Sentence:
    """A sentence placed in the final track."""

    text: str
    start: float
    end: float
    tokens: tuple[Token, ...]


@dataclass(frozen=True)
class BuiltVideo:
    """A synthesised briefing and its truth."""

    slug: str
    path: Path
    duration: float
    sentences: tuple[Sentence, ...]
    silences: tuple[tuple[float, float], ...]  # long silent stretches (start, end)


@dataclass(frozen=True)
class BuiltCorpus:
    """Every synthesised video and every article file, ready to ingest."""

    root: Path
    videos: dict[str, BuiltVideo]
    articles: dict[str, Path]

    @property
    def audio_seconds(self) -> float:
        """Total length of the videos."""
        return sum(v.duration for v in self.videos.values())


def _run(cmd: list[str], *, cwd: Path | None = None) -> str:
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=cwd)
    except FileNotFoundError as exc:
        raise SynthError(f"{cmd[0]} is not installed (festival, festvox-us-slt-hts and "
                         "ffmpeg are needed)") from exc
    if proc.returncode != 0:
        raise SynthError(f"{cmd[0]} failed ({proc.returncode}): {proc.stderr.strip()[-500:]}")
    return proc.stdout


def _scheme_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


_DUMP = """
(define (dump utt idx)
  (let ((tok (utt.relation.first utt 'Token)))
    (while tok
      (format t "TOK\\t%d\\t%s" idx (item.name tok))
      (mapcar (lambda (w)
                (format t "\\t%s|%s|%s" (item.name w) (item.feat w "word_start")
                        (item.feat w "word_end")))
              (item.daughters (item.relation tok 'Token)))
      (format t "\\n")
      (set! tok (item.next tok)))))
"""


def _espeak(sentences: tuple[str, ...], voice: str, workdir: Path) -> list[list[Token]]:
    """Like :func:`_festival` with espeak-ng's *voice*: espeak-ng tells no word times, so
    each word is spoken on its own and the words are joined with a short gap (a choppier
    reading than a newsreader's, which is part of what makes this split harder)."""
    tokens: list[list[Token]] = []
    for i, text in enumerate(sentences):
        rate = 0
        pieces: list[npt.NDArray[np.float64]] = []
        timed: list[Token] = []
        cursor = 0
        for n, word in enumerate(text.split()):
            name = word.strip(".,;:!?\"'")
            part = workdir / f"s{i}w{n}.wav"
            _run(["espeak-ng", "-v", voice, "-s", "165", "-w", str(part), word])
            rate, samples = _read_wav(part)
            loud = np.flatnonzero(np.abs(samples) > SPEECH_THRESHOLD)
            if len(loud) == 0:
                continue
            samples = samples[int(loud[0]) : int(loud[-1]) + 1]
            gap = round(WORD_GAP * rate)
            pieces.append(np.zeros(gap))
            cursor += gap
            if any(c.isalnum() for c in name):
                timed.append(Token(name, cursor / rate, (cursor + len(samples)) / rate))
            pieces.append(samples)
            cursor += len(samples)
        pieces.append(np.zeros(round(WORD_GAP * rate)))
        _write_wav(workdir / f"s{i}.wav", rate, np.concatenate(pieces))
        tokens.append(timed)
    return tokens


def _effects(wav: Path, video: Video, built: BuiltVideo) -> BuiltVideo:
    """Apply *video*'s tempo and line effect to *wav* with sox; the truth, rescaled."""
    if video.tempo == 1.0 and not video.effect:
        return built
    chain: list[str] = []
    if video.tempo != 1.0:
        chain += ["tempo", "-s", str(video.tempo)]
    if video.effect == "telephone":
        chain += ["sinc", "300-3400", "rate", "8000", "rate", "16000"]
    elif video.effect == "reverb":
        chain += ["reverb", "60", "50", "80"]
    out = wav.with_name(wav.stem + "-fx.wav")
    _run(["sox", str(wav), "-b", "16", str(out), *chain])
    out.replace(wav)
    k = 1.0 / video.tempo

    def at(t: float) -> float:
        return round(t * k, 3)

    sentences = tuple(Sentence(x.text, at(x.start), at(x.end),
                               tuple(Token(t.text, at(t.start), at(t.end)) for t in x.tokens))
                      for x in built.sentences)
    with wave.open(str(wav), "rb") as fh:
        duration = fh.getnframes() / fh.getframerate()
    return BuiltVideo(built.slug, built.path, round(duration, 3), sentences,
                      tuple((at(a), at(b)) for a, b in built.silences))


def _festival(sentences: tuple[str, ...], workdir: Path,
              voice: str = FESTIVAL_VOICE) -> list[list[Token]]:
    """Synthesise each sentence to ``s<i>.wav`` in *workdir*; return its timed tokens."""
    lines = [f"({voice})", _DUMP]
    for i, text in enumerate(sentences):
        lines.append(f"(set! utt (Utterance Text {_scheme_string(text)}))")
        lines.append("(utt.synth utt)")
        lines.append(f"(utt.save.wave utt \"s{i}.wav\" 'riff)")
        lines.append(f"(dump utt {i})")
    script = workdir / "synth.scm"
    script.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = _run(["festival", "-b", str(script)], cwd=workdir)
    tokens: list[list[Token]] = [[] for _ in sentences]
    for line in out.splitlines():
        if not line.startswith("TOK\t"):
            continue
        _, idx, name, *words = line.split("\t")
        spans = []
        for word in words:
            wname, ws, we = word.rsplit("|", 2)
            if float(we) > 0 and any(c.isalnum() for c in wname):
                spans.append((float(ws), float(we)))
        if spans and any(c.isalnum() for c in name):
            tokens[int(idx)].append(Token(name, spans[0][0], spans[-1][1]))
    for i, found in enumerate(tokens):
        if not found or not (workdir / f"s{i}.wav").exists():
            raise SynthError(f"festival spoke nothing for {sentences[i]!r}; is "
                             "festvox-us-slt-hts installed?")
    return tokens


def _read_wav(path: Path) -> tuple[int, npt.NDArray[np.float64]]:
    with wave.open(str(path), "rb") as wav:
        if wav.getnchannels() != 1 or wav.getsampwidth() != 2:
            raise SynthError(f"{path.name}: expected mono 16-bit audio")
        rate = wav.getframerate()
        data = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
    return rate, data.astype(np.float64) / 32768.0


def _write_wav(path: Path, rate: int, samples: npt.NDArray[np.float64]) -> None:
    pcm = np.clip(np.round(samples * 32767.0), -32768, 32767).astype("<i2")
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(pcm.tobytes())


def _pink_noise(n: int, rng: np.random.Generator) -> npt.NDArray[np.float64]:
    """Noise whose power falls as 1/f, like the rumble of a crowd or traffic, unit RMS."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.arange(len(spectrum), dtype=np.float64)
    freqs[0] = 1.0
    pink: npt.NDArray[np.float64] = np.fft.irfft(spectrum / np.sqrt(freqs), n)
    return pink / float(np.sqrt(np.mean(pink**2)))


def _build_audio(video: Video, workdir: Path) -> tuple[Path, BuiltVideo]:
    if video.voice.startswith("espeak:"):
        timed = _espeak(video.sentences, video.voice.removeprefix("espeak:"), workdir)
    else:
        timed = _festival(video.sentences, workdir, video.voice or FESTIVAL_VOICE)
    rate = 0
    pieces: list[npt.NDArray[np.float64]] = []
    cursor = 0  # samples so far
    sentences: list[Sentence] = []
    silences: list[tuple[float, float]] = []
    speech_mask: list[tuple[int, int]] = []
    for i, text in enumerate(video.sentences):
        sentence_rate, samples = _read_wav(workdir / f"s{i}.wav")
        if rate == 0:
            rate = sentence_rate
        elif sentence_rate != rate:
            raise SynthError("festival changed sample rate between sentences")
        gap = LEAD_SILENCE if i == 0 else PAUSE
        if video.silence_before == i:
            silences.append((cursor / rate + 0.5, cursor / rate + video.silence_seconds - 0.5))
            gap = video.silence_seconds
        pieces.append(np.zeros(round(gap * rate)))
        cursor += round(gap * rate)
        loud = np.flatnonzero(np.abs(samples) > SPEECH_THRESHOLD)
        margin = round(EDGE_MARGIN * rate)
        first, last = max(0, int(loud[0]) - margin), min(len(samples), int(loud[-1]) + margin)
        offset = cursor / rate - first / rate
        pieces.append(samples[first:last])
        speech_mask.append((cursor, cursor + last - first))
        tokens = tuple(Token(t.text, round(max(t.start + offset, cursor / rate), 3),
                             round(min(t.end + offset, (cursor + last - first) / rate), 3))
                       for t in timed[i])
        sentences.append(Sentence(text, round(cursor / rate, 3),
                                  round((cursor + last - first) / rate, 3), tokens))
        cursor += last - first
    pieces.append(np.zeros(round(TAIL_SILENCE * rate)))
    frame = rate // VIDEO_FPS
    total = cursor + round(TAIL_SILENCE * rate)
    pieces.append(np.zeros(-total % frame))
    audio = np.concatenate(pieces)
    rng = np.random.default_rng(SEED + sum(map(ord, video.slug)))
    audio += _pink_noise(len(audio), rng) * 10 ** (ROOM_TONE_DBFS / 20)
    if video.noise_snr_db is not None:
        speech = np.concatenate([audio[a:b] for a, b in speech_mask])
        speech_rms = float(np.sqrt(np.mean(speech**2)))
        noise_rms = speech_rms / 10 ** (video.noise_snr_db / 20)
        audio += _pink_noise(len(audio), rng) * noise_rms
    peak = float(np.max(np.abs(audio)))
    if peak > 0.99:
        audio *= 0.99 / peak
    wav = workdir / f"{video.slug}.wav"
    _write_wav(wav, rate, audio)
    built = BuiltVideo(video.slug, Path(), round(len(audio) / rate, 3), tuple(sentences),
                       tuple((round(a, 3), round(b, 3)) for a, b in silences))
    return wav, _effects(wav, video, built)


def _mux(wav: Path, colour: str, seconds: float, out: Path) -> None:
    _run([
        "ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
        "-f", "lavfi", "-i", f"color=c={colour}:s=160x90:r={VIDEO_FPS}:d={seconds:.3f}",
        "-i", str(wav), "-map", "0:v", "-map", "1:a",
        "-c:v", "libx264", "-tune", "stillimage", "-preset", "medium", "-pix_fmt", "yuv420p",
        "-threads", "1", "-g", "4",
        "-c:a", "aac", "-b:a", "48k", "-ac", "1",
        "-map_metadata", "-1", "-fflags", "+bitexact", "-movflags", "+faststart", str(out),
    ])


def article_html(article: Article, media: dict[str, str]) -> str:
    """A plain news page for *article* that embeds its videos (relative links)."""
    esc = html.escape
    body = "\n".join(f"<p>{esc(p)}</p>" for p in article.paragraphs)
    players = "\n".join(
        f'<figure><video controls src="{esc(media[slug])}"></video></figure>'
        for slug in article.videos
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{esc(article.title)} | {esc(article.source)}</title>
<meta property="og:title" content="{esc(article.title)}">
<meta property="og:site_name" content="{esc(article.source)}">
<meta property="article:published_time" content="{article.published}T07:00:00Z">
</head><body>
<nav><a href="/">Home</a> <a href="/world">World</a></nav>
<main><article>
<h1>{esc(article.title)}</h1>
{body}
{players}
</article></main>
<footer>All rights reserved.</footer>
</body></html>
"""


def _video_fields(video: Video) -> dict[str, object]:
    fields = asdict(video)
    # The harder split's fields count only where set: the first corpus keeps its key.
    for name, default in (("voice", ""), ("tempo", 1.0), ("effect", "")):
        if fields[name] == default:
            del fields[name]
    return fields


def corpus_key(videos: tuple[Video, ...] = VIDEOS,
               articles: tuple[Article, ...] = ARTICLES) -> str:
    """A short hash of everything the synthesised files depend on."""
    blob = json.dumps(
        {
            "videos": [_video_fields(v) for v in videos],
            "articles": [asdict(a) for a in articles],
            "settings": [FESTIVAL_VOICE, LEAD_SILENCE, PAUSE, TAIL_SILENCE, SPEECH_THRESHOLD,
                         EDGE_MARGIN, ROOM_TONE_DBFS, VIDEO_FPS, SEED, _VERSION],
        },
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def _load(root: Path) -> BuiltCorpus:
    data = json.loads((root / "truth.json").read_text(encoding="utf-8"))
    videos = {}
    for slug, v in data["videos"].items():
        sentences = tuple(
            Sentence(s["text"], s["start"], s["end"],
                     tuple(Token(**t) for t in s["tokens"]))
            for s in v["sentences"]
        )
        videos[slug] = BuiltVideo(slug, root / v["path"], v["duration"], sentences,
                                  tuple((a, b) for a, b in v["silences"]))
    articles = {slug: root / path for slug, path in data["articles"].items()}
    return BuiltCorpus(root, videos, articles)


def build_corpus(cache_dir: Path, *, log: bool = True, videos: tuple[Video, ...] = VIDEOS,
                 articles: tuple[Article, ...] = ARTICLES) -> BuiltCorpus:
    """Synthesise the corpus into ``cache_dir/corpus-<key>`` unless it is already there."""
    root = cache_dir / f"corpus-{corpus_key(videos, articles)}"
    if (root / "truth.json").is_file():
        return _load(root)
    cache_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".corpus-", dir=cache_dir))
    try:
        (staging / "media").mkdir()
        truth: dict[str, object] = {"videos": {}, "articles": {}}
        built_videos: dict[str, object] = {}
        for video in videos:
            if log:
                print(f"synthesising {video.slug} ...", flush=True)
            with tempfile.TemporaryDirectory(prefix="synth-") as tmp:
                wav, built = _build_audio(video, Path(tmp))
                rel = f"media/{video.slug}.mp4"
                _mux(wav, video.colour, built.duration, staging / rel)
            entry = asdict(built)
            entry["path"] = rel
            built_videos[video.slug] = entry
        media = {v.slug: f"media/{v.slug}.mp4" for v in videos}
        article_files: dict[str, str] = {}
        for article in articles:
            rel = f"{article.slug}.html"
            (staging / rel).write_text(article_html(article, media), encoding="utf-8")
            article_files[article.slug] = rel
        truth = {"key": corpus_key(videos, articles), "tts": f"festival {FESTIVAL_VOICE}",
                 "videos": built_videos,
                 "articles": article_files}
        (staging / "truth.json").write_text(json.dumps(truth, indent=1), encoding="utf-8")
        if root.exists():
            shutil.rmtree(root)
        staging.rename(root)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return _load(root)
