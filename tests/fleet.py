"""Running the queue for real in tests: Redis on 127.0.0.1, `briefing worker` processes.

Each test run claims a Redis database of its own (15, or the next free one below it, so two
runs on one machine never share a queue; BRIEFING_TEST_REDIS_URL picks one instead), which is
flushed around every test. Each test gets a fresh data dir and the workers it starts, which
are killed (process group) when it ends. Registered as a plugin by tests/conftest.py.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis
from whoosh import index as windex

from tests.conftest import MEDIA, cli_env
from tests.siteserver import Site
from worker.queue.config import QUEUES
from worker.settings import Settings
from worker.storage.datadir import DataDir
from worker.storage.jobs import Job, JobStore, JobVideo

REPO = Path(__file__).resolve().parents[1]
REDIS = "redis://127.0.0.1:6379"
CLAIM_SECONDS = 3600
BRIEFING = [sys.executable, "-m", "api"]
# Retries come quickly in tests; everything else is the shipped default.
QUICK = {"BRIEFING_RETRY_BACKOFF": "0.5", "BRIEFING_MAX_RETRIES": "3"}
TRANSCRIBED = re.compile(r"transcribed video (\w+)")


# -- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A Redis database for this test run alone (claimed with a key in database 0)."""
    chosen = os.environ.get("BRIEFING_TEST_REDIS_URL")
    if chosen:
        yield chosen
        return
    claims = redis.Redis.from_url(f"{REDIS}/0", socket_connect_timeout=2)
    try:
        claims.ping()
    except redis.exceptions.ConnectionError as exc:
        pytest.fail(f"the queue tests need Redis at {REDIS}: {exc}")
    token = f"{os.getpid()}@{time.time()}"
    for number in range(15, 0, -1):
        if claims.set(f"briefing:test-db:{number}", token, nx=True, ex=CLAIM_SECONDS):
            break
    else:
        pytest.fail("Redis databases 1-15 are all claimed by other test runs")
    yield f"{REDIS}/{number}"
    if claims.get(f"briefing:test-db:{number}") == token.encode():
        claims.delete(f"briefing:test-db:{number}")
    claims.close()


@pytest.fixture
def broker(redis_url: str) -> Iterator[str]:
    client = redis.Redis.from_url(redis_url, socket_connect_timeout=2)
    client.flushdb()
    yield redis_url
    client.flushdb()
    client.close()


