"""``briefing transcribe``: one video to json, srt, vtt or text, without touching the index."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from api.cli.common import clear_errors, err, fail, load_settings, shown
from api.cli.output import check_output_path, write_output

__all__ = ["transcribe"]


def transcribe(
    source: Annotated[str, typer.Argument(help="A local video file or an http(s) URL.")],
    fmt: Annotated[str, typer.Option("--format", "-f", metavar="FORMAT",
                                            help="json, srt, vtt or txt.")] = "txt",
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", metavar="FILE",
        help="Write to FILE (a file, a device or FIFO, - for stdout).")
    ] = None,
) -> None:
    """Transcribe one video without touching the index."""
    from api.cli.progress import RichProgress
    from worker.pipeline.single import transcribe_source
    from worker.pipeline.wiring import model_provider, transcribe_options, video_limits
    from worker.speech.subtitles import FORMATS, render
    from worker.storage.stores import scratch_root

    if fmt not in FORMATS:
        raise fail(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    settings = load_settings()
    if output is not None:
        with clear_errors():
            check_output_path(output)
    with clear_errors(), RichProgress(err, enabled=True) as progress:
        tmp = scratch_root(settings)
        tmp.mkdir(parents=True, exist_ok=True)
        transcript = transcribe_source(
            source, tmp_dir=tmp, limits=video_limits(settings),
            models=model_provider(settings), options=transcribe_options(settings),
            ffmpeg_timeout=settings.ffmpeg_timeout,
            max_video_seconds=settings.max_video_seconds, progress=progress,
        )
    text = render(transcript, fmt)
    if output is None:
        sys.stdout.write(text)
        return
    with clear_errors():
        write_output(output, text)
    if str(output) != "-":
        err.print(shown(f"wrote {output}"), highlight=False)
