"""A worker rides out its broker: Redis down while the worker's only task runs."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import httpx

from tests.apiserver import running, server_settings
from tests.fleet import Fleet, PrivateRedis, cli, page, publish, state_of, wait_for, wait_job
from tests.siteserver import Site
from worker.queue.config import submit_ingest
from worker.queue.stalls import QUIET_SECONDS
from worker.settings import Settings
from worker.storage.datadir import DataDir
from worker.storage.jobs import JobStore

SLOW = {"BRIEFING_CPU_THREADS": "1", "BRIEFING_BATCH_SIZE": "0", "BRIEFING_BEAM_SIZE": "10"}


def _queue(tmp_path: Path, broker_url: str) -> tuple[Fleet, JobStore, Settings]:
    """Workers, the job store and the submitting settings of one data dir on *broker_url*."""
    data_dir = tmp_path / "data"
    return (Fleet(data_dir, broker_url, tmp_path), JobStore(DataDir(data_dir).jobs_db),
            Settings(data_dir=data_dir, broker_url=broker_url, allow_private_networks=True))


def test_a_worker_survives_redis_stopping_while_its_only_task_runs(
        tmp_path: Path, site: Site, private_redis: PrivateRedis) -> None:
    fleet, store, settings = _queue(tmp_path, private_redis.url)
    names = [f"v{n}.mp4" for n in range(4)]
    publish(site, "alone", **dict.fromkeys(names, "briefing-b.mp4"),
            **{"only.mp4": "briefing-a.mp4"})
    try:
        worker = fleet.start(concurrency=2, **SLOW)  # the default on two cores
        job_id = submit_ingest(settings, store, site.url("alone/page.html"),
                               page(*names, "only.mp4"))
        wait_for(lambda: state_of(store, job_id, "only.mp4") == "transcribing", 180,
                 "the transcription to start")
        private_redis.stop()
        time.sleep(15)

        assert worker.proc.poll() is None, worker.text()[-4000:]
        private_redis.start()
        job = wait_job(store, job_id, fleet, timeout=240)
        assert job.state == "done" and {v.state for v in job.videos} == {"done"}, job
        assert worker.proc.poll() is None, worker.text()[-4000:]
        assert "Unrecoverable error" not in worker.text()
        assert len(fleet.transcribed()) == 2  # the copies of briefing-b are one video
    finally:
        fleet.stop()


def test_a_worker_told_to_stop_while_redis_is_down_exits_within_its_grace(
        tmp_path: Path, site: Site, private_redis: PrivateRedis) -> None:
    fleet, store, settings = _queue(tmp_path, private_redis.url)
    publish(site, "stopping", **{"long.mp4": "briefing-a.mp4"})
    try:
        worker = fleet.start(concurrency=1, BRIEFING_SHUTDOWN_GRACE="5", **SLOW)
        job_id = submit_ingest(settings, store, site.url("stopping/page.html"),
                               page("long.mp4"))
        wait_for(lambda: state_of(store, job_id, "long.mp4") == "transcribing", 90,
                 "the transcription to start")
        private_redis.stop()
        wait_for(lambda: "Connection to broker lost" in worker.text(), 30,
                 "the worker to notice")
        started = time.monotonic()
        worker.proc.send_signal(signal.SIGTERM)
        try:
            code = worker.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            raise AssertionError("the worker was still running 60 s after SIGTERM:\n"
                                 + worker.text()[-3000:]) from None
        assert time.monotonic() - started < 5 + 20, worker.text()[-3000:]
        assert code is not None
    finally:
        fleet.stop()


def test_healthz_fails_while_no_worker_answers_on_the_broker(
        tmp_path: Path, private_redis: PrivateRedis) -> None:
    fleet = Fleet(tmp_path / "data", private_redis.url, tmp_path)
    settings = server_settings(tmp_path / "data", broker_url=private_redis.url)
    try:
        with running(settings) as base:
            alone = httpx.get(f"{base}/healthz", timeout=30)
            assert alone.status_code == 503, alone.text
            assert alone.json()["checks"]["broker"]["ok"] is True
            assert alone.json()["checks"]["workers"] == {
                "ok": False, "detail": "no worker answered: queued jobs will wait"}
            worker = fleet.start(concurrency=1, queues="index")
            helped = httpx.get(f"{base}/healthz", timeout=30)
            assert helped.status_code == 200, helped.text
            assert helped.json()["checks"]["workers"] == {
                "ok": True, "detail": "1 worker(s) answered"}
            worker.kill()
            gone = httpx.get(f"{base}/healthz", timeout=30)
            assert gone.status_code == 503 and not gone.json()["checks"]["workers"]["ok"]
    finally:
        fleet.stop()


def test_a_job_the_broker_lost_is_shown_stalled_and_resumed(
        tmp_path: Path, site: Site) -> None:
    forgetful = PrivateRedis(tmp_path, persistent=False)  # a restart empties the queue
    forgetful.start()
    fleet, store, settings = _queue(tmp_path, forgetful.url)
    publish(site, "lost", **{"first.mp4": "briefing-a.mp4", "second.mp4": "briefing-b.mp4"})
    env = fleet.env()
    try:
        fleet.start(concurrency=1, **SLOW)
        job_id = submit_ingest(settings, store, site.url("lost/page.html"),
                               page("first.mp4", "second.mp4"))
        wait_for(lambda: state_of(store, job_id, "first.mp4") == "transcribing", 90,
                 "the first transcription to start")
        forgetful.crash()
        forgetful.start()  # empty: the second video's download message is gone
        wait_for(lambda: state_of(store, job_id, "first.mp4") == "done", 120,
                 "the running video to finish")
        time.sleep(QUIET_SECONDS + 2)
        assert state_of(store, job_id, "second.mp4") == "queued"  # and it would stay so
        shown = json.loads(cli(["jobs", job_id, "--json"], env).stdout)
        assert shown["state"] == "stalled", shown
        assert [v["stalled"] for v in shown["videos"]] == [False, True]

        resumed = cli(["jobs", "--resume", job_id], env)
        assert resumed.returncode == 0, resumed.stderr
        assert "queued again" in resumed.stdout and "1 video(s)" in resumed.stdout
        job = wait_job(store, job_id, fleet, timeout=180)
        assert job.state == "done" and {v.state for v in job.videos} == {"done"}, job
        again = cli(["jobs", "--resume", job_id], env)
        assert again.returncode == 1 and "not stalled" in again.stderr
    finally:
        fleet.stop()
        if forgetful.proc is not None and forgetful.proc.poll() is None:
            forgetful.proc.kill()
