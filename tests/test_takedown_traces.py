"""Takedowns leave no trace: not in the job store nor in the index files; a takedown that
is only recorded (its remover crashed or failed right after) already hides the article
everywhere (jobs, a video's page, search results, an exported clip's sidecar, the HTTP API's
cut clips) and asking again finishes it; an export or a re-transcription running meanwhile
does not bring the video back."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from indexer.index import SearchIndex
from tests.apiserver import running, server_settings
from tests.conftest import Ingested, cli_env
from tests.siteserver import Site
from worker.intake.articles import article_id_for
from worker.pipeline.takedown import plan_removal
from worker.pipeline.wiring import build_context
from worker.storage.datadir import DataDir
from worker.storage.files import file_lock

BRIEFING = [sys.executable, "-m", "api"]
TITLE_B = "Convoy reaches the city"  # article-b's title; it links briefing-a only


def run(args: list[str], data_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*BRIEFING, *args], capture_output=True, text=True, timeout=300,
                          env=cli_env(data_dir), check=False)


@pytest.fixture
def data_dir(ingested: Ingested, tmp_path: Path) -> Path:
    copy = tmp_path / "data"
    shutil.copytree(ingested.ctx.data.root, copy, ignore=shutil.ignore_patterns("jobs.sqlite3*"))
    return copy


def ingest_job(data_dir: Path, url: str) -> str:
    """Ingest *url* with the CLI (its video is stored already) and return its job's id."""
    proc = run(["ingest", url, "--json"], data_dir)
    assert proc.returncode == 0, proc.stderr
    jobs = json.loads(run(["jobs", "--json"], data_dir).stdout)
    (job,) = [j for j in jobs if j["source"] == url][:1]
    assert job["title"] == TITLE_B
    return str(job["id"])


def test_a_takedown_forgets_the_articles_jobs(data_dir: Path, site: Site) -> None:
    url = site.url("article-b.html")
    job_id = ingest_job(data_dir, url)
    assert run(["rm", "article", url, "--reason", "legal"], data_dir).returncode == 0
    listing = run(["jobs", "--json"], data_dir)
    assert TITLE_B not in listing.stdout and url not in listing.stdout
    one = run(["jobs", job_id], data_dir)
    assert one.returncode == 1 and f"job {job_id} not found" in one.stderr
    assert TITLE_B not in one.stdout + one.stderr
    with running(server_settings(data_dir)) as base:
        assert httpx.get(f"{base}/jobs/{job_id}").status_code == 404
        assert TITLE_B not in httpx.get(f"{base}/jobs").text
    # Ingested again later (say the rights were cleared): its new job is listed again.
    again = ingest_job(data_dir, url)
    with running(server_settings(data_dir)) as base:
        assert again in {j["id"] for j in httpx.get(f"{base}/jobs").json()}
        assert httpx.get(f"{base}/jobs/{again}").json()["title"] == TITLE_B


def test_a_video_takedown_drops_its_rows_from_other_jobs(data_dir: Path, site: Site) -> None:
    url = site.url("article-b.html")
    job_id = ingest_job(data_dir, url)
    record = DataDir(data_dir).source(site.url("media/briefing-a.mp4"))
    assert record is not None
    video_a = record.video_id
    videos = json.loads(run(["jobs", job_id, "--json"], data_dir).stdout)["videos"]
    assert video_a in {v["video_id"] for v in videos}
    assert run(["rm", "video", video_a, "--reason", "rights"], data_dir).returncode == 0
    job = json.loads(run(["jobs", job_id, "--json"], data_dir).stdout)
    assert job["title"] == TITLE_B  # the article stays
    assert video_a not in json.dumps(job)
    assert job["videos"] == [v for v in videos if v["video_id"] != video_a]


