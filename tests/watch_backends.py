"""The watch store on both backends: a fixture giving each test the embedded store (SQLite in
tmp_path) and the PostgreSQL one (this session's database, emptied), and a way for another
process to open the same store.

Test modules import the fixtures by their function names (``_store_at``, ``_watch_store``);
tests ask for ``store_at`` or ``watch_store``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from worker.storage.watch_interface import WatchStoreLike

__all__ = ["StoreAt", "_store_at", "_watch_store"]


@dataclass(frozen=True)
class StoreAt:
    """Where a watch store is: enough for another process to open the same one."""

    backend: str  # "embedded" or "postgres"
    where: str  # the SQLite file, or the database URL

    def open(self) -> WatchStoreLike:
        """A store on this backend and place."""
        if self.backend == "postgres":
            from worker.storage.pg.watches import PgWatchStore

            return PgWatchStore(self.where)
        from worker.storage.watches import WatchStore

        return WatchStore(Path(self.where))


@pytest.fixture(params=["embedded", "postgres"], name="store_at")
def _store_at(request: pytest.FixtureRequest, tmp_path: Path) -> StoreAt:
    if request.param == "postgres":
        return StoreAt("postgres", request.getfixturevalue("pg_url"))
    return StoreAt("embedded", str(tmp_path / "watches.sqlite3"))


@pytest.fixture(name="watch_store")
def _watch_store(store_at: StoreAt) -> WatchStoreLike:
    return store_at.open()