@dataclass
class Worker:
    """A `briefing worker` process group and its log."""

    proc: subprocess.Popen[bytes]
    log: Path

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def transcribed(self) -> list[str]:
        return TRANSCRIBED.findall(self.text())

    def kill(self) -> None:
        """SIGKILL the main process and its pool, as a power cut or the OOM killer would."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)


@dataclass
class Fleet:
    """Starts workers on one data dir and broker; kills them all at the end of the test."""

    data_dir: Path
    broker_url: str
    logs: Path
    workers: list[Worker] = field(default_factory=list)

    def env(self, **extra: str) -> dict[str, str]:
        return cli_env(self.data_dir, BRIEFING_BROKER_URL=self.broker_url, **QUICK, **extra)

    def start(self, *, concurrency: int = 1, queues: str = ",".join(QUEUES),
              module: str = "api", **env: str) -> Worker:
        n = len(self.workers)
        log = self.logs / f"worker-{n}.log"
        with open(log, "wb") as sink:
            proc = subprocess.Popen(
                [sys.executable, "-m", module, "worker", "-Q", queues, "-c", str(concurrency),
                 "--name", f"test{n}-{os.getpid()}@%h"],
                stdout=sink, stderr=subprocess.STDOUT, env=self.env(**env), cwd=REPO,
                start_new_session=True)
        started = Worker(proc, log)
        self.workers.append(started)
        wait_for(lambda: " ready." in started.text() or proc.poll() is not None, 60,
                 f"worker {n} to start")
        assert proc.poll() is None, started.text()[-3000:]
        return started

    def stop(self) -> None:
        for running in self.workers:
            with contextlib.suppress(ProcessLookupError, subprocess.TimeoutExpired):
                running.kill()

    def transcribed(self) -> list[str]:
        return [video for w in self.workers for video in w.transcribed()]

    def logs_text(self) -> str:
        return "\n".join(f"--- {w.log.name}\n{w.text()[-4000:]}" for w in self.workers)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def fleet(data_dir: Path, broker: str, tmp_path: Path) -> Iterator[Fleet]:
    running = Fleet(data_dir, broker, tmp_path)
    yield running
    running.stop()


@pytest.fixture
def settings(data_dir: Path, broker: str) -> Settings:
    return Settings(data_dir=data_dir, broker_url=broker, allow_private_networks=True)


@pytest.fixture
def store(data_dir: Path) -> JobStore:
    return JobStore(DataDir(data_dir).jobs_db)


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.05)


def wait_job(store: JobStore, job_id: str, fleet: Fleet, timeout: float = 120) -> Job:
    def finished() -> bool:
        job = store.get(job_id)
        return job is not None and job.state in ("done", "failed")

    try:
        wait_for(finished, timeout, f"job {job_id}")
    except AssertionError as exc:
        raise AssertionError(f"{exc}: {store.get(job_id)}\n{fleet.logs_text()}") from None
    job = store.get(job_id)
    assert job is not None
    return job


def video(job: Job | None, name: str) -> JobVideo:
    assert job is not None
    (found,) = [v for v in job.videos if v.url.rsplit("/", 1)[-1].split("?")[0] == name]
    return found


def state_of(store: JobStore, job_id: str, name: str) -> str:
    """A video's state in a job, or "" while the article has not been read."""
    job = store.get(job_id)
    names = {v.url.rsplit("/", 1)[-1]: v.state for v in job.videos} if job else {}
    return names.get(name, "")


def page(*links: str, title: str = "Queued report", text: str = "") -> str:
    anchors = " ".join(f'<a href="{link}">video {n}</a>' for n, link in enumerate(links))
    return (f"<html><head><title>{title}</title></head><body><article><h1>{title}</h1>"
            f"<p>{text} Watch: {anchors}</p></article></body></html>")


def publish(site: Site, folder: str, **files: str) -> None:
    """Serve copies of fixture MP4s under *folder* (names -> fixture names)."""
    (site.root / folder).mkdir(exist_ok=True)
    for name, fixture in files.items():
        shutil.copy(MEDIA / fixture, site.root / folder / name)


def hits(site: Site, path: str) -> int:
    return sum(1 for hit in site.hits if hit.split("?")[0] == path)


def segment_ids(data_dir: Path, video_id: str) -> list[str]:
    """Ids of the index documents of one video, read straight from Whoosh."""
    root = DataDir(data_dir).index_root
    ix = windex.open_dir(str(root / (root / "CURRENT").read_text().strip()))
    with ix.searcher() as searcher:
        return sorted(doc["id"] for doc in searcher.documents(video_id=video_id))


def cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*BRIEFING, *args], capture_output=True, text=True, timeout=180,
                          env=env, cwd=REPO)


# -- a Redis of a test's own -------------------------------------------------------------------


class PrivateRedis:
    """A redis-server of our own on a free port, persisting to an append-only file."""

    def __init__(self, folder: Path, *, persistent: bool = True) -> None:
        self.folder = folder
        self.persistent = persistent  # False: a restart loses every queued message
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = int(sock.getsockname()[1])
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [shutil.which("redis-server") or "redis-server", "--port", str(self.port),
             "--bind", "127.0.0.1", "--dir", str(self.folder), "--save", "",
             "--appendonly", "yes" if self.persistent else "no", "--appendfsync", "always"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(self._answers, 20, "redis-server to start")

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        """Shut down as an operator would (SIGTERM: Redis writes its append-only file)."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=30)

    def crash(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path)
    server.start()
    yield server
    if server.proc is not None and server.proc.poll() is None:
        server.proc.kill()
        server.proc.wait(timeout=10)
