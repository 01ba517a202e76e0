"""Alembic's entry point for briefing's schema (run through worker.storage.pg.migrate)."""

from __future__ import annotations

import psycopg
from alembic import context
from sqlalchemy import create_engine, text

# The conninfo as the user gave it (a URL or "host=... dbname=..."), handed to psycopg as is:
# SQLAlchemy reads only URLs.
conninfo: str = context.config.attributes["conninfo"]
engine = create_engine("postgresql+psycopg://", creator=lambda: psycopg.connect(conninfo))
with engine.connect() as connection:
    context.configure(connection=connection, transaction_per_migration=False)
    with context.begin_transaction():
        # Two processes upgrading at once (two API replicas starting) take turns: the second
        # finds the schema current and does nothing.
        connection.execute(text("SELECT pg_advisory_xact_lock(hashtext('briefing-schema'))"))
        context.run_migrations()
engine.dispose()
