"""``briefing search``: what was said (time-coded clips) and written (articles), as a table
on a terminal and as tab-separated lines for a script."""

from __future__ import annotations

import html
import json
import re
import sys
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from api.cli.common import (
    clear_errors,
    fleet_configured,
    format_time,
    load_settings,
    out,
    search_data_dir,
    shown,
    visible,
)
from indexer.domain import Clip, SearchResult
from indexer.errors import BriefingError

__all__ = ["highlight_text", "result_line", "results_table", "search"]

_MARK = re.compile(r"<mark>(.*?)</mark>", re.S)


def highlight_text(highlight: str) -> Text:
    """Rich text from an escaped highlight, the marked words in bold yellow."""
    text = Text()
    pos = 0
    for match in _MARK.finditer(highlight):
        text.append(visible(html.unescape(highlight[pos : match.start()])))
        text.append(visible(html.unescape(match.group(1))), style="bold yellow")
        pos = match.end()
    text.append(visible(html.unescape(highlight[pos:])))
    return text


def _plain(highlight: str) -> str:
    """An escaped highlight as the plain text it marks up."""
    return html.unescape(highlight.replace("<mark>", "").replace("</mark>", ""))


def result_line(result: SearchResult) -> str:
    """One result as one line of tab-separated fields, whole, for a script.

    Clip: time range, link with ``#t=``, the sentence it starts in, the linking articles'
    titles. Article: ``article``, URL, excerpt, title. So the link is always the second field
    and the words the third. Every control character of outside text is made visible (a tab
    as ␉, a line break as ␊), so a field never splits and nothing reaches a terminal.
    """
    if isinstance(result, Clip):
        fields = [f"{format_time(result.start)}–{format_time(result.end)}", result.link,
                  _plain(result.context or result.highlight),
                  "; ".join(a.title or a.url for a in result.articles)]
        if result.similarity is not None:
            fields.append(sounds_like(result))
    else:
        fields = ["article", result.url, _plain(result.highlight), result.title]
    return "\t".join(visible(field) for field in fields)


def sounds_like(clip: Clip) -> str:
    """How a phonetic clip is labelled: 'sounds like (83 %): heard "chemistry"'."""
    return f'sounds like ({clip.similarity or 0:.0%}): heard "{clip.heard}"'


def _lines(*values: str) -> Text:
    """Outside values shown as text, one per line (our line breaks, not theirs)."""
    return Text("\n").join(shown(value) for value in values if value)


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
            said = highlight_text(result.context or result.highlight)
            if result.similarity is not None:
                said = Text("\n").join([said, shown(sounds_like(result))])
            table.add_row(str(rank), when, said, _lines(titles, result.link))
        else:
            meta = " · ".join(x for x in (result.source, result.published) if x)
            table.add_row(str(rank), "article", highlight_text(result.highlight),
                          _lines(result.title, meta, result.url))
    return table


def search(
    query: Annotated[str, typer.Argument(help='Words (all required) and "quoted phrases".')],
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=200, metavar="N",
                                       help="At most N results.")] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON results.")] = False,
    kind: Annotated[str | None, typer.Option(
        "--type", metavar="clip|article", help="Only clips or only articles.")] = None,
    source: Annotated[str | None, typer.Option(
        metavar="NAME", help="Only from this source.")] = None,
    published_from: Annotated[str | None, typer.Option(
        "--from", metavar="DATE", help="Published on or after YYYY-MM-DD.")] = None,
    published_to: Annotated[str | None, typer.Option(
        "--to", metavar="DATE", help="Published on or before YYYY-MM-DD.")] = None,
    language: Annotated[str | None, typer.Option(
        metavar="CODE", help="Only clips in this language (en, fr...).")] = None,
) -> None:
    """Search what was said (time-coded clips) and written (articles)."""
    from indexer import SearchIndex, has_index
    from worker.storage.datadir import DataDir
    from worker.storage.datadir import index_root as index_root_of

    data_dir = search_data_dir()
    with clear_errors():
        if fleet_configured():
            # A database names the stores: the full settings are read, and the factory
            # opens what they say.
            from worker.storage.stores import open_records, open_search_index

            settings = load_settings()
            hidden = open_records(settings).hidden()
            index = open_search_index(settings)
        else:
            index_root = index_root_of(data_dir)
            if not has_index(index_root):
                raise BriefingError(f"nothing indexed yet in {data_dir}: run "
                                    "`briefing ingest ARTICLE` first")
            # Items of a takedown in progress are left out from the moment it is recorded.
            hidden = DataDir(data_dir).hidden()
            index = SearchIndex(index_root)
        page = index.search_page(query, limit=limit, kind=kind, source=source,
                                 published_from=published_from, published_to=published_to,
                                 language=language, hidden_videos=hidden.video_ids,
                                 hidden_articles=hidden.article_ids,
                                 hidden_links=hidden.article_urls)
        results = page.results
        index.close()
    if page.notice:
        # On stderr: results on stdout stay what a script reads.
        print(f"note: {page.notice}", file=sys.stderr)
    if as_json:
        payload = {"query": query, "results": [r.to_json() for r in results]}
        print(json.dumps(payload, ensure_ascii=False))
        return
    if not results:
        out.print(shown(f"no results for {query!r}"), highlight=False)
        return
    if not out.is_terminal:
        # A pipe or a file: whole lines, never a table cut to a width.
        # Printed as plain strings: rich would turn our tabs into spaces.
        for result in results:
            print(result_line(result))
        return
    out.print(results_table(results))
