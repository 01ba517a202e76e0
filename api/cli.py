"""The ``briefing`` command line: ingest articles, search clips, transcribe one video."""

from __future__ import annotations

import html
import json
import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from indexer.domain import Clip, SearchResult
from indexer.errors import BriefingError

if TYPE_CHECKING:
    from worker.pipeline.inline import IngestReport
    from worker.settings import Settings

app = typer.Typer(
    name="briefing",
    help="Find, transcribe and search the video briefings that news articles link.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console()
err = Console(stderr=True)


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print one error line on stderr and return the exit to raise."""
    err.print(f"[bold red]error:[/] {message}", markup=True, highlight=False, soft_wrap=True)
    return typer.Exit(code)


def load_settings() -> Settings:
    """Settings from the environment, or one clear error."""
    # Imported here: pydantic-settings costs about 0.2 s, a third of a search's budget.
    from pydantic import ValidationError

    from worker.settings import Settings

    try:
        return Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        name = "BRIEFING_" + str(first["loc"][0]).upper() if first["loc"] else "BRIEFING_*"
        raise fail(f"invalid setting {name}: {first['msg']}") from None


# The default of Settings.data_dir (tests/test_cli.py checks that they agree).
DEFAULT_DATA_DIR = Path("briefing-data")


def search_data_dir() -> Path:
    """The one setting `briefing search` reads, without loading pydantic-settings.

    A search must answer in well under half a second and importing pydantic-settings alone
    takes about 0.2 s; every other setting concerns ingesting or serving.
    """
    value = os.environ.get("BRIEFING_DATA_DIR", "")
    return Path(value) if value else DEFAULT_DATA_DIR


@contextmanager
def clear_errors() -> Iterator[None]:
    """Turn our errors (and file-system errors) into one line and exit code 1."""
    try:
        yield
    except BriefingError as exc:
        raise fail(str(exc)) from None
    except OSError as exc:
        raise fail(f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": ")) from None


def format_time(seconds: float) -> str:
    """``83.4`` → ``01:23.4`` (hours added when needed)."""
    tenths = round(seconds * 10)
    minutes, tenth_secs = divmod(tenths, 600)
    hours, minutes = divmod(minutes, 60)
    secs = f"{tenth_secs // 10:02d}.{tenth_secs % 10}"
    return f"{hours}:{minutes:02d}:{secs}" if hours else f"{minutes:02d}:{secs}"


_MARK = re.compile(r"<mark>(.*?)</mark>", re.S)


def highlight_text(highlight: str) -> Text:
    """Rich text from an escaped highlight, the marked words in bold yellow."""
    text = Text()
    pos = 0
    for match in _MARK.finditer(highlight):
        text.append(html.unescape(highlight[pos : match.start()]))
        text.append(html.unescape(match.group(1)), style="bold yellow")
        pos = match.end()
    text.append(html.unescape(highlight[pos:]))
    return text


def results_table(results: list[SearchResult]) -> Table:
    """A readable table of clips and articles."""
    table = Table(show_lines=True, expand=False)
    table.add_column("#", justify="right")
    table.add_column("when / what", no_wrap=True)
    table.add_column("said or written", ratio=3)
    table.add_column("from", ratio=2)
    for rank, result in enumerate(results, start=1):
        if isinstance(result, Clip):
            when = f"{format_time(result.start)}–{format_time(result.end)}"
            titles = "; ".join(a.title or a.url for a in result.articles) or "(no article)"
            table.add_row(str(rank), when, highlight_text(result.highlight),
                          Text(f"{titles}\n{result.link}"))
        else:
            meta = " · ".join(x for x in (result.source, result.published) if x)
            table.add_row(str(rank), "article", highlight_text(result.highlight),
                          Text(f"{result.title}\n{meta}\n{result.url}".replace("\n\n", "\n")))
    return table


# -- ingest ------------------------------------------------------------------------------------


def _report_json(report: IngestReport) -> dict[str, Any]:
    return {
        "article": {"id": report.article.id, "url": report.article.url,
                    "title": report.article.title, "videos": len(report.article.video_urls)},
        "videos": [
            {"url": v.url, "state": v.state, "video_id": v.video_id, "error": v.error,
             "reused": v.reused}
            for v in report.videos
        ],
    }


@app.command()
def ingest(
    sources: Annotated[list[str], typer.Argument(help="Article URLs or local HTML/Markdown/"
                                                 "text files.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON report.")] = False,
    wait: Annotated[bool, typer.Option("--wait", help="With a broker: follow the queued "
                                       "jobs until they finish.")] = False,
) -> None:
    """Ingest articles: index their text and transcribe and index every video they link.

    With BRIEFING_BROKER_URL set the articles are queued for `briefing worker` and their
    job ids printed at once; otherwise everything runs here and now.
    """
    from api.progress import RichProgress
    from worker.pipeline.inline import ingest as run_ingest
    from worker.pipeline.wiring import build_context

    settings = load_settings()
    if settings.broker_url:
        from api.commands_queue import queue_ingest

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
                err.print(f"[bold red]error:[/] article {source}: {exc}", highlight=False,
                          soft_wrap=True)
                reports.append({"source": source, "error": str(exc)})
                continue
            reports.append(_report_json(report))
            if not as_json:
                progress.summary(report)
    if as_json:
        print(json.dumps(reports if len(reports) != 1 else reports[0], ensure_ascii=False))
    if failed_articles:
        raise typer.Exit(1)


# -- search ------------------------------------------------------------------------------------


@app.command()
def search(
    query: Annotated[str, typer.Argument(help='Words (all required) and "quoted phrases".')],
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=200)] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON results.")] = False,
    kind: Annotated[str | None, typer.Option("--type", help="Only clip or article.")] = None,
    source: Annotated[str | None, typer.Option(help="Only from this source.")] = None,
    published_from: Annotated[str | None, typer.Option("--from", help="Published on or "
                                                        "after YYYY-MM-DD.")] = None,
    published_to: Annotated[str | None, typer.Option("--to", help="Published on or before "
                                                      "YYYY-MM-DD.")] = None,
    language: Annotated[str | None, typer.Option(help="Only clips in this language.")] = None,
) -> None:
    """Search what was said (time-coded clips) and written (articles)."""
    from indexer import SearchIndex, has_index

    data_dir = search_data_dir()
    with clear_errors():
        index_root = data_dir / "index"
        if not has_index(index_root):
            raise BriefingError(f"nothing indexed yet in {data_dir}: run "
                                "`briefing ingest ARTICLE` first")
        index = SearchIndex(index_root)
        results = index.search(query, limit=limit, kind=kind, source=source,
                               published_from=published_from, published_to=published_to,
                               language=language)
        index.close()
    if as_json:
        payload = {"query": query, "results": [r.to_json() for r in results]}
        print(json.dumps(payload, ensure_ascii=False))
        return
    if not results:
        out.print(f"no results for {query!r}", highlight=False)
        return
    out.print(results_table(results))


# -- transcribe --------------------------------------------------------------------------------


@app.command()
def transcribe(
    source: Annotated[str, typer.Argument(help="A local video file or an http(s) URL.")],
    fmt: Annotated[str, typer.Option("--format", "-f", help="json, srt, vtt or txt.")] = "txt",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to FILE.")] = None,
) -> None:
    """Transcribe one video without touching the index."""
    from api.progress import RichProgress
    from worker.pipeline.inline import transcribe_source
    from worker.pipeline.wiring import model_provider, transcribe_options, video_limits
    from worker.speech.subtitles import FORMATS, render
    from worker.storage.datadir import write_text_atomic

    if fmt not in FORMATS:
        raise fail(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    settings = load_settings()
    with clear_errors(), RichProgress(err, enabled=True) as progress:
        tmp = settings.data_dir / "tmp"
        tmp.mkdir(parents=True, exist_ok=True)
        transcript = transcribe_source(
            source, tmp_dir=tmp, limits=video_limits(settings),
            models=model_provider(settings), options=transcribe_options(settings),
            ffmpeg_timeout=settings.ffmpeg_timeout, progress=progress,
        )
    text = render(transcript, fmt)
    if output is None:
        sys.stdout.write(text)
    else:
        with clear_errors():
            write_text_atomic(output, text)
        err.print(f"wrote {output}", highlight=False)


# -- status and reindex ------------------------------------------------------------------------


@app.command()
def status(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """What is in the data dir: articles, videos by state, hours transcribed."""
    from worker.storage.datadir import DataDir

    settings = load_settings()
    with clear_errors():
        data = DataDir(settings.data_dir)
        articles = sum(1 for _ in data.articles())
        sources = list(data.sources())
        seconds = sum(t.duration for t in data.transcripts())
    by_state: dict[str, int] = {}
    for record in sources:
        by_state[record.state] = by_state.get(record.state, 0) + 1
    failed = [{"url": r.url, "error": r.error} for r in sources if r.state == "failed"]
    if as_json:
        print(json.dumps({"data_dir": str(settings.data_dir), "articles": articles,
                          "videos": by_state, "failed": failed,
                          "hours_transcribed": round(seconds / 3600, 3)}))
        return
    out.print(f"data dir: {settings.data_dir}", highlight=False)
    out.print(f"articles: {articles}")
    summary = ", ".join(f"{n} {state}" for state, n in sorted(by_state.items())) or "none"
    out.print(f"videos:   {summary}", highlight=False)
    out.print(f"transcribed: {format_time(seconds)} ({seconds / 3600:.2f} h)", highlight=False)
    for item in failed:
        out.print(f"  failed  {item['url']}: {item['error']}", highlight=False, soft_wrap=True)


@app.command()
def reindex() -> None:
    """Rebuild the search index from the stored articles and transcripts."""
    from worker.pipeline.inline import reindex as run_reindex
    from worker.pipeline.wiring import build_context

    settings = load_settings()
    with clear_errors():
        n_articles, n_videos = run_reindex(build_context(settings))
    out.print(f"reindexed {n_articles} articles and {n_videos} transcripts")


def main() -> None:
    """Entry point of the ``briefing`` script."""
    app()


# Commands that live in their own modules register themselves on `app` when imported.
from api import commands_http, commands_queue  # noqa: E402, F401
