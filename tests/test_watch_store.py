"""The watch store's own rules, the same test bodies on both backends (SQLite in tmp_path and
the real PostgreSQL): a hit once per watch, item and clip, retraction and restoring, what a
takedown hides, and claims that never give two senders, or two processes, one hit."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.watch_backends import StoreAt, _store_at, _watch_store  # noqa: F401  (fixtures)
from worker.storage.datadir import Hidden
from worker.storage.watch_interface import WatchStoreLike
from worker.watching.domain import DeliveryState, HitKind, Match

ROOT = Path(__file__).resolve().parents[1]
VIDEO = "0123456789abcdef"
ITEM = f"v:{VIDEO}"


def clip(start: float, end: float, text: str = "the storm", video: str = VIDEO) -> Match:
    return Match(kind=HitKind.CLIP, video_id=video, start=start, end=end,
                 url=f"https://media.example/{video}.mp4", title="Morning briefing",
                 text=text, highlight=text.replace("storm", "<mark>storm</mark>"),
                 articles=(("https://news.example/a", "Morning briefing"),))


def test_recording_an_item_again_records_nothing_new(watch_store: WatchStoreLike) -> None:
    watch = watch_store.add("storm", "storm", webhook_url="https://hooks.example/h")
    first = watch_store.record(ITEM, [(watch, [clip(1.0, 2.0), clip(30.0, 32.5)])])
    assert [(h.start, h.end) for h in first.new] == [(1.0, 2.0), (30.0, 32.5)]
    assert first.deliveries == tuple(h.id for h in first.new)
    # A redelivered task: the same matches again change nothing, not even `updated`.
    again = watch_store.record(ITEM, [(watch, [clip(1.0, 2.0), clip(30.0, 32.5)])])
    assert (again.new, again.retracted, again.deliveries) == ((), (), ())
    assert watch_store.hits(watch) == list(reversed(first.new))
    # A re-index whose clip bounds moved a little: the same hit, brought up to date, not sent
    # again (its webhook is still the one pending).
    moved = watch_store.record(ITEM, [(watch, [clip(1.2, 2.4, "the storm came"),
                                               clip(30.0, 32.5)])])
    assert (moved.new, moved.retracted, moved.deliveries) == ((), (), ())
    newest, oldest = watch_store.hits(watch)
    assert (oldest.id, oldest.start, oldest.end, oldest.text) == (
        first.new[0].id, 1.2, 2.4, "the storm came")
    assert oldest.key == first.new[0].key and oldest.updated >= first.new[0].updated
    assert newest == first.new[1]
    assert watch_store.pending()[0] == 2
    assert watch_store.hit_counts() == {watch.id: (2, first.new[1].id)}


def test_a_transcript_that_no_longer_says_it_retracts_and_saying_it_again_restores(
        watch_store: WatchStoreLike) -> None:
    hooked = watch_store.add("storm", "storm", webhook_url="https://hooks.example/h")
    plain = watch_store.add("plain", "storm")
    said = [clip(1.0, 2.0), clip(30.0, 32.5)]
    first = watch_store.record(ITEM, [(hooked, said), (plain, said)])
    assert len(first.new) == 4 and watch_store.pending()[0] == 2
    # Re-transcribed: the second clip is no longer said.
    gone = watch_store.record(ITEM, [(hooked, said[:1]), (plain, said[:1])])
    assert gone.new == () and gone.deliveries == ()
    assert sorted((h.watch_id, h.start) for h in gone.retracted) == sorted(
        [(hooked.id, 30.0), (plain.id, 30.0)])
    assert all(h.retracted is not None for h in gone.retracted)
    assert [h.start for h in watch_store.hits(hooked)] == [1.0]
    assert [h.start for h in watch_store.hits(hooked, retracted=True)] == [30.0, 1.0]
    # Its webhook, never sent, is dropped: one pending is left, the first clip's.
    [retracted] = [h for h in gone.retracted if h.watch_id == hooked.id]
    dropped = watch_store.hit(retracted.id)
    assert dropped is not None and dropped.delivery is DeliveryState.RETRACTED
    assert watch_store.pending_for(ITEM) == (first.new[0].id,)
    assert watch_store.due_in(retracted.id) is None
    assert watch_store.hit_counts()[hooked.id][0] == 1
    # Said again: the same hit comes back, due again as it was never delivered.
    back = watch_store.record(ITEM, [(hooked, said)])
    assert back.new == () and back.deliveries == (retracted.id,)
    restored = watch_store.hit(retracted.id)
    assert restored is not None and restored.retracted is None
    assert restored.delivery is DeliveryState.PENDING and restored.key == retracted.key
    # Nothing found for a watch that never had a hit there: no change at all.
    assert watch_store.record("v:fedcba9876543210", [(hooked, [])]).new == ()


def test_a_delivery_is_claimed_once_until_settled_or_its_lease_runs_out(
        watch_store: WatchStoreLike) -> None:
    import time

    watch = watch_store.add("storm", "storm", webhook_url="https://hooks.example/h")
    [hit] = watch_store.record(ITEM, [(watch, [clip(1.0, 2.0)])]).new
    [claimed] = watch_store.claim(lease=60)
    assert (claimed.hit.id, claimed.watch, claimed.attempts) == (hit.id, watch, 0)
    assert claimed.hit.key == hit.key
    assert watch_store.claim() == [] and watch_store.claim(hit.id) == []
    assert 50 < (watch_store.due_in(hit.id) or 0) <= 60
    # The sender died: once its lease is over, another takes the delivery.
    [again] = watch_store.claim(now=time.time() + 61)
    assert again.hit.id == hit.id
    watch_store.attempt_failed(hit.id, "HTTP 503 from the receiver", status=503,
                               retry_at=time.time() + 300)
    failed = watch_store.hit(hit.id)
    assert failed is not None and (failed.delivery, failed.attempts, failed.error) == (
        DeliveryState.PENDING, 1, "HTTP 503 from the receiver")
    assert watch_store.claim() == []
    assert 290 < (watch_store.due_in(hit.id) or 0) <= 300
    [third] = watch_store.claim(now=time.time() + 301)
    assert third.attempts == 1
    watch_store.attempt_failed(hit.id, "gave up", retry_at=None)
    assert watch_store.pending() == (0, None) and watch_store.due_in(hit.id) is None
    assert watch_store.retry_failed(watch) == 1
    [fourth] = watch_store.claim()
    assert fourth.attempts == 0
    watch_store.delivered(hit.id, 204)
    done = watch_store.hit(hit.id)
    assert done is not None and (done.delivery, done.error) == (DeliveryState.DELIVERED, "")
    assert watch_store.claim(now=time.time() + 3600) == []
    assert watch_store.retry_failed() == 0


def test_what_a_takedown_hides_and_withdraws(watch_store: WatchStoreLike) -> None:
    watch = watch_store.add("storm", "storm", webhook_url="https://hooks.example/h")
    other = "fedcba9876543210"
    linked = Match(kind=HitKind.CLIP, video_id=other, start=5.0, end=6.0, title="Gone",
                   articles=(("https://news.example/gone", "Gone"),
                             ("https://news.example/kept", "Kept")))
    [taken] = watch_store.record(ITEM, [(watch, [clip(1.0, 2.0)])]).new
    [shown] = watch_store.record(f"v:{other}", [(watch, [linked])]).new
    hidden = Hidden(video_ids=frozenset({VIDEO}), article_ids=frozenset({"a1"}),
                    article_urls=frozenset({"https://news.example/gone"}))
    [seen] = watch_store.hits(watch, hidden=hidden)
    assert seen.id == shown.id
    assert (seen.articles, seen.title) == ((("https://news.example/kept", "Kept"),), "Kept")
    assert watch_store.hit_counts(hidden) == {watch.id: (1, shown.id)}
    assert watch_store.pending(hidden)[0] == 1 and watch_store.pending()[0] == 2
    assert watch_store.due_in(taken.id, hidden) is None
    assert watch_store.claim(taken.id, hidden=hidden) == []
    [claimed] = watch_store.claim(hidden=hidden)
    assert claimed.hit.id == shown.id and claimed.hit.title == "Kept"
    # Finished: the hits of the removed video are gone with their webhooks.
    assert watch_store.withdraw([VIDEO], ["a1"]) == 1
    assert watch_store.hit(taken.id) is None
    assert [h.id for h in watch_store.hits(watch, retracted=True)] == [shown.id]
    assert watch_store.pending_for(ITEM) == ()
    assert watch_store.withdraw([], []) == 0


def test_watches_are_found_by_name_or_id_and_removed_with_their_hits(
        watch_store: WatchStoreLike) -> None:
    from worker.errors import NoSuchWatchError, WatchExistsError

    first = watch_store.add("storm", "storm", source="coast", language="en", clips_only=True)
    hooked = watch_store.add("bridge", '"old bridge"', webhook_url="https://hooks.example/h")
    assert first.secret == "" and len(hooked.secret) == 64
    assert watch_store.watches() == [first, hooked]
    assert watch_store.find(first.id) == first == watch_store.find("storm")
    with pytest.raises(WatchExistsError):
        watch_store.add("storm", "other")
    watch_store.record(ITEM, [(hooked, [clip(1.0, 2.0)])])
    assert watch_store.remove("bridge") == hooked
    assert watch_store.watches() == [first]
    assert watch_store.pending() == (0, None) and watch_store.hit_counts() == {}
    with pytest.raises(NoSuchWatchError):
        watch_store.find("bridge")


# -- many processes at once -----------------------------------------------------------------

# Each process opens the store, says it is ready, waits for the word, then works.
_WORKER = """
import json, sys
from tests.watch_backends import StoreAt
from worker.watching.domain import HitKind, Match
store = StoreAt(sys.argv[1], sys.argv[2]).open()
task, variant = sys.argv[3], float(sys.argv[4])
watches = store.watches()
print("ready", flush=True)
sys.stdin.readline()
got = []
if task == "claim":
    while batch := store.claim(limit=3, lease=600):
        got += [d.hit.id for d in batch]
