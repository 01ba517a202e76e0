"""The ``briefing`` command line: one typer app, every subcommand registered here.

Each command lives in a module named by its concept and imports only ``api.cli.common``;
heavy libraries (the model, Celery, FastAPI, pydantic-settings) are imported inside the
command functions, so that ``briefing search`` starts fast.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from api.cli import (
    clips,
    db,
    ingest,
    manage,
    queue,
    records,
    search,
    serve,
    transcribe,
    transfer,
    watch,
)
from api.cli.common import set_data_dir
from api.cli.helptext import PlainCommand

__all__ = ["app", "main"]

app = typer.Typer(
    name="briefing",
    help="Find, transcribe and search the video briefings that news articles link.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain click help: rich markup mode would eat our own `[default: …]` as markup.
    rich_markup_mode=None,
)



def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        print(f"briefing {version('briefing')}")
        raise typer.Exit()


@app.callback()
def options(
    data_dir: Annotated[Path | None, typer.Option(
        "--data-dir", metavar="DIR", help="Where articles, videos, transcripts and the index "
        "live [default: BRIEFING_DATA_DIR, else ./briefing-data].")] = None,
    version: Annotated[bool, typer.Option(
        "--version", callback=_version, is_eager=True,
        help="Print the version and exit.")] = False,
) -> None:
    """Find, transcribe and search the video briefings that news articles link."""
    if data_dir is not None:
        set_data_dir(data_dir)


# The order here is the order of `briefing --help`.
_COMMANDS: list[tuple[str, Callable[..., None]]] = [
    ("ingest", ingest.ingest),
    ("search", search.search),
    ("transcribe", transcribe.transcribe),
    ("status", records.status),
    ("reindex", records.reindex),
    ("serve", serve.serve),
    ("worker", queue.worker),
    ("jobs", queue.jobs_command),
    ("list", manage.list_command),
    ("clip", clips.clip),
    ("verify", clips.verify),
    ("rm", manage.rm),
    ("retranscribe", manage.retranscribe),
    ("timeline", watch.timeline),
    ("transfer", transfer.transfer),
]
for _name, _command in _COMMANDS:
    app.command(name=_name, cls=PlainCommand)(_command)
app.add_typer(watch.watch_app, name="watch")
app.add_typer(db.db_app, name="db")


def main() -> None:
    """Entry point of the ``briefing`` script."""
    app()
