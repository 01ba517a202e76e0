"""The fleet on one machine: two APIs and two workers sharing only media, PostgreSQL and Redis.

Everything is driven from outside, as an operator's fleet is: `briefing db upgrade`, `briefing
serve`, `briefing worker` processes with separate local folders (tests/fleet_pg.py), HTTP to
ingest, follow the job and search. These are the slow fleet tests (marked `fleet`); they run
in the normal suite.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import MANIFEST, MEDIA
from tests.fleet import page, publish, wait_for
from tests.fleet_pg import Api, PgFleet, PrivatePostgres, not_media
from tests.pg import create_database, drop_database
from tests.siteserver import Site

pytestmark = [pytest.mark.fleet, pytest.mark.slow]

# One thread, a wide beam, sequential decoding: a transcription lasts long enough to be
# interrupted. Redis hands a dead worker's task on after 12 s (the same value on every worker:
# they must agree on when a task is lost).
SLOW = {"BRIEFING_CPU_THREADS": "1", "BRIEFING_BEAM_SIZE": "10", "BRIEFING_BATCH_SIZE": "0",
        "BRIEFING_VISIBILITY_TIMEOUT": "12"}
# How long PostgreSQL stays down mid-job: far below the 30 s a step waits for a connection.
OUTAGE_SECONDS = 5.0


@contextlib.contextmanager
def running_fleet(root: Path, broker: str, database_url: str | None) -> Iterator[PgFleet]:
    """A fleet on *database_url* (upgraded first), its processes killed at the end."""
    running = PgFleet(root, broker, database_url)
    try:
        running.upgrade()
        yield running
    finally:
        running.stop()


@contextlib.contextmanager
def own_database() -> Iterator[str]:
    """A fresh, empty database on the machine's PostgreSQL, dropped afterwards."""
    name, url = create_database("pgfleet")
    try:
        yield url
    finally:
        drop_database(name)


@pytest.fixture(params=["embedded", "postgres"])
def any_fleet(request: pytest.FixtureRequest, tmp_path: Path,
              broker: str) -> Iterator[PgFleet]:
    """The fleet on PostgreSQL, and on today's embedded store (SQLite and Whoosh in the
    shared data dir, as one machine runs a fleet without a database)."""
    if request.param == "embedded":
        with running_fleet(tmp_path, broker, None) as running:
            yield running
        return
    with own_database() as url, running_fleet(tmp_path, broker, url) as running:
        yield running


@pytest.fixture
def pg_fleet(tmp_path: Path, broker: str) -> Iterator[PgFleet]:
    """The fleet on a PostgreSQL database of its own."""
    with own_database() as url, running_fleet(tmp_path, broker, url) as running:
        yield running


def start(fleet: PgFleet, **worker_env: str) -> tuple[Api, Api]:
    """Two workers, then two APIs (healthy: each sees the database, the broker, a worker)."""
    fleet.start_worker("worker-1", **worker_env)
    fleet.start_worker("worker-2", **worker_env)
    return fleet.start_api("api-1"), fleet.start_api("api-2")


def ingest(api: Api, url: str, html: str) -> str:
    accepted = api.post("/articles", {"url": url, "html": html})
    assert accepted.status_code == 202, accepted.text
    job_id: str = accepted.json()["job_id"]
    return job_id


def test_ingest_through_one_api_and_search_through_the_other(
        any_fleet: PgFleet, site: Site) -> None:
    fleet = any_fleet
    publish(site, "fleet-a", **{"report.mp4": "briefing-a.mp4"})
    first, second = start(fleet)
    article = site.url("fleet-a/page.html")
    job_id = ingest(first, article, page("report.mp4", title="Harbour bulletin",
                                         text="The coastguard praised the lifeboat crews."))

    job = fleet.wait_job(second, job_id)  # the other API follows the same job
    assert job["state"] == "done", job
    (done,) = job["videos"]
    assert done["state"] == "done" and done["attempts"] == 1, done

    sentence = MANIFEST["briefing-a.mp4"]["sentences"][3]
    (clip,) = second.clips(sentence["phrase"])
    assert clip["video_url"] == site.url("fleet-a/report.mp4")
    assert clip["video_id"] == done["video_id"]
    assert sentence["start"] - 1.2 <= clip["start"] <= sentence["end"] <= clip["end"] + 1.2
    assert [a["url"] for a in clip["articles"]] == [article]
    found = second.get("/search", q="lifeboat", type="article").json()["results"]
    assert [(r["url"], r["title"]) for r in found] == [(article, "Harbour bulletin")]
    # The media went to the shared folder: the API that did not ingest serves it.
    media = second.get(f"/videos/{clip['video_id']}/media")
    assert media.status_code == 200 and media.content == (MEDIA / "briefing-a.mp4").read_bytes()
    cut = second.get(f"/videos/{clip['video_id']}/clip", start=clip["start"], end=clip["end"],
                     format="mp4")
    assert cut.status_code == 200 and cut.content[4:8] == b"ftyp"

    if fleet.database_url:
        # Records, transcripts, jobs and the index are in PostgreSQL: no SQLite file, no Whoosh
        # index and nothing but media on the shared volume.
        assert not_media(fleet.media) == []
        assert any(p.name.startswith("video.") for p in (fleet.media / "videos").rglob("*"))


