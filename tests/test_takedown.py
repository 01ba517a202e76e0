"""Takedowns: every trace leaves search, media and listings, even across a crash."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from indexer.index import SearchIndex
from tests.apiserver import running, server_settings
from tests.conftest import MANIFEST, Ingested, cli_env
from tests.siteserver import Site
from worker.intake.articles import article_id_for
from worker.pipeline.wiring import build_context
from worker.storage.datadir import DataDir
from worker.storage.files import file_lock

BRIEFING = [sys.executable, "-m", "api"]
PHRASE_A = MANIFEST["briefing-a.mp4"]["sentences"][2]["phrase"]  # "old bridge"
PHRASE_B = MANIFEST["briefing-b.mp4"]["sentences"][3]["phrase"]  # "higher ground"
TOKEN = "takedown-token"


def run(args: list[str], data_dir: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*BRIEFING, *args], capture_output=True, text=True, timeout=300,
                          env=cli_env(data_dir, **env), check=False)


@pytest.fixture
def data_dir(ingested: Ingested, tmp_path: Path) -> Path:
    copy = tmp_path / "data"
    shutil.copytree(ingested.ctx.data.root, copy, ignore=shutil.ignore_patterns("jobs.sqlite3*"))
    return copy


def video_of(data_dir: Path, url: str) -> str:
    record = DataDir(data_dir).source(url)
    assert record is not None and record.video_id
    return record.video_id


def searched(data_dir: Path, query: str) -> list[dict[str, object]]:
    proc = run(["search", query, "--json", "-n", "50"], data_dir)
    assert proc.returncode == 0, proc.stderr
    results: list[dict[str, object]] = json.loads(proc.stdout)["results"]
    return results


def listed(data_dir: Path, kind: str) -> list[dict[str, object]]:
    proc = run(["list", kind, "--json", "-n", "100"], data_dir)
    assert proc.returncode == 0, proc.stderr
    items: list[dict[str, object]] = json.loads(proc.stdout)["items"]
    return items


def unfiltered_docs(data_dir: Path, video_id: str) -> int:
    """Segments of *video_id* still in the index, searched without hiding anything."""
    index = SearchIndex(DataDir(data_dir).index_root)
    try:
        with index._ix.searcher() as searcher:
            return len(list(searcher.document_numbers(video_id=video_id)))
    finally:
        index.close()


def test_removing_an_article_keeps_a_video_another_article_links(
        data_dir: Path, site: Site) -> None:
    video_a = video_of(data_dir, site.url("media/briefing-a.mp4"))
    article_b = article_id_for(site.url("article-b.html"))
    proc = run(["rm", "article", site.url("article-b.html"), "--reason", "legal request 7"],
               data_dir)
    assert proc.returncode == 0, proc.stderr
    assert f"kept video {video_a}" in proc.stdout
    assert not any(r["type"] == "article" and r["url"] == site.url("article-b.html")
                   for r in searched(data_dir, "convoy city"))
    clips = [r for r in searched(data_dir, f'"{PHRASE_A}"') if r["type"] == "clip"]
    assert clips and all(r["video_id"] == video_a for r in clips)
    # The clip no longer names the removed article as linking it.
    assert all(a["title"] != "Convoy reaches the city" for r in clips
               for a in r["articles"])  # type: ignore[attr-defined]
    assert article_b not in {a["id"] for a in listed(data_dir, "articles")}
    assert video_a in {v["video_id"] for v in listed(data_dir, "videos")}
    assert DataDir(data_dir).video_file(video_a) is not None
    (record,) = DataDir(data_dir).removals()
    assert (record.kind, record.target, record.reason) == ("article", article_b,
                                                           "legal request 7")
    assert record.completed is not None and record.kept_videos == (video_a,)


def test_removing_an_article_takes_the_videos_only_it_links(data_dir: Path, site: Site,
                                                            tmp_path: Path) -> None:
    video_b = video_of(data_dir, site.url("media/briefing-b.mp4?download=1"))
    clip = tmp_path / "out" / "b.mp4"
    clip.parent.mkdir()
    assert run(["clip", video_b, "1", "4", "-o", str(clip)], data_dir).returncode == 0
    assert any(r["type"] == "clip" for r in searched(data_dir, f'"{PHRASE_B}"'))
    proc = run(["rm", "article", site.url("article-a.html"), "--reason", "court order"],
               data_dir)
    assert proc.returncode == 0, proc.stderr
    assert f"removed video {video_b}" in proc.stdout
    assert searched(data_dir, f'"{PHRASE_B}"') == []
    assert not DataDir(data_dir).video_dir(video_b).exists()
    assert video_b not in {v["video_id"] for v in listed(data_dir, "videos")}
    # The exported clip, its captions and its sidecar went with the video.
    assert list(clip.parent.iterdir()) == []
    assert unfiltered_docs(data_dir, video_b) == 0


def test_crash_mid_removal_never_shows_the_video_and_the_next_run_finishes_it(
        data_dir: Path, site: Site) -> None:
    data = DataDir(data_dir)
    video_a = video_of(data_dir, site.url("media/briefing-a.mp4"))
    assert unfiltered_docs(data_dir, video_a) > 0
    # Hold the index writer's lock, so the remover stops right before its index write;
    # then kill it there.
    with file_lock(data.locks / "index-writer.lock"):
        remover = subprocess.Popen([*BRIEFING, "rm", "video", video_a, "--reason", "crash"],
                                   env=cli_env(data_dir), stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            deadline = time.monotonic() + 120
            while data.video_dir(video_a).exists() or not data.pending_removals():
                assert remover.poll() is None, "the remover ended before the index write"
                assert time.monotonic() < deadline, "the remover never got to the index"
                time.sleep(0.05)
        finally:
            os.killpg(remover.pid, signal.SIGKILL)
            remover.wait()
    # Killed: the index still holds the video's segments, yet nothing shows them.
    assert unfiltered_docs(data_dir, video_a) > 0
    assert not any(r.get("video_id") == video_a for r in searched(data_dir, f'"{PHRASE_A}"'))
    assert video_a not in {v["video_id"] for v in listed(data_dir, "videos")}
    with running(server_settings(data_dir)) as base:
        assert httpx.get(f"{base}/videos/{video_a}").status_code == 404
        assert httpx.get(f"{base}/videos/{video_a}/media").status_code == 404
        found = httpx.get(f"{base}/search", params={"q": f'"{PHRASE_A}"'}).json()
        assert found["total"] == 0
    # The next runner to start finishes the removal.
    ctx = build_context(server_settings(data_dir))
    ctx.index.close()
    assert unfiltered_docs(data_dir, video_a) == 0
    (record,) = data.removals()
    assert record.completed is not None and record.reason == "crash"
    assert data.pending_removals() == []


@pytest.fixture
def guarded(data_dir: Path) -> Iterator[httpx.Client]:
    with running(server_settings(data_dir, api_token=TOKEN)) as base, \
            httpx.Client(base_url=base, timeout=120) as client:
        yield client


def test_http_takedown_needs_the_token_and_a_reason(guarded: httpx.Client, data_dir: Path,
                                                    site: Site) -> None:
    video_b = video_of(data_dir, site.url("media/briefing-b.mp4?download=1"))
    auth = {"Authorization": f"Bearer {TOKEN}"}
    refused = guarded.delete(f"/videos/{video_b}", params={"reason": "x"})
    assert refused.status_code == 401
    no_reason = guarded.delete(f"/videos/{video_b}", headers=auth)
    assert no_reason.status_code == 422
    gone = guarded.delete(f"/videos/{video_b}", params={"reason": "rights holder"},
                          headers=auth)
    assert gone.status_code == 200, gone.text
    record = gone.json()
    assert record["video_ids"] == [video_b] and record["completed"] is not None
    assert guarded.get(f"/videos/{video_b}").status_code == 404
    assert guarded.get(f"/videos/{video_b}/media").status_code == 404
    assert video_b not in {v["video_id"] for v in guarded.get("/videos").json()["items"]}
    assert guarded.get("/search", params={"q": f'"{PHRASE_B}"'}).json()["total"] == 0
    again = guarded.delete(f"/videos/{video_b}", params={"reason": "again"}, headers=auth)
    assert again.status_code == 404 and again.json()["error"] == "not_found"
    article = article_id_for(site.url("article-b.html"))
    removed = guarded.delete(f"/articles/{article}", params={"reason": "r"}, headers=auth)
    assert removed.status_code == 200
    assert article not in {a["id"] for a in guarded.get("/articles").json()["items"]}
