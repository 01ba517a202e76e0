"""A scratch PostgreSQL database for a benchmark run: created, upgraded, dropped after."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import psycopg

from worker.storage.pg.migrate import upgrade
from worker.storage.pg.pool import close_pools

# The maintenance database the scratch database is created through (trust auth on CI's and
# the developers' machines).
ADMIN_URL = os.environ.get("BRIEFING_BENCH_PG_URL",
                           "postgresql://postgres@127.0.0.1:5432/postgres")


# Put before every scratch database's name, so runs of several people on one server are told
# apart (and each drops only its own).
NAME_PREFIX = os.environ.get("BRIEFING_BENCH_PG_PREFIX", "")


def _url_for(admin_url: str, name: str) -> str:
    info = psycopg.conninfo.conninfo_to_dict(admin_url)
    info["dbname"] = name
    return psycopg.conninfo.make_conninfo(**{k: str(v) for k, v in info.items()})


@contextlib.contextmanager
def scratch_database(prefix: str, admin_url: str = ADMIN_URL) -> Iterator[str]:
    """The URL of a new database named *prefix* (after BRIEFING_BENCH_PG_PREFIX) plus this
    process's id, at the current schema; dropped when the block ends, whatever happens."""
    name = f"{NAME_PREFIX}{prefix}_{os.getpid()}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        url = _url_for(admin_url, name)
        upgrade(url)
        yield url
    finally:
        close_pools()
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
