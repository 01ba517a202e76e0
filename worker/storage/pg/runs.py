"""Runs on PostgreSQL: runner processes of many machines told alive from dead.

The embedded store tells a live run by a file lock in the shared data dir, which holds only
on one machine.  Here a run is a row in ``runs`` and an advisory lock its process holds on a
session of its own (not a pooled connection, which would hand the lock to whoever borrows
it next).  The server drops the lock when that session ends, which is when the process dies
(its socket closes), so any process on any machine reading ``pg_locks`` sees the run dead.

The lock also goes when the session does for other reasons (the database restarts, an
administrator ends the backend): a thread of the run checks its session every second and,
when it is gone, reconnects and takes the lock again, so a live run looks dead no longer
than the database takes to come back.  Scratch folders sit under BRIEFING_SCRATCH_DIR, local
to each machine; a sweep removes only folders named with our prefix under the root it was
given, of runs this database knows and sees dead, and (for runs of this host) whose process
is gone too, so even a run between reconnects keeps its files.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import secrets
import shutil
import socket
import threading
import time
from pathlib import Path
from typing import Any

import psycopg

from worker.errors import StoreUnavailableError
from worker.storage.pg.pool import redact, transaction
from worker.storage.runs import SweepReport

__all__ = ["SCRATCH_PREFIX", "SESSION", "PgRun", "PgRuns"]

log = logging.getLogger(__name__)

# Scratch folders of our runs: distinct from the embedded runs' "run-", so neither kind ever
# sweeps the other's should both share a folder.
SCRATCH_PREFIX = "pgrun-"
# The first key of the two-key advisory lock of a run (its second key is runs.lock_key): a
# space of its own, apart from the one-key locks of worker.pipeline.locks.PgLocks.
LOCK_NAMESPACE = 0x62726E  # "brn"

# A session that holds a lock (a run's, worker.pipeline.locks.PgLocks'): a dead network or
# machine is noticed within ~25 s on both ends (keepalives), not after TCP's minutes.
SESSION: dict[str, Any] = {"connect_timeout": 10, "keepalives": 1, "keepalives_idle": 10,
            "keepalives_interval": 5, "keepalives_count": 3, "tcp_user_timeout": 20000,
            "options": "-c tcp_keepalives_idle=10 -c tcp_keepalives_interval=5 "
                       "-c tcp_keepalives_count=3",
            "application_name": "briefing"}

_ALIVE = ("SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted"
          " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
          " AND classid = %s AND objid = %s AND objsubid = 2)")


class PgRun:
    """This process's run: its id, its scratch folder, and the session holding its lock."""

    def __init__(self, url: str, run_id: str, key: int, scratch: Path,
                 conn: psycopg.Connection[Any], check_every: float) -> None:
        self.url = url
        self.id = run_id
        self.key = key
        self.scratch = scratch
        self._conn = conn
        self._pid = os.getpid()
        self._check_every = check_every
        self._stop = threading.Event()
        self.retaken = 0  # times the lock was taken again after the session was lost
        self._keeper = threading.Thread(target=self._keep, name=f"run {run_id}", daemon=True)
        self._keeper.start()

    def _keep(self) -> None:
        while not self._stop.wait(self._check_every):
            try:
                self._conn.execute("SELECT 1")
                continue
            except psycopg.Error as exc:
                log.warning("run %s lost its database session (%s): reconnecting", self.id,
                            str(exc).strip() or type(exc).__name__)
            with contextlib.suppress(psycopg.Error):
                self._conn.close()
            while not self._stop.is_set():
                try:
                    self._conn = self._retake()
                    self.retaken += 1
                    log.info("run %s holds its lock again", self.id)
                    break
                except (psycopg.Error, StoreUnavailableError):
                    # The database is still away, or the old session still holds the lock
                    # (the server has not yet noticed it is gone): try again shortly.
                    self._stop.wait(self._check_every)

    def _retake(self) -> psycopg.Connection[Any]:
        conn = _session(self.url)
        try:
            _take(conn, self.key)
            # A sweeper may have dropped the row while the lock was away.
            conn.execute("INSERT INTO runs (id, lock_key, host, pid, started) "
                         "OVERRIDING SYSTEM VALUE VALUES (%s, %s, %s, %s, %s) "
                         "ON CONFLICT DO NOTHING",
                         (self.id, self.key, socket.gethostname(), os.getpid(), time.time()))
        except BaseException:
            conn.close()
            raise
        return conn

    def release(self) -> None:
        """Give the run up: its scratch folder, its row and its lock (at exit; idempotent;
        nothing in a forked child, which does not own the run)."""
        if os.getpid() != self._pid or self._stop.is_set():
            return
        self._stop.set()
        self._keeper.join()
        shutil.rmtree(self.scratch, ignore_errors=True)
        with contextlib.suppress(psycopg.Error):
            self._conn.execute("DELETE FROM runs WHERE id = %s", (self.id,))
        with contextlib.suppress(psycopg.Error):
            self._conn.close()  # the lock goes with the session


