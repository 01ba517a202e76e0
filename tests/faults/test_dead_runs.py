"""A killed inline run: what it left is swept by the next run, and shown as interrupted."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
from pathlib import Path

from tests.conftest import MEDIA, cli_env
from tests.fleet import BRIEFING, REPO, cli, wait_for
from tests.siteserver import Site
from worker.storage.datadir import DataDir
from worker.storage.jobs import JobStore

# Sequential decoding with a wide beam: the transcription lasts long enough to be caught.
SLOW = {"BRIEFING_BATCH_SIZE": "0", "BRIEFING_BEAM_SIZE": "10"}


def _article(site: Site, name: str) -> str:
    folder = site.root / "dead"
    folder.mkdir(exist_ok=True)
    shutil.copy(MEDIA / "briefing-a.mp4", folder / f"{name}.mp4")
    (folder / f"{name}.html").write_text(
        f'<html><head><title>Run {name}</title></head><body><article><p>Watch '
        f'<a href="{name}.mp4">the briefing</a></p></article></body></html>')
    return site.url(f"dead/{name}.html")


def _start(article: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([*BRIEFING, "ingest", article], env={**env, **SLOW}, cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)


def _transcribing(data_dir: Path) -> bool:
    return any(r.state == "transcribing" for r in DataDir(data_dir).sources())


def _temp_files(data_dir: Path) -> list[Path]:
    return [p for p in (data_dir / "tmp").rglob("*") if p.is_file()]


def test_a_killed_runs_temp_files_are_swept_and_its_work_shown_interrupted(
        tmp_path: Path, site: Site) -> None:
    data_dir = tmp_path / "data"
    env = cli_env(data_dir)
    proc = _start(_article(site, "killed"), env)
    wait_for(lambda: _transcribing(data_dir) and any(
        p.suffix == ".s16le" for p in _temp_files(data_dir)), 90, "the audio to be decoded")
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    left = _temp_files(data_dir)
    assert any(p.suffix == ".s16le" for p in left), left  # what a killed run leaves

    # Not "transcribing" forever: the run doing it is dead.
    status = json.loads(cli(["status", "--json"], env).stdout)
    assert status["videos"] == {"interrupted": 1}, status
    (job,) = json.loads(cli(["jobs", "--json"], env).stdout)
    assert job["state"] == "interrupted" and "ingest the article again" in job["error"]

    # The next run of anything sweeps it, and the article's next run finishes the video.
    swept = cli(["ingest", site.url("no-video.html")], env)
    assert swept.returncode == 0, swept.stderr
    assert not any(p.exists() for p in left)
    assert _temp_files(data_dir) == []
    again = cli(["ingest", site.url("dead/killed.html")], env)
    assert again.returncode == 0, again.stderr
    assert json.loads(cli(["status", "--json"], env).stdout)["videos"] == {"done": 1}


def test_a_live_runs_temp_files_are_left_alone(tmp_path: Path, site: Site) -> None:
    data_dir = tmp_path / "data"
    env = cli_env(data_dir)
    proc = _start(_article(site, "alive"), env)
    try:
        wait_for(lambda: _transcribing(data_dir) and any(
            p.suffix == ".s16le" for p in _temp_files(data_dir)), 90, "the audio")
        audio = [p for p in _temp_files(data_dir) if p.suffix == ".s16le"]
        status = json.loads(cli(["status", "--json"], env).stdout)
        assert status["videos"] == {"transcribing": 1}  # alive: shown as it is
        other = cli(["ingest", site.url("no-video.html")], env)  # sweeps at its start
        assert other.returncode == 0, other.stderr
        assert all(p.exists() for p in audio) or proc.poll() is not None
        assert proc.wait(timeout=300) == 0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    jobs = JobStore(DataDir(data_dir).jobs_db).recent()
    assert [j.state for j in jobs] == ["done", "done"]
    assert _temp_files(data_dir) == []  # a run that ends cleans up after itself
