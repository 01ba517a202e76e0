"""Watches: saved searches matched against each newly indexed video, their hits, Atom feeds and
signed webhooks; the timeline of mentions.  Real pipeline, real Whoosh, real HTTP on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import feedparser
import httpx
import pytest

from indexer.domain import Clip, Segment, Transcript, Word
from indexer.errors import QueryError
from tests.apiserver import running, server_settings
from tests.conftest import MANIFEST, Ingested, cli_env, make_context
from tests.receiver import Receiver
from tests.siteserver import Site
from tests.watch_backends import _store_at, _watch_store  # noqa: F401  (fixtures)
from worker.intake.fetch import FetchLimits
from worker.pipeline import ModelProvider, ingest
from worker.pipeline.steps import index_step
from worker.storage.watch_interface import WatchStoreLike
from worker.storage.watches import DeliveryState, WatchStore
from worker.watching.saved import add_watch
from worker.watching.timeline import mentions
from worker.watching.webhooks import WebhookPolicy, deliver_due

BRIEFING = [sys.executable, "-m", "api"]
BRIDGE = next(s for s in MANIFEST["briefing-a.mp4"]["sentences"] if s["phrase"] == "old bridge")
LOCAL = FetchLimits(allow_private=True)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver().start()
    yield server
    server.stop()


def run(args: list[str], data_dir: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*BRIEFING, *args], capture_output=True, text=True, timeout=300,
                          env=cli_env(data_dir, **env))


def wait_for_job(client: httpx.Client, job_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 240
    while True:
        job: dict[str, Any] = client.get(f"/jobs/{job_id}").json()
        if job["state"] in ("done", "failed"):
            return job
        assert time.monotonic() < deadline, f"job still {job['state']}"
        time.sleep(0.2)


def signature(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


# -- fires once, with a feed entry and a signed webhook ---------------------------------------


def test_a_watch_added_before_ingest_fires_once_in_its_feed_and_by_signed_webhook(
        tmp_path: Path, site: Site, receiver: Receiver) -> None:
    # A poll of an hour: the webhook goes out because the finished job wakes the sender.
    settings = server_settings(tmp_path / "data", webhook_poll=3600, webhook_backoff=0.2)
    with running(settings) as base, httpx.Client(base_url=base, timeout=60) as client:
        created = client.post("/watches", json={
            "name": "bridge", "query": '"old bridge"', "webhook_url": receiver.url()})
        assert created.status_code == 201, created.text
        watch = created.json()
        assert len(watch["secret"]) == 64
        assert "secret" not in client.get("/watches").json()[0]

        job = client.post("/articles", json={"url": site.url("article-a.html")}).json()
        assert wait_for_job(client, job["job_id"])["state"] == "done"
        [request] = receiver.wait_for(1)

        # Signed with the watch's secret; the body says what was found, and where.
        assert request.headers["x-briefing-signature"] == signature(request.body,
                                                                    watch["secret"])
        sent = json.loads(request.body)
        hit = sent["hit"]
        assert sent["watch"] == {"id": watch["id"], "name": "bridge", "query": '"old bridge"'}
        assert hit["type"] == "clip" and hit["match"] == "exact"
        assert "<mark>old</mark> <mark>bridge</mark>" in hit["highlight"]
        # The clip bounds of a search: half a second before "old", to the sentence's end.
        assert BRIDGE["start"] - 1.0 <= hit["start"] <= BRIDGE["start"] + 1.5
        assert hit["end"] >= BRIDGE["end"] - 1.0
        assert hit["link"].endswith(f"#t={hit['start']:.1f},{hit['end']:.1f}")
        searched = client.get("/search", params={"q": '"old bridge"', "type": "clip"}).json()
        assert [(r["start"], r["end"]) for r in searched["results"]] == [
            (hit["start"], hit["end"])]

        hits = client.get(f"/watches/{watch['id']}/hits").json()
        assert [h["key"] for h in hits] == [sent["idempotency_key"]]
        assert hits[0]["delivery"] == {"state": "delivered", "attempts": 1, "error": ""}

        feed = client.get(f"/watches/{watch['id']}/feed.atom")
        assert feed.headers["content-type"].startswith("application/atom+xml")
        parsed = feedparser.parse(feed.content)
        assert not parsed.bozo, parsed.get("bozo_exception")
        assert parsed.version == "atom10"
        [entry] = parsed.entries
        assert entry.id == f"urn:briefing:hit:{sent['idempotency_key']}"
        links = {link.rel: link.href for link in entry.links}
        assert links["alternate"] == (f"{base}/?q=%22old%20bridge%22#clip={hit['video_id']},"
                                      f"{hit['start']:.2f},{hit['end']:.2f}")
        assert links["related"] == hit["link"]
        assert "old bridge" in entry.summary

        # The same article again: its videos are indexed again, nothing new is recorded.
        again = client.post("/articles", json={"url": site.url("article-a.html")}).json()
        assert wait_for_job(client, again["job_id"])["state"] == "done"
        assert [h["id"] for h in client.get(f"/watches/{watch['id']}/hits").json()] == [
            hits[0]["id"]]
        assert WatchStore(settings.data_dir / "watches.sqlite3").pending() == (0, None)
    assert len(receiver.received) == 1


def test_watch_management_needs_the_token_and_checks_what_it_saves(tmp_path: Path) -> None:
    settings = server_settings(tmp_path / "data", api_token="s3cret-token",
                               allow_private_networks=False)
    auth = {"Authorization": "Bearer s3cret-token"}
    with running(settings) as base, httpx.Client(base_url=base, timeout=60) as client:
        body = {"name": "storm", "query": "storm"}
        assert client.post("/watches", json=body).status_code == 401
        assert client.post("/watches", json=body, headers=auth).status_code == 201
        refused = client.post("/watches", headers=auth, json={
            "name": "inside", "query": "storm", "webhook_url": "http://127.0.0.1:6379/"})
        assert refused.status_code == 400
        assert refused.json()["error"] == "bad_watch"
        assert "non-public address" in refused.json()["detail"]
        assert client.post("/watches", json=body, headers=auth).status_code == 409
        bad = client.post("/watches", json={"name": "x", "query": "the of"}, headers=auth)
        assert bad.status_code == 400 and bad.json()["error"] == "bad_query"
        assert [w["name"] for w in client.get("/watches").json()] == ["storm"]
        # A webhook URL's path is often its credential: only the token shows it.
        hook = "https://93.184.216.34/services/T0/B0/hook-credential?key=abc"
        assert client.post("/watches", headers=auth, json={
            "name": "hooked", "query": "storm", "webhook_url": hook}).status_code == 201
        anonymous = {w["name"]: w["webhook_url"] for w in client.get("/watches").json()}
        assert anonymous == {"storm": "", "hooked": "https://93.184.216.34/…"}
        shown = {w["name"]: w["webhook_url"] for w in client.get("/watches",
                                                                 headers=auth).json()}
        assert shown["hooked"] == hook
        assert client.delete("/watches/hooked", headers=auth).status_code == 204
        assert client.delete("/watches/storm").status_code == 401
        assert client.delete("/watches/storm", headers=auth).status_code == 204
        assert client.get("/watches").json() == []
        assert client.get("/watches/storm/hits").status_code == 404


# -- retries: exactly one delivery ----------------------------------------------------------


def test_a_receiver_down_for_its_first_two_attempts_gets_exactly_one_delivery(
        tmp_path: Path, site: Site, receiver: Receiver) -> None:
    data_dir = tmp_path / "data"
    receiver.script = [503, 503]
    quick = {"BRIEFING_WEBHOOK_BACKOFF": "0.05", "BRIEFING_WEBHOOK_POLL": "0.05"}
    short = run(["watch", "add", "convoy", "convoy of trucks", "--webhook", receiver.url(),
                 "--secret", "guessable"], data_dir)
    assert short.returncode != 0
    assert short.stderr.strip().endswith("a webhook secret is at least 16 characters")
    added = run(["watch", "add", "convoy", "convoy of trucks", "--webhook", receiver.url(),
                 "--secret", "a-shared-secret-of-ours", "--json"], data_dir)
    assert added.returncode == 0, added.stderr
    ingested = run(["ingest", site.url("article-a.html")], data_dir, **quick)
    assert ingested.returncode == 0, ingested.stderr
    # The ingest made the first attempt and said the rest is left to `watch deliver`.
    assert len(receiver.received) == 1
    assert "1 webhook(s) not delivered yet" in ingested.stderr

    delivered = run(["watch", "deliver", "--wait"], data_dir, **quick)
    assert delivered.returncode == 0, delivered.stderr
    assert "1 delivered" in delivered.stdout and "0 pending" in delivered.stdout
    assert [r.status for r in receiver.received] == [503, 503, 200]
    # Every attempt sent the same bytes: one idempotency key, one valid signature.
    assert len({r.body for r in receiver.received}) == 1
    assert all(r.headers["x-briefing-signature"] == signature(r.body, "a-shared-secret-of-ours")
               for r in receiver.received)

    hits = json.loads(run(["watch", "hits", "convoy", "--json"], data_dir).stdout)
    assert [h["delivery"] for h in hits] == [
        {"state": "delivered", "attempts": 3, "error": ""}]
    # Nothing is due any more: another round sends nothing, even of failed ones.
    assert run(["watch", "deliver", "--retry-failed"], data_dir).returncode == 0
    assert len(receiver.received) == 3


def test_a_receiver_that_stays_down_is_marked_failed_and_shown(
        tmp_path: Path, site: Site, models: ModelProvider, receiver: Receiver) -> None:
    ctx = make_context(tmp_path / "data", models)
    receiver.script = [500] * 10
    add_watch(ctx.watch_store(), LOCAL, "workers", "relief workers", webhook_url=receiver.url())
    ingest(site.url("article-b.html"), ctx)
    policy = WebhookPolicy(retries=2, backoff=0.01, limits=LOCAL)
    while ctx.watch_store().pending()[0]:
        deliver_due(ctx.watch_store(), policy)
        time.sleep(0.02)
    assert [r.status for r in receiver.received] == [500, 500, 500]
    [hit] = ctx.watch_store().hits(ctx.watch_store().find("workers"))
    assert (hit.delivery, hit.attempts, hit.error) == (
        DeliveryState.FAILED, 3, "HTTP 500 from the receiver")
    shown = run(["watch", "hits", "workers"], ctx.data.root)
    assert "webhook failed after 3 attempt(s): HTTP 500 from the receiver" in shown.stdout

    # Asked to, the failed one is tried again: once, and delivered.
    receiver.script = []
    assert ctx.watch_store().retry_failed() == 1
    deliver_due(ctx.watch_store(), policy)
    assert [r.status for r in receiver.received] == [500, 500, 500, 200]


# -- idempotent evaluation, retraction -------------------------------------------------------


def test_reingest_and_reindex_fire_nothing_new_and_a_transcript_without_the_words_retracts(
        tmp_path: Path, site: Site, models: ModelProvider, receiver: Receiver) -> None:
    ctx = make_context(tmp_path / "data", models)
    store = ctx.watch_store()
    watch = add_watch(store, LOCAL, "bridge", '"old bridge"', webhook_url=receiver.url())
    articles = add_watch(store, LOCAL, "coast", "coastal towns")
    report = ingest(site.url("article-a.html"), ctx)
    video = next(v for v in report.videos if v.url.endswith("briefing-a.mp4"))
    [first] = store.hits(watch)
    assert first.video_id == video.video_id
    [article_hit] = store.hits(articles)  # the article's own text says it
    assert article_hit.kind == "article"
    assert store.pending()[0] == 1

    # Re-ingest (both articles link the video), then a re-index of the video itself.
    ingest(site.url("article-a.html"), ctx)
    ingest(site.url("article-b.html"), ctx)
    # The one webhook still pending is handed on again, never a second one.
    assert index_step(ctx, video.url, video.video_id) == (first.id,)
    assert [(h.id, h.start, h.end) for h in store.hits(watch)] == [
        (first.id, first.start, first.end)]
    assert [h.id for h in store.hits(articles)] == [article_hit.id]
    assert store.pending()[0] == 1
    # Found again unchanged, a hit is untouched: its feed entry is not "updated" again.
    [seen] = store.hits(watch)
    index_step(ctx, video.url, video.video_id)
    ingest(site.url("article-a.html"), ctx)
    assert [h.updated for h in store.hits(watch)] == [seen.updated]
    assert [h.updated for h in store.hits(articles)] == [article_hit.updated]

    # A re-transcription that no longer says the words retracts the hit and its webhook.
    said = ctx.data.load_transcript(video.video_id)
    assert said is not None
    unsaid = replace(said, segments=tuple(s for s in said.segments if "bridge" not in s.text))
    ctx.data.save_transcript(unsaid)
    assert index_step(ctx, video.url, video.video_id) == ()
    assert store.hits(watch) == []
    [gone] = store.hits(watch, retracted=True)
    assert gone.retracted is not None and gone.delivery is DeliveryState.RETRACTED
    assert store.pending() == (0, None)

    # Saying it again restores that same hit, due once more (it was never delivered).
    ctx.data.save_transcript(said)
    assert index_step(ctx, video.url, video.video_id) == (first.id,)
    assert [h.id for h in store.hits(watch)] == [first.id]
    assert len(deliver_due(store, WebhookPolicy(limits=LOCAL))) == 1
    assert index_step(ctx, video.url, video.video_id) == ()
    assert len(receiver.received) == 1


# -- sound-alike names fire where search finds them ---------------------------------------------


def _heard(video_id: str) -> Transcript:
    """A transcript where Whisper heard "Carcave" for Kharkiv (a doubtful word)."""
    def words(text: str, start: float, doubt: str = "") -> tuple[Word, ...]:
        out = []
        for i, w in enumerate(text.split()):
            out.append(Word(f" {w}", start + 0.4 * i, start + 0.4 * i + 0.35,
                            0.3 if doubt and doubt in w else 0.95))
        return tuple(out)

    first = "The convoy reached Carcave before dawn."
    second = "Talks in Geneva went on until late."
    return Transcript(video_id=video_id, language="en", duration=12.0, model="tiny.en",
                      model_version="test", segments=(
                          Segment(0, 0.5, 3.0, first, words(first, 0.5, "Carcave")),
                          Segment(1, 4.0, 7.0, second, words(second, 4.0))))


def test_a_watch_on_a_mangled_name_fires_where_search_finds_it(
        tmp_path: Path, models: ModelProvider) -> None:
    ctx = make_context(tmp_path / "data", models)
    store = ctx.watch_store()
    mangled = add_watch(store, LOCAL, "kharkiv", "Kharkiv")
    exact = add_watch(store, LOCAL, "geneva", "Geneva talks")
    elsewhere = add_watch(store, LOCAL, "odesa", "Odesa")
    ctx.data.save_transcript(_heard("0123456789abcdef"))
    index_step(ctx, "https://example.org/briefing.mp4", "0123456789abcdef")

    searched = [r for r in ctx.index.search("Kharkiv") if isinstance(r, Clip)]
    assert [(r.start, r.end, r.match) for r in searched] == [(
        searched[0].start, searched[0].end, "phonetic")]
    [hit] = store.hits(mangled)
    assert (hit.start, hit.end, hit.match) == (searched[0].start, searched[0].end, "phonetic")
    assert "Carcave" in hit.text
    [talks] = store.hits(exact)
    assert talks.match == "exact" and "Geneva" in talks.text
    assert store.hits(elsewhere) == []


# -- the timeline -----------------------------------------------------------------------------


def test_timeline_counts_match_a_hand_count_of_the_fixtures(ingested: Ingested) -> None:
    # By hand, from the fixtures: "closed" is said once in briefing-a (linked from article A,
    # Example News, 2026-11-20, and from article B, Other Gazette, 2026-11-21) and once in
    # briefing-b (linked from A only); neither article writes it.  "harbour" is said in
    # briefing-a and written in article A's title.  A clip counts on the date of each article
    # linking it, under that article's source.
    ctx = ingested.ctx

    def count(query: str, **options: Any) -> dict[str, Any]:
        return mentions(ctx.index.search_page, ctx.data, query, **options).to_json()

    def bars(found: dict[str, Any]) -> list[tuple[str, str, int, int]]:
        return [(b["start"], b["end"], b["clips"], b["articles"]) for b in found["buckets"]]

    closed = count("closed")
    assert (closed["clips"], closed["articles"]) == (3, 0)
    assert bars(closed) == [("2026-11-20", "2026-11-20", 2, 0),
                            ("2026-11-21", "2026-11-21", 1, 0)]
    assert [b["sources"] for b in closed["buckets"]] == [
        [{"source": "Example News", "clips": 2, "articles": 0}],
        [{"source": "Other Gazette", "clips": 1, "articles": 0}]]

    harbour = count("harbour", interval="week")
    assert bars(harbour) == [("2026-11-16", "2026-11-22", 2, 1)]  # ISO week, Monday first
    assert harbour["buckets"][0]["sources"] == [
        {"source": "Example News", "clips": 1, "articles": 1},
        {"source": "Other Gazette", "clips": 1, "articles": 0}]

    # Bounds keep every interval between them, empty ones too; a source keeps its own days.
    bounded = count("closed", date_from="2026-11-19", date_to="2026-11-21",
                    source="other gazette")
    assert bars(bounded) == [("2026-11-19", "2026-11-19", 0, 0),
                             ("2026-11-20", "2026-11-20", 0, 0),
                             ("2026-11-21", "2026-11-21", 1, 0)]
    assert bars(count("closed", interval="month")) == [("2026-11-01", "2026-11-30", 3, 0)]
    assert count("closed", date_from="2026-11-22")["buckets"] == []
    with pytest.raises(QueryError, match=r"from \(2026-11-21\) is after to \(2026-11-20\)"):
        count("closed", date_from="2026-11-21", date_to="2026-11-20")


def test_an_undated_video_keeps_its_day_on_the_timeline_when_transcribed_again(
        tmp_path: Path, site: Site, models: ModelProvider) -> None:
    import os

    from worker.pipeline.steps import retranscribe_step
    from worker.storage.files import write_json_atomic

    ctx = make_context(tmp_path / "data", models)
    page = tmp_path / "undated.html"  # no date anywhere: the video counts on its own day
    page.write_text(f"""<html><head><title>Flood update</title></head><body><article>
