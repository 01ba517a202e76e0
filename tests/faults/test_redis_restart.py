"""Redis stopped during an ingest: a clear error meanwhile, and queued work resumes after."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import redis

from tests.conftest import cli_env
from tests.fleet import (
    BRIEFING,
    REPO,
    Fleet,
    PrivateRedis,
    page,
    publish,
    state_of,
    wait_for,
    wait_job,
)
from tests.siteserver import Site
from worker.queue.config import submit_ingest
from worker.settings import Settings
from worker.storage.datadir import DataDir
from worker.storage.jobs import JobStore


def test_redis_down_mid_ingest_gives_a_clear_error_and_the_job_resumes(
        tmp_path: Path, site: Site, private_redis: PrivateRedis) -> None:
    data_dir = tmp_path / "data"
    fleet = Fleet(data_dir, private_redis.url, tmp_path)
    store = JobStore(DataDir(data_dir).jobs_db)
    settings = Settings(data_dir=data_dir, broker_url=private_redis.url,
                        allow_private_networks=True)
    publish(site, "outage", **{"one.mp4": "briefing-a.mp4", "two.mp4": "briefing-b.mp4"})
    try:
        fleet.start(concurrency=1, BRIEFING_CPU_THREADS="1")
        job_id = submit_ingest(settings, store, site.url("outage/page.html"),
                               page("one.mp4", "two.mp4"))
        # The crash comes once the transcription holds its lock on the broker: the video's
        # state says "transcribing" a moment before (a crash in between stops the step before
        # it starts, to resume when the broker is back, so no transcription would end during
        # the outage).
        locks = redis.Redis.from_url(private_redis.url, socket_connect_timeout=2)
        wait_for(lambda: state_of(store, job_id, "one.mp4") == "transcribing"
                 and bool(locks.keys("briefing:lock:video:*")), 90,
                 "the first transcription to take its lock")
        locks.close()
        private_redis.crash()

        refused = subprocess.run([*BRIEFING, "ingest", site.url("article-b.html")],
                                 capture_output=True, text=True, timeout=120, cwd=REPO,
                                 env=cli_env(data_dir, BRIEFING_BROKER_URL=private_redis.url))
        assert refused.returncode == 1
        lines = refused.stderr.strip().splitlines()
        assert len(lines) == 1 and "broker" in lines[0].lower(), refused.stderr
        assert "Traceback" not in refused.stderr

        # Redis stays down until the transcription running at the crash has ended and is
        # publishing its index step: the case of a step that ends during an outage (its
        # first publish to the index queue meets the outage while declaring the queue).
        wait_for(lambda: len(fleet.transcribed()) == 1, 180,
                 "the transcription running at the crash to end")
        time.sleep(3)
        private_redis.start()  # the same append-only file: the queue comes back
        job = wait_job(store, job_id, fleet, timeout=240)
        assert job.state == "done", job
        assert [v.state for v in job.videos] == ["done", "done"], (
            [(v.url, v.state, v.error) for v in job.videos], fleet.logs_text())
        assert len(list(DataDir(data_dir).transcripts())) == 2
        # The transcription running at the crash finished: neither video was done twice.
        assert len(fleet.transcribed()) == 2, fleet.logs_text()
    finally:
        fleet.stop()
