"""Re-transcription with a broker: queued on `transcribe`, done by a real worker process,
which hands the watches' new hits on to the webhook tasks like any index step."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.apiserver import running, server_settings
from tests.conftest import Ingested
from tests.fleet import Fleet, cli, wait_for
from tests.receiver import Receiver
from tests.siteserver import Site
from worker.intake.fetch import FetchLimits
from worker.storage.datadir import DataDir
from worker.storage.watches import DeliveryState, WatchStore
from worker.watching.saved import add_watch

pytestmark = pytest.mark.slow


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver().start()
    yield server
    server.stop()


@pytest.fixture
def data_dir(ingested: Ingested, tmp_path: Path) -> Path:
    copy = tmp_path / "data"
    shutil.copytree(ingested.ctx.data.root, copy, ignore=shutil.ignore_patterns("jobs.sqlite3*"))
    return copy


def test_queued_retranscription_keeps_the_old_transcript(
        fleet: Fleet, data_dir: Path, site: Site, broker: str, receiver: Receiver) -> None:
    data = DataDir(data_dir)
    record = data.source(site.url("media/briefing-b.mp4?download=1"))
    assert record is not None
    video_id = record.video_id
    old = data.load_transcript(video_id)
    # A watch saved after the video was indexed: the re-transcription's index step finds it.
    store = WatchStore(data.watches_db)
    watch = add_watch(store, FetchLimits(allow_private=True), "sandbags",
                      "thousands of sandbags", webhook_url=receiver.url())
    fleet.start(queues="transcribe,index,media")
    proc = cli(["retranscribe", video_id], fleet.env())
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"queued {video_id} (task ")
    wait_for(lambda: bool(data.transcript_versions(video_id)), 240,
             "the queued re-transcription")
    (version,) = data.transcript_versions(video_id)
    assert version.transcript == old
    assert f"re-transcribed video {video_id}" in fleet.logs_text()
    wait_for(lambda: bool(receiver.received), 120, "the new hit's webhook")
    # The receiver has the POST before its sender reads the answer and marks it delivered.
    wait_for(lambda: store.hits(watch)[0].delivery is DeliveryState.DELIVERED, 30,
             "the webhook marked delivered")
    [hit] = store.hits(watch)
    assert hit.video_id == video_id and hit.delivery is DeliveryState.DELIVERED
    assert [json.loads(r.body)["idempotency_key"] for r in receiver.received] == [hit.key]
    # The API queues too, and says so.
    with running(server_settings(data_dir, broker_url=broker)) as base:
        answer = httpx.post(f"{base}/videos/{video_id}/retranscribe", json={"model": "tiny.en"},
                            timeout=60)
    assert answer.status_code == 202, answer.text
    assert answer.json()["queued"] is True and answer.json()["task_id"]
    wait_for(lambda: len(data.transcript_versions(video_id)) == 2, 240,
             "the second re-transcription")
