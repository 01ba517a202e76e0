"""The ``briefing`` command keeps the conventions of Python command-line tools."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from tests.conftest import Ingested, cli_env
from tests.siteserver import Site

BRIEFING = [sys.executable, "-m", "api"]
COMMANDS = ["ingest", "search", "transcribe", "status", "reindex", "serve", "worker", "jobs"]
REPO = Path(__file__).resolve().parent.parent


def run(args: list[str], data_dir: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*BRIEFING, *args], capture_output=True, text=True, timeout=300,
                          env=cli_env(data_dir, **env), cwd=REPO)


def test_version_prints_the_package_version(tmp_path: Path) -> None:
    proc = run(["--version"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"briefing {version('briefing')}"


def test_data_dir_option_wins_over_the_environment(tmp_path: Path,
                                                   ingested: Ingested) -> None:
    data_dir = ingested.ctx.data.root
    elsewhere = tmp_path / "elsewhere"
    status = run(["--data-dir", str(data_dir), "status", "--json"], elsewhere)
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["data_dir"] == str(data_dir)
    found = run(["--data-dir", str(data_dir), "search", '"relief workers"', "--json"],
                elsewhere)
    assert found.returncode == 0, found.stderr
    assert json.loads(found.stdout)["results"]
    assert not elsewhere.exists()


def _help(command: str) -> str:
    proc = run([command, "--help"] if command else ["--help"], Path("unused"))
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_each_short_option_has_one_meaning() -> None:
    meanings: dict[str, set[str]] = {}
    for command in COMMANDS:
        for short, long in re.findall(r"^\s+(-\w), (--[\w-]+)", _help(command), re.M):
            meanings.setdefault(short, set()).add(long)
    assert meanings, "no short options found"
    assert {s: m for s, m in meanings.items() if len(m) > 1} == {}


@pytest.mark.parametrize("command", ["", *COMMANDS])
def test_help_names_values_without_python_types(command: str) -> None:
    text = _help(command)
    assert not re.search(r"<[\w\[\], ]+>|\{\w+\}", text), text
    assert "list[" not in text and "<bool>" not in text


# -- ingest: one JSON shape, the summary on stdout ---------------------------------------------


def test_ingest_json_is_a_list_whatever_the_number_of_sources(tmp_path: Path,
                                                              site: Site) -> None:
    one = run(["ingest", "--json", site.url("no-video.html")], tmp_path)
    assert one.returncode == 0, one.stderr
    (report,) = json.loads(one.stdout)
    assert report["article"]["title"] == "Quiet day at the observatory"
    assert report["videos"] == []
    two = run(["ingest", "--json", site.url("no-video.html"), str(tmp_path / "nope.html")],
              tmp_path)
    assert two.returncode == 1
    read, unreadable = json.loads(two.stdout)
    assert read["article"]["videos"] == 0
    assert unreadable["source"] == str(tmp_path / "nope.html")
    assert "no such file" in unreadable["error"]
    assert "no such file" in two.stderr  # the error line, beside the JSON


def test_ingest_summary_is_on_stdout_and_says_when_no_video_is_linked(tmp_path: Path,
                                                                     site: Site) -> None:
    proc = run(["ingest", site.url("no-video.html"), str(tmp_path / "nope.html")], tmp_path)
    assert proc.returncode == 1
    assert proc.stdout.strip() == ("article Quiet day at the observatory — no video links "
                                   "found")
    assert proc.stderr.strip() == f"error: article {tmp_path / 'nope.html'}: no such file: " \
        f"{tmp_path / 'nope.html'}"


def test_queued_ingest_json_is_a_list_for_one_source(tmp_path: Path, broker: str,
                                                     site: Site) -> None:
    proc = run(["ingest", "--json", site.url("no-video.html")], tmp_path,
               BRIEFING_BROKER_URL=broker)
    assert proc.returncode == 0, proc.stderr
    (queued,) = json.loads(proc.stdout)
    assert queued["source"] == site.url("no-video.html") and queued["state"] == "queued"
