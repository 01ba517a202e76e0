"""``briefing status`` (what the data dir holds) and ``briefing reindex`` (the index rebuilt)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from api.cli.common import clear_errors, fail, format_time, load_settings, out, shown
from worker.storage.states import VideoState

__all__ = ["reindex", "status"]


def status(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """What is in the data dir: articles, videos by state, hours transcribed."""
    from worker.storage.runs import shown_state
    from worker.storage.stores import open_records, open_runs, uses_database

    settings = load_settings()
    # DataDir creates its folders: a mistyped path would come back as a new, empty data dir.
    # (A database holds the records itself; the data dir then holds media only.)
    root = settings.data_dir
    if not uses_database(settings) and not root.is_dir():
        raise fail(f"no data dir at {root}: nothing ingested there (check --data-dir or "
                   "BRIEFING_DATA_DIR)")
    if not uses_database(settings) and not any(root.iterdir()):
        raise fail(f"the data dir {root} is empty: nothing ingested there (check --data-dir "
                   "or BRIEFING_DATA_DIR)")
    with clear_errors():
        data = open_records(settings)
        articles = sum(1 for _ in data.articles())
        sources = list(data.sources())
        seconds = sum(t.duration for t in data.transcripts())
    by_state: dict[str, int] = {}
    runs = open_runs(settings)
    for record in sources:
        state = shown_state(runs, record.state, record.runner)
        by_state[state] = by_state.get(state, 0) + 1
    failed = [{"url": r.url, "error": r.error} for r in sources if r.state is VideoState.FAILED]
    if as_json:
        print(json.dumps({"data_dir": str(settings.data_dir), "articles": articles,
                          "videos": by_state, "failed": failed,
                          "hours_transcribed": round(seconds / 3600, 3)}))
        return
    out.print(shown(f"data dir: {settings.data_dir}"), highlight=False)
    out.print(f"articles: {articles}")
    summary = ", ".join(f"{n} {state}" for state, n in sorted(by_state.items())) or "none"
    out.print(shown(f"videos:   {summary}"), highlight=False)
    out.print(f"transcribed: {format_time(seconds)} ({seconds / 3600:.2f} h)", highlight=False)
    for item in failed:
        out.print(shown(f"  failed  {item['url']}: {item['error']}"), highlight=False,
                  soft_wrap=True)


def reindex() -> None:
    """Rebuild the search index from the stored articles and transcripts."""
    from worker.storage.stores import open_records, rebuild_search_index

    settings = load_settings()
    with clear_errors():
        n_articles, n_videos = rebuild_search_index(settings, open_records(settings))
    out.print(f"reindexed {n_articles} articles and {n_videos} transcripts")
