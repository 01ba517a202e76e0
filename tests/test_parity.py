"""One pipeline: the same scenarios through the inline runner (`briefing ingest` without a
broker) and through real `briefing worker` processes on Redis end in the same records.

Compared: every video URL's record (state, attempts, error, video id, linking articles), the
job records (state, error, title, each video's state, attempts, error, video id, the steps
that ran), the transcripts, and what a search returns.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import MANIFEST, MEDIA, cli_env
from tests.fleet import BRIEFING, QUICK, REPO, Fleet, cli, state_of, wait_for, wait_job
from tests.siteserver import Site
from worker.storage.datadir import DataDir
from worker.storage.jobs import JobStore

# briefing-a.mp4 is 32 s long, briefing-b.mp4 23 s: a cap between them fails only the first.
CAP = {"BRIEFING_MAX_VIDEO_SECONDS": "28", "BRIEFING_CPU_THREADS": "1"}
PHRASES = [s["phrase"] for s in MANIFEST["briefing-b.mp4"]["sentences"][:3]]


def _page(title: str, *links: str) -> str:
    anchors = " ".join(f'<a href="{link}">video {n}</a>' for n, link in enumerate(links))
    return (f"<html><head><title>{title}</title></head><body><article><h1>{title}</h1>"
            f"<p>Watch: {anchors}</p></article></body></html>")


@pytest.fixture(scope="module")
def parity_site(site: Site) -> Site:
    """Articles: a good one (a video, one over the cap, a 404), one sharing its video (and a
    mirror of it), and one whose video a test kills the runner on."""
    folder = site.root / "parity"
    folder.mkdir(exist_ok=True)
    shutil.copy(MEDIA / "briefing-b.mp4", folder / "b.mp4")
    shutil.copy(MEDIA / "briefing-b.mp4", folder / "b-mirror.mp4")
    shutil.copy(MEDIA / "briefing-a.mp4", folder / "long.mp4")
    shutil.copy(MEDIA / "briefing-b.mp4", folder / "killed.mp4")
    (folder / "good.html").write_text(_page("Good article", "b.mp4", "long.mp4",
                                            "missing.mp4"))
    (folder / "shared.html").write_text(_page("Shared video", "b.mp4", "b-mirror.mp4"))
    (folder / "killed.html").write_text(_page("Killed run", "killed.mp4"))
    return site


def _ingest(source: str, env: dict[str, str]) -> None:
    proc = subprocess.run([*BRIEFING, "ingest", source, *(["--wait"] if
                                                          "BRIEFING_BROKER_URL" in env else [])],
                          capture_output=True, text=True, timeout=300, env=env, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-3000:]


def _records(data_dir: Path, queries: list[str], env: dict[str, str]) -> dict[str, Any]:
    """Everything a user can see of a data dir, without what differs by nature (job ids,
    times, which process ran a job)."""
    data = DataDir(data_dir)
    jobs = JobStore(data.jobs_db)
    def titles(ids: tuple[str, ...]) -> list[str]:
        return sorted(a.title for a in map(data.load_article, ids) if a is not None)

    sources = {r.url: (r.state, r.attempts, r.error, r.video_id, titles(r.articles))
               for r in data.sources()}
    job_rows = []
    for job in reversed(jobs.recent()):
        steps = jobs.step_seconds(job.id)
        job_rows.append((job.source, job.state, job.error, job.title,
                         [(v.url, v.state, v.attempts, v.error, v.video_id,
                           sorted(steps.get(v.url, {})))
                          for v in job.videos]))
    transcripts = {t.video_id: [s.text for s in t.segments] for t in data.transcripts()}
    found = {}
    for query in queries:
        proc = cli(["search", f'"{query}"', "--json"], env)
        assert proc.returncode == 0, proc.stderr
        found[query] = [(r.get("video_url"), r.get("start"), r.get("end"), r.get("text"),
                         r.get("url")) for r in json.loads(proc.stdout)["results"]]
    return {"sources": sources, "jobs": job_rows, "transcripts": transcripts,
            "search": found}


def _run_both(tmp_path: Path, fleet: Fleet,
              scenario: Callable[[dict[str, str], Path, bool], None]) -> tuple[Any, Any]:
    inline_dir = tmp_path / "inline"
    inline_env = cli_env(inline_dir, **QUICK, **CAP)
    scenario(inline_env, inline_dir, False)
    queue_env = fleet.env(**CAP)
    scenario(queue_env, fleet.data_dir, True)
    return (_records(inline_dir, PHRASES, inline_env),
            _records(fleet.data_dir, PHRASES, queue_env))


def test_good_shared_404_over_cap_and_reingest_end_the_same_inline_and_queued(
        tmp_path: Path, fleet: Fleet, parity_site: Site) -> None:
    def scenario(env: dict[str, str], data_dir: Path, queued: bool) -> None:
        if queued:
            fleet.start(concurrency=1, **CAP)
        for name in ("good.html", "shared.html", "good.html"):  # the last: a re-ingest
            _ingest(parity_site.url(f"parity/{name}"), env)

    inline, queued = _run_both(tmp_path, fleet, scenario)
    assert inline == queued

    # And they are what a user expects, not merely equal.
    sources = inline["sources"]
    b, mirror = parity_site.url("parity/b.mp4"), parity_site.url("parity/b-mirror.mp4")
    assert sources[b][:3] == ("done", 1, "")  # downloaded once, though linked three times
    assert sources[b][4] == ["Good article", "Shared video"]
    assert sources[mirror][3] == sources[b][3]  # identical bytes: one video
    long = sources[parity_site.url("parity/long.mp4")]
    assert long[0] == "failed" and "over the cap of 0:00:28" in long[2]
    assert "HTTP 404" in sources[parity_site.url("parity/missing.mp4")][2]
    assert len(inline["transcripts"]) == 1  # the video over the cap was never transcribed
    good, shared, again = inline["jobs"]
    assert [v[1:3] for v in good[4]] == [("done", 1), ("failed", 1), ("failed", 1)]
    assert good[4][0][5] == ["download", "index", "transcribe"]
    assert again[4][0][5] == ["download", "index"]  # known video: straight to the index
    assert shared[1] == again[1] == "done"
    assert all(inline["search"][phrase] for phrase in PHRASES)


def test_a_run_killed_mid_transcription_is_finished_by_the_next_the_same_way(
        tmp_path: Path, fleet: Fleet, parity_site: Site) -> None:
    article = parity_site.url("parity/killed.html")
    slow = {"BRIEFING_BATCH_SIZE": "0", "BRIEFING_BEAM_SIZE": "10"}  # long enough to kill

    def scenario(env: dict[str, str], data_dir: Path, queued: bool) -> None:
        jobs = JobStore(DataDir(data_dir).jobs_db)
        if queued:
            first = fleet.start(concurrency=1, **CAP, **slow)
            proc = subprocess.Popen([*BRIEFING, "ingest", article], stdout=subprocess.PIPE,
                                    text=True, env=env, cwd=REPO)
            out, _ = proc.communicate(timeout=60)
            job_id = out.strip()
        else:
            proc = subprocess.Popen([*BRIEFING, "ingest", article], env={**env, **slow},
                                    cwd=REPO, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL, start_new_session=True,
                                    text=True)
            wait_for(lambda: bool(jobs.recent()), 60, "the inline job")
            job_id = jobs.recent()[0].id
        wait_for(lambda: state_of(jobs, job_id, "killed.mp4") == "transcribing", 90,
                 "the transcription to start")
        if queued:
            first.kill()
            fleet.start(concurrency=1, BRIEFING_VISIBILITY_TIMEOUT="12", **CAP)
            assert wait_job(jobs, job_id, fleet).state == "done"
        else:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
            _ingest(article, env)  # the user runs it again

    inline, queued = _run_both(tmp_path, fleet, scenario)
    assert inline["sources"] == queued["sources"]
    assert inline["transcripts"] == queued["transcripts"]
    assert inline["search"] == queued["search"]
    (record,) = inline["sources"].values()
    assert record[:3] == ("done", 1, "")  # the second run found the download done
    assert len(inline["transcripts"]) == 1
    # The queue redelivers the killed step within its job (a second attempt); inline, the
    # user's second run is a job of its own that finishes the video.
    (queued_job,) = queued["jobs"]
    assert queued_job[1] == "done" and queued_job[4][0][2] == 2
    killed_run, second_run = inline["jobs"]
    assert second_run[1] == "done" and second_run[4][0][1:3] == ("done", 1)
    assert killed_run[4][0][1] == "transcribing"  # the dead run's last word
