"""Progress bars for the CLI: bytes and rate while downloading, share of audio transcribed."""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

if TYPE_CHECKING:
    from worker.pipeline import IngestReport


def _short(url: str, width: int = 48) -> str:
    name = url.rsplit("/", 1)[-1] or url
    return name if len(name) <= width else "…" + name[-(width - 1) :]


class RichProgress:
    """The pipeline's Progress, drawn with rich on stderr (silent when disabled)."""

    def __init__(self, console: Console, *, enabled: bool = True) -> None:
        self.console = console
        self.enabled = enabled
        self._bars = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[detail]}"),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=True,
            disable=not enabled,
        )
        self._audio = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}% of audio"),
            TimeRemainingColumn(),
            console=console,
            transient=True,
            disable=not enabled,
        )
        self._download_tasks: dict[str, TaskID] = {}
        self._audio_tasks: dict[str, TaskID] = {}

    def __enter__(self) -> RichProgress:
        self._bars.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._bars.stop()
        self._audio.stop()

    def state(self, url: str, state: str) -> None:
        """Show state changes as they happen."""
        if state == "transcribing" and url not in self._audio_tasks:
            self._bars.stop()
            self._audio.start()
            self._audio_tasks[url] = self._audio.add_task(f"transcribing {_short(url)}",
                                                          total=1.0)
        elif state in ("indexing", "done", "failed") and url in self._audio_tasks:
            self._audio.update(self._audio_tasks.pop(url), completed=1.0, visible=False)

    def downloaded(self, url: str, done: int, total: int | None) -> None:
        """Advance the download bar of *url*."""
        if url not in self._download_tasks:
            self._download_tasks[url] = self._bars.add_task(
                f"downloading {_short(url)}", total=total, detail=""
            )
        self._bars.update(self._download_tasks[url], completed=done, total=total)

    def transcribed(self, url: str, fraction: float) -> None:
        """Advance the transcription bar of *url*."""
        task = self._audio_tasks.get(url)
        if task is None:
            task = self._audio_tasks[url] = self._audio.add_task(
                f"transcribing {_short(url)}", total=1.0)
            self._audio.start()
        self._audio.update(task, completed=fraction)

    def summary(self, report: IngestReport) -> None:
        """One line per video: what happened to it."""
        title = report.article.title or report.article.url
        self.console.print(f"[bold]article[/] {title} — {len(report.article.video_urls)} "
                           "video(s) linked", highlight=False)
        for video in report.videos:
            if video.state == "done":
                how = "already transcribed" if video.reused else "transcribed and indexed"
                self.console.print(f"  [green]✓[/] {video.url}: {how}", highlight=False,
                                   soft_wrap=True)
            else:
                self.console.print(f"  [red]✗[/] video {video.url}: {video.error}",
                                   highlight=False, soft_wrap=True)
