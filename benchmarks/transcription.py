"""Transcription benchmark: pipeline overhead, throughput choices, memory, end to end.

Run from the repository root, on an otherwise idle machine (all sections)::

    python -m benchmarks.transcription
    python -m benchmarks.transcription --sections overhead,memory --reps 5
    python -m benchmarks.transcription --sections e2e

Sections (``--sections``, comma-separated):

* ``overhead`` — ``briefing transcribe``'s code path (:func:`worker.pipeline.transcribe_source`
  with a preloaded :class:`~worker.pipeline.ModelProvider`) against bare faster-whisper
  (``WhisperModel.transcribe`` on the same file, same model and options, model loaded), on the
  committed spoken fixtures concatenated twice (164 s); alternating repetitions, median of the
  per-pair ratios.  Also bare faster-whisper at beam 1 and batched (batch 8), the issue's
  reference points.
* ``choices`` — real-time factor *and* recall@5 of the search-quality benchmark
  (:mod:`benchmarks.search_quality`, same corpus and queries) for beam 1 vs 5, cpu_threads,
  int8 vs int8_float32, VAD on/off and the batched pipeline.
* ``memory`` — peak RSS of a fresh process transcribing 5 and 60 minutes of looped speech with
  the default model and options; and of a process downloading a 2 GB body from a local server.
* ``e2e`` — an article linking 3 videos (82 s of speech, served over HTTP on 127.0.0.1) from
  ingest to every video searchable: inline (``ingest``, which downloads the next videos while
  it transcribes one) and through the queue with two ``briefing worker`` processes (needs
  Redis on 127.0.0.1:6379; uses database 9, flushed before and after), both with the model
  loaded before timing; beside bare faster-whisper at beam 5 and beam 1 on the same files,
  and each mode's speed as a share of the faster bare one.  ``--reps`` repetitions in
  rotating order after one warm-up run; the load average is printed with them.  See
  :mod:`benchmarks.end_to_end`.

Timings are only meaningful on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from benchmarks.machine import describe
from worker.intake.fetch import FetchLimits, download
from worker.pipeline import ModelProvider, NullProgress, transcribe_source
from worker.speech.media import extract_audio, ffmpeg_binary, probe_duration
from worker.speech.transcribe import TranscribeOptions, transcribe

REPO = Path(__file__).resolve().parents[1]
SPEECH = (REPO / "tests/fixtures/media/briefing-a.mp4",
          REPO / "tests/fixtures/media/briefing-b.mp4", REPO / "examples/situation-report.mp4")
MODEL = "tiny.en"
MAX_SECONDS = 24 * 3600.0  # no cap on what is measured
LIMITS = FetchLimits(max_bytes=3 * 1024**3, connect_timeout=5, read_timeout=30, deadline=600,
                     allow_private=True)
SECTIONS = ("overhead", "choices", "memory", "e2e")


# -- media --------------------------------------------------------------------------------------


def _ffmpeg(*args: str) -> None:
    subprocess.run([ffmpeg_binary(), "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
                    *args], check=True)


def make_speech(dest: Path, passes: int = 2) -> Path:
    """The spoken fixtures, audio only, concatenated *passes* times into one MP4."""
    inputs = [str(p) for _ in range(passes) for p in SPEECH]
    args: list[str] = []
    for path in inputs:
        args += ["-i", path]
    streams = "".join(f"[{i}:a:0]" for i in range(len(inputs)))
    _ffmpeg(*args, "-filter_complex", f"{streams}concat=n={len(inputs)}:v=0:a=1[a]",
            "-map", "[a]", "-ac", "1", "-c:a", "aac", "-b:a", "64k", "-f", "mp4", str(dest))
    return dest


def loop_to(speech: Path, seconds: float, dest: Path) -> Path:
    """*speech* looped to *seconds* long (no re-encoding)."""
    _ffmpeg("-stream_loop", "-1", "-i", str(speech), "-t", str(seconds), "-c", "copy",
            "-f", "mp4", str(dest))
    return dest


# -- overhead -----------------------------------------------------------------------------------


def _fw_kwargs(options: TranscribeOptions) -> dict[str, Any]:
    """faster-whisper keyword arguments equal to what worker.speech.transcribe passes."""
    return dict(language="en", beam_size=options.beam_size, word_timestamps=True,
                vad_filter=options.vad_filter,
                condition_on_previous_text=options.condition_on_previous_text,
                hallucination_silence_threshold=options.hallucination_silence_threshold,
                initial_prompt=options.initial_prompt, hotwords=options.hotwords,
                without_timestamps=options.without_timestamps)


def bare_seconds(provider: ModelProvider, path: Path, kwargs: dict[str, Any],
                 batch_size: int = 0) -> float:
    """Seconds bare faster-whisper takes on *path* (decoding included), model loaded."""
    model = provider.get().model
    started = time.perf_counter()
    if batch_size:
        from faster_whisper import BatchedInferencePipeline

        batched = {k: v for k, v in kwargs.items() if k != "hallucination_silence_threshold"}
        segments, _ = BatchedInferencePipeline(model).transcribe(str(path), batch_size=batch_size,
                                                                 **batched)
    else:
        segments, _ = model.transcribe(str(path), **kwargs)
    for _ in segments:
        pass
    return time.perf_counter() - started


def pipeline_seconds(provider: ModelProvider, path: Path, options: TranscribeOptions,
                     tmp: Path) -> float:
    """Seconds ``briefing transcribe``'s code path takes on *path*, model loaded."""
    started = time.perf_counter()
    transcribe_source(str(path), tmp_dir=tmp, limits=LIMITS, models=provider, options=options,
                      ffmpeg_timeout=600, max_video_seconds=MAX_SECONDS,
                      progress=NullProgress())
    return time.perf_counter() - started