<p>The regional briefing on the flood.</p>
<video src="{site.url('media/briefing-b.mp4')}"></video></article></body></html>""")
    [video] = ingest(str(page), ctx).videos
    # It was fetched and transcribed on 2026-11-02 (its records say so).
    meta = ctx.data.video_meta(video.video_id)
    assert meta is not None and meta.fetched
    then = dt.datetime(2026, 11, 2, 12, tzinfo=dt.UTC).timestamp()
    write_json_atomic(ctx.data.video_dir(video.video_id) / "meta.json",
                      {**asdict(meta), "fetched": dict.fromkeys(meta.fetched, then)})
    os.utime(ctx.data.video_dir(video.video_id) / "transcript.json", (then, then))

    def days() -> list[tuple[str, int]]:
        found = mentions(ctx.index.search_page, ctx.data, "sandbags").to_json()
        return [(b["start"], b["clips"]) for b in found["buckets"]]

    assert days() == [("2026-11-02", 1)]
    retranscribe_step(ctx, video.video_id)  # today: a new transcript file
    assert days() == [("2026-11-02", 1)]


def test_timeline_over_http_and_the_cli_agree(ingested: Ingested) -> None:
    data_dir = ingested.ctx.data.root
    with running(server_settings(data_dir)) as base, httpx.Client(base_url=base) as client:
        answer = client.get("/timeline", params={"q": "closed", "interval": "week"})
        assert answer.status_code == 200, answer.text
        assert client.get("/timeline", params={"q": "closed", "interval": "year"}
                          ).status_code == 422
        assert client.get("/timeline", params={"q": "the"}).json()["error"] == "bad_query"
    printed = run(["timeline", "closed", "--interval", "week", "--json"], data_dir)
    assert printed.returncode == 0, printed.stderr
    assert json.loads(printed.stdout) == answer.json()
    assert answer.json()["buckets"][0]["start"] == dt.date(2026, 11, 16).isoformat()


# -- the percolator finds what a search finds ---------------------------------------------------

SAID_ALIKE = ["London", "Londen", "Lundon tomorrow", "harbor", "Fryday", "releaf workers",
              "convoy", '"old bridge"', "sandbags riverbank", "ceasefire", "cease-fire",
              "Kyiv", "press conference mayor", "weather", "eastern district", "forty"]


@pytest.mark.parametrize("query", SAID_ALIKE)
def test_the_percolator_finds_in_a_video_exactly_the_clips_a_search_finds(
        ingested: Ingested, query: str) -> None:
    from indexer.percolate import Percolator

    ctx = ingested.ctx
    searched = [r for r in ctx.index.search(query, limit=500) if isinstance(r, Clip)]
    for transcript in ctx.data.transcripts():
        video_id = transcript.video_id
        percolator = Percolator.for_video(transcript, ctx.data.video_url(video_id),
                                          ctx.data.article_refs_for_video(video_id))
        found = [(r.start, r.end, r.match, r.highlight) for r in percolator.match(query)
                 if isinstance(r, Clip)]
        percolator.close()
        assert found == [(r.start, r.end, r.match, r.highlight) for r in searched
                         if r.video_id == video_id], (query, video_id)


def test_the_feed_carries_hostile_outside_text_as_text(watch_store: WatchStoreLike) -> None:
    from api.http.watches import atom_feed
    from worker.storage.watches import HitKind, Match

    store = watch_store
    watch = store.add("x", "storm <b>")
    store.record("v:0123456789abcdef", [(watch, [Match(
        kind=HitKind.CLIP, video_id="0123456789abcdef", start=1.0, end=2.0,
        url="https://media.example/v.mp4", title="<script>alert(1)</script>\x00\x1b[31m",
        text="the storm\x07 & </summary><x>", highlight="the <mark>storm</mark>")])])
    parsed = feedparser.parse(atom_feed(watch, store.hits(watch), "http://127.0.0.1:1",
                                        "http://127.0.0.1:1/watches/x/feed.atom"))
    assert not parsed.bozo, parsed.get("bozo_exception")
    [entry] = parsed.entries
    assert entry.title.startswith("<script>alert(1)</script>\ufffd\ufffd[31m")
    assert entry.summary == "the storm\ufffd & </summary><x>"


def test_a_receiver_that_refuses_connections_is_retried_later(
        watch_store: WatchStoreLike) -> None:
    import socket

    from worker.storage.watches import HitKind, Match

    with socket.socket() as probe:  # a port with nothing listening once closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    store = watch_store
    watch = add_watch(store, LOCAL, "down", "storm", webhook_url=f"http://127.0.0.1:{port}/")
    recorded = store.record("v:0123456789abcdef", [(watch, [Match(
        kind=HitKind.CLIP, video_id="0123456789abcdef", start=1.0, end=2.0)])])
    assert len(recorded.deliveries) == 1
    [attempt] = deliver_due(store, WebhookPolicy(retries=3, backoff=60, limits=LOCAL))
    assert not attempt.delivered and attempt.retry_in == 60
    assert "cannot reach" in attempt.error
    [hit] = store.hits(watch)
    assert (hit.delivery, hit.attempts) == (DeliveryState.PENDING, 1)
    # Not due again before its backoff: nothing is sent meanwhile.
    assert deliver_due(store, WebhookPolicy(limits=LOCAL)) == []
    assert 0 < (store.due_in(hit.id) or 0) <= 60


def test_a_receiver_that_answers_2xx_and_then_stalls_its_body_has_the_hit(
        watch_store: WatchStoreLike) -> None:
    import socket
    import threading

    from worker.storage.watches import HitKind, Match

    release = threading.Event()
    requests: list[bytes] = []

    def serve(listener: socket.socket) -> None:
        conn, _ = listener.accept()
        with conn:
            requests.append(conn.recv(65536))
            # Headers promising 100 MB, then nothing: only the status may count.
            conn.sendall(b"HTTP/1.1 202 Accepted\r\nContent-Length: 100000000\r\n\r\n")
            release.wait()

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        thread = threading.Thread(target=serve, args=(listener,), daemon=True)
        thread.start()
        store = watch_store
        watch = add_watch(store, LOCAL, "stall", "storm",
                          webhook_url=f"http://127.0.0.1:{listener.getsockname()[1]}/")
        store.record("v:0123456789abcdef", [(watch, [Match(
            kind=HitKind.CLIP, video_id="0123456789abcdef", start=1.0, end=2.0)])])
        try:
            [attempt] = deliver_due(store, WebhookPolicy(timeout=30, limits=LOCAL))
        finally:
            release.set()
            thread.join()
    assert (attempt.delivered, attempt.status, attempt.error) == (True, 202, "")
    assert requests and requests[0].startswith(b"POST / HTTP/1.1")
    [hit] = store.hits(watch)
    assert hit.delivery is DeliveryState.DELIVERED


def test_a_watch_deleted_while_an_item_is_matched_is_passed_over(
        watch_store: WatchStoreLike) -> None:
    from worker.storage.watches import HitKind, Match

    store = watch_store
    gone = add_watch(store, LOCAL, "gone", "storm", webhook_url="http://127.0.0.1:9/")
    kept = add_watch(store, LOCAL, "kept", "storm")
    store.remove("gone")  # after the evaluation read the watches, before it recorded
    found = [Match(kind=HitKind.CLIP, video_id="0123456789abcdef", start=1.0, end=2.0)]
    recorded = store.record("v:0123456789abcdef", [(gone, found), (kept, found)])
    assert [h.watch_id for h in recorded.new] == [kept.id]
    assert recorded.deliveries == () and store.pending() == (0, None)


def test_a_failed_webhook_of_a_retracted_hit_is_not_sent_on_retry(
        watch_store: WatchStoreLike, receiver: Receiver) -> None:
    from worker.storage.watches import HitKind, Match

    store = watch_store
    watch = add_watch(store, LOCAL, "storm", "storm", webhook_url=receiver.url())
    item = "v:0123456789abcdef"
    said = [Match(kind=HitKind.CLIP, video_id="0123456789abcdef", start=1.0, end=2.0)]
    store.record(item, [(watch, said)])
    receiver.script = [500]
    [attempt] = deliver_due(store, WebhookPolicy(retries=0, limits=LOCAL))
    assert not attempt.delivered and attempt.retry_in is None
    # The new transcript no longer says it; asking to retry failed webhooks sends nothing.
    [gone] = store.record(item, [(watch, [])]).retracted
    assert store.hit(gone.id) is not None
    assert store.retry_failed() == 0
    assert deliver_due(store, WebhookPolicy(limits=LOCAL)) == []
    assert len(receiver.received) == 1
    # Said again: it was never delivered, so it is due once more.
    assert store.record(item, [(watch, said)]).deliveries == (gone.id,)
    assert [a.delivered for a in deliver_due(store, WebhookPolicy(limits=LOCAL))] == [True]


def test_matching_a_video_writes_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Whoosh's in-memory index keeps a writer's temporary files in <tmpdir>/MAIN.tmp, one
    # folder for every process of the machine: two workers matching at once deleted each
    # other's files.  The percolator keeps them in memory.
    import tempfile

    from indexer.percolate import Percolator

    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    # What another process holds there must neither stop this one nor be touched by it.
    theirs = scratch / "MAIN.tmp"
    theirs.write_text("another process's")
    found = Percolator.for_video(_heard("0123456789abcdef"), "https://example.org/v.mp4",
                                 []).match("Geneva")
    assert [(c.start, c.end) for c in found if isinstance(c, Clip)] == [(4.3, 7.0)]
    assert list(scratch.iterdir()) == [theirs]
    assert theirs.read_text() == "another process's"
