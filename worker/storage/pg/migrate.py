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

__all__ = ["HEAD", "current_revision", "require_current", "upgrade"]

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
    """Bring the database's schema to this version's; returns (before, after)."""
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
