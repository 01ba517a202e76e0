"""One psycopg connection pool per database URL and process.

Pools hold sockets, which a forked child (a Celery prefork worker, a test's subprocess) must
not share with its parent: a pool made before a fork is dropped, never reused, in the child.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import threading
from collections.abc import Iterator
from typing import Any, cast

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool, PoolTimeout

from worker.errors import StoreUnavailableError

__all__ = ["Conn", "close_pools", "connection", "pool_for", "redact", "transaction"]

# Rows come back as dicts keyed by column name.
Conn = psycopg.Connection[dict[str, Any]]

_pools: dict[str, tuple[int, ConnectionPool]] = {}
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


def pool_for(url: str, *, size: int = 4) -> ConnectionPool:
    """The pool of this process for *url*, opened on first use.

    Connections are checked before they are handed out, so a database restart costs a
    reconnect, not a failed step.
    """
    pid = os.getpid()
    with _guard:
        held = _pools.get(url)
        if held is not None and held[0] == pid:
            return held[1]
        pool: ConnectionPool = ConnectionPool(
            url, min_size=1, max_size=max(1, size), open=False, timeout=WAIT_SECONDS,
            check=ConnectionPool.check_connection,
            kwargs={"autocommit": False, "connect_timeout": 10, "row_factory": dict_row},
            name=f"briefing-{pid}",
        )
        pool.open(wait=False)
        _pools[url] = (pid, pool)
        return pool


@contextlib.contextmanager
def connection(url: str) -> Iterator[Conn]:
    """A pooled connection; a database that cannot be reached is StoreUnavailableError."""
    try:
        with pool_for(url).connection() as conn:
            yield cast(Conn, conn)
    except PoolTimeout as exc:
        raise StoreUnavailableError(f"database {redact(url)} did not answer in time") from exc
    except psycopg.OperationalError as exc:
        raise StoreUnavailableError(f"database {redact(url)}: {exc}".strip()) from exc


@contextlib.contextmanager
def transaction(url: str) -> Iterator[Conn]:
    """One transaction on a pooled connection: committed when the block ends, rolled back
    if it raises."""
    with connection(url) as conn, conn.transaction():
        yield conn


def close_pools() -> None:
    """Close this process's pools (at exit, and in tests between databases)."""
    with _guard:
        held = list(_pools.values())
        _pools.clear()
    for pid, pool in held:
        if pid == os.getpid():
            pool.close(timeout=5)


atexit.register(close_pools)
