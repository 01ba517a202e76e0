"""One psycopg connection pool per database URL and process.

Pools hold sockets, which a forked child (a Celery prefork worker, a test's subprocess) must
not share with its parent: a pool made before a fork is dropped, never reused, in the child.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import threading
from collections.abc import Callable, Iterator
from typing import Any, cast

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool, PoolTimeout

from worker.errors import StoreUnavailableError

__all__ = ["Conn", "close_lock_pools", "close_pools", "connection", "lock_pool_for", "pool_for",
           "redact", "transaction", "unavailable"]

# Rows come back as dicts keyed by column name.
Conn = psycopg.Connection[dict[str, Any]]

# Keyed by URL and purpose (the stores' queries, or the sessions that hold advisory locks);
# a purpose is also its pools' name, with the process id.
_pools: dict[tuple[str, str], tuple[int, ConnectionPool]] = {}
_QUERIES = "briefing"
_LOCKS = "briefing-locks"
_guard = threading.Lock()

# Seconds a caller waits for a free connection (or for a database that is restarting) before
# the step fails with a transient error, which the runners retry with their back-off.
WAIT_SECONDS = 30.0


def redact(url: str) -> str:
    """*url* without its password, for messages and logs."""
    try:
        info = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "<unreadable database URL>"
    host = info.get("host", "localhost")
    port = info.get("port", "5432")
    return f"postgresql://{info.get('user', '')}@{host}:{port}/{info.get('dbname', '')}"


def _held(url: str, purpose: str, make: Callable[[str], ConnectionPool]) -> ConnectionPool:
    """This process's pool for *url* and *purpose*, made by *make* (given the pool's name)
    and opened on first use; one a parent process made before a fork is dropped, never
    reused."""
    pid = os.getpid()
    with _guard:
        held = _pools.get((url, purpose))
        if held is not None and held[0] == pid:
            return held[1]
        pool = make(f"{purpose}-{pid}")
        pool.open(wait=False)
        _pools[(url, purpose)] = (pid, pool)
        return pool


def pool_for(url: str, *, size: int = 4) -> ConnectionPool:
    """The pool of this process for *url*, opened on first use.

    Connections are checked before they are handed out, so a database restart costs a
    reconnect, not a failed step.
    """
    return _held(url, _QUERIES, lambda name: ConnectionPool(
        url, min_size=1, max_size=max(1, size), open=False, timeout=WAIT_SECONDS,
        check=ConnectionPool.check_connection,
        kwargs={"autocommit": False, "connect_timeout": 10, "row_factory": dict_row},
        name=name))


def lock_pool_for(url: str) -> ConnectionPool:
    """The pool of this process for *url* whose sessions hold advisory locks, opened on
    first use: apart from :func:`pool_for`'s, so a lock held over a block that queries the
    database never takes the connection those queries need."""
    return _held(url, _LOCKS, lambda name: ConnectionPool(
        url, min_size=0, max_size=64, open=False, timeout=WAIT_SECONDS,
        check=ConnectionPool.check_connection,
        kwargs={"autocommit": True, "connect_timeout": 10}, name=name))


def unavailable(url: str, exc: PoolTimeout | psycopg.OperationalError) -> StoreUnavailableError:
    """The error a caller sees when the database at *url* cannot be reached (raise it
    ``from`` *exc*)."""
    if isinstance(exc, PoolTimeout):
        return StoreUnavailableError(f"database {redact(url)} did not answer in time")
    return StoreUnavailableError(f"database {redact(url)}: {exc}".strip())


@contextlib.contextmanager
def connection(url: str) -> Iterator[Conn]:
    """A pooled connection; a database that cannot be reached is StoreUnavailableError."""
    try:
        with pool_for(url).connection() as conn:
            yield cast(Conn, conn)
    except (PoolTimeout, psycopg.OperationalError) as exc:
        raise unavailable(url, exc) from exc


@contextlib.contextmanager
def transaction(url: str) -> Iterator[Conn]:
    """One transaction on a pooled connection: committed when the block ends, rolled back
    if it raises."""
    with connection(url) as conn, conn.transaction():
        yield conn


def _close(purpose: str) -> None:
    with _guard:
        keys = [key for key in _pools if key[1] == purpose]
        held = [_pools.pop(key) for key in keys]
    for pid, pool in held:
        if pid == os.getpid():
            pool.close(timeout=5)


def close_pools() -> None:
    """Close this process's pools (at exit, and in tests between databases)."""
    _close(_QUERIES)


def close_lock_pools() -> None:
    """Close this process's lock sessions (held locks go with them)."""
    _close(_LOCKS)


atexit.register(close_pools)
atexit.register(close_lock_pools)