def test_a_recorded_takedown_hides_the_article_before_it_is_carried_out(
        data_dir: Path, site: Site, tmp_path: Path) -> None:
    url = site.url("article-b.html")
    job_id = ingest_job(data_dir, url)
    data = DataDir(data_dir)
    record = data.source(site.url("media/briefing-a.mp4"))
    assert record is not None
    video_a = record.video_id
    with running(server_settings(data_dir)) as base:
        # A clip cut before the takedown: its sidecar names both linking articles.
        cut = httpx.get(f"{base}/videos/{video_a}/clip",
                        params={"start": 5, "end": 9, "format": "json"}, timeout=120)
        assert TITLE_B in {a["title"] for a in cut.json()["articles"]}
    # The remover recorded the takedown and died before deleting anything.
    ctx = build_context(server_settings(data_dir))
    try:
        removal = plan_removal(ctx, "article", article_id_for(url), "court order", "test")
        assert removal.kept_videos == (video_a,)
        data.record_removal(removal)
    finally:
        ctx.index.close()
    assert data.load_article(article_id_for(url)) is not None  # nothing deleted yet
    with running(server_settings(data_dir)) as base:
        assert TITLE_B not in {a["title"] for a in
                               httpx.get(f"{base}/videos/{video_a}").json()["articles"]}
        # The kept video's clips are found, and no longer name article B.
        found = httpx.get(f"{base}/search", params={"q": '"storm damage"'}).json()
        assert found["total"] > 0
        assert TITLE_B not in json.dumps(found) and url not in json.dumps(found)
        assert httpx.get(f"{base}/jobs/{job_id}").status_code == 404
        assert TITLE_B not in httpx.get(f"{base}/jobs").text
    assert run(["jobs", job_id], data_dir).returncode == 1
    resumed = run(["jobs", job_id, "--resume"], data_dir)
    assert resumed.returncode == 1 and f"job {job_id} not found" in resumed.stderr
    searched = run(["search", '"storm damage"', "--json"], data_dir)
    assert json.loads(searched.stdout)["results"]
    assert TITLE_B not in searched.stdout and url not in searched.stdout
    clip = tmp_path / "a.mp4"
    assert run(["clip", video_a, "5", "9", "-o", str(clip)], data_dir).returncode == 0
    assert TITLE_B not in clip.with_suffix(".json").read_text()
    # The next runner carries it out; the cut clips' sidecars that named it are gone.
    build_context(server_settings(data_dir)).index.close()
    assert data.pending_removals() == []
    with running(server_settings(data_dir)) as base:
        again = httpx.get(f"{base}/videos/{video_a}/clip",
                          params={"start": 5, "end": 9, "format": "json"}, timeout=120)
        assert again.status_code == 200
        assert TITLE_B not in {a["title"] for a in again.json()["articles"]}
    assert not any(TITLE_B in p.read_text() for p in (data_dir / "clips").rglob("*.json"))


