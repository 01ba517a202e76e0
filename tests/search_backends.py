"""Both search backends behind one fixture, so the same test body runs against each.

``search_backend`` is parametrised: the embedded Whoosh index in tmp_path, and the
PostgreSQL index in this session's database (emptied for each test, see tests.pg).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeAlias

import pytest

from indexer.index import SearchIndex, rebuild_index
from indexer.pgsearch import PgSearchIndex

AnyIndex: TypeAlias = SearchIndex | PgSearchIndex


class SearchBackend:
    """Opens the test's index (the same one each time) and rebuilds it, as
    ``briefing reindex`` does on this backend."""

    def __init__(self, name: str, root: Path, url: str | None) -> None:
        self.name = name
        self._root = root
        self._url = url
        self._opened: list[AnyIndex] = []

    def open(self) -> AnyIndex:
        """The test's index (empty on first open)."""
        index: AnyIndex = (PgSearchIndex(self._url) if self._url is not None
                           else SearchIndex(self._root))
        self._opened.append(index)
        return index

    def rebuild(self, fill: Callable[[AnyIndex], object]) -> None:
        """Replace the index's content with what *fill* writes, atomically."""
        if self._url is None:
            rebuild_index(self._root, fill)
            return
        index = PgSearchIndex(self._url)
        try:
            index.rebuild(fill)
        finally:
            index.close()

    def close(self) -> None:
        for index in self._opened:
            index.close()


@pytest.fixture(params=["embedded", "postgres"])
def search_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SearchBackend]:
    """The embedded (Whoosh) and the PostgreSQL search index, one test run each."""
    url = request.getfixturevalue("pg_url") if request.param == "postgres" else None
    backend = SearchBackend(request.param, tmp_path / "index", url)
    try:
        yield backend
    finally:
        backend.close()
