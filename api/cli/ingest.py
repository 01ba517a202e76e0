"""``briefing ingest``: articles in, their text and every linked video transcribed and indexed."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import typer

from api.cli.common import (
    VideoLine,
    article_error,
    article_summary,
    clear_errors,
    err,
    load_settings,
)
from indexer.errors import BriefingError
from worker.storage.states import VideoState

if TYPE_CHECKING:
    from worker.pipeline.context import Context
    from worker.pipeline.inline import IngestReport
    from worker.settings import Settings

__all__ = ["ingest", "send_due_webhooks"]


def _report_json(report: IngestReport) -> dict[str, Any]:
    return {
        "job_id": report.job_id,
        "article": {"id": report.article.id, "url": report.article.url,
                    "title": report.article.title, "videos": len(report.article.video_urls)},
        "videos": [
            {"url": v.url, "state": v.state, "video_id": v.video_id, "error": v.error,
             "reused": v.reused}
            for v in report.videos
        ],
    }


def _summary(report: IngestReport) -> None:
    article_summary(report.article.title or report.article.url, [
        VideoLine(v.url, v.state is VideoState.DONE,
                  ("already transcribed" if v.reused else "transcribed and indexed")
                  if v.state is VideoState.DONE else v.error)
        for v in report.videos])


def send_due_webhooks(settings: Settings, ctx: Context) -> None:
    """One attempt at each webhook the run's hits made due; retries are left to a
    running `briefing serve` or `briefing watch deliver` (one line on stderr says so)."""
    from worker.pipeline.wiring import webhook_policy
    from worker.watching.webhooks import deliver_due

    attempts = deliver_due(ctx.watch_store(), webhook_policy(settings),
                           hidden=ctx.data.hidden())
    waiting = sum(1 for a in attempts if not a.delivered)
    if waiting:
        err.print(f"{waiting} webhook(s) not delivered yet; `briefing watch deliver --wait` "
                  "retries them", highlight=False)


def ingest(
    sources: Annotated[list[str], typer.Argument(
        metavar="SOURCE", help="Article URLs or local HTML/Markdown/text files.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list: one report "
                                          "per article.")] = False,
    wait: Annotated[bool, typer.Option("--wait", help="With a broker: follow the queued "
                                       "jobs until they finish.")] = False,
) -> None:
    """Ingest articles: index their text and transcribe and index every video they link.

    With BRIEFING_BROKER_URL set the articles are queued for `briefing worker` and their
    job ids printed at once; otherwise everything runs here and now. What happened goes to
    stdout (a summary, or with --json always a list of reports); progress and errors go to
    stderr.
    """
    from api.cli.progress import RichProgress
    from worker.pipeline.inline import ingest as run_ingest
    from worker.pipeline.wiring import build_context

    settings = load_settings()
    if settings.broker_url:
        from api.cli.queue import queue_ingest

        queue_ingest(settings, sources, as_json=as_json, wait=wait)
        return
    reports: list[dict[str, Any]] = []
    failed_articles = 0
    with clear_errors(), RichProgress(err, enabled=not as_json) as progress:
        ctx = build_context(settings, progress)
        for source in sources:
            try:
                report = run_ingest(source, ctx)
            except BriefingError as exc:
                failed_articles += 1
                article_error(source, str(exc))
                reports.append({"source": source, "error": str(exc)})
                continue
            reports.append(_report_json(report))
            if not as_json:
                _summary(report)
        send_due_webhooks(settings, ctx)
    if as_json:
        # Always a list, however many sources: a script reads one shape.
        print(json.dumps(reports, ensure_ascii=False))
    if failed_articles:
        raise typer.Exit(1)
