"""Text from outside reaches the terminal as text: never rich markup, never raw control codes.

A hostile page's title, a hostile video's first bytes (quoted in the stored error) and hostile
arguments are printed by `ingest`, `search`, `jobs`, `status` and the one-line errors. Markup in
them must neither crash the command (`[/i]`) nor be applied (`[bold red]`, `[link=…]`), and
escape sequences in them must not clear the screen, set the window title or open hyperlinks.
"""

from __future__ import annotations

import errno
import json
import os
import pty
import re
import select
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import cli_env
from tests.fleet import BRIEFING, REPO, cli
from tests.siteserver import Site

MARKUP = "Bad [/i] [link=https://evil.example]x[/link] [bold red]RED[/bold red] [blink]on"
# A raw ESC (clear screen) and an entity-encoded one (set the window title, then ring).
TITLE = MARKUP + " \x1b[2J &#27;]0;pwned&#7; end"
SHOWN_TITLE = MARKUP + " ␛[2J ␛]0;pwned␇ end"
# What the title's escape sequences would do if they reached a terminal, and what rich's
# markup would add (a live hyperlink) if `[link=…]` were applied.
HOSTILE_SEQUENCES = (b"\x1b[2J", b"\x1b]0;", b"\x1b]8;", b"\x07")
VIDEO_BYTES = b"[/i][link=https://evil.example]y[/link] \x1b]0;pwned\x07 not a video\n"
# The stored error quotes the video's first bytes.
QUOTED_BYTES = "starting b'[/i][lin'"


def _article(title: str, words: str, video: str = "") -> str:
    tag = f'<video src="{video}"></video>' if video else ""
    return (f"<html><head><title>{title}</title></head><body><article><p>{words}</p>{tag}"
            "</article></body></html>")


@dataclass
class Hostile:
    """A data dir holding a hostile article (and its failed video) and a plain one."""

    data_dir: Path
    site: Site
    ingest: subprocess.CompletedProcess[str]

    def env(self, **extra: str) -> dict[str, str]:
        return cli_env(self.data_dir, **extra)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hostile]:
    root = tmp_path_factory.mktemp("hostile-site")
    (root / "hostile.html").write_text(_article(
        TITLE, "A comet with a green tail was catalogued by the observatory staff.",
        "bad.mp4"))
    (root / "plain.html").write_text(_article(
        "Quiet harbour", "The harbour master reported calm water and a quiet morning."))
    (root / "bad.mp4").write_bytes(VIDEO_BYTES)
    site = Site(root).start()
    data_dir = tmp_path_factory.mktemp("hostile-data")
    # The hostile article first: the plain one must still be ingested after it.
    proc = cli(["ingest", site.url("hostile.html"), site.url("plain.html")], cli_env(data_dir))
    yield Hostile(data_dir, site, proc)
    site.stop()


def _job_ids(hostile: Hostile) -> list[str]:
    proc = cli(["jobs", "--json"], hostile.env())
    return [job["id"] for job in json.loads(proc.stdout)]


# -- markup ------------------------------------------------------------------------------------


def test_ingest_prints_a_title_with_markup_as_text_and_goes_on(hostile: Hostile) -> None:
    proc = hostile.ingest
    assert "Traceback" not in proc.stderr
    assert proc.returncode == 0, proc.stderr
    # The summary is the command's output (stdout); no escape sequence reaches it either.
    assert SHOWN_TITLE in proc.stdout and "\x1b" not in proc.stdout
    # The video's first bytes are quoted (as Python escapes) in its error.
    assert QUOTED_BYTES in proc.stdout
    assert "Quiet harbour" in proc.stdout  # the next article was processed


def test_status_prints_a_stored_error_with_markup_as_text(hostile: Hostile) -> None:
    proc = cli(["status"], hostile.env())
    assert proc.returncode == 0, proc.stderr
    assert QUOTED_BYTES in proc.stdout


def test_jobs_list_and_view_print_markup_as_text(hostile: Hostile) -> None:
    listing = cli(["jobs"], hostile.env(COLUMNS="400"))
    assert listing.returncode == 0, listing.stderr
    assert SHOWN_TITLE in listing.stdout
    for job_id in _job_ids(hostile):
        view = cli(["jobs", job_id], hostile.env(COLUMNS="400"))
        assert view.returncode == 0, view.stderr
    hostile_view = [cli(["jobs", i], hostile.env(COLUMNS="400")).stdout
                    for i in _job_ids(hostile)]
    assert any(SHOWN_TITLE in view for view in hostile_view)
    assert any(QUOTED_BYTES in view for view in hostile_view)


