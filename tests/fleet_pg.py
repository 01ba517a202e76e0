"""A fleet on one machine, driven only from outside: `briefing` processes, HTTP and PostgreSQL.

Two `briefing serve` and two `briefing worker` processes share what a fleet of machines
shares and nothing else: one Redis database (tests/fleet.py's), one PostgreSQL database and
the media folder (BRIEFING_DATA_DIR). Each process has its own scratch dir
(BRIEFING_SCRATCH_DIR), HOME, caches and TMPDIR, as separate machines would. Processes are
started in a session of their own and killed by process group, as tests/fleet.py does.

`PrivatePostgres` is a throw-away PostgreSQL server of a test's own (initdb in a temporary
folder, a free port): the test that restarts PostgreSQL mid-job restarts that one, so other
test sessions on the machine never see the machine's server go away.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg

from tests.conftest import cli_env
from tests.fleet import BRIEFING, QUICK, REPO, Worker, wait_for

__all__ = ["Api", "PgFleet", "PrivatePostgres", "free_port", "not_media", "stored_files"]

FINISHED = ("done", "failed")


def free_port() -> int:
    """A port nothing listens on now (the OS picks; the tiny race is acceptable in tests)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _tail(path: Path, chars: int = 4000) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError:
        return "(no log)"


@dataclass
class Api:
    """A `briefing serve` process group on a port of its own."""

    name: str
    proc: subprocess.Popen[bytes]
    log: Path
    url: str

    def get(self, path: str, **params: Any) -> httpx.Response:
        return httpx.get(self.url + path, params=params, timeout=30)

    def post(self, path: str, body: dict[str, Any]) -> httpx.Response:
        return httpx.post(self.url + path, json=body, timeout=30)

    def job(self, job_id: str) -> dict[str, Any] | None:
        """The job as GET /jobs/{id} shows it, or None while this API cannot answer."""
        try:
            answer = self.get(f"/jobs/{job_id}")
        except httpx.HTTPError:
            return None
        if answer.status_code != 200:
            return None
        shown: dict[str, Any] = answer.json()
        return shown

    def clips(self, phrase: str) -> list[dict[str, Any]]:
        """Every clip GET /search returns for a quoted phrase (all pages)."""
        found: list[dict[str, Any]] = []
        offset: int | None = 0
        while offset is not None:
            answer = self.get("/search", q=f'"{phrase}"', type="clip", limit=50, offset=offset)
            assert answer.status_code == 200, (answer.status_code, answer.text)
            page = answer.json()
            found += page["results"]
            offset = page["next_offset"]
        return found

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)


@dataclass
class PgFleet:
    """The processes of one test, sharing *media*, *broker_url* and *database_url*.

    Without a database URL the same processes run on the embedded store (SQLite and Whoosh in
    the shared data dir), which is how one machine runs a fleet today.
    """

    root: Path
    broker_url: str
    database_url: str | None
    apis: list[Api] = field(default_factory=list)
    workers: list[Worker] = field(default_factory=list)
    names: dict[int, str] = field(default_factory=dict)  # worker process id -> its name

    @property
    def media(self) -> Path:
        """The one folder every process shares (BRIEFING_DATA_DIR)."""
        return self.root / "media"

    def own(self, name: str) -> Path:
        """The local folder of the process called *name* (its scratch dir, HOME, caches)."""
        return self.root / "local" / name

    def env(self, name: str, **extra: str) -> dict[str, str]:
        local = self.own(name)
        for sub in ("scratch", "home", "cache", "tmp"):
            (local / sub).mkdir(parents=True, exist_ok=True)
        values = {"BRIEFING_BROKER_URL": self.broker_url,
                  "BRIEFING_SCRATCH_DIR": str(local / "scratch"),
                  "HOME": str(local / "home"), "XDG_CACHE_HOME": str(local / "cache"),
                  "TMPDIR": str(local / "tmp"), **QUICK}
        if self.database_url:
            values["BRIEFING_DATABASE_URL"] = self.database_url
        values.update(extra)
        return cli_env(self.media, **values)

    def cli(self, *args: str, name: str = "cli") -> subprocess.CompletedProcess[str]:
        return subprocess.run([*BRIEFING, *args], capture_output=True, text=True, timeout=180,
                              env=self.env(name), cwd=REPO)

    def upgrade(self) -> None:
        """`briefing db upgrade`, once, before any process starts (the compose `migrate`)."""
        if not self.database_url:
            return
        done = self.cli("db", "upgrade", name="migrate")
        assert done.returncode == 0, done.stdout + done.stderr

    def start_worker(self, name: str, **env: str) -> Worker:
        log = self.root / f"{name}.log"
        with open(log, "wb") as sink:
            proc = subprocess.Popen(
                [*BRIEFING, "worker", "-c", "1", "--name", f"{name}-{os.getpid()}@%h"],
                stdout=sink, stderr=subprocess.STDOUT, env=self.env(name, **env), cwd=REPO,
                start_new_session=True)
        started = Worker(proc, log)
        self.workers.append(started)
        self.names[proc.pid] = name
        wait_for(lambda: " ready." in started.text() or proc.poll() is not None, 60,
                 f"{name} to start")
        assert proc.poll() is None, started.text()[-3000:]
        return started

    def start_api(self, name: str, **env: str) -> Api:
        port = free_port()
        log = self.root / f"{name}.log"
        with open(log, "wb") as sink:
            proc = subprocess.Popen([*BRIEFING, "serve", "--port", str(port)],
                                    stdout=sink, stderr=subprocess.STDOUT,
                                    env=self.env(name, **env), cwd=REPO, start_new_session=True)
        api = Api(name, proc, log, f"http://127.0.0.1:{port}")
        self.apis.append(api)

        def healthy() -> bool:
            if proc.poll() is not None:
                return True
            with contextlib.suppress(httpx.HTTPError):
                return api.get("/healthz").status_code == 200
            return False

        wait_for(healthy, 60, f"{name} to answer /healthz")
        assert proc.poll() is None, _tail(log)
        return api

    def worker_running(self, task: str) -> Worker:
        """The worker whose log shows it received a *task* message (and only one did)."""
        holders = [w for w in self.workers if f"Task briefing.{task}[" in w.text()]
        assert len(holders) == 1, self.logs()
        return holders[0]

    def wait_job(self, api: Api, job_id: str, timeout: float = 180) -> dict[str, Any]:
        """Poll GET /jobs/{id} until the job is done or failed (errors in between allowed)."""
        seen: list[dict[str, Any] | None] = [None]

        def finished() -> bool:
            seen[0] = api.job(job_id) or seen[0]
            return seen[0] is not None and seen[0]["state"] in FINISHED

        try:
            wait_for(finished, timeout, f"job {job_id}")
        except AssertionError as exc:
            raise AssertionError(f"{exc}: {seen[0]}\n{self.logs()}") from None
        assert seen[0] is not None
        return seen[0]

    def wait_video_state(self, api: Api, job_id: str, state: str, timeout: float = 90) -> None:
        def reached() -> bool:
            job = api.job(job_id)
            return job is not None and any(v["state"] == state for v in job["videos"])

        try:
            wait_for(reached, timeout, f"a video of job {job_id} to be {state}")
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{self.logs()}") from None

    def logs(self) -> str:
        parts = [f"--- {a.name}\n{_tail(a.log)}" for a in self.apis]
        parts += [f"--- {self.names.get(w.proc.pid, w.log.name)}\n{w.text()[-4000:]}"
                  for w in self.workers]
        return "\n".join(parts)

    def stop(self) -> None:
        for api in self.apis:
            with contextlib.suppress(ProcessLookupError, subprocess.TimeoutExpired):
                api.kill()
        for running in self.workers:
            with contextlib.suppress(ProcessLookupError, subprocess.TimeoutExpired):
                running.kill()


