"""PostgreSQL fixtures: a fresh database per test session, emptied before each test.

The server is the real one on 127.0.0.1:5432 (`.ci/run` starts it when it is down);
BRIEFING_TEST_PG_URL names another maintenance database to connect through.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator

import psycopg
import pytest

from worker.storage.pg.migrate import upgrade
from worker.storage.pg.pool import close_pools

ADMIN_URL = os.environ.get("BRIEFING_TEST_PG_URL",
                           "postgresql://postgres@127.0.0.1:5432/postgres")


def _url_for(name: str) -> str:
    info = psycopg.conninfo.conninfo_to_dict(ADMIN_URL)
    info["dbname"] = name
    return psycopg.conninfo.make_conninfo(**{k: str(v) for k, v in info.items()})


def create_database(prefix: str) -> tuple[str, str]:
    """A new empty database named *prefix* plus this process and a random tail: (name, url)."""
    name = f"{prefix}_{os.getpid()}_{secrets.token_hex(3)}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return name, _url_for(name)


def drop_database(name: str) -> None:
    """Drop *name*, disconnecting whoever still holds it (a killed worker's sockets)."""
    close_pools()
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def empty_tables(url: str) -> None:
    """Delete every row but the schema version's, so each test starts from nothing."""
    with psycopg.connect(url, autocommit=True) as conn:
        tables = [row[0] for row in conn.execute(
            "SELECT quote_ident(tablename) FROM pg_tables WHERE schemaname = 'public'"
            " AND tablename <> 'alembic_version'")]
        if tables:
            conn.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """The URL of this session's database, at the current schema."""
    name, url = create_database("briefing_test")
    try:
        upgrade(url)
        yield url
    finally:
        drop_database(name)


@pytest.fixture
def pg_url(pg_database: str) -> str:
    """This session's database, emptied for the test."""
    empty_tables(pg_database)
    return pg_database


@pytest.fixture
def pg_empty() -> Iterator[str]:
    """A database of its own with no schema at all, dropped after the test."""
    name, url = create_database("briefing_empty")
    try:
        yield url
    finally:
        drop_database(name)
