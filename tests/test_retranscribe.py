"""Re-transcription: a better model's transcript replaces the old one, which is kept."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from indexer.index import SearchIndex
from tests.apiserver import running, server_settings
from tests.conftest import MANIFEST, Ingested, cli_env
from tests.siteserver import Site
from worker.storage.datadir import DataDir

BRIEFING = [sys.executable, "-m", "api"]
PHRASE = MANIFEST["briefing-a.mp4"]["sentences"][3]["phrase"]  # "water supply"

pytestmark = pytest.mark.slow


def run(args: list[str], data_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*BRIEFING, *args], capture_output=True, text=True, timeout=600,
                          env=cli_env(data_dir), check=False)


@pytest.fixture
def data_dir(ingested: Ingested, tmp_path: Path) -> Path:
    copy = tmp_path / "data"
    shutil.copytree(ingested.ctx.data.root, copy, ignore=shutil.ignore_patterns("jobs.sqlite3*"))
    return copy


def segment_docs(data_dir: Path, video_id: str) -> list[str]:
    index = SearchIndex(DataDir(data_dir).index_root)
    try:
        with index._ix.searcher() as searcher:
            return sorted(str(doc["text"]) for doc in searcher.documents(video_id=video_id))
    finally:
        index.close()


def test_retranscribe_with_base_replaces_and_keeps_the_old(data_dir: Path, site: Site,
                                                           tmp_path: Path) -> None:
    data = DataDir(data_dir)
    record = data.source(site.url("media/briefing-a.mp4"))
    assert record is not None
    video_id = record.video_id
    old = data.load_transcript(video_id)
    assert old is not None and old.model == "tiny.en"
    clip = tmp_path / "before.mp4"
    assert run(["clip", video_id, "13", "18", "-o", str(clip)], data_dir).returncode == 0

    proc = run(["retranscribe", video_id, "--model", "base"], data_dir)
    assert proc.returncode == 0, proc.stderr
    assert "old transcript kept as version 1" in proc.stdout
    new = data.load_transcript(video_id)
    assert new is not None and new.model == "base" and new.language == "en"
    (version,) = data.transcript_versions(video_id)
    assert version.number == 1 and version.transcript == old
    # The index holds the new transcript's segments, and only those.
    assert segment_docs(data_dir, video_id) == sorted(s.text for s in new.segments)
    found = json.loads(run(["search", f'"{PHRASE}"', "--json"], data_dir).stdout)["results"]
    assert any(r.get("video_id") == video_id for r in found)
    # A clip exported before still verifies: its words are those of the kept version.
    checked = json.loads(run(["verify", str(clip), "--json"], data_dir).stdout)
    assert checked["ok"] is True
    assert "transcript version 1" in checked["checks"][2]["detail"] or \
        "current transcript" in checked["checks"][2]["detail"]
    with running(server_settings(data_dir)) as base:
        body = httpx.get(f"{base}/videos/{video_id}").json()
    assert body["transcript"]["model"] == "base"
    assert [(v["version"], v["model"]) for v in body["versions"]] == [(1, "tiny.en")]


def test_http_retranscribe_runs_on_the_servers_worker(data_dir: Path, site: Site) -> None:
    data = DataDir(data_dir)
    record = data.source(site.url("media/briefing-b.mp4?download=1"))
    assert record is not None
    video_id = record.video_id
    with running(server_settings(data_dir, model="tiny.en")) as base, \
            httpx.Client(base_url=base, timeout=60) as client:
        accepted = client.post(f"/videos/{video_id}/retranscribe", json={})
        assert accepted.status_code == 202, accepted.text
        assert accepted.json() == {"video_id": video_id, "model": "tiny.en", "queued": False,
                                   "task_id": ""}
        deadline = time.monotonic() + 300
        while not client.get(f"/videos/{video_id}").json()["versions"]:
            assert time.monotonic() < deadline, "the re-transcription never finished"
            time.sleep(0.2)
        (version,) = client.get(f"/videos/{video_id}").json()["versions"]
        assert version["version"] == 1 and version["model"] == "tiny.en"
        missing = client.post("/videos/0123456789abcdef/retranscribe", json={})
        assert missing.status_code == 404
        unknown = client.post(f"/videos/{video_id}/retranscribe", json={"model": "x",
                                                                         "other": 1})
        assert unknown.status_code == 422


def test_retranscribe_all_keeps_a_version_of_each(data_dir: Path) -> None:
    data = DataDir(data_dir)
    before = {t.video_id: t for t in data.transcripts()}
    assert len(before) == 2
    proc = run(["retranscribe", "--all"], data_dir)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("old transcript kept as version 1") == 2
    for video_id, old in before.items():
        (version,) = data.transcript_versions(video_id)
        assert version.transcript == old
    neither = run(["retranscribe"], data_dir)
    assert neither.returncode == 1 and "give VIDEO_ID or --all" in neither.stderr
