"""``briefing transfer --to postgresql://…``: an embedded data dir moved into PostgreSQL."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn

from api.cli.common import clear_errors, err, fail, load_settings, out, shown

if TYPE_CHECKING:
    from worker.storage.transfer import Kind

__all__ = ["transfer"]


def transfer(
    to: Annotated[str, typer.Option(
        "--to", metavar="URL", help="The PostgreSQL database to copy into "
        "(postgresql://user@host/name, or a conninfo string); its schema must be "
        "current.")],
    media_dir: Annotated[Path | None, typer.Option(
        "--media-dir", metavar="DIR", help="Copy the video files to DIR, the fleet's media "
        "folder [default: leave them in the data dir, which becomes the media folder].")
    ] = None,
    upgrade: Annotated[bool, typer.Option(
        "--upgrade", help="Bring the database's schema up to date first "
        "(as `briefing db upgrade`).")] = False,
    verbose: Annotated[bool, typer.Option(
        "--verbose", help="Print a line per item copied or found there already.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the counts as JSON.")] = False,
) -> None:
    """Copy the data dir (BRIEFING_DATA_DIR, or --data-dir) into a PostgreSQL database:
    articles, videos, transcripts, takedowns, jobs and watches, then its search index.
    Safe to interrupt and run again: it goes on where it stopped."""
    settings = load_settings()
    root = settings.data_dir
    # DataDir creates its folders: a mistyped path must not become an empty archive.
    if not (root / "articles").is_dir():
        raise fail(f"no data dir at {root}: nothing to transfer (check --data-dir or "
                   "BRIEFING_DATA_DIR)")
    import psycopg

    try:
        psycopg.conninfo.conninfo_to_dict(to)
    except psycopg.ProgrammingError:
        raise fail("--to: not a PostgreSQL URL (postgresql://user@host/name)") from None

    from indexer.pgsearch import PgSearchIndex
    from worker.storage.datadir import DataDir
    from worker.storage.pg.migrate import require_current
    from worker.storage.pg.migrate import upgrade as run_upgrade
    from worker.storage.pg.pool import redact
    from worker.storage.pg.records import PgRecords
    from worker.storage.transfer import paired_stores
    from worker.storage.transfer import transfer as run_transfer

    media = media_dir or root
    with clear_errors():
        try:
            if upgrade:
                run_upgrade(to)
            require_current(to)
            source = DataDir(root)
            target = PgRecords(to, media, settings.scratch_dir or media / "tmp",
                               pool_size=settings.database_pool_size)
            index = PgSearchIndex(to, pool_size=settings.database_pool_size)
            jobs, watches = paired_stores(source, target)
            started = time.monotonic()
            try:
                with _Shown(verbose=verbose, live=not as_json and err.is_terminal) as shown_:
                    report = run_transfer(source, target, index, jobs=jobs, watches=watches,
                                          progress=shown_.item)
            finally:
                index.close()
            seconds = time.monotonic() - started
        except psycopg.Error as exc:
            raise fail(f"database {redact(to)}: {exc}".strip()) from None
    where = redact(to)
    if as_json:
        print(json.dumps({"data_dir": str(root), "database": where, "media_dir": str(media),
                          "changed": report.changed, "seconds": round(seconds, 3),
                          "counts": report.to_json()}))
        return
    for tally in report.tallies:
        if tally.kind == "index":
            if tally.copied:
                out.print(f"{'index':<12} {tally.copied:>7} written", highlight=False)
        elif tally.total:
            out.print(f"{tally.kind:<12} {tally.copied:>7} copied {tally.unchanged:>7} "
                      "there already", highlight=False)
    if report.changed:
        out.print(shown(f"{root} → {where}: transferred in {seconds:.1f} s"),
                  highlight=False, soft_wrap=True)
    else:
        out.print(shown(f"{root} → {where}: nothing to change, the database holds all of it "
                        "already"), highlight=False, soft_wrap=True)


class _Shown:
    """Progress on stderr: a spinner and count per kind on a terminal; with --verbose a
    line per item on stdout (flushed, so a reader sees each as it happens)."""

    def __init__(self, *, verbose: bool, live: bool) -> None:
        self.verbose = verbose
        self._progress = (Progress(SpinnerColumn(), TextColumn("{task.description}"),
                                   TextColumn("{task.completed:>7.0f}"), console=err,
                                   transient=True) if live else None)
        self._tasks: dict[Kind, TaskID] = {}

    def __enter__(self) -> _Shown:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()

    def item(self, kind: Kind, item: str, wrote: bool) -> None:
        """One item copied (*wrote*) or found there already."""
        if self._progress is not None:
            task = self._tasks.get(kind)
            if task is None:
                task = self._tasks[kind] = self._progress.add_task(str(kind), total=None)
            self._progress.advance(task)
        if self.verbose:
            out.print(shown(f"{kind} {item} {'copied' if wrote else 'there already'}"),
                      highlight=False, soft_wrap=True)
            sys.stdout.flush()
