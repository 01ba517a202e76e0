"""Re-transcription goes through the index step, so the watches follow it: a hit whose words
the new transcript no longer says is retracted (its pending webhook never sent), one it
still says is the same hit, sent once.  Real `briefing retranscribe` with the bundled model."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from indexer.domain import Segment, Word
from tests.conftest import cli_env, make_context
from tests.receiver import Receiver
from tests.siteserver import Site
from worker.intake.fetch import FetchLimits
from worker.pipeline import ModelProvider, ingest
from worker.pipeline.steps import index_step
from worker.storage.watches import DeliveryState
from worker.watching.saved import add_watch

BRIEFING = [sys.executable, "-m", "api"]
LOCAL = FetchLimits(allow_private=True)
INVENTED = "The zeppelin landed beside the harbour."


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver().start()
    yield server
    server.stop()


def run(args: list[str], data_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*BRIEFING, *args], capture_output=True, text=True, timeout=300,
                          env=cli_env(data_dir), check=False)


def test_retranscribe_retracts_a_hit_the_new_transcript_no_longer_says(
        tmp_path: Path, site: Site, models: ModelProvider, receiver: Receiver) -> None:
    data_dir = tmp_path / "data"
    ctx = make_context(data_dir, models)
    store = ctx.watch_store()
    zeppelin = add_watch(store, LOCAL, "zeppelin", "zeppelin", webhook_url=receiver.url())
    bridge = add_watch(store, LOCAL, "bridge", '"old bridge"', webhook_url=receiver.url())
    report = ingest(site.url("article-a.html"), ctx)
    video = next(v for v in report.videos if v.url.endswith("briefing-a.mp4"))
    # The stored transcript (as an earlier model heard it) says a word the video does not.
    heard = ctx.data.load_transcript(video.video_id)
    assert heard is not None
    start = heard.duration - 1.5
    words = tuple(Word(f" {w}", start + 0.1 * i, start + 0.1 * i + 0.09, 0.9)
                  for i, w in enumerate(INVENTED.split()))
    extra = Segment(len(heard.segments), start, heard.duration, INVENTED, words)
    ctx.data.save_transcript(replace(heard, segments=(*heard.segments, extra)))
    index_step(ctx, video.url, video.video_id)
    [invented] = store.hits(zeppelin)
    [said] = store.hits(bridge)
    assert store.pending()[0] == 2  # neither webhook sent yet

    done = run(["retranscribe", video.video_id, "--model", "tiny.en"], data_dir)
    assert done.returncode == 0, done.stderr
    assert "old transcript kept as version 1" in done.stdout

    # The new transcript does not say "zeppelin": retracted, its webhook never sent.
    assert store.hits(zeppelin) == []
    [gone] = store.hits(zeppelin, retracted=True)
    assert (gone.id, gone.delivery) == (invented.id, DeliveryState.RETRACTED)
    shown = run(["watch", "hits", "zeppelin", "--json"], data_dir)
    assert json.loads(shown.stdout) == []
    # It still says "old bridge": the same hit, delivered once by the command.
    [kept] = store.hits(bridge)
    assert (kept.id, kept.key, kept.delivery) == (said.id, said.key, DeliveryState.DELIVERED)
    assert [json.loads(r.body)["idempotency_key"] for r in receiver.received] == [said.key]
    assert store.pending() == (0, None)
