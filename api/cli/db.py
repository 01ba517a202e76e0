"""``briefing db …``: the PostgreSQL store's schema (BRIEFING_DATABASE_URL)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from api.cli.common import clear_errors, fail, load_settings, out, shown
from api.cli.helptext import PlainCommand

__all__ = ["db_app"]

db_app = typer.Typer(name="db", no_args_is_help=True, add_completion=False,
                     rich_markup_mode=None,
                     help="The database of a fleet (BRIEFING_DATABASE_URL): its schema.")


@db_app.command("upgrade", cls=PlainCommand)
def upgrade(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
            ) -> None:
    """Bring the database's schema to this version's (safe to run again, and from two
    machines at once)."""
    settings = load_settings()
    if settings.database_url is None:
        raise fail("no database to upgrade: set BRIEFING_DATABASE_URL "
                   "(e.g. postgresql://briefing@db/briefing)")
    from worker.storage.pg.migrate import ensure_phrase_index, upgrade_schema
    from worker.storage.pg.pool import redact

    with clear_errors():
        before, after = upgrade_schema(settings.database_url)
        phrase_index = ensure_phrase_index(settings.database_url)
    if as_json:
        print(json.dumps({"database": redact(settings.database_url), "before": before,
                          "after": after, "phrase_index": phrase_index}))
        return
    where = redact(settings.database_url)
    if before == after:
        out.print(shown(f"{where}: schema {after}, already current"), highlight=False)
    else:
        out.print(shown(f"{where}: schema {before or 'none'} → {after}"), highlight=False)
    out.print(shown(f"phrase index: {phrase_index}{_PHRASE_HINTS.get(phrase_index, '')}"),
              highlight=False)


# What to do when the phrase index could not be built (searches stay right without it;
# quoted phrases of common words are slower).
_PHRASE_HINTS = {
    "unavailable": " (the server has no rum extension: install postgresql-NN-rum on it,"
                   " then run this again)",
    "not permitted": " (this role may not create the rum extension: have a superuser run"
                     " CREATE EXTENSION rum, then run this again)",
}
