"""A takedown removes every trace of its items from the watches: their hits (CLI, API, the
feed, the counts of the page's panel), the timeline, and their webhooks, which are never sent
even when pending; a takedown only recorded (its remover died) already hides them, and the
next runner finishes it.  Real pipeline, real HTTP app, a real receiver on 127.0.0.1."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import feedparser
import httpx
import pytest

from tests.apiserver import running, server_settings
from tests.conftest import cli_env, make_context
from tests.receiver import Receiver
from tests.siteserver import Site
from worker.intake.articles import article_id_for
from worker.intake.fetch import FetchLimits
from worker.pipeline import ModelProvider, ingest
from worker.pipeline.takedown import finish_removals, plan_removal
from worker.watching.saved import add_watch

BRIEFING = [sys.executable, "-m", "api"]
LOCAL = FetchLimits(allow_private=True)
TITLE_A = "Harbour reopens as the storm clean-up goes on"
TITLE_B = "Convoy reaches the city"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver().start()
    yield server
    server.stop()


def run(args: list[str], data_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*BRIEFING, *args], capture_output=True, text=True, timeout=300,
                          env=cli_env(data_dir), check=False)


def cli_hits(data_dir: Path, name: str) -> list[dict[str, object]]:
    shown = run(["watch", "hits", name, "--json", "--retracted"], data_dir)
    assert shown.returncode == 0, shown.stderr
    found: list[dict[str, object]] = json.loads(shown.stdout)
    return found


def test_a_takedown_takes_its_items_out_of_the_watches_before_and_after_it_is_finished(
        tmp_path: Path, site: Site, models: ModelProvider, receiver: Receiver) -> None:
    data_dir = tmp_path / "data"
    ctx = make_context(data_dir, models)
    store = ctx.watch_store()
    hook = receiver.url()
    # briefing-b is linked by article A only: it goes.  briefing-a is linked by article B
    # too: it stays, without A.  "coastal towns" is article A's own text.
    sandbags = add_watch(store, LOCAL, "sandbags", "thousands of sandbags", webhook_url=hook)
    bridge = add_watch(store, LOCAL, "bridge", '"old bridge"', webhook_url=hook)
    coast = add_watch(store, LOCAL, "coast", "coastal towns", webhook_url=hook)
    url_a = site.url("article-a.html")
    ingest(url_a, ctx)
    ingest(site.url("article-b.html"), ctx)
    [removed_clip] = store.hits(sandbags)
    [kept_clip] = store.hits(bridge)
    [removed_article] = store.hits(coast)
    assert {u for u, _ in kept_clip.articles} == {url_a, site.url("article-b.html")}
    assert store.pending()[0] == 3  # no webhook sent yet
    before = run(["timeline", "thousands of sandbags", "--json"], data_dir)
    assert json.loads(before.stdout)["clips"] == 1

    # The remover recorded the takedown of article A and died before deleting anything.
    removal = plan_removal(ctx, "article", article_id_for(url_a), "court order", "test")
    assert removed_clip.video_id in removal.video_ids
    assert removal.kept_videos == (kept_clip.video_id,)
    ctx.data.record_removal(removal)

    # Already hidden everywhere: CLI, API, feed, the panel's counts, the timeline.
    assert cli_hits(data_dir, "sandbags") == [] and cli_hits(data_dir, "coast") == []
    [shown] = cli_hits(data_dir, "bridge")
    assert shown["articles"] == [{"url": site.url("article-b.html"), "title": TITLE_B}]
    assert shown["title"] == TITLE_B
    listed = run(["watch", "list", "--json"], data_dir)
    assert {w["name"]: w["hits"] for w in json.loads(listed.stdout)} == {
        "sandbags": 0, "bridge": 1, "coast": 0}
    with running(server_settings(data_dir)) as base:
        counts = {w["name"]: w["hits"] for w in httpx.get(f"{base}/watches").json()}
        assert counts == {"sandbags": 0, "bridge": 1, "coast": 0}
        for watch in (sandbags, coast):
            assert httpx.get(f"{base}/watches/{watch.id}/hits",
                             params={"retracted": True}).json() == []
            feed = feedparser.parse(httpx.get(f"{base}/watches/{watch.id}/feed.atom").content)
            assert not feed.bozo and feed.entries == []
        bridge_feed = httpx.get(f"{base}/watches/{bridge.id}/feed.atom").text
        assert TITLE_A not in bridge_feed and TITLE_B in bridge_feed
        during = httpx.get(f"{base}/timeline", params={"q": "thousands of sandbags"}).json()
        assert (during["clips"], during["buckets"]) == (0, [])

    # The pending webhooks of the removed items are not sent (not by the server's delivery
    # loop, not by `watch deliver`); the kept video's is, without article A.
    delivered = run(["watch", "deliver"], data_dir)
    assert delivered.returncode == 0, delivered.stderr
    assert "0 failed attempt(s), 0 pending" in delivered.stdout
    [sent] = receiver.received
    body = json.loads(sent.body)
    assert body["hit"]["video_id"] == kept_clip.video_id
    assert url_a not in sent.body.decode() and TITLE_A not in sent.body.decode()

    # The next runner finishes the takedown: the hits are gone for good, with their webhooks.
    assert finish_removals(ctx) == 1
    assert store.hits(sandbags, retracted=True) == []
    assert store.hits(coast, retracted=True) == []
    for gone in (removed_clip, removed_article):
        assert store.hit(gone.id) is None
    [kept] = store.hits(bridge, retracted=True)
    assert (kept.id, kept.articles) == (kept_clip.id, ((site.url("article-b.html"), TITLE_B),))
    assert store.pending() == (0, None)
    again = run(["watch", "deliver", "--retry-failed"], data_dir)
    assert "0 delivered, 0 failed attempt(s), 0 pending" in again.stdout
    assert len(receiver.received) == 1
    after = run(["timeline", "thousands of sandbags", "--json"], data_dir)
    assert json.loads(after.stdout)["clips"] == 0
