"""Opening the stores from Settings: the one place that knows which backend holds what.

Entry points (CLI commands, the HTTP app, the Celery worker, the pipeline's wiring) call these;
everything below them sees only the interfaces.  Without BRIEFING_DATABASE_URL every store is
embedded in the data dir (JSON files, SQLite, Whoosh), exactly as before; with it the records,
jobs, watches and the search index live in PostgreSQL and only media stays in the data dir.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from worker.settings import Settings
from worker.storage.datadir import DataDir, index_root
from worker.storage.interfaces import JobStoreLike, Records, Runs

if TYPE_CHECKING:
    from indexer.backend import SearchBackend
    from worker.pipeline.locks import Locks
    from worker.storage.watch_interface import WatchStoreLike

__all__ = [
    "database_problem",
    "has_search_index",
    "open_job_store",
    "open_locks",
    "open_records",
    "open_runs",
    "open_search_index",
    "open_watch_store",
    "rebuild_search_index",
    "scratch_root",
    "search_index_root",
    "uses_database",
]


def _database(settings: Settings, url: str) -> str:
    """*url*, its schema checked once per process (SchemaError for an older or newer one)
    and this process's pool sized from settings before any store uses it."""
    from worker.errors import StoreUnavailableError
    from worker.storage.pg.migrate import require_current
    from worker.storage.pg.pool import pool_for

    if url not in _checked:
        try:
            require_current(url)
            _checked.add(url)
        except StoreUnavailableError:
            # Down now (the HTTP app may start before its database): every query fails
            # transiently until it answers, and the records check the schema on first use.
            pass
    pool_for(url, size=settings.database_pool_size)
    return url


# Database URLs whose schema this process has found current.
_checked: set[str] = set()


def uses_database(settings: Settings) -> bool:
    """Whether the stores live in PostgreSQL (BRIEFING_DATABASE_URL is set)."""
    return settings.database_url is not None


def scratch_root(settings: Settings) -> Path:
    """Where this machine keeps downloads in progress and decoded audio."""
    return settings.scratch_dir or settings.data_dir / "tmp"


def open_records(settings: Settings, *, start_unreachable: bool = False) -> Records:
    """The system of record: the data dir's files, or PostgreSQL once its schema is checked
    (SchemaError for an older or newer one, StoreUnavailableError when it cannot be reached).

    *start_unreachable*: a database that cannot be reached now is checked on first use
    instead (the HTTP app starts and says in ``/healthz`` that the database is down).
    """
    if settings.database_url is None:
        return DataDir(settings.data_dir)
    # Imported here: the embedded store never loads psycopg.
    from worker.errors import StoreUnavailableError
    from worker.storage.pg.migrate import require_current
    from worker.storage.pg.records import PgRecords

    unchecked = False
    try:
        require_current(settings.database_url)
        _checked.add(settings.database_url)
    except StoreUnavailableError:
        if not start_unreachable:
            raise
        unchecked = True
    return PgRecords(settings.database_url, settings.data_dir, scratch_root(settings),
                     pool_size=settings.database_pool_size, check_schema=unchecked)


def database_problem(settings: Settings, *, timeout: float = 3.0) -> str | None:
    """Why the database cannot answer a query now (None when it can, or when none is
    configured): a ``SELECT 1`` through this process's pool."""
    if settings.database_url is None:
        return None
    import psycopg
    from psycopg_pool import PoolTimeout

    from worker.storage.pg.pool import pool_for, redact

    try:
        with pool_for(settings.database_url).connection(timeout=timeout) as conn:
            conn.execute("SELECT 1")
    except PoolTimeout:
        return f"database {redact(settings.database_url)} did not answer in {timeout:g} s"
    except psycopg.Error as exc:
        return f"database {redact(settings.database_url)}: {exc}".strip()
    return None


def open_runs(settings: Settings) -> Runs:
    """The runs sharing the stores (which processes are alive, where each keeps its
    scratch): lock files in the data dir, or advisory locks in PostgreSQL with scratch
    folders in BRIEFING_SCRATCH_DIR."""
    if settings.database_url is None:
        from worker.storage.runs import FileRuns

        return FileRuns(settings.data_dir)
    from worker.storage.pg.runs import PgRuns

    return PgRuns(_database(settings, settings.database_url), scratch_root(settings))


def open_job_store(settings: Settings, runs: Runs | None = None) -> JobStoreLike:
    """The job store: SQLite in the data dir, or PostgreSQL; *runs* (default: opened from
    settings) tells whose work was interrupted."""
    runs = runs if runs is not None else open_runs(settings)
    if settings.database_url is not None:
        from worker.storage.pg.jobs import PgJobStore

        return PgJobStore(_database(settings, settings.database_url), runs)
    from worker.storage.jobs import JobStore

    return JobStore(DataDir(settings.data_dir).jobs_db, runs)


def open_watch_store(settings: Settings) -> WatchStoreLike:
    """The watch store: SQLite in the data dir, or PostgreSQL."""
    if settings.database_url is not None:
        from worker.storage.pg.watches import PgWatchStore

        return PgWatchStore(_database(settings, settings.database_url))
    from worker.storage.watches import WatchStore

    return WatchStore(DataDir(settings.data_dir).watches_db)


def open_locks(settings: Settings) -> Locks:
    """The locks of the runners sharing the stores (held while a URL, a video or the index
    is written): lock files in the data dir, or PostgreSQL."""
    if settings.database_url is not None:
        from worker.storage.pg.locks import PgLocks

        return PgLocks(_database(settings, settings.database_url))
    from worker.pipeline.locks import FileLocks

    return FileLocks(DataDir(settings.data_dir).locks)


def search_index_root(settings: Settings) -> Path:
    """Where the embedded (Whoosh) search index lives: derived from the records, rebuilt
    from them when damaged.  (With a database there is none: see has_search_index.)"""
    return index_root(settings.data_dir)


def has_search_index(settings: Settings) -> bool:
    """Whether anything was ever indexed: the embedded index exists; a database's search
    tables always do (its schema is checked when a store opens)."""
    if settings.database_url is not None:
        return True
    from indexer import has_index

    return has_index(search_index_root(settings))


def open_search_index(settings: Settings, *, rebuild_from: Records | None = None
                      ) -> SearchBackend:
    """The search index: Whoosh in the data dir, or PostgreSQL.  With *rebuild_from*, a
    damaged Whoosh index is rebuilt from those records before it is returned; without, a
    damaged one raises BrokenIndexError (the caller rebuilds it in the background).  The
    PostgreSQL index is part of the database and never needs that."""
    if settings.database_url is not None:
        from indexer.pgsearch import PgSearchIndex

        url = _database(settings, settings.database_url)
        return PgSearchIndex(url, pool_size=settings.database_pool_size)
    root = search_index_root(settings)
    if rebuild_from is not None:
        from worker.pipeline.maintenance import open_index

        return open_index(rebuild_from, root)
    from indexer.index import SearchIndex

    return SearchIndex(root)


def rebuild_search_index(settings: Settings, data: Records) -> tuple[int, int]:
    """``briefing reindex``: the search index made anew from *data*'s articles and
    transcripts, swapped in whole (searches see the old one until then); returns
    (articles, videos)."""
    from worker.pipeline.maintenance import reindex, reindex_into

    if settings.database_url is None:
        return reindex(data, search_index_root(settings))
    from indexer.pgsearch import PgSearchIndex

    url = _database(settings, settings.database_url)
    index = PgSearchIndex(url, pool_size=settings.database_pool_size)
    try:
        return reindex_into(data, index)
    finally:
        index.close()
