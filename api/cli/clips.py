"""``briefing clip`` (a cut with captions and a provenance sidecar) and ``briefing verify``."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.text import Text

from api.cli.common import clear_errors, fail, format_time, load_settings, out, shown

if TYPE_CHECKING:
    from worker.settings import Settings

__all__ = ["clip", "parse_time", "verify"]

_CLOCK = re.compile(r"(?:(\d+):)?(\d+):(\d+(?:\.\d+)?)")


def parse_time(value: str) -> float:
    """``83.4``, ``1:23.4`` or ``0:01:23.4`` as seconds; raises ValueError."""
    value = value.strip()
    match = _CLOCK.fullmatch(value)
    if match:
        hours, minutes, seconds = match.groups()
        return int(hours or 0) * 3600 + int(minutes) * 60 + float(seconds)
    seconds = float(value)
    if seconds != seconds or seconds in (float("inf"), float("-inf")):
        raise ValueError(value)
    return seconds


def _clip_from_search(settings: Settings, query: str, rank: int) -> tuple[str, float, float]:
    from indexer import Clip
    from worker.storage.stores import has_search_index, open_records, open_search_index

    data = open_records(settings)
    if not has_search_index(settings):
        raise fail(f"nothing indexed yet in {settings.data_dir}: run `briefing ingest ARTICLE`"
                   " first")
    hidden = data.hidden()
    index = open_search_index(settings)
    try:
        results = index.search(query, limit=rank, kind="clip", hidden_videos=hidden.video_ids,
                               hidden_articles=hidden.article_ids,
                               hidden_links=hidden.article_urls)
    finally:
        index.close()
    clips = [r for r in results if isinstance(r, Clip)]
    if len(clips) < rank:
        raise fail(f"{query!r} has {len(clips)} clip(s), no clip ranked {rank}")
    found = clips[rank - 1]
    return found.video_id, found.start, found.end


def clip(
    video_id: Annotated[str | None, typer.Argument(metavar="VIDEO_ID",
                                                   help="The video (16 hex digits).")] = None,
    start: Annotated[str | None, typer.Argument(metavar="START",
                                                help="Seconds, or 1:23.4.")] = None,
    end: Annotated[str | None, typer.Argument(metavar="END", help="Seconds, or 1:31.0.")] = None,
    output: Annotated[Path, typer.Option("--output", "-o", metavar="FILE",
                                         help="The clip (.mp4); FILE.json, .srt and .vtt "
                                         "are written beside it.")] = Path("clip.mp4"),
    query: Annotated[str | None, typer.Option("--query", "-q", metavar="QUERY",
                                              help="Cut the clip a search finds instead.")
                     ] = None,
    rank: Annotated[int, typer.Option("--rank", min=1, metavar="N",
                                      help="With --query: the N-th clip found.")] = 1,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Export a clip: the cut video, its captions in clip time and a provenance sidecar."""
    from worker.clips import export_clip
    from worker.storage.stores import open_records

    settings = load_settings()
    if query is not None:
        if video_id is not None:
            raise fail("give VIDEO_ID START END or --query, not both")
        with clear_errors():
            video_id, first, last = _clip_from_search(settings, query, rank)
    else:
        if video_id is None or start is None or end is None:
            raise fail("give VIDEO_ID START END, or --query QUERY")
        try:
            first, last = parse_time(start), parse_time(end)
        except ValueError:
            raise fail(f"START and END are seconds or 1:23.4, not {start!r} and {end!r}"
                       ) from None
    if str(output) == "-":
        raise fail("the clip needs a file name: its sidecar and captions go beside it")
    with clear_errors():
        done = export_clip(open_records(settings), video_id, first, last, output,
                           timeout=settings.ffmpeg_timeout,
                           max_seconds=settings.max_clip_seconds)
    if as_json:
        print(json.dumps({"clip": str(done.clip), "sidecar": str(done.sidecar),
                          "srt": str(done.srt), "vtt": str(done.vtt), "sha256": done.sha256,
                          "video_id": video_id, "start": done.start, "end": done.end,
                          "duration": done.duration}))
        return
    out.print(Text.assemble("clip     ", shown(done.clip),
                            f"  {format_time(done.start)}–{format_time(done.end)} of "
                            f"{video_id} ({done.duration:.2f} s)"), highlight=False,
              soft_wrap=True)
    out.print(Text.assemble("sidecar  ", shown(done.sidecar)), highlight=False, soft_wrap=True)
    out.print(Text.assemble("captions ", shown(done.srt), ", ", shown(done.vtt)),
              highlight=False, soft_wrap=True)


def verify(
    clip_file: Annotated[Path, typer.Argument(metavar="CLIP", help="The exported clip.")],
    sidecar: Annotated[Path | None, typer.Argument(
        metavar="SIDECAR", help="Its sidecar [default: CLIP with .json].")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Check a clip against its sidecar and the stored original: hashes and words."""
    from worker.clips import sidecar_path, verify_clip
    from worker.storage.stores import open_records

    settings = load_settings()
    if not settings.data_dir.is_dir():
        raise fail(f"no data dir at {settings.data_dir}: the original cannot be checked")
    with clear_errors():
        checks = verify_clip(clip_file, sidecar or sidecar_path(clip_file),
                             open_records(settings))
    ok = all(c.ok for c in checks)
    if as_json:
        print(json.dumps({"ok": ok, "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail}
                                               for c in checks]}, ensure_ascii=False))
    else:
        for check in checks:
            mark = ("✓", "green") if check.ok else ("✗", "red")
            out.print(Text.assemble(mark, " ", f"{check.name}: ", shown(check.detail)),
                      highlight=False, soft_wrap=True)
    if not ok:
        raise typer.Exit(1)
