"""Progress for the CLI: each video's phase, bytes downloaded, share of audio transcribed."""

from __future__ import annotations

from types import TracebackType

from rich.console import Console
from rich.filesize import decimal
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TaskID,
    TextColumn,
)
from rich.text import Text

from api.cli.common import visible
from worker.pipeline.context import Phase
from worker.storage.states import VideoState

__all__ = ["RichProgress"]


def _short(url: str, width: int = 40) -> str:
    name = url.rsplit("/", 1)[-1] or url
    return name if len(name) <= width else "…" + name[-(width - 1) :]


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}:{secs:02d}"


class _DetailColumn(ProgressColumn):
    """Bytes and rate for a download; share of audio and time left for a transcription;
    time spent for a phase that counts nothing (loading the model, decoding, indexing)."""

    def render(self, task: Task) -> Text:
        kind = task.fields.get("kind")
        if kind == "audio":
            left = task.time_remaining
            eta = f", about {_clock(left)} left" if left is not None and task.completed else ""
            return Text(f"{task.percentage:3.0f}% of audio{eta}")
        if kind == "phase":
            return Text(_clock(task.elapsed or 0.0))
        total = f"/{decimal(int(task.total))}" if task.total else ""
        speed = f" {decimal(int(task.speed))}/s" if task.speed else ""
        return Text(f"{decimal(int(task.completed))}{total}{speed}")


class RichProgress:
    """The pipeline's Progress, drawn with rich on stderr; silent when not on a terminal.

    One line per video, which changes with its phase: downloading (bytes), loading the
    model, extracting audio, transcribing (share of audio, time left), indexing. A spinner
    turns even while nothing is counted, so the line never looks stuck.
    """

    def __init__(self, console: Console, *, enabled: bool = True) -> None:
        self.console = console
        self._bars = Progress(
            SpinnerColumn(),
            # Descriptions quote URLs: never markup (see api.cli.common.shown).
            TextColumn("{task.description}", markup=False),
            BarColumn(),
            _DetailColumn(),
            console=console,
            transient=True,
            disable=not (enabled and console.is_terminal),
        )
        self._tasks: dict[str, TaskID] = {}
        self._shown: dict[str, tuple[str, str]] = {}  # url: (kind, description)

    def __enter__(self) -> RichProgress:
        self._bars.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._bars.stop()

    def _show(self, url: str, kind: str, text: str, total: float | None) -> TaskID:
        """The line of *url*, switched to *kind* (its clock and rate restarted) if it was
        showing something else."""
        description = f"{text} {visible(_short(url))}"
        task = self._tasks.get(url)
        if task is None:
            task = self._tasks[url] = self._bars.add_task(description, total=total, kind=kind)
        elif self._shown.get(url) != (kind, description):
            self._bars.reset(task, total=total, description=description, kind=kind)
        self._shown[url] = (kind, description)
        return task

    def state(self, url: str, state: str, *, video_id: str = "", error: str = "") -> None:
        """Hide a video's line once it is done or failed."""
        if state in (VideoState.DONE, VideoState.FAILED):
            task = self._tasks.pop(url, None)
            self._shown.pop(url, None)
            if task is not None:
                self._bars.remove_task(task)

    def downloaded(self, url: str, done: int, total: int | None) -> None:
        """Advance the download bar of *url*."""
        self._bars.update(self._show(url, "bytes", "downloading", total), completed=done,
                          total=total)

    def phase(self, url: str, text: str) -> None:
        """Show what *url* is busy with; transcribing gets a bar of the audio done."""
        if text == Phase.TRANSCRIBING:
            self._show(url, "audio", text, 1.0)
        else:
            self._show(url, "phase", text, None)  # no total: a pulsing bar

    def transcribed(self, url: str, fraction: float) -> None:
        """Advance the transcription bar of *url*."""
        self._bars.update(self._show(url, "audio", "transcribing", 1.0), completed=fraction)