def test_a_retranscription_under_way_does_not_bring_a_taken_down_video_back(
        data_dir: Path, site: Site) -> None:
    data = DataDir(data_dir)
    record = data.source(site.url("media/briefing-a.mp4"))
    assert record is not None
    video_a = record.video_id
    # Hold the transcript lock, so the re-transcription stops right before it writes the
    # new transcript (its index mark is set by then); a takedown is recorded meanwhile.
    with file_lock(data.locks / f"files-{video_a}.lock"):
        again = subprocess.Popen([*BRIEFING, "retranscribe", video_a], env=cli_env(data_dir),
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        remover: subprocess.Popen[str] | None = None
        try:
            wait_for(lambda: (data_dir / "pending" / f"video-{video_a}").exists(), [again])
            remover = subprocess.Popen([*BRIEFING, "rm", "video", video_a, "--reason", "legal"],
                                       env=cli_env(data_dir), stdout=subprocess.PIPE,
                                       stderr=subprocess.PIPE, text=True)
            wait_for(lambda: data.removals() != [], [again])
        except BaseException:
            for process in (again, remover):
                if process is not None:
                    process.kill()
            raise
    _, said = again.communicate(timeout=600)
    remover.communicate(timeout=600)
    assert remover.returncode == 0
    assert again.returncode == 1 and f"video {video_a} was taken down meanwhile" in said
    assert not data.video_dir(video_a).exists()
    assert video_a not in {t.video_id for t in data.transcripts()}
    index = SearchIndex(data.index_root)
    try:
        with index._ix.searcher() as searcher:
            assert list(searcher.document_numbers(video_id=video_a)) == []
    finally:
        index.close()


def wait_for(done: Callable[[], bool], processes: list[subprocess.Popen[str]]) -> None:
    """Poll until *done*; fails if one of *processes* ends first."""
    deadline = time.monotonic() + 300
    while not done():
        assert all(p.poll() is None for p in processes), "a process ended too early"
        assert time.monotonic() < deadline, "never got there"
        time.sleep(0.05)


def waiting_for(lock: Path) -> bool:
    """Whether a process waits for the flock on *lock* (Linux shows waiters in /proc/locks
    with a ``->`` mark, by device and inode)."""
    inode = f":{lock.stat().st_ino} "
    return any(line.split(":", 1)[1].lstrip().startswith("->") and inode in line
               for line in Path("/proc/locks").read_text().splitlines())


def test_a_clip_exported_during_a_takedown_is_not_left_behind(data_dir: Path, site: Site,
                                                              tmp_path: Path) -> None:
    data = DataDir(data_dir)
    record = data.source(site.url("media/briefing-b.mp4?download=1"))
    assert record is not None
    video_b = record.video_id
    clip = tmp_path / "out" / "b.mp4"
    clip.parent.mkdir()
    lock = data.locks / f"files-{video_b}.lock"
    # Hold the video's files lock: the export cuts, then waits to put its files in place;
    # the takedown is recorded meanwhile.
    with file_lock(lock):
        export = subprocess.Popen([*BRIEFING, "clip", video_b, "1", "4", "-o", str(clip)],
                                  env=cli_env(data_dir), stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        remover: subprocess.Popen[str] | None = None
        try:
            wait_for(lambda: waiting_for(lock), [export])
            remover = subprocess.Popen([*BRIEFING, "rm", "video", video_b, "--reason", "legal"],
                                       env=cli_env(data_dir), stdout=subprocess.PIPE,
                                       stderr=subprocess.PIPE, text=True)
            wait_for(lambda: data.removals() != [], [export])
        except BaseException:
            for process in (export, remover):
                if process is not None:
                    process.kill()
            raise
    _, said = export.communicate(timeout=600)
    assert remover is not None
    remover.communicate(timeout=600)
    assert remover.returncode == 0
    assert export.returncode == 1 and f"video {video_b} was taken down meanwhile" in said
    assert list(clip.parent.iterdir()) == []
    assert not (data_dir / "exports" / f"{video_b}.json").exists()


def test_asking_again_finishes_a_takedown_that_stopped_half_way(data_dir: Path,
                                                                 site: Site) -> None:
    data = DataDir(data_dir)
    record = data.source(site.url("media/briefing-b.mp4?download=1"))
    assert record is not None
    video_b = record.video_id
    with running(server_settings(data_dir)) as base:
        # The server's takedown context is up (it finished what was pending when it started).
        nothing = httpx.delete(f"{base}/videos/0123456789abcdef", params={"reason": "x"})
        assert nothing.status_code == 404
        # A takedown is recorded, and its remover fails before deleting anything.
        ctx = build_context(server_settings(data_dir))
        try:
            stopped = plan_removal(ctx, "video", video_b, "court order", "http")
            data.record_removal(stopped)
        finally:
            ctx.index.close()
        again = httpx.delete(f"{base}/videos/{video_b}", params={"reason": "retry"},
                             timeout=120)
        assert again.status_code == 200, again.text
        assert again.json()["id"] == stopped.id and again.json()["reason"] == "court order"
        assert again.json()["completed"] is not None
        assert not data.video_dir(video_b).exists() and data.pending_removals() == []
        third = httpx.delete(f"{base}/videos/{video_b}", params={"reason": "again"})
        assert third.status_code == 404
        assert f"taken down already (record {stopped.id})" in third.json()["detail"]


def test_a_takedown_without_its_broker_is_503_and_stays_hidden(data_dir: Path,
                                                               site: Site) -> None:
    data = DataDir(data_dir)
    record = data.source(site.url("media/briefing-b.mp4?download=1"))
    assert record is not None
    video_b = record.video_id
    # Nothing listens on port 9: the broker whose locks a takedown takes is down.
    with running(server_settings(data_dir, broker_url="redis://127.0.0.1:9/0")) as base:
        answer = httpx.delete(f"{base}/videos/{video_b}", params={"reason": "legal"},
                              timeout=120)
        assert answer.status_code == 503, answer.text
        assert answer.json()["error"] == "broker_unavailable"
        assert httpx.get(f"{base}/videos/{video_b}").status_code == 404
        schema = httpx.get(f"{base}/openapi.json").json()
        assert "503" in schema["paths"]["/videos/{video_id}"]["delete"]["responses"]
    (pending,) = data.pending_removals()
    assert pending.video_ids == (video_b,)


def stored_everywhere(data_dir: Path) -> list[str]:
    """Every document's stored fields in the index files, deleted documents included (Whoosh
    only marks them deleted)."""
    index = SearchIndex(DataDir(data_dir).index_root)
    try:
        reader = index._ix.reader()
        try:
            segments = getattr(reader, "readers", [reader])
            return [repr(sorted(segment.stored_fields(n).items())) for segment in segments
                    for n in range(segment.doc_count_all())]
        finally:
            reader.close()
    finally:
        index.close()


def test_the_index_files_keep_nothing_of_a_takedown(data_dir: Path, site: Site) -> None:
    data = DataDir(data_dir)
    video_b = video_of(data, site.url("media/briefing-b.mp4?download=1"))
    before = stored_everywhere(data_dir)
    assert any(video_b in doc for doc in before) and any(TITLE_B in doc for doc in before)
    assert run(["rm", "video", video_b, "--reason", "legal"], data_dir).returncode == 0
    assert not any(video_b in doc for doc in stored_everywhere(data_dir))
    # Article B goes; the video it shares with article A is re-indexed without it, and its
    # old documents, which named it, go from the files too.
    assert run(["rm", "article", site.url("article-b.html"), "--reason", "legal"],
               data_dir).returncode == 0
    after = stored_everywhere(data_dir)
    assert not any(TITLE_B in doc for doc in after)
    assert any("Harbour reopens as the storm clean-up goes on" in doc for doc in after)


def video_of(data: DataDir, url: str) -> str:
    record = data.source(url)
    assert record is not None and record.video_id
    return record.video_id
