"""The SQLite connection and transaction rules the job store and the watch store share."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

__all__ = ["connect", "transaction"]


def connect(path: Path, *, foreign_keys: bool = False) -> sqlite3.Connection:
    """A connection to *path* in WAL mode that waits up to 30 s for a busy database, with
    rows readable by column name and transactions begun explicitly."""
    db = sqlite3.connect(path, timeout=30, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA busy_timeout=30000")
    if foreign_keys:
        db.execute("PRAGMA foreign_keys=ON")
    db.row_factory = sqlite3.Row
    return db


@contextlib.contextmanager
def transaction(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One write transaction on *db*, taken at once; rolled back if the block raises."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
