"""Re-transcription with a broker: queued on `transcribe`, done by a real worker process."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import pytest

from tests.apiserver import running, server_settings
from tests.conftest import Ingested
from tests.fleet import Fleet, cli, wait_for
from tests.siteserver import Site
from worker.storage.datadir import DataDir

pytestmark = pytest.mark.slow


@pytest.fixture
def data_dir(ingested: Ingested, tmp_path: Path) -> Path:
    copy = tmp_path / "data"
    shutil.copytree(ingested.ctx.data.root, copy, ignore=shutil.ignore_patterns("jobs.sqlite3*"))
    return copy


def test_queued_retranscription_keeps_the_old_transcript(fleet: Fleet, data_dir: Path,
                                                         site: Site, broker: str) -> None:
    data = DataDir(data_dir)
    record = data.source(site.url("media/briefing-b.mp4?download=1"))
    assert record is not None
    video_id = record.video_id
    old = data.load_transcript(video_id)
    fleet.start(queues="transcribe,index")
    proc = cli(["retranscribe", video_id], fleet.env())
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"queued {video_id} (task ")
    wait_for(lambda: bool(data.transcript_versions(video_id)), 240,
             "the queued re-transcription")
    (version,) = data.transcript_versions(video_id)
    assert version.transcript == old
    assert f"re-transcribed video {video_id}" in fleet.logs_text()
    # The API queues too, and says so.
    with running(server_settings(data_dir, broker_url=broker)) as base:
        answer = httpx.post(f"{base}/videos/{video_id}/retranscribe", json={"model": "tiny.en"},
                            timeout=60)
    assert answer.status_code == 202, answer.text
    assert answer.json()["queued"] is True and answer.json()["task_id"]
    wait_for(lambda: len(data.transcript_versions(video_id)) == 2, 240,
             "the second re-transcription")