def test_search_prints_markup_as_text(hostile: Hostile) -> None:
    found = cli(["search", "comet"], hostile.env(COLUMNS="400"))
    assert found.returncode == 0, found.stderr
    assert SHOWN_TITLE in found.stdout
    none = cli(["search", "[/i]zebra"], hostile.env())
    assert none.returncode == 0, none.stderr
    assert "no results for '[/i]zebra'" in none.stdout


@pytest.mark.parametrize(("args", "data_dir", "quoted"), [
    (["transcribe", "clip.mp4", "--format", "[/i]"], "", "'[/i]'"),
    (["search", "comet", "--type", "[/i][link=https://evil.example]x[/link]"], "",
     "'[/i][link=https://evil.example]x[/link]'"),
    (["search", "comet", "--from", "[bold red]2026[/bold red]"], "",
     "[bold red]2026[/bold red]"),
    (["ingest", "x\x1b]0;pwned\x07.html"], "", "x␛]0;pwned␇.html"),
    (["ingest", "x[link=https://evil.example]y[/link].html"], "",
     "x[link=https://evil.example]y[/link].html"),
    (["transcribe", "gone[/i].mp4"], "", "gone[/i].mp4"),
    (["search", "comet"], "nowhere[/i]", "nowhere[/i]"),
])
def test_one_line_errors_print_arguments_as_text(hostile: Hostile, tmp_path: Path,
                                                 args: list[str], data_dir: str,
                                                 quoted: str) -> None:
    env = hostile.env()
    if data_dir:
        env["BRIEFING_DATA_DIR"] = str(tmp_path / data_dir)
    proc = subprocess.run([*BRIEFING, *args], capture_output=True, text=True, timeout=120,
                          env=env, cwd=tmp_path)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert quoted in lines[0]
    assert "\x1b" not in proc.stderr and "\x07" not in proc.stderr


def test_our_help_keeps_its_brackets() -> None:
    proc = cli(["worker", "--help"], cli_env(Path("unused"), COLUMNS="2000"))
    assert proc.returncode == 0, proc.stderr
    flat = re.sub(r"\s+", " ", proc.stdout)
    assert "[default: one per core when transcribing" in flat, proc.stdout
    assert "[default: briefing-PID@HOST]" in flat, proc.stdout


# -- control characters under a real terminal --------------------------------------------------


def on_terminal(args: list[str], env: dict[str, str], timeout: float = 120) -> tuple[int, bytes]:
    """Run ``briefing ARGS`` with stdin, stdout and stderr on a pseudo-terminal; its bytes."""
    controller, terminal = pty.openpty()
    proc = subprocess.Popen([*BRIEFING, *args], stdin=terminal, stdout=terminal,
                            stderr=terminal, env={**env, "TERM": "xterm-256color"}, cwd=REPO,
                            start_new_session=True)
    os.close(terminal)
    seen = bytearray()
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([controller], [], [], 0.5)
            if not ready:
                if proc.poll() is not None:
                    break
                continue
            try:
                chunk = os.read(controller, 65536)
            except OSError as exc:  # EIO: the terminal's last writer closed it
                if exc.errno != errno.EIO:
                    raise
                break
            if not chunk:
                break
            seen += chunk
        code = proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(controller)
    return code, bytes(seen)


def test_no_escape_sequence_from_outside_reaches_the_terminal(hostile: Hostile,
                                                             tmp_path: Path) -> None:
    env = cli_env(tmp_path / "data", COLUMNS="400")
    code, ingested = on_terminal(["ingest", hostile.site.url("hostile.html")], env)
    assert code == 0, ingested.decode(errors="replace")
    job_id = json.loads(cli(["jobs", "--json"], env).stdout)[0]["id"]
    outputs = {"ingest": ingested}
    for args in (["search", "comet"], ["jobs"], ["jobs", job_id], ["status"]):
        code, shown = on_terminal(args, env)
        assert code == 0, shown.decode(errors="replace")
        outputs[" ".join(args)] = shown
    for name, shown in outputs.items():
        for sequence in HOSTILE_SEQUENCES:
            assert sequence not in shown, f"{name} printed {sequence!r}"
    # The title is there, its escape made visible, and our own styling still reaches the
    # terminal (a rich table or bold text is more than plain bytes).
    for name in ("ingest", "search comet", "jobs"):
        assert "␛[2J ␛]0;pwned␇".encode() in outputs[name], name
    assert b"\x1b[1m" in outputs["ingest"]


def test_json_output_keeps_control_characters_escaped(hostile: Hostile) -> None:
    proc = cli(["jobs", "--json"], hostile.env())
    assert "\x1b" not in proc.stdout
    titles = [job["title"] for job in json.loads(proc.stdout)]
    assert any("\x1b[2J" in title and "\x1b]0;pwned\x07" in title for title in titles)
