"""``briefing list``, ``briefing rm`` (takedown) and ``briefing retranscribe``."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import date
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table
from rich.text import Text

from api.cli.common import clear_errors, fail, format_time, load_settings, out, shown, visible
from worker.storage.states import VideoState

if TYPE_CHECKING:
    from worker.storage.catalog import ArticleEntry, VideoEntry

__all__ = ["list_command", "retranscribe", "rm"]


class Kind(StrEnum):
    """What a listing or a takedown is about."""

    VIDEOS = "videos"
    ARTICLES = "articles"


class Target(StrEnum):
    """What a takedown removes."""

    ARTICLE = "article"
    VIDEO = "video"


def list_command(
    kind: Annotated[Kind, typer.Argument(metavar="videos|articles", help="What to list.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=1000, metavar="N",
                                       help="At most N items.")] = 20,
    offset: Annotated[int, typer.Option("--offset", min=0, metavar="N",
                                        help="Skip the first N.")] = 0,
    source: Annotated[str | None, typer.Option(metavar="NAME", help="Only this source.")
                      ] = None,
    published_from: Annotated[str | None, typer.Option(
        "--from", metavar="DATE", help="Published on or after YYYY-MM-DD.")] = None,
    published_to: Annotated[str | None, typer.Option(
        "--to", metavar="DATE", help="Published on or before YYYY-MM-DD.")] = None,
    state: Annotated[VideoState | None, typer.Option(
        metavar="STATE", help="Only videos in this state (done, failed...).")] = None,
    language: Annotated[str | None, typer.Option(metavar="CODE",
                                                 help="Only this spoken language.")] = None,
) -> None:
    """List the stored videos or articles, newest first."""
    from worker.storage.catalog import ListFilters, list_articles, list_videos
    from worker.storage.stores import open_records, open_runs

    for value in (published_from, published_to):
        try:
            if value is not None:
                date.fromisoformat(value)
        except ValueError:
            raise fail(f"--from and --to are dates like 2026-11-20, not {value!r}") from None
    settings = load_settings()
    if not settings.data_dir.is_dir():
        raise fail(f"no data dir at {settings.data_dir}: nothing ingested there")
    filters = ListFilters(source, published_from, published_to, state, language)
    with clear_errors():
        data = open_records(settings)
        if kind is Kind.VIDEOS:
            videos = list_videos(data, filters, runs=open_runs(settings), offset=offset,
                                 limit=limit)
            total, items = videos.total, [asdict(v) for v in videos.items]
            table = _videos_table(videos.items)
        else:
            articles = list_articles(data, filters, runs=open_runs(settings), offset=offset,
                                     limit=limit)
            total, items = articles.total, [asdict(a) for a in articles.items]
            table = _articles_table(articles.items)
    if as_json:
        print(json.dumps({"total": total, "offset": offset, "limit": limit, "items": items},
                         ensure_ascii=False))
        return
    if not items:
        out.print(f"no {kind} (of {total})")
        return
    out.print(table)
    out.print(f"{offset + 1}–{offset + len(items)} of {total}")


def _videos_table(entries: list[VideoEntry]) -> Table:
    table = Table(show_lines=False)
    for column in ("video", "title", "source", "date", "duration", "state", "language"):
        table.add_column(column)
    for v in entries:
        table.add_row(v.video_id, shown(v.title), shown(v.source), shown(v.published),
                      format_time(v.duration) if v.duration is not None else "",
                      shown(v.state), shown(v.language))
    return table


def _articles_table(entries: list[ArticleEntry]) -> Table:
    table = Table(show_lines=False)
    for column in ("article", "title", "source", "date", "videos"):
        table.add_column(column)
    for a in entries:
        table.add_row(a.id, shown(a.title), shown(a.source), shown(a.published),
                      str(len(a.video_ids)))
    return table


def rm(
    target: Annotated[Target, typer.Argument(metavar="article|video", help="What to remove.")],
    item: Annotated[str, typer.Argument(metavar="ID", help="The article's id or URL, or the "
                                        "video's id.")],
    reason: Annotated[str, typer.Option("--reason", metavar="TEXT",
                                        help="Why (kept in the audit record).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the audit record.")] = False,
) -> None:
    """Take down an article or a video: media, transcript, index entries, clips; audited."""
    from worker.intake.articles import article_id_for
    from worker.pipeline.takedown import take_down
    from worker.pipeline.wiring import build_context

    if not reason.strip():
        raise fail("--reason must say why")
    settings = load_settings()
    if not settings.data_dir.is_dir():
        raise fail(f"no data dir at {settings.data_dir}: nothing ingested there")
    item_id = item
    if target is Target.ARTICLE and "://" in item:
        try:
            item_id = article_id_for(item)
        except ValueError as exc:
            raise fail(str(exc)) from None
    with clear_errors():
        ctx = build_context(settings)
        try:
            removal = take_down(ctx, str(target), item_id, reason.strip(), "cli")
        finally:
            ctx.index.close()
    if as_json:
        print(json.dumps(asdict(removal), ensure_ascii=False))
        return
    out.print(Text.assemble(f"removed {target} ", shown(item_id), f" (record {removal.id})"),
              highlight=False)
    for video_id in removal.video_ids:
        out.print(f"  removed video {video_id}")
    for video_id in removal.kept_videos:
        out.print(f"  kept video {video_id}: another article links it")


def retranscribe(
    video_id: Annotated[str | None, typer.Argument(metavar="VIDEO_ID",
                                                   help="The video (16 hex digits).")] = None,
    every: Annotated[bool, typer.Option("--all", help="Every stored video.")] = False,
    model: Annotated[str | None, typer.Option("--model", "-m", metavar="MODEL",
                                              help="Whisper model [default: BRIEFING_MODEL]."
                                              )] = None,
) -> None:
    """Transcribe stored videos again (a better model); the old transcript is kept."""
    from worker.storage.datadir import is_item_id
    from worker.storage.stores import open_records

    if (video_id is None) == (not every):
        raise fail("give VIDEO_ID or --all")
    settings = load_settings()
    if not settings.data_dir.is_dir():
        raise fail(f"no data dir at {settings.data_dir}: nothing ingested there")
    with clear_errors():
        data = open_records(settings)
        hidden = data.hidden().video_ids
        videos = [video_id] if video_id else sorted(
            t.video_id for t in data.transcripts() if t.video_id not in hidden)
        missing = video_id is not None and (not is_item_id(video_id) or video_id in hidden
                                            or data.video_file(video_id) is None)
    if missing:
        # Checked here too, so that a queued task is never sent for nothing.
        raise fail(f"no stored video {visible(video_id)}")
    if settings.broker_url:
        from worker.queue.config import submit_retranscribe

        with clear_errors():
            for one in videos:
                task = submit_retranscribe(settings, one, model)
                out.print(f"queued {visible(one)} (task {task})", highlight=False)
        return
    from api.cli.ingest import send_due_webhooks
    from worker.pipeline.steps import retranscribe_step
    from worker.pipeline.wiring import build_context

    with clear_errors():
        ctx = build_context(settings)
        try:
            for one in videos:
                kept = retranscribe_step(ctx, one, model).kept_version
                transcript = ctx.data.load_transcript(one)
                name = transcript.model if transcript else model
                note = f"old transcript kept as version {kept}" if kept else "no earlier one"
                out.print(Text.assemble(f"re-transcribed {one} with ", shown(name), f": {note}"),
                          highlight=False)
            send_due_webhooks(settings, ctx)  # the watches' new hits, as after an ingest
        finally:
            ctx.index.close()
