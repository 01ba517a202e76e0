"""Named locks on PostgreSQL: the :class:`worker.pipeline.locks.Locks` of inline runners
(``briefing serve``'s in-process worker, ``briefing ingest``) that share a database and no
broker.

A lock is a session-level advisory lock on the 64-bit hash of its name.  The server drops
it when the holder's session ends: at once when its process dies (the socket closes), within
~25 s when its machine or network goes (keepalives on both ends): that is the lease.  While
held, nothing needs renewing; a holder whose session is lost (a database restart) has lost
the lock with it and works on: as with the broker's lapsed lease, the on-disk checks and
atomic writes make that duplicate work at worst, never a wrong result.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import threading
import time
from collections.abc import Iterator
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from worker.errors import LockBusyError, StoreUnavailableError
from worker.storage.pg.pool import WAIT_SECONDS, redact
from worker.storage.pg.runs import SESSION

__all__ = ["PgLocks"]

log = logging.getLogger(__name__)


# How often a lock with a finite wait is tried again (as worker.storage.files does).
_POLL = 0.05


class PgLocks:
    """Named locks as PostgreSQL advisory locks (every machine reaching one database).

    Each held lock has a session of its own from a small pool of this object's: a session
    holds its advisory locks for whoever runs on it, so two threads sharing one would not
    exclude each other.
    """

    def __init__(self, url: str, *, size: int = 16) -> None:
        """Locks in the database at *url*; at most *size* held at once by this process."""
        self.url = url
        self.size = size
        self._pool: tuple[int, ConnectionPool] | None = None
        self._guard = threading.Lock()

    def _sessions(self) -> ConnectionPool:
        # Per process: a forked child must not share its parent's sockets.
        with self._guard:
            if self._pool is None or self._pool[0] != os.getpid():
                pool: ConnectionPool = ConnectionPool(
                    self.url, min_size=0, max_size=self.size, open=False,
                    timeout=WAIT_SECONDS, check=ConnectionPool.check_connection,
                    kwargs={"autocommit": True, **SESSION},
                    # A lock never outlives its hold, even when an unlock was lost.
                    reset=_unlock_all,
                    name=f"briefing-locks-{os.getpid()}")
                pool.open(wait=False)
                self._pool = (os.getpid(), pool)
            return self._pool[1]

    @contextlib.contextmanager
    def hold(self, name: str, *, wait: float = math.inf) -> Iterator[None]:
        """See :class:`Locks`."""
        sessions = self._sessions()
        try:
            conn = sessions.getconn()
        except PoolTimeout as exc:
            raise StoreUnavailableError(f"database {redact(self.url)} did not answer in time"
                                        ) from exc
        key = f"briefing:lock:{name}"
        try:
            _acquire(conn, name, key, wait)
        except psycopg.OperationalError as exc:
            sessions.putconn(conn)
            raise StoreUnavailableError(f"database {redact(self.url)}: {exc}".strip()) from exc
        except BaseException:
            sessions.putconn(conn)
            raise
        try:
            yield
        finally:
            try:
                conn.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", (key,))
            except psycopg.Error as exc:
                # The session is gone, and the lock with it; raising here would replace the
                # block's own outcome.
                log.warning("could not release lock %s (%s); it went with its session", name,
                            exc)
            sessions.putconn(conn)

    def close(self) -> None:
        """Close this process's sessions (held locks go with them)."""
        with self._guard:
            held, self._pool = self._pool, None
        if held is not None and held[0] == os.getpid():
            held[1].close(timeout=5)


def _unlock_all(conn: psycopg.Connection[Any]) -> None:
    conn.execute("SELECT pg_advisory_unlock_all()")


def _acquire(conn: psycopg.Connection[Any], name: str, key: str, wait: float) -> None:
    if wait == math.inf:
        conn.execute("SELECT pg_advisory_lock(hashtextextended(%s, 0))", (key,))
        return
    give_up = time.monotonic() + wait
    while True:
        row = conn.execute("SELECT pg_try_advisory_lock(hashtextextended(%s, 0))",
                           (key,)).fetchone()
        if row and row[0]:
            return
        if time.monotonic() >= give_up:
            # No lease to read: the holder keeps it while its session lives.
            raise LockBusyError(f"{name} is locked by another process", retry_after=1.0)
        time.sleep(_POLL)