def stored_files(folder: Path) -> list[str]:
    """Every file under *folder*, as paths relative to it."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def not_media(folder: Path) -> list[str]:
    """What under the shared data dir is not media (stored videos, cut clips).

    With a database, records, transcripts, jobs, locks and the index live elsewhere: any
    SQLite file, index folder, JSON record or scratch file here would be shared state on a
    volume that cannot hold it safely.
    """
    wrong = [p for p in stored_files(folder)
             if not (p.startswith("videos/") and Path(p).name.startswith("video.")
                     and not p.endswith((".json", ".part")))
             and not p.startswith("clips/")]
    wrong += [str(p.relative_to(folder)) + "/" for p in folder.rglob("index*") if p.is_dir()]
    wrong += [p for p in stored_files(folder) if ".sqlite3" in p and p not in wrong]
    return sorted(wrong)


# -- a PostgreSQL server of a test's own ------------------------------------------------------


def _bindir() -> Path:
    """The newest installed PostgreSQL's programs (Debian: /usr/lib/postgresql/<n>/bin)."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"),
                   key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit()
                   else 0)
    assert found, "the fleet tests need PostgreSQL's server programs (Debian: postgresql)"
    return found[-1].parent


class PrivatePostgres:
    """initdb'd into a temporary folder, listening on 127.0.0.1 and a free port, trust auth.

    The server refuses to run as root, so as root it runs as the `postgres` user the Debian
    package creates. Everything it writes stays in its own folder, removed by `remove`.
    """

    def __init__(self) -> None:
        self.bindir = _bindir()
        self.folder = Path(tempfile.mkdtemp(prefix="briefing-fleet-pg-"))
        self.port = free_port()
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            self.as_user = [shutil.which("runuser") or "/usr/sbin/runuser", "-u", "postgres",
                            "--"]
            shutil.chown(self.folder, "postgres", "postgres")

    @property
    def pgdata(self) -> Path:
        return self.folder / "data"

    def _run(self, *args: str, timeout: float = 120) -> None:
        subprocess.run([*self.as_user, *args], check=True, timeout=timeout,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def init(self) -> None:
        self._run(str(self.bindir / "initdb"), "-D", str(self.pgdata), "-U", "postgres",
                  "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8")
        with open(self.pgdata / "postgresql.conf", "a") as conf:
            conf.write(f"\nlisten_addresses = '127.0.0.1'\nport = {self.port}\n"
                       f"unix_socket_directories = '{self.folder}'\n"
                       # A test's database need not survive a power cut; restarts stay quick.
                       "fsync = off\nfull_page_writes = off\nmax_connections = 60\n")

    def pg_ctl(self, action: str) -> None:
        """start / restart / stop, waiting until done (`-m fast`: connections are cut)."""
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.pgdata), "-w", "-t", "60",
                  "-m", "fast", "-l", str(self.folder / "server.log"), action)

    def ready(self) -> bool:
        done = subprocess.run([str(self.bindir / "pg_isready"), "-q", "-h", "127.0.0.1",
                               "-p", str(self.port)], check=False, timeout=30)
        return done.returncode == 0

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"

    def create_database(self, name: str) -> str:
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def remove(self) -> None:
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            self.pg_ctl("stop")
        shutil.rmtree(self.folder, ignore_errors=True)
