"""The ``briefing`` command line: one typer app, every subcommand registered here.

Each command lives in a module named by its concept and imports only ``api.cli.common``;
heavy libraries (the model, Celery, FastAPI, pydantic-settings) are imported inside the
command functions, so that ``briefing search`` starts fast.
"""

from __future__ import annotations

import typer

from api.cli import ingest, queue, records, search, serve, transcribe

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

# The order here is the order of `briefing --help`.
app.command(name="ingest")(ingest.ingest)
app.command(name="search")(search.search)
app.command(name="transcribe")(transcribe.transcribe)
app.command(name="status")(records.status)
app.command(name="reindex")(records.reindex)
app.command(name="serve")(serve.serve)
app.command(name="worker")(queue.worker)
app.command(name="jobs")(queue.jobs_command)


def main() -> None:
    """Entry point of the ``briefing`` script."""
    app()
