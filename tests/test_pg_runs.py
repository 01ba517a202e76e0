"""Runs on PostgreSQL: a killed run is seen dead and its scratch swept, a live one never; a
lost session is taken up again; an unreachable database is a transient error, not a hang."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from tests.fleet import REPO
from worker.errors import StoreUnavailableError, is_transient
from worker.storage.pg.jobs import PgJobStore
from worker.storage.pg.runs import LOCK_NAMESPACE, SCRATCH_PREFIX, PgRuns
from worker.storage.runs import FileRuns, interrupted

CLAIMER = """
import sys, time
from pathlib import Path
from worker.storage.pg.runs import PgRuns
run = PgRuns(sys.argv[1], Path(sys.argv[2])).claim()
(run.scratch / "audio-1.s16le").write_bytes(b"x" * 1000)
print(run.id, flush=True)
time.sleep(120)
"""


def _wait(check: Callable[[], bool], seconds: float, what: str) -> None:
    give_up = time.monotonic() + seconds
    while not check():
        if time.monotonic() > give_up:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _claim_in_subprocess(url: str, root: Path) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen([sys.executable, "-c", CLAIMER, url, str(root)], cwd=REPO,
                            stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.stdout is not None
    return proc, proc.stdout.readline().strip()


def _holders(url: str, run_id: str) -> list[int]:
    """The backends holding *run_id*'s lock."""
    with psycopg.connect(url, autocommit=True) as conn:
        return [row[0] for row in conn.execute(
            "SELECT l.pid FROM pg_locks l JOIN runs r ON l.objid = r.lock_key "
            "WHERE l.locktype = 'advisory' AND l.classid = %s AND l.objsubid = 2 "
            "AND l.granted AND r.id = %s", (LOCK_NAMESPACE, run_id))]


def test_a_killed_run_is_seen_dead_and_only_its_scratch_is_swept(pg_url: str,
                                                                tmp_path: Path) -> None:
    root, other = tmp_path / "scratch", tmp_path / "other-scratch"
    runs = PgRuns(pg_url, root)
    proc, killed = _claim_in_subprocess(pg_url, root)
    other_proc, elsewhere = _claim_in_subprocess(pg_url, other)
    live = runs.claim()
    (live.scratch / "download-1.part").write_bytes(b"y" * 10)
    # What is not ours under the root: a user's file, an embedded run's folder, a folder
    # with our prefix that this database never heard of.
    (root / "notes.txt").write_text("keep me")
    (root / "run-somehost-1-abc").mkdir()
    (root / f"{SCRATCH_PREFIX}otherhost-1-abcdef").mkdir()
    try:
        assert runs.alive(killed) and runs.alive(live.id) and runs.alive(elsewhere)
        assert runs.sweep().runs == 0  # everyone alive: nothing to sweep
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        other_proc.send_signal(signal.SIGKILL)
        other_proc.wait(timeout=30)
        _wait(lambda: not runs.alive(killed), 10, "the killed run to be seen dead")
        assert interrupted(runs, f"inline {killed}")
        assert not interrupted(runs, f"inline {live.id}")
        assert (root / f"{SCRATCH_PREFIX}{killed}" / "audio-1.s16le").exists()

        report = runs.sweep()
        assert (report.runs, report.bytes) == (1, 1000)
        assert not (root / f"{SCRATCH_PREFIX}{killed}").exists()
        assert (live.scratch / "download-1.part").read_bytes() == b"y" * 10
        assert (root / "notes.txt").read_text() == "keep me"
        assert (root / "run-somehost-1-abc").is_dir()
        assert (root / f"{SCRATCH_PREFIX}otherhost-1-abcdef").is_dir()
        # The other root's dead run is not this root's to sweep.
        assert (other / f"{SCRATCH_PREFIX}{elsewhere}" / "audio-1.s16le").exists()
        assert not runs.alive("no-such-run")
    finally:
        for p in (proc, other_proc):
            if p.poll() is None:
                p.kill()
                p.wait()
        live.release()
    assert not live.scratch.exists() and not runs.alive(live.id)


def test_an_embedded_sweep_leaves_postgres_runs_scratch_alone(pg_url: str,
                                                             tmp_path: Path) -> None:
    # Both kinds pointed at one folder (a misconfiguration) still never sweep each other.
    data = tmp_path / "data"
    pg_runs = PgRuns(pg_url, data / "tmp")
    run = pg_runs.claim()
    try:
        (run.scratch / "audio.s16le").write_bytes(b"z")
        FileRuns(data).sweep()
        assert (run.scratch / "audio.s16le").exists()
    finally:
        run.release()


def test_a_run_whose_session_was_killed_takes_its_lock_again(pg_url: str,
                                                            tmp_path: Path) -> None:
    runs = PgRuns(pg_url, tmp_path / "scratch", check_every=0.2)
    run = runs.claim()
    try:
        (holder,) = _holders(pg_url, run.id)
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute("SELECT pg_terminate_backend(%s)", (holder,))
        _wait(lambda: _holders(pg_url, run.id) not in ([], [holder]), 10,
              "the run to take its lock again")
        assert runs.alive(run.id) and run.retaken == 1
        # A sweep meanwhile or after never takes a live run's files.
        assert runs.sweep().runs == 0 and run.scratch.is_dir()
    finally:
        run.release()
    assert not runs.alive(run.id)


def _closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"postgresql://postgres@127.0.0.1:{port}/briefing"


def test_an_unreachable_database_is_a_transient_error_not_a_hang(tmp_path: Path) -> None:
    url = _closed_port_url()
    runs = PgRuns(url, tmp_path / "scratch")
    with pytest.raises(StoreUnavailableError) as raised:
        runs.claim()
    assert is_transient(raised.value) and "password" not in str(raised.value)
    assert not (tmp_path / "scratch").exists()
    store = PgJobStore(url, runs)
    started = time.monotonic()
    with pytest.raises(StoreUnavailableError) as raised:
        store.create("https://example.org/a")
    assert is_transient(raised.value)
    assert time.monotonic() - started < 60  # the pool's wait, not forever
