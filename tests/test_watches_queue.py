"""Watches through the queue: real `briefing worker` processes on Redis evaluate the watches in
their index step and send the webhooks as tasks, retried with backoff."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator

import pytest

from tests.fleet import Fleet, cli, wait_for
from tests.receiver import Receiver
from tests.siteserver import Site
from worker.storage.datadir import DataDir
from worker.storage.watches import DeliveryState, WatchStore

SECRET = "a-shared-secret-of-ours"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver().start()
    yield server
    server.stop()


def test_queued_ingest_fires_once_and_a_receiver_down_twice_gets_one_delivery(
        fleet: Fleet, site: Site, receiver: Receiver) -> None:
    receiver.script = [503, 503]
    quick = {"BRIEFING_WEBHOOK_BACKOFF": "0.2"}
    fleet.start(concurrency=2, **quick)
    env = fleet.env(**quick)
    added = cli(["watch", "add", "convoy", "convoy of trucks", "--webhook", receiver.url(),
                 "--secret", SECRET], env)
    assert added.returncode == 0, added.stderr
    done = cli(["ingest", "--wait", site.url("article-a.html")], env)
    assert done.returncode == 0, done.stderr[-3000:]

    store = WatchStore(DataDir(fleet.data_dir).watches_db)
    watch = store.find("convoy")

    def delivered() -> bool:
        return [h.delivery for h in store.hits(watch)] == [DeliveryState.DELIVERED]

    wait_for(delivered, 120, "the webhook to be delivered")
    assert [r.status for r in receiver.received] == [503, 503, 200], fleet.logs_text()
    assert len({r.body for r in receiver.received}) == 1
    body = receiver.received[0].body
    assert receiver.received[0].headers["x-briefing-signature"] == (
        "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest())
    [hit] = store.hits(watch)
    assert json.loads(body)["idempotency_key"] == hit.key
    assert (hit.attempts, store.pending()) == (3, (0, None))

    # The same article again, through the queue: the index step runs again, nothing new.
    again = cli(["ingest", "--wait", site.url("article-a.html")], env)
    assert again.returncode == 0, again.stderr[-3000:]
    assert [h.id for h in store.hits(watch)] == [hit.id]
    assert store.pending() == (0, None)
    assert len(receiver.received) == 3
