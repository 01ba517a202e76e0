"""Progress bars for the CLI: bytes and rate while downloading, share of audio transcribed."""

from __future__ import annotations

from types import TracebackType

from rich.console import Console
from rich.filesize import decimal
from rich.progress import BarColumn, Progress, ProgressColumn, Task, TaskID, TextColumn
from rich.text import Text

from api.cli.common import visible
from worker.storage.states import VideoState

__all__ = ["RichProgress"]


def _short(url: str, width: int = 40) -> str:
    name = url.rsplit("/", 1)[-1] or url
    return name if len(name) <= width else "…" + name[-(width - 1) :]


class _DetailColumn(ProgressColumn):
    """Bytes and rate for a download, share of audio for a transcription."""

    def render(self, task: Task) -> Text:
        if task.fields.get("kind") == "audio":
            return Text(f"{task.percentage:3.0f}% of audio")
        total = f"/{decimal(int(task.total))}" if task.total else ""
        speed = f" {decimal(int(task.speed))}/s" if task.speed else ""
        return Text(f"{decimal(int(task.completed))}{total}{speed}")


class RichProgress:
    """The pipeline's Progress, drawn with rich on stderr; silent when not on a terminal."""

    def __init__(self, console: Console, *, enabled: bool = True) -> None:
        self.console = console
        self._bars = Progress(
            # Descriptions quote URLs: never markup (see api.cli.common.shown).
            TextColumn("{task.description}", markup=False),
            BarColumn(),
            _DetailColumn(),
            console=console,
            transient=True,
            disable=not (enabled and console.is_terminal),
        )
        self._tasks: dict[tuple[str, str], TaskID] = {}

    def __enter__(self) -> RichProgress:
        self._bars.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._bars.stop()

    def _task(self, url: str, kind: str, total: float | None) -> TaskID:
        key = (url, kind)
        if key not in self._tasks:
            verb = "transcribing" if kind == "audio" else "downloading"
            self._tasks[key] = self._bars.add_task(f"{verb} {visible(_short(url))}", total=total,
                                                   kind=kind)
        return self._tasks[key]

    def state(self, url: str, state: str, *, video_id: str = "", error: str = "") -> None:
        """Hide a video's bars once it is past them."""
        if state is not VideoState.DOWNLOADING:
            download = self._tasks.pop((url, "bytes"), None)
            if download is not None:
                self._bars.remove_task(download)
        if state not in (VideoState.DOWNLOADING, VideoState.TRANSCRIBING):
            audio = self._tasks.pop((url, "audio"), None)
            if audio is not None:
                self._bars.remove_task(audio)

    def downloaded(self, url: str, done: int, total: int | None) -> None:
        """Advance the download bar of *url*."""
        self._bars.update(self._task(url, "bytes", total), completed=done, total=total)

    def transcribed(self, url: str, fraction: float) -> None:
        """Advance the transcription bar of *url*."""
        self._bars.update(self._task(url, "audio", 1.0), completed=fraction)
