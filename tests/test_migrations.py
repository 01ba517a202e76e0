"""The database schema's versions: upgrade from nothing and from each older revision, refuse
a schema older or newer than this briefing's."""

from __future__ import annotations

import psycopg
import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory

from worker.errors import SchemaError
from worker.storage.pg import migrate


def test_head_constant_is_alembics_head() -> None:
    config = Config()
    config.set_main_option("script_location", str(migrate._SCRIPTS))
    script = ScriptDirectory.from_config(config)
    assert script.get_heads() == [migrate.HEAD]
    order = [rev.revision for rev in reversed(list(script.walk_revisions()))]
    assert tuple(order) == migrate._ORDER


def test_upgrade_from_nothing_then_again_changes_nothing(pg_empty: str) -> None:
    with pytest.raises(SchemaError, match="briefing db upgrade"):
        migrate.require_current(pg_empty)
    assert migrate.upgrade(pg_empty) == (None, migrate.HEAD)
    migrate.require_current(pg_empty)
    assert migrate.upgrade(pg_empty) == (migrate.HEAD, migrate.HEAD)


def test_an_older_schema_is_refused_until_upgraded(pg_empty: str) -> None:
    migrate.upgrade(pg_empty)
    with psycopg.connect(pg_empty, autocommit=True) as conn:
        conn.execute("UPDATE alembic_version SET version_num = %s", (migrate._ORDER[0],))
    with pytest.raises(SchemaError, match=f"schema {migrate._ORDER[0]}.*briefing db upgrade"):
        migrate.require_current(pg_empty)


def test_a_newer_schema_is_refused_not_misread(pg_empty: str) -> None:
    migrate.upgrade(pg_empty)
    with psycopg.connect(pg_empty, autocommit=True) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999'")
    with pytest.raises(SchemaError, match="newer than this briefing"):
        migrate.require_current(pg_empty)
    with pytest.raises(SchemaError, match="newer than this briefing"):
        migrate.upgrade(pg_empty)
