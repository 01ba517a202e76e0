"""The ``e2e`` section of :mod:`benchmarks.transcription`: article to searchable clips.

An article linking the three spoken videos (82 s), served over HTTP on 127.0.0.1, ingested
inline and through the queue until every video's clips are searchable, beside bare
faster-whisper on the same files.  Run it with::

    python -m benchmarks.transcription --sections e2e
"""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from benchmarks.transcription import (
    MODEL,
    REPO,
    SPEECH,
    _ffmpeg,
    _fw_kwargs,
    bare_seconds,
)
from worker.pipeline import ModelProvider
from worker.speech.media import probe_duration
from worker.speech.transcribe import TranscribeOptions

E2E_REDIS = "redis://127.0.0.1:6379"
E2E_DB = 9  # claimed in database 0 the way tests/test_queue.py claims its own; flushed
E2E_READY_TIMEOUT = 180.0
E2E_WORKERS = 2
E2E_TIMEOUT = 600.0
# A phrase each video says (tests/fixtures/media and examples manifests): its clip found by
# this phrase is how we know a video is searchable.
E2E_PHRASES = {"briefing-a.mp4": "water supply", "briefing-b.mp4": "thousands of sandbags",
               "situation-report.mp4": "cargo ships"}


class _Files(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


class _Site:
    """Articles linking the three spoken videos, served over HTTP on 127.0.0.1."""

    def __init__(self, root: Path) -> None:
        root.mkdir()
        self.root = root
        self._server = ThreadingHTTPServer(("127.0.0.1", 0),
                                           functools.partial(_Files, directory=str(root)))
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def url(self, name: str) -> str:
        """The URL of *name* on this site."""
        return f"http://127.0.0.1:{self._server.server_port}/{name}"

    def article(self, tag: str) -> tuple[str, list[str]]:
        """A new article and its three video URLs; each video is remuxed with *tag* in its
        metadata, so its bytes (hence its id) are new and nothing earlier is reused."""
        names = [f"{tag}-{path.name}" for path in SPEECH]
        for path, name in zip(SPEECH, names, strict=True):
            _ffmpeg("-i", str(path), "-map", "0", "-c", "copy", "-metadata", f"comment={tag}",
                    "-f", "mp4", str(self.root / name))
        links = "".join(f'<p><a href="{n}">video {i}</a></p>' for i, n in enumerate(names))
        (self.root / f"{tag}.html").write_text(
            f"<html><head><title>Three briefings</title></head><body><h1>Three briefings</h1>"
            f"<p>Today's reports from the coast.</p>{links}</body></html>")
        return self.url(f"{tag}.html"), [self.url(n) for n in names]

    def close(self) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._server.server_close()


def _searchable(index_root: Path, video_urls: Sequence[str]) -> int:
    """How many of *video_urls* have a clip that a phrase the video says finds."""
    from indexer.domain import Clip
    from indexer.index import SearchIndex

    index = SearchIndex(index_root)
    try:
        found = 0
        for url in video_urls:
            phrase = next(p for name, p in E2E_PHRASES.items() if url.endswith(name))
            clips = index.search(f'"{phrase}"', limit=200, kind="clip")
            found += any(isinstance(c, Clip) and c.video_url == url for c in clips)
        return found
    finally:
        index.close()


def _inline_run(site: _Site, tag: str, provider: ModelProvider, data_dir: Path) -> float:
    """Seconds from ``ingest`` of a new article to its three videos searchable."""
    from benchmarks.search_quality import _context, _Timer
    from worker.pipeline import ingest

    article, videos = site.article(tag)
    ctx = _context(data_dir, provider, TranscribeOptions(), _Timer())
    try:
        started = time.perf_counter()
        report = ingest(article, ctx)
        wall = time.perf_counter() - started
    finally:
        ctx.index.close()
    problems = [f"{v.url}: {v.error}" for v in report.videos if v.state != "done"]
    searchable = _searchable(data_dir / "index", videos)
    if problems or searchable != len(videos):
        raise RuntimeError(f"end to end, inline: {searchable} searchable; {problems}")
    return wall


@contextlib.contextmanager
def _redis_db() -> Iterator[str]:
    """Our Redis database, claimed against test runs and flushed before and after."""
    import redis

    claims = redis.Redis.from_url(f"{E2E_REDIS}/0", socket_connect_timeout=2)
    claim = f"briefing:test-db:{E2E_DB}"
    if not claims.set(claim, f"benchmark {os.getpid()}", nx=True, ex=3600):
        raise RuntimeError(f"Redis database {E2E_DB} is claimed by {claims.get(claim)!r}")
    url = f"{E2E_REDIS}/{E2E_DB}"
    ours = redis.Redis.from_url(url)
    try:
        ours.flushdb()
        yield url
    finally:
        ours.flushdb()
        ours.close()
        claims.delete(claim)
        claims.close()


def _worker_env(data_dir: Path, broker_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRIEFING_")}
    env.update(BRIEFING_DATA_DIR=str(data_dir), BRIEFING_BROKER_URL=broker_url,
               BRIEFING_ALLOW_PRIVATE_NETWORKS="1")
    return env


def _ready(log: Path) -> bool:
    """True once a worker's log says it consumes and its pool process has loaded the model
    (each pool process loads it before its first task: worker.queue.tasks)."""
    text = log.read_text(errors="replace")
    return " ready." in text and "loaded Whisper model" in text


@contextlib.contextmanager
def _workers(count: int, data_dir: Path, broker_url: str, logs: Path) -> Iterator[None]:
    """*count* ``briefing worker`` processes with the default settings, each ready and with
    its model loaded; stopped (SIGTERM, then SIGKILL) at the end."""
    procs: list[tuple[subprocess.Popen[bytes], Path]] = []
    try:
        for n in range(count):
            log = logs / f"worker-{n}.log"
            with open(log, "wb") as sink:
                procs.append((subprocess.Popen(
                    [sys.executable, "-m", "api", "worker", "--name", f"bench{n}-{os.getpid()}@%h"],
                    stdout=sink, stderr=subprocess.STDOUT, env=_worker_env(data_dir, broker_url),
                    cwd=REPO, start_new_session=True), log))
        deadline = time.monotonic() + E2E_READY_TIMEOUT
        for proc, log in procs:
            while not _ready(log):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"a worker did not start:\n{log.read_text()[-3000:]}")
                time.sleep(0.1)
        yield
    finally:
        for proc, _ in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc, _ in procs:
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def _queued_run(site: _Site, tag: str, broker_url: str, data_dir: Path) -> float:
    """Seconds from submitting a new article to the queue to its job done and its three
    videos searchable (the job store is polled every 20 ms)."""
    from worker.queue.config import submit_ingest
    from worker.settings import Settings
    from worker.storage.jobs import JobStore

    article, videos = site.article(tag)
    settings = Settings(data_dir=data_dir, broker_url=broker_url, allow_private_networks=True)
    jobs = JobStore(data_dir / "jobs.sqlite3")
    started = time.perf_counter()
    job_id = submit_ingest(settings, jobs, article)
    while (job := jobs.get(job_id)) is None or job.state not in ("done", "failed"):
        if time.perf_counter() - started > E2E_TIMEOUT:
            raise RuntimeError(f"end to end, queued: job {job_id} not done after "
                               f"{E2E_TIMEOUT:.0f} s: {job}")
        time.sleep(0.02)
    searchable = _searchable(data_dir / "index", videos)
    wall = time.perf_counter() - started
    problems = [f"{v.url}: {v.error or v.state}" for v in job.videos if v.state != "done"]
    if job.state != "done" or problems or searchable != len(videos):
        raise RuntimeError(f"end to end, queued: job {job.state}, {searchable} searchable; "
                           f"{problems or job.error}")
    return wall


def _bare_run(provider: ModelProvider, kwargs: dict[str, Any], batch_size: int,
              _tag: str) -> float:
    """Seconds bare faster-whisper takes on the three videos, one after another."""
    return sum(bare_seconds(provider, path, kwargs, batch_size) for path in SPEECH)


def e2e(tmp: Path, reps: int) -> list[list[str]]:
    """Rows: mode, audio s, wall s, speed, share of the fastest bare speed, videos searchable.

    An article linking the three spoken videos (82 s), served over HTTP, ingested inline
    (``ingest``, as ``briefing ingest`` runs without a broker, model loaded) and through the
    queue (two ``briefing worker`` processes with default settings on Redis database
    ``E2E_DB``, started and their models loaded before timing), until every video's clips
    are searchable; beside them bare faster-whisper transcribing the same three files one
    after another.  One untimed warm-up run of each mode, then *reps* repetitions in
    rotating order; medians.
    """
    site = _Site(tmp / "site")
    audio = sum(probe_duration(p) for p in SPEECH)
    provider = ModelProvider(MODEL)
    provider.get()  # a running worker has its model loaded
    sequential = dict(language="en", word_timestamps=True)
    bare_modes: dict[str, tuple[dict[str, Any], int]] = {
        "bare faster-whisper, beam 5 + word timestamps": (sequential, 0),
        "bare faster-whisper, beam 1 + word timestamps":
        (_fw_kwargs(TranscribeOptions(beam_size=1)), 0),
        "bare batched, batch 8, beam 5 + word timestamps":
        (_fw_kwargs(TranscribeOptions(beam_size=5)), 8),
        "bare batched, batch 8, beam 1 + word timestamps":
        (_fw_kwargs(TranscribeOptions(beam_size=1)), 8)}
    inline, queued = "inline (`ingest`, model loaded)", f"{E2E_WORKERS} workers (queue, Redis)"
    walls: dict[str, list[float]] = {name: [] for name in (inline, queued, *bare_modes)}
    load = os.getloadavg()
    try:
        with _redis_db() as broker, _workers(E2E_WORKERS, tmp / "queue-data", broker, tmp):
            runs: dict[str, Callable[[str], float]] = {
                inline: lambda tag: _inline_run(site, tag, provider, tmp / "inline-data"),
                queued: lambda tag: _queued_run(site, tag, broker, tmp / "queue-data")}
            for name, (kwargs, batch) in bare_modes.items():
                runs[name] = functools.partial(_bare_run, provider, kwargs, batch)
            names = list(runs)
            for rep in range(-1, reps):
                for name in names[rep % len(names):] + names[:rep % len(names)]:
                    wall = runs[name](f"r{rep + 1}-{names.index(name)}")
                    if rep >= 0:
                        walls[name].append(wall)
                    print(f"e2e: {'warm-up' if rep < 0 else f'rep {rep + 1}'} {name}: "
                          f"{audio / wall:.1f}×", file=sys.stderr, flush=True)
    finally:
        site.close()
    median = {name: statistics.median(times) for name, times in walls.items()}
    fastest = min(median[name] for name in bare_modes)
    print(f"e2e: {audio:.0f} s of speech in 3 videos, {reps} repetitions; load average "
          f"{load[0]:.2f} before, {os.getloadavg()[0]:.2f} after (1 min), {os.cpu_count()} "
          "cores", file=sys.stderr)
    return [[name, f"{audio:.0f}", f"{median[name]:.2f}", f"{audio / median[name]:.1f}×",
             f"{fastest / median[name]:.2f}", "3/3" if name in (inline, queued) else "–"]
            for name in walls]
