"""What the ``briefing`` commands share: the consoles, settings, error lines, times."""

from __future__ import annotations

import os
import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.text import Text

from indexer.errors import BriefingError

if TYPE_CHECKING:
    from worker.settings import Settings

__all__ = [
    "DEFAULT_DATA_DIR",
    "VideoLine",
    "article_error",
    "article_summary",
    "clear_errors",
    "err",
    "fail",
    "fleet_configured",
    "format_time",
    "load_settings",
    "out",
    "search_data_dir",
    "set_data_dir",
    "shown",
    "visible",
]

out = Console()
err = Console(stderr=True)


# C0 controls, DEL and C1 controls: a terminal acts on them (ESC starts sequences that clear
# the screen, set the window title or open hyperlinks; C1's CSI and OSC do so in one character).
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f]")


def _picture(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x20:
        return chr(0x2400 + code)  # Unicode's control pictures: ␛ for ESC, ␊ for a newline
    if code == 0x7F:
        return "\u2421"  # ␡
    return f"\\x{code:02x}"  # C1 has no pictures


def visible(value: object) -> str:
    """*value* as a string with every control character replaced by a visible stand-in."""
    return _CONTROLS.sub(_picture, str(value))


def shown(value: object, style: str = "") -> Text:
    """Text from outside (titles, URLs, errors, arguments) as rich text to print.

    Never read as markup, so ``[/i]`` cannot crash a print and ``[link=…]`` is not applied;
    control characters are made visible, so escape sequences never reach the terminal.
    Line breaks are made visible too: our own layout adds the ones it needs.
    """
    return Text(visible(value), style=style)


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print one error line on stderr and return the exit to raise.

    *message* usually quotes outside text (a file name, an option's value, a server's error),
    so all of it is printed as text.
    """
    err.print(Text.assemble(("error:", "bold red"), " ", shown(message)), highlight=False,
              soft_wrap=True)
    return typer.Exit(code)


# `briefing --data-dir DIR`: wins over BRIEFING_DATA_DIR for every command of this process.
_data_dir_option: Path | None = None


def set_data_dir(path: Path) -> None:
    """Use *path* as the data dir (the global ``--data-dir`` option), whatever the env says."""
    global _data_dir_option
    _data_dir_option = path


def load_settings() -> Settings:
    """Settings from the environment (and ``--data-dir``), or one clear error."""
    # Imported here: pydantic-settings costs about 0.2 s, a third of a search's budget.
    from pydantic import ValidationError

    from worker.settings import Settings

    try:
        if _data_dir_option is not None:
            return Settings(data_dir=_data_dir_option)
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
    if _data_dir_option is not None:
        return _data_dir_option
    value = os.environ.get("BRIEFING_DATA_DIR", "")
    return Path(value) if value else DEFAULT_DATA_DIR


def fleet_configured() -> bool:
    """Whether BRIEFING_DATABASE_URL names a database (read without pydantic-settings, for
    `briefing search`: unset, the embedded data dir answers as fast as before)."""
    return bool(os.environ.get("BRIEFING_DATABASE_URL", "").strip())


@contextmanager
def clear_errors() -> Iterator[None]:
    """Turn our errors (and file-system and job-store errors) into one line and exit code 1."""
    try:
        yield
    except BriefingError as exc:
        raise fail(str(exc)) from None
    except OSError as exc:
        raise fail(f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": ")) from None
    except sqlite3.Error as exc:  # the job store: a full disk, a damaged file
        raise fail(f"the job store cannot be used: {exc}") from None


def format_time(seconds: float) -> str:
    """``83.4`` → ``01:23.4`` (hours added when needed)."""
    tenths = round(seconds * 10)
    minutes, tenth_secs = divmod(tenths, 600)
    hours, minutes = divmod(minutes, 60)
    secs = f"{tenth_secs // 10:02d}.{tenth_secs % 10}"
    return f"{hours}:{minutes:02d}:{secs}" if hours else f"{minutes:02d}:{secs}"


@dataclass(frozen=True)
class VideoLine:
    """What happened to one video of an ingested article, for the summary."""

    url: str
    done: bool
    detail: str  # "transcribed and indexed", "already transcribed", or why it failed


def article_summary(title: str, videos: list[VideoLine]) -> None:
    """The human summary of one ingested article, on stdout: the article, then a line per
    video (inline and queued ingests print the same)."""
    linked = f" — {len(videos)} video(s) linked" if videos else " — no video links found"
    out.print(Text.assemble(("article", "bold"), " ", shown(title), linked),
              highlight=False, soft_wrap=True)
    for video in videos:
        if video.done:
            out.print(Text.assemble("  ", ("✓", "green"), " ", shown(video.url), ": ",
                                    shown(video.detail)), highlight=False, soft_wrap=True)
        else:
            out.print(Text.assemble("  ", ("✗", "red"), " video ", shown(video.url), ": ",
                                    shown(video.detail)), highlight=False, soft_wrap=True)


def article_error(source: str, message: str) -> None:
    """An article that could not be read or queued: one error line on stderr."""
    err.print(Text.assemble(("error:", "bold red"), " ", shown(f"article {source}: {message}")),
              highlight=False, soft_wrap=True)
