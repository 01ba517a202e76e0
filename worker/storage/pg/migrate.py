"""The database schema's versions: upgraded with Alembic, checked before any use.

A database written by an older briefing is never read as if it were current: every entry
point that opens the store calls :func:`require_current`, which refuses an older schema (run
``briefing db upgrade``) and a newer one (this briefing is older than the database).
"""

from __future__ import annotations

from pathlib import Path

import psycopg

from worker.errors import SchemaError, StoreUnavailableError
from worker.storage.pg.pool import redact

__all__ = ["HEAD", "current_revision", "ensure_phrase_index", "require_current", "upgrade",
           "upgrade_schema"]

# The newest revision in migrations/versions; tests/test_migrations.py checks it against
# Alembic's own reading of the scripts, so the cheap check below never needs Alembic loaded.
HEAD = "0004"
_ORDER = ("0001", "0002", "0003", "0004")
_SCRIPTS = Path(__file__).parent / "migrations"


def current_revision(url: str) -> str | None:
    """The database's schema revision; None for a database briefing never wrote."""
    try:
        with psycopg.connect(url, connect_timeout=10) as conn:
            found = conn.execute("SELECT to_regclass('alembic_version') IS NOT NULL").fetchone()
            if not found or not found[0]:
                return None
            row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
            return str(row[0]) if row else None
    except psycopg.OperationalError as exc:
        raise StoreUnavailableError(f"database {redact(url)}: {exc}".strip()) from exc


def require_current(url: str) -> None:
    """Raise SchemaError unless the database's schema is exactly this version's."""
    found = current_revision(url)
    if found == HEAD:
        return
    where = redact(url)
    if found is None:
        raise SchemaError(f"database {where} has no briefing schema: run `briefing db upgrade`")
    if found in _ORDER:
        raise SchemaError(f"database {where} is at schema {found}, this briefing needs {HEAD}:"
                          " run `briefing db upgrade`")
    raise SchemaError(f"database {where} is at schema {found}, newer than this briefing "
                      f"knows ({HEAD}): upgrade briefing")


def upgrade(url: str) -> tuple[str | None, str]:
    """Bring the database's schema to this version's and build the phrase index
    (:func:`ensure_phrase_index`) if it can; returns (before, after) of the schema."""
    before, after = upgrade_schema(url)
    ensure_phrase_index(url)
    return before, after


def upgrade_schema(url: str) -> tuple[str | None, str]:
    """Run the migrations the database's schema lacks; returns (before, after)."""
    from alembic import command  # loaded only by `briefing db upgrade` and tests
    from alembic.config import Config

    before = current_revision(url)
    if before is not None and before not in _ORDER:
        raise SchemaError(f"database {redact(url)} is at schema {before}, newer than this "
                          f"briefing knows ({HEAD}): upgrade briefing")
    config = Config()
    config.set_main_option("script_location", str(_SCRIPTS))
    config.attributes["conninfo"] = url
    command.upgrade(config, "head")
    return before, HEAD


def ensure_phrase_index(url: str) -> str:
    """Build the phrase index (:mod:`indexer.pgsearch.stats`) when the server has the
    ``rum`` extension and the index is not there yet; what was found or done: "present",
    "created", "unavailable" (the server has no rum: install postgresql-NN-rum), "not
    permitted" (this role may not create the extension: a superuser runs
    ``CREATE EXTENSION rum``) or "being built" (by another process, now).

    Outside the migrations: the index is optional (searches are right without it, phrases
    of common words slower), and a server may get the extension after its schema is
    current; ``briefing db upgrade`` builds it then.  Built without blocking writes.
    """
    from indexer.pgsearch.stats import PHRASE_INDEX, PHRASE_INDEX_VALID

    try:
        with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
            row = conn.execute(PHRASE_INDEX_VALID).fetchone()
            if row is not None and row[0]:
                return "present"
            if conn.execute("SELECT 1 FROM pg_available_extensions"
                            " WHERE name = 'rum'").fetchone() is None:
                return "unavailable"
            # Two processes upgrading at once: one builds, the other goes on (waiting for it
            # inside CREATE INDEX CONCURRENTLY could deadlock on each other's snapshot).
            locked = conn.execute("SELECT pg_try_advisory_lock(hashtext('briefing-phrase'))"
                                  ).fetchone()
            if not locked or not locked[0]:
                return "being built"
            try:
                try:
                    conn.execute("CREATE EXTENSION IF NOT EXISTS rum")
                except psycopg.errors.InsufficientPrivilege:
                    return "not permitted"
                if row is not None:  # left invalid by a build that was interrupted
                    conn.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {PHRASE_INDEX}")
                conn.execute(
                    f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {PHRASE_INDEX} ON search_match"
                    " USING rum (tsv rum_tsvector_addon_ops, rank_order)"
                    " WITH (attach = 'rank_order', to = 'tsv')")
                return "created"
            finally:
                conn.execute("SELECT pg_advisory_unlock(hashtext('briefing-phrase'))")
    except psycopg.OperationalError as exc:
        raise StoreUnavailableError(f"database {redact(url)}: {exc}".strip()) from exc
    except psycopg.Error as exc:
        return f"not built ({str(exc).strip()})"