else:
    for n in range(int(sys.argv[5])):
        video = f"{n:016x}"
        found = [Match(kind=HitKind.CLIP, video_id=video, start=1.0 + variant, end=2.0)]
        got += [h.id for h in store.record(f"v:{video}", [(w, found) for w in watches]).new]
print(json.dumps(got), flush=True)
"""


def _at_once(store_at: StoreAt, *args: str, processes: int = 3) -> list[list[int]]:
    """Run _WORKER in *processes* processes started together; what each returned."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}
    procs = [subprocess.Popen([sys.executable, "-c", _WORKER, store_at.backend, store_at.where,
                               *(a.replace("{n}", str(n)) for a in args)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                              cwd=ROOT, env=env)
             for n in range(processes)]
    try:
        for proc in procs:
            assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        results = []
        for proc in procs:
            out, _ = proc.communicate(timeout=240)
            assert proc.returncode == 0
            results.append(json.loads(out))
        return results
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()


def test_processes_claiming_due_webhooks_at_once_never_get_the_same_hit(
        store_at: StoreAt) -> None:
    store = store_at.open()
    watches = [store.add(f"w{n}", "storm", webhook_url="https://hooks.example/h")
               for n in range(3)]
    for v in range(100):
        video = f"{v:016x}"
        store.record(f"v:{video}", [(w, [clip(1.0, 2.0, video=video),
                                          clip(9.0, 10.0, video=video)]) for w in watches])
    count, _ = store.pending()
    assert count == 600
    claimed = _at_once(store_at, "claim", "0")
    every = [hit_id for got in claimed for hit_id in got]
    assert len(every) == len(set(every)) == 600, [len(got) for got in claimed]
    assert store.claim() == []


def test_processes_recording_one_item_at_once_record_each_hit_once(store_at: StoreAt) -> None:
    store = store_at.open()
    watches = [store.add(f"w{n}", "storm", webhook_url="https://hooks.example/h")
               for n in range(3)]
    # Each process finds the clip with slightly different bounds (as two transcripts of one
    # video would): overlapping, so one hit whoever records first.
    recorded = _at_once(store_at, "record", "0.{n}", "60")
    assert sum(len(got) for got in recorded) == 3 * 60
    counts = store.hit_counts()
    assert {w.id: counts[w.id][0] for w in watches} == {w.id: 60 for w in watches}
    assert store.pending()[0] == 3 * 60