def overhead(tmp: Path, reps: int) -> list[list[str]]:
    """Rows: configuration, bare and pipeline speed, median pipeline/bare time ratio."""
    speech = make_speech(tmp / "speech.mp4")
    audio = probe_duration(speech)
    provider = ModelProvider(MODEL)
    provider.get()
    options = TranscribeOptions()
    rows: list[list[str]] = []
    bare_seconds(provider, speech, _fw_kwargs(options), options.batch_size)  # warm caches
    bare: list[float] = []
    ours: list[float] = []
    for rep in range(reps):
        order: list[Callable[[], None]] = [
            lambda: bare.append(bare_seconds(provider, speech, _fw_kwargs(options),
                                             options.batch_size)),
            lambda: ours.append(pipeline_seconds(provider, speech, options, tmp)),
        ]
        for run in (order if rep % 2 == 0 else order[::-1]):
            run()
    ratio = statistics.median(o / b for o, b in zip(ours, bare, strict=True))
    rows.append([f"defaults (beam {options.beam_size}, batch {options.batch_size}, "
                 f"{provider.cpu_threads} thread, VAD, word timestamps)",
                 f"{audio / statistics.median(bare):.1f}×",
                 f"{audio / statistics.median(ours):.1f}×", f"{ratio:.3f}"])
    for name, opts, batch in (
            ("bare beam 5, library defaults + word timestamps", None, 0),
            ("bare beam 1 + word timestamps", TranscribeOptions(beam_size=1), 0),
            ("bare batched, batch 8 + word timestamps", TranscribeOptions(beam_size=5), 8),
            ("bare batched, batch 8, beam 1 + word timestamps",
             TranscribeOptions(beam_size=1), 8)):
        kwargs = (dict(language="en", word_timestamps=True) if opts is None
                  else _fw_kwargs(opts))
        times = [bare_seconds(provider, speech, kwargs, batch) for _ in range(max(1, reps // 2))]
        rows.append([name, f"{audio / statistics.median(times):.1f}×", "", ""])
    print(f"overhead: {audio:.0f} s of speech, {reps} alternating repetitions", file=sys.stderr)
    return rows


# -- choices ------------------------------------------------------------------------------------


def choices(tmp: Path) -> list[list[str]]:
    """Rows: configuration, speed, recall@5, false clips — via the search-quality benchmark."""
    from benchmarks.search_quality import Config, Session, evaluate
    from benchmarks.synth import build_corpus

    base = TranscribeOptions()
    one = replace(base, beam_size=5, batch_size=0)  # sequential, whatever the default
    batched = replace(base, beam_size=5, batch_size=8)
    # cpu_threads 0 leaves CTranslate2 its own default, 4 threads, whatever the cores.
    configs = [
        Config("beam 5, cpu_threads 0 (CTranslate2's 4 threads)", options=one, cpu_threads=0),
        Config("beam 5, cpu_threads 1", options=one, cpu_threads=1),
        Config("beam 5, cpu_threads 2", options=one, cpu_threads=2),
        Config("beam 1, cpu_threads 1", options=replace(one, beam_size=1), cpu_threads=1),
        Config("beam 5, cpu_threads 1, int8_float32", options=one, cpu_threads=1,
               compute_type="int8_float32"),
        Config("beam 5, cpu_threads 1, VAD off", options=replace(one, vad_filter=False),
               cpu_threads=1),
        Config("batched 8, beam 5, cpu_threads 0", options=batched, cpu_threads=0),
        Config("batched 8, beam 5, cpu_threads 1", options=batched, cpu_threads=1),
        Config("batched 8, beam 5, cpu_threads 2", options=batched, cpu_threads=2),
        Config("batched 8, beam 1, cpu_threads 2", options=replace(batched, beam_size=1),
               cpu_threads=2),
    ]
    corpus = build_corpus(REPO / "benchmarks" / "cache")
    session = Session(corpus, tmp)
    rows = []
    for config in configs:
        # Untimed first use of each model setting and options (VAD model load, allocations),
        # so that the first configuration pays no more than the others.
        pipeline_seconds(session.provider(config), SPEECH[0], config.options, tmp)
    for config in configs:
        print(f"choices: {config.name} ...", file=sys.stderr, flush=True)
        m = evaluate(config, session)
        rows.append([config.name, f"{m.speed:.1f}×", f"{m.recall_at_5:.3f}",
                     f"{m.false_clips}/{m.clips}", f"{m.silence_words}"])
        print(f"  {rows[-1]}", file=sys.stderr, flush=True)
    for ctx, _, _ in session.ingested.values():
        ctx.index.close()
    print(f"choices: {corpus.audio_seconds:.0f} s of synthesised speech, {len(corpus.videos)} "
          "videos", file=sys.stderr)
    return rows


# -- memory -------------------------------------------------------------------------------------


def _child(args: list[str]) -> dict[str, Any]:
    out = subprocess.run([sys.executable, "-m", "benchmarks.transcription", *args], check=True,
                         capture_output=True, text=True, cwd=REPO)
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def child_transcribe(path: Path, whole: bool) -> dict[str, Any]:
    """In a fresh process: transcribe *path* with the defaults and report peak RSS.

    *whole* decodes all the audio into one array and hands it to faster-whisper at once
    (how the pipeline worked before it transcribed in windows), for comparison.
    """
    provider = ModelProvider(MODEL)
    provider.get()
    loaded = _peak_mib()
    started = time.perf_counter()
    if whole:
        transcript = transcribe(extract_audio(path, timeout=3600), provider.get(), "whole")
    else:
        with tempfile.TemporaryDirectory() as tmp:
            transcript = transcribe_source(str(path), tmp_dir=Path(tmp), limits=LIMITS,
                                           models=provider, options=TranscribeOptions(),
                                           ffmpeg_timeout=3600, max_video_seconds=MAX_SECONDS,
                                           progress=NullProgress())
    return {"loaded_mib": loaded, "peak_mib": _peak_mib(),
            "seconds": time.perf_counter() - started, "audio": transcript.duration,
            "segments": len(transcript.segments)}


def child_download(url: str) -> dict[str, Any]:
    """In a fresh process: download *url* and report peak RSS."""
    before = _peak_mib()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        got = download(url, Path(tmp), LIMITS)
        size = got.size
    return {"before_mib": before, "peak_mib": _peak_mib(), "bytes": size,
            "seconds": time.perf_counter() - started}


class _BigBody(BaseHTTPRequestHandler):
    size = 2 * 1024**3

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "video/mp4")
        self.send_header("Content-Length", str(self.size))
        self.end_headers()
        chunk = bytearray(1 << 20)
        chunk[:12] = b"\x00\x00\x00\x18ftypmp42"
        sent = 0
        while sent < self.size:
            self.wfile.write(chunk)
            chunk[:12] = bytes(12)
            sent += len(chunk)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


def memory(tmp: Path) -> list[list[str]]:
    """Rows: what, length, peak RSS MiB (model loaded → peak), speed."""
    speech = make_speech(tmp / "speech.mp4")
    rows = []
    for minutes in (5, 60):
        video = loop_to(speech, minutes * 60, tmp / f"loop-{minutes}.mp4")
        for whole in (True, False):
            how = "one array (before)" if whole else "windows (`transcribe_source`)"
            print(f"memory: transcribing {minutes} min, {how} ...", file=sys.stderr, flush=True)
            r = _child(["--child-transcribe", str(video), *(["--whole"] if whole else [])])
            rows.append([f"transcribe {minutes} min, {how}", f"{r['audio']:.0f} s",
                         f"{r['loaded_mib']:.0f} → {r['peak_mib']:.0f}",
                         f"{r['audio'] / r['seconds']:.1f}×"])
            print(f"  {rows[-1]}", file=sys.stderr, flush=True)
        video.unlink()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _BigBody)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        print("memory: downloading 2 GiB ...", file=sys.stderr, flush=True)
        r = _child(["--child-download", f"http://127.0.0.1:{server.server_port}/big.mp4"])
    finally:
        server.shutdown()
    rows.append(["download 2 GiB (worker.fetch.download)", f"{r['bytes'] / 1024**3:.1f} GiB",
                 f"{r['before_mib']:.0f} → {r['peak_mib']:.0f}",
                 f"{r['bytes'] / 1024**2 / r['seconds']:.0f} MiB/s"])
    return rows


# -- output -------------------------------------------------------------------------------------


def _e2e(tmp: Path, reps: int) -> list[list[str]]:
    from benchmarks.end_to_end import e2e  # it uses this module's media and bare timings

    return e2e(tmp, reps)


def markdown(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


HEADERS = {
    "overhead": ("configuration", "bare faster-whisper", "`briefing transcribe`",
                 "pipeline/bare time (median)"),
    "choices": ("configuration", "speed (× real time)", "recall@5", "false clips",
                "words in silence"),
    "memory": ("process", "length", "peak RSS MiB (model loaded → peak)", "speed"),
    "e2e": ("mode", "audio s", "wall s (median)", "audio/wall", "speed / fastest bare",
            "videos searchable"),
}


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sections", default=",".join(SECTIONS),
                        help=f"comma-separated, of {', '.join(SECTIONS)}")
    parser.add_argument("--reps", type=int, default=5,
                        help="alternating repetitions (overhead, e2e)")
    parser.add_argument("--child-transcribe", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--child-download", help=argparse.SUPPRESS)
    parser.add_argument("--whole", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child_transcribe:
        print(json.dumps(child_transcribe(args.child_transcribe, args.whole)))
        return 0
    if args.child_download:
        print(json.dumps(child_download(args.child_download)))
        return 0
    chosen = [s.strip() for s in args.sections.split(",") if s.strip()]
    unknown = set(chosen) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections: {', '.join(sorted(unknown))}")
    runs: dict[str, Callable[[Path], list[list[str]]]] = {
        "overhead": lambda tmp: overhead(tmp, args.reps), "choices": choices,
        "memory": memory, "e2e": lambda tmp: _e2e(tmp, args.reps)}
    print(f"machine: {describe()}\n")
    for section in chosen:
        with tempfile.TemporaryDirectory(prefix=f"bench-{section}-") as tmp:
            rows = runs[section](Path(tmp))
        print(f"## {section}\n\n{markdown(HEADERS[section], rows)}\n", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
