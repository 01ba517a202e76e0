"""``briefing watch …`` (saved searches, their hits and webhooks) and ``briefing timeline``."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from api.cli.common import clear_errors, err, format_time, load_settings, out, shown, visible
from api.cli.helptext import PlainCommand
from api.cli.search import highlight_text

if TYPE_CHECKING:
    from worker.settings import Settings
    from worker.storage.datadir import Hidden
    from worker.storage.watch_interface import WatchStoreLike
    from worker.storage.watches import Hit

__all__ = ["timeline", "watch_app"]

watch_app = typer.Typer(name="watch", no_args_is_help=True, add_completion=False,
                        rich_markup_mode=None,
                        help="Saved searches that record every new clip saying their words.")

AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _store(settings: Settings) -> WatchStoreLike:
    from worker.storage.stores import open_watch_store

    return open_watch_store(settings)


def _hidden(settings: Settings) -> Hidden:
    """The items of takedowns not finished: no listing shows them, no webhook sends them."""
    from worker.storage.stores import open_records

    return open_records(settings).hidden()


@watch_app.command("add", cls=PlainCommand)
def add(
    name: Annotated[str, typer.Argument(help="A name for the watch.")],
    query: Annotated[str, typer.Argument(help='What to watch for, as a search: words and '
                                         '"quoted phrases".')],
    source: Annotated[str, typer.Option(metavar="NAME", help="Only clips and articles of "
                                        "this source.")] = "",
    language: Annotated[str, typer.Option(metavar="CODE", help="Only clips in this "
                                          "language.")] = "",
    clips_only: Annotated[bool, typer.Option("--clips-only", help="Only what is said, not "
                                             "articles.")] = False,
    webhook: Annotated[str, typer.Option(metavar="URL", help="POST each hit here as signed "
                                         "JSON.")] = "",
    secret: Annotated[str, typer.Option(metavar="SECRET", help="The webhook's signing secret "
                                        "[default: a random one, printed once].")] = "",
    as_json: AsJson = False,
) -> None:
    """Save a watch: each video or article indexed from now on is matched against it."""
    from worker.pipeline.wiring import article_limits
    from worker.watching.saved import add_watch

    settings = load_settings()
    with clear_errors():
        watch = add_watch(_store(settings), article_limits(settings), name, query,
                          source=source, language=language, clips_only=clips_only,
                          webhook_url=webhook, secret=secret)
    if as_json:
        print(json.dumps(watch.to_json(with_secret=True), ensure_ascii=False))
        return
    out.print(Text.assemble("watch ", shown(watch.name, "bold"), f" ({watch.id}): ",
                            shown(watch.query)), highlight=False, soft_wrap=True)
    if watch.webhook_url and not secret:
        out.print(Text.assemble("webhook secret (shown once): ", shown(watch.secret)),
                  highlight=False, soft_wrap=True)


@watch_app.command("list", cls=PlainCommand)
def list_watches(as_json: AsJson = False) -> None:
    """Every watch with its number of hits."""
    settings = load_settings()
    with clear_errors():
        store = _store(settings)
        watches = store.watches()
        counts = store.hit_counts(_hidden(settings))
    if as_json:
        print(json.dumps([{**w.to_json(), "hits": counts.get(w.id, (0, 0))[0]}
                          for w in watches], ensure_ascii=False))
        return
    if not watches:
        out.print("no watches: add one with `briefing watch add NAME QUERY`", highlight=False)
        return
    table = Table()
    for column in ("name", "query", "filters", "hits", "webhook"):
        table.add_column(column)
    for w in watches:
        filters = ", ".join(x for x in (w.source, w.language,
                                        "clips only" if w.clips_only else "") if x)
        table.add_row(shown(w.name), shown(w.query), shown(filters),
                      str(counts.get(w.id, (0, 0))[0]), shown(w.webhook_url))
    if out.is_terminal:
        out.print(table)
        return
    for w in watches:
        print("\t".join(visible(x) for x in (w.name, w.query, str(counts.get(w.id, (0, 0))[0]),
                                             w.webhook_url)))


@watch_app.command("rm", cls=PlainCommand)
def remove(name: Annotated[str, typer.Argument(help="The watch's name or id.")]) -> None:
    """Delete a watch with its hits."""
    settings = load_settings()
    with clear_errors():
        watch = _store(settings).remove(name)
    out.print(Text.assemble("removed watch ", shown(watch.name)), highlight=False)


def _delivery(hit: Hit) -> str:
    if hit.delivery is None:
        return ""
    detail = f"webhook {hit.delivery}"
    if hit.attempts:
        detail += f" after {hit.attempts} attempt(s)"
    return f"{detail}: {hit.error}" if hit.error and hit.delivery != "delivered" else detail


@watch_app.command("hits", cls=PlainCommand)
def hits(
    name: Annotated[str, typer.Argument(help="The watch's name or id.")],
    retracted: Annotated[bool, typer.Option("--retracted", help="Also hits a re-index "
                                            "retracted.")] = False,
    as_json: AsJson = False,
) -> None:
    """A watch's hits, newest first, with their webhook deliveries (failed ones too)."""
    settings = load_settings()
    with clear_errors():
        store = _store(settings)
        found = store.hits(store.find(name), retracted=retracted, hidden=_hidden(settings))
    if as_json:
        print(json.dumps([h.to_json() for h in found], ensure_ascii=False))
        return
    if not found:
        out.print(shown(f"no hits for {name!r} yet"), highlight=False)
        return
    for hit in found:
        when = (f"{format_time(hit.start)}–{format_time(hit.end)}" if hit.kind == "clip"
                else "article")
        line = Text.assemble((when, "bold"), "  ", highlight_text(hit.highlight), "  ",
                             shown(hit.link, "dim"))
        extra = [x for x in (hit.title, _delivery(hit),
                             "retracted" if hit.retracted else "") if x]
        if extra:
            line.append_text(Text.assemble("  (", shown(" · ".join(extra)), ")"))
        out.print(line, highlight=False, soft_wrap=True)


