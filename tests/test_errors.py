"""Which failures the runners wait out: a busy store is retried, a broken one fails at once
(retrying it would wait for ever, as a runner once did on a deleted SQLite journal)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from worker.errors import StoreUnavailableError, is_transient


def _error(action: object) -> BaseException:
    try:
        action()  # type: ignore[operator]
    except Exception as exc:
        return exc
    raise AssertionError("expected an error")


def test_a_locked_sqlite_store_is_transient(tmp_path: Path) -> None:
    path = tmp_path / "jobs.sqlite3"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN EXCLUSIVE")
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    exc = _error(lambda: other.execute("INSERT INTO t VALUES (1)"))
    assert isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc)
    assert is_transient(exc)
    holder.execute("ROLLBACK")


def test_a_sqlite_store_that_cannot_be_opened_is_not_transient(tmp_path: Path) -> None:
    exc = _error(lambda: sqlite3.connect(tmp_path / "gone" / "jobs.sqlite3"))
    assert isinstance(exc, sqlite3.OperationalError)
    assert not is_transient(exc)


def test_an_unreachable_database_is_transient() -> None:
    assert is_transient(StoreUnavailableError("database postgresql://x@127.0.0.1:1/x: refused"))


@pytest.mark.parametrize("exc", [ConnectionResetError(), TimeoutError()])
def test_file_system_and_network_errors_stay_transient(exc: OSError) -> None:
    assert is_transient(exc)