def test_a_worker_killed_mid_transcription_leaves_the_video_to_the_other_one_once(
        pg_fleet: PgFleet, site: Site) -> None:
    fleet = pg_fleet
    publish(site, "fleet-b", **{"report.mp4": "briefing-a.mp4"})
    first, second = start(fleet, **SLOW)
    job_id = ingest(first, site.url("fleet-b/page.html"), page("report.mp4"))
    fleet.wait_video_state(first, job_id, "transcribing")
    time.sleep(1.5)
    victim = fleet.worker_running("transcribe_video")
    survivor = next(w for w in fleet.workers if w is not victim)
    victim.kill()  # SIGKILL to the process group: the model process dies with it
    during = first.job(job_id)
    assert during is not None, fleet.logs()
    (video,) = during["videos"]
    assert video["state"] == "transcribing" and video["progress"] < 1, video
    assert victim.transcribed() == []

    job = fleet.wait_job(second, job_id)
    (done,) = job["videos"]
    assert job["state"] == "done" and done["state"] == "done", (job, fleet.logs())
    assert done["attempts"] == 2  # the try that died, and the redelivery
    assert survivor.transcribed() == [done["video_id"]]

    # One transcript, one set of clips: each clip comes back once.
    shown = second.get(f"/videos/{done['video_id']}").json()
    assert shown["state"] == "done" and shown.get("versions", []) == [], shown
    transcript = second.get(f"/videos/{done['video_id']}/transcript", format="json").json()
    starts = [s["start"] for s in transcript["segments"]]
    assert len(starts) == shown["transcript"]["segments"] > 0
    assert starts == sorted(set(starts)), starts  # not two transcriptions run together
    for sentence in MANIFEST["briefing-a.mp4"]["sentences"][3:6]:
        clips = second.clips(sentence["phrase"])
        assert [c["video_id"] for c in clips] == [done["video_id"]], (sentence, clips)


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    server = PrivatePostgres()
    try:
        server.init()
        server.pg_ctl("start")
        yield server
    finally:
        server.remove()


def test_a_postgresql_restart_mid_job_is_waited_out_and_loses_nothing(
        tmp_path: Path, broker: str, site: Site, private_postgres: PrivatePostgres) -> None:
    url = private_postgres.create_database("pgfleet_restart")
    with running_fleet(tmp_path, broker, url) as fleet:
        _restart_mid_job(fleet, site, private_postgres)


def _restart_mid_job(fleet: PgFleet, site: Site, server: PrivatePostgres) -> None:
    publish(site, "fleet-c", **{"a.mp4": "briefing-a.mp4", "b.mp4": "briefing-b.mp4"})
    first, second = start(fleet, **SLOW)
    article = site.url("fleet-c/page.html")
    job_id = ingest(first, article, page("a.mp4", "b.mp4", title="Lighthouse bulletin",
                                         text="The lighthouse keeper reported calm seas."))
    fleet.wait_video_state(first, job_id, "transcribing")

    server.pg_ctl("stop")
    stopped = time.monotonic()
    try:
        # Down: the health check says so at once (within compose's 10 s healthcheck timeout).
        health = httpx.get(second.url + "/healthz", timeout=10)
        assert health.status_code == 503, health.text
        # Down long enough for the running transcription's progress writes to meet it.
        time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - stopped)))
    finally:
        server.pg_ctl("start")
    wait_for(server.ready, 60, "PostgreSQL to accept connections again")

    job = fleet.wait_job(first, job_id, timeout=240)
    assert job["state"] == "done", (job, fleet.logs())
    assert [v["state"] for v in job["videos"]] == ["done", "done"], (job, fleet.logs())
    for api in (first, second):
        assert api.get("/healthz").status_code == 200, api.get("/healthz").text
        found = api.get("/search", q="lighthouse", type="article").json()["results"]
        assert [r["url"] for r in found] == [article]
        for name, video in (("a.mp4", "briefing-a.mp4"), ("b.mp4", "briefing-b.mp4")):
            phrase = MANIFEST[video]["sentences"][2]["phrase"]
            clips = api.clips(phrase)
            assert [c["video_url"] for c in clips] == [site.url(f"fleet-c/{name}")], (
                phrase, clips)
