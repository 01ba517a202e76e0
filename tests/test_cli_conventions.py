"""The ``briefing`` command keeps the conventions of Python command-line tools."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from tests.conftest import MEDIA, Ingested, cli_env
from tests.siteserver import Site

BRIEFING = [sys.executable, "-m", "api"]
COMMANDS = ["ingest", "search", "transcribe", "status", "reindex", "serve", "worker", "jobs",
            "timeline", "watch"]
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


# -- clear messages ------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["ingest", "transcribe"])
def test_a_folder_or_another_scheme_is_named_as_such(tmp_path: Path, command: str) -> None:
    folder = run([command, str(tmp_path)], tmp_path / "data")
    assert folder.returncode == 1
    assert f"{tmp_path} is a directory" in folder.stderr
    assert folder.stderr.count("\n") == 1
    ftp = run([command, "ftp://example.org/report.html"], tmp_path / "data")
    assert ftp.returncode == 1
    assert "unsupported scheme ftp://" in ftp.stderr and ftp.stderr.count("\n") == 1


@pytest.mark.parametrize("model", ["nonesuch", "small"])
def test_a_model_that_cannot_be_had_is_one_line_naming_what_is_accepted(
        tmp_path: Path, model: str) -> None:
    # "small" is a real faster-whisper name: offline, Hugging Face's error runs to lines.
    proc = run(["transcribe", str(MEDIA / "briefing-b.mp4")], tmp_path,
               BRIEFING_MODEL=model, HF_HUB_OFFLINE="1")
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: ") and repr(model) in lines[0]
    for accepted in ("tiny.en (bundled", "base (", "faster-whisper model name",
                     "CTranslate2 model directory"):
        assert accepted in lines[0]


def test_status_of_a_missing_or_empty_data_dir_says_so_and_creates_nothing(
        tmp_path: Path) -> None:
    missing = run(["status"], tmp_path / "typo")
    assert missing.returncode == 1
    assert missing.stderr.startswith(f"error: no data dir at {tmp_path / 'typo'}")
    assert not (tmp_path / "typo").exists()
    (tmp_path / "empty").mkdir()
    empty = run(["status", "--json"], tmp_path / "empty")
    assert empty.returncode == 1 and empty.stdout == ""
    assert f"the data dir {tmp_path / 'empty'} is empty" in empty.stderr
    assert list((tmp_path / "empty").iterdir()) == []