@watch_app.command("deliver", cls=PlainCommand)
def deliver(
    wait: Annotated[bool, typer.Option("--wait", help="Keep going, retries included, until "
                                       "no webhook is pending.")] = False,
    retry_failed: Annotated[bool, typer.Option("--retry-failed", help="First make the "
                                               "failed webhooks due again.")] = False,
) -> None:
    """Send the webhooks that are due (the retries of an inline setup: see README)."""
    from worker.pipeline.wiring import webhook_policy
    from worker.watching.webhooks import deliver_due

    settings = load_settings()
    policy = webhook_policy(settings)
    sent = failed = 0
    with clear_errors():
        store = _store(settings)
        if retry_failed:
            store.retry_failed()
        while True:
            hidden = _hidden(settings)
            for attempt in deliver_due(store, policy, hidden=hidden):
                if attempt.delivered:
                    sent += 1
                else:
                    failed += 1
                    err.print(shown(f"webhook of hit {attempt.hit_id}: {attempt.error}"),
                              highlight=False, soft_wrap=True)
            pending, due = store.pending(hidden)
            if not wait or not pending:
                break
            time.sleep(min(max(0.05, (due or 0) - time.time()), settings.webhook_poll))
    out.print(f"{sent} delivered, {failed} failed attempt(s), {pending} pending",
              highlight=False)


def _timeline_table(data: dict[str, Any]) -> Table:
    table = Table(title=None)
    for column in ("from", "to", "clips", "articles", "by source"):
        table.add_column(column)
    for bucket in data["buckets"]:
        sources = "; ".join(f"{s['source']}: {s['clips']} clip(s), {s['articles']} article(s)"
                            for s in bucket["sources"])
        table.add_row(bucket["start"], bucket["end"], str(bucket["clips"]),
                      str(bucket["articles"]), shown(sources))
    return table


def timeline(
    query: Annotated[str, typer.Argument(help='Words and "quoted phrases", as in search.')],
    interval: Annotated[str, typer.Option(metavar="day|week|month",
                                          help="Width of each interval.")] = "day",
    source: Annotated[str | None, typer.Option(metavar="NAME", help="Only this source.")] = None,
    date_from: Annotated[str | None, typer.Option("--from", metavar="DATE",
                                                  help="From YYYY-MM-DD.")] = None,
    date_to: Annotated[str | None, typer.Option("--to", metavar="DATE",
                                                help="To YYYY-MM-DD.")] = None,
    as_json: AsJson = False,
) -> None:
    """How many clips said QUERY and articles wrote it, per day, week or month, by source."""
    from indexer.errors import BriefingError
    from worker.storage.stores import has_search_index, open_records, open_search_index
    from worker.watching.timeline import mentions

    settings = load_settings()
    with clear_errors():
        data = open_records(settings)
        if not has_search_index(settings):
            raise BriefingError(f"nothing indexed yet in {settings.data_dir}: run "
                                "`briefing ingest ARTICLE` first")
        index = open_search_index(settings)
        try:
            found = mentions(index.search_page, data, query, interval=interval,
                             source=source, date_from=date_from, date_to=date_to).to_json()
        finally:
            index.close()
    if as_json:
        print(json.dumps(found, ensure_ascii=False))
        return
    if not found["buckets"]:
        out.print(shown(f"no mentions of {query!r}"), highlight=False)
        return
    if out.is_terminal:
        out.print(_timeline_table(found))
        return
    for bucket in found["buckets"]:
        print("\t".join([bucket["start"], str(bucket["clips"]), str(bucket["articles"])]))