def _session(url: str) -> psycopg.Connection[Any]:
    return psycopg.connect(url, autocommit=True, **SESSION)


def _take(conn: psycopg.Connection[Any], key: int) -> None:
    row = conn.execute("SELECT pg_try_advisory_lock(%s, %s)", (LOCK_NAMESPACE, key)).fetchone()
    if not row or not row[0]:  # only this run ever takes its key
        raise StoreUnavailableError(f"the lock of run {key} is held by another session")


class PgRuns:
    """Runs recorded in PostgreSQL, with their scratch folders under a local root."""

    def __init__(self, url: str, scratch_root: Path, *, check_every: float = 1.0) -> None:
        """Runs in the database at *url* (schema current), scratch folders under
        *scratch_root* (BRIEFING_SCRATCH_DIR: a local folder of this machine, never one
        shared with others).  A run checks its session every *check_every* seconds."""
        self.url = url
        self.scratch_root = scratch_root
        self.check_every = check_every

    def claim(self) -> PgRun:
        """Claim a new run for this process: its row, its lock, then its scratch folder
        (so a sweeper never sees the folder of a run not yet locked)."""
        run_id = f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"
        try:
            conn = _session(self.url)
        except psycopg.OperationalError as exc:
            raise StoreUnavailableError(f"database {redact(self.url)}: {exc}".strip()) from exc
        try:
            row = conn.execute("INSERT INTO runs (id, host, pid, started) "
                               "VALUES (%s, %s, %s, %s) RETURNING lock_key",
                               (run_id, socket.gethostname(), os.getpid(),
                                time.time())).fetchone()
            assert row is not None
            _take(conn, int(row[0]))
            scratch = self.scratch_root / f"{SCRATCH_PREFIX}{run_id}"
            scratch.mkdir(parents=True, exist_ok=True)
        except psycopg.OperationalError as exc:
            conn.close()
            raise StoreUnavailableError(f"database {redact(self.url)}: {exc}".strip()) from exc
        except BaseException:
            conn.close()
            raise
        run = PgRun(self.url, run_id, int(row[0]), scratch, conn, self.check_every)
        atexit.register(run.release)
        return run

    def alive(self, run_id: str) -> bool:
        """Whether the run *run_id* holds its lock now (an unknown run is not alive)."""
        with transaction(self.url) as db:
            row = db.execute("SELECT lock_key FROM runs WHERE id = %s", (run_id,)).fetchone()
            if row is None:
                return False
            found = db.execute(_ALIVE, (LOCK_NAMESPACE, row["lock_key"])).fetchone()
        return bool(found and found["exists"])

    def sweep(self, *, loose_age: float | None = None) -> SweepReport:
        """Remove the scratch folders of dead runs under our root, and their rows.

        Only folders named ``pgrun-<id>`` directly under the root, of runs this database
        knows: anything else there (another store's runs, a user's files) is left alone.
        *loose_age* is accepted for the interface: no loose temp files are kept here.
        """
        runs = size = 0
        if not self.scratch_root.is_dir():
            return SweepReport()
        host = socket.gethostname()
        for scratch in sorted(self.scratch_root.glob(f"{SCRATCH_PREFIX}*")):
            run_id = scratch.name.removeprefix(SCRATCH_PREFIX)
            if scratch.is_symlink() or not scratch.is_dir() or not self._dead(run_id, host):
                continue
            with contextlib.suppress(OSError):
                size += sum(p.stat().st_size for p in scratch.rglob("*") if p.is_file())
            shutil.rmtree(scratch, ignore_errors=True)
            with transaction(self.url) as db:
                db.execute("DELETE FROM runs WHERE id = %s", (run_id,))
            runs += 1
        if runs:
            log.info("removed what %d dead runs left (%d bytes)", runs, size)
        return SweepReport(runs, 0, size)

    def _dead(self, run_id: str, host: str) -> bool:
        with transaction(self.url) as db:
            row = db.execute("SELECT lock_key, host, pid FROM runs WHERE id = %s",
                             (run_id,)).fetchone()
            if row is None:
                return False  # not a run of this database's: not ours to judge
            found = db.execute(_ALIVE, (LOCK_NAMESPACE, row["lock_key"])).fetchone()
        if found and found["exists"]:
            return False
        # A run of this host whose process still exists may be between reconnects.
        return row["host"] != host or not _process_exists(row["pid"])


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
