"""The queue for real: Redis on 127.0.0.1, `briefing worker` processes, the fixture site.

The fixtures (a Redis database per test run, a fleet of workers per test) live in
tests/fleet.py.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
import yaml

from indexer.domain import Clip
from indexer.index import SearchIndex
from tests.conftest import MANIFEST, MEDIA, cli_env
from tests.fleet import (
    BRIEFING,
    REPO,
    Fleet,
    cli,
    hits,
    page,
    publish,
    segment_ids,
    state_of,
    video,
    wait_for,
    wait_job,
)
from tests.siteserver import Site
from worker.errors import BrokerUnavailableError
from worker.pipeline import RetryPolicy
from worker.queue.config import QUEUES, QueuePolicy, celery_config, submit_ingest
from worker.settings import Settings
from worker.speech.media import ffmpeg_binary
from worker.storage.datadir import DataDir
from worker.storage.jobs import JobStore

# -- the queue end to end ----------------------------------------------------------------------


def test_queued_ingest_prints_the_job_at_once_and_ends_searchable(
        fleet: Fleet, site: Site, store: JobStore, data_dir: Path) -> None:
    worker = fleet.start(concurrency=1)
    proc = subprocess.Popen([*BRIEFING, "ingest", site.url("article-a.html"), "--wait"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=fleet.env(), cwd=REPO)
    assert proc.stdout is not None
    job_id = proc.stdout.readline().strip()
    assert re.fullmatch(r"[0-9a-f]{32}", job_id), job_id
    # The id comes before the work: two transcriptions are still ahead.
    assert store.get(job_id).state != "done"  # type: ignore[union-attr]
    summary, stderr = proc.communicate(timeout=180)
    assert proc.returncode == 0, stderr
    assert "✓ " + site.url("media/briefing-a.mp4") in summary
    assert "✗ video " + site.url("media/missing.mp4") + ": HTTP 404" in summary

    job = store.get(job_id)
    assert job is not None and job.state == "done"
    assert video(job, "briefing-a.mp4").state == "done"
    assert video(job, "briefing-b.mp4").state == "done"
    for name, reason in {"noaudio.mp4": "no audio track", "truncated.mp4": "truncated",
                         "notvideo.mp4": "not a video", "missing.mp4": "HTTP 404"}.items():
        failed = video(job, name)
        assert failed.state == "failed" and reason in failed.error, failed
        assert failed.attempts == 1, failed  # permanent: failed at once

    sentence = MANIFEST["briefing-a.mp4"]["sentences"][3]
    found = cli(["search", f'"{sentence["phrase"]}"', "--json"], fleet.env())
    clip = json.loads(found.stdout)["results"][0]
    assert clip["type"] == "clip" and clip["video_url"] == site.url("media/briefing-a.mp4")
    assert sentence["start"] - 1.2 <= clip["start"] <= sentence["end"]
    assert clip["articles"][0]["url"] == site.url("article-a.html")

    # One model load served both transcriptions (one pool process).
    assert worker.text().count("loaded Whisper model tiny.en") == 1
    assert len(worker.transcribed()) == 2

    shown = cli(["jobs", job_id], fleet.env())
    assert shown.returncode == 0
    assert "missing.mp4" in shown.stdout and "failed: HTTP 404 Not Found" in shown.stdout
    listed = cli(["jobs", "--json"], fleet.env())
    assert [j["id"] for j in json.loads(listed.stdout)] == [job_id]
    detail = json.loads(cli(["jobs", job_id, "--json"], fleet.env()).stdout)
    steps = video(job, "briefing-a.mp4").url
    timed = next(v for v in detail["videos"] if v["url"] == steps)
    assert set(timed["seconds"]) == {"download", "transcribe", "index"}
    assert timed["seconds"]["transcribe"] > 0


def test_unknown_job_is_not_found(data_dir: Path, broker: str) -> None:
    proc = cli(["jobs", "0" * 32], cli_env(data_dir, BRIEFING_BROKER_URL=broker))
    assert proc.returncode == 1
    assert proc.stderr.strip() == f"error: job {'0' * 32} not found"


def test_sigkill_during_transcription_then_a_new_worker_finishes_the_job_once(
        fleet: Fleet, site: Site, settings: Settings, store: JobStore, data_dir: Path) -> None:
    publish(site, "killed", **{"report.mp4": "briefing-a.mp4"})
    # One thread, a wide beam, sequential decoding: the transcription lasts long enough to be
    # interrupted.
    first = fleet.start(concurrency=1, BRIEFING_CPU_THREADS="1", BRIEFING_BEAM_SIZE="10",
                        BRIEFING_BATCH_SIZE="0")
    job_id = submit_ingest(settings, store, site.url("killed/page.html"),
                           page("report.mp4"))
    wait_for(lambda: state_of(store, job_id, "report.mp4") == "transcribing", 60,
             "the transcription to start")
    time.sleep(1.5)
    first.kill()
    during = video(store.get(job_id), "report.mp4")
    assert during.state == "transcribing" and during.progress < 1, during
    assert DataDir(data_dir).load_transcript(during.video_id) is None
    assert first.transcribed() == []

    # Redis hands the unacknowledged task on once the visibility timeout has passed.
    second = fleet.start(concurrency=1, BRIEFING_VISIBILITY_TIMEOUT="12")
    job = wait_job(store, job_id, fleet)
    done = video(job, "report.mp4")
    assert job.state == "done" and done.state == "done", done
    assert done.attempts == 2  # the first try, and the redelivery after the kill
    assert second.transcribed() == [done.video_id]

    transcript = DataDir(data_dir).load_transcript(done.video_id)
    assert transcript is not None and transcript.segments
    assert segment_ids(data_dir, done.video_id) == sorted(
        f"s:{done.video_id}:{n}" for n in range(len(transcript.segments)))
    clips = [r for r in SearchIndex(DataDir(data_dir).index_root).search('"relief workers"')
             if isinstance(r, Clip)]
    assert len(clips) == 1 and clips[0].video_url == site.url("killed/report.mp4")


def test_sigterm_puts_a_running_transcription_back_on_the_queue_at_once(
        fleet: Fleet, site: Site, settings: Settings, store: JobStore, tmp_path: Path) -> None:
    # Two minutes of speech, transcribed slowly: longer than the grace a stopping worker gives.
    listing = tmp_path / "concat.txt"
    listing.write_text(f"file '{MEDIA / 'briefing-a.mp4'}'\n" * 4)
    (site.root / "stopped").mkdir(exist_ok=True)
    subprocess.run([ffmpeg_binary(), "-nostdin", "-loglevel", "error", "-y", "-f", "concat",
                    "-safe", "0", "-i", str(listing), "-c", "copy",
                    str(site.root / "stopped" / "long.mp4")], check=True, timeout=60)
    first = fleet.start(concurrency=1, BRIEFING_CPU_THREADS="1", BRIEFING_BEAM_SIZE="10",
                        BRIEFING_BATCH_SIZE="0",
                        BRIEFING_SHUTDOWN_GRACE="2")
    job_id = submit_ingest(settings, store, site.url("stopped/page.html"), page("long.mp4"))
    wait_for(lambda: state_of(store, job_id, "long.mp4") == "transcribing", 60,
             "the transcription to start")
    time.sleep(1)
    first.proc.send_signal(signal.SIGTERM)  # what `docker stop` sends
    first.proc.wait(timeout=60)
    assert first.transcribed() == []
    assert state_of(store, job_id, "long.mp4") == "transcribing"

    # The default visibility timeout is hours: finishing now means the task was requeued.
    second = fleet.start(concurrency=1)
    job = wait_job(store, job_id, fleet, timeout=180)
    done = video(job, "long.mp4")
    assert done.state == "done", done
    assert done.attempts == 1  # a stop is not a death
    assert second.transcribed() == [done.video_id]


def test_three_articles_sharing_a_video_at_once_download_and_transcribe_it_once(
        fleet: Fleet, site: Site, settings: Settings, store: JobStore) -> None:
    # Two of the articles link one URL; the third a mirror with the same bytes.
    publish(site, "shared", **{"report.mp4": "briefing-a.mp4", "mirror.mp4": "briefing-a.mp4"})
    fleet.start(concurrency=3)
    fleet.start(concurrency=3)
    links = {"first": "report.mp4", "second": "report.mp4", "third": "mirror.mp4"}
    job_ids = [submit_ingest(settings, store, site.url(f"shared/{name}.html"),
                             page(link, title=f"The {name} article"))
               for name, link in links.items()]
    jobs = [wait_job(store, job_id, fleet) for job_id in job_ids]
    assert all(v.state == "done" for job in jobs for v in job.videos), jobs
    assert len({v.video_id for job in jobs for v in job.videos}) == 1

    assert hits(site, "/shared/report.mp4") == 1
    assert hits(site, "/shared/mirror.mp4") == 1  # its bytes are only known once downloaded
    assert len(fleet.transcribed()) == 1, fleet.logs_text()

    index = SearchIndex(DataDir(settings.data_dir).index_root)
    (clip,) = [r for r in index.search('"water supply"') if isinstance(r, Clip)]
    assert {a.url for a in clip.articles} == {site.url(f"shared/{n}.html") for n in links}


def test_a_server_error_is_retried_with_backoff_and_the_video_done(
        fleet: Fleet, site: Site, settings: Settings, store: JobStore) -> None:
    body = (MEDIA / "briefing-b.mp4").read_bytes()
    served: list[float] = []

    def flaky(handler: BaseHTTPRequestHandler) -> None:
        served.append(time.monotonic())
        if len(served) == 1:
            handler.send_error(503)
            return
        handler.send_response(200)
        handler.send_header("Content-Type", "video/mp4")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    site.routes["/flaky/briefing.mp4"] = flaky
    fleet.start(concurrency=1)
    job_id = submit_ingest(settings, store, site.url("flaky/page.html"), page("briefing.mp4"))
    job = wait_job(store, job_id, fleet)
    done = video(job, "briefing.mp4")
    assert done.state == "done" and done.error == "", done
    assert done.attempts == 2
    assert len(served) == 2
    assert served[1] - served[0] >= 0.25  # at least half the 0.5 s backoff
    index = SearchIndex(DataDir(settings.data_dir).index_root)
    assert any(isinstance(r, Clip) for r in index.search('"thousands of sandbags"'))


def test_permanent_failures_fail_at_once_with_their_reason(
        fleet: Fleet, site: Site, settings: Settings, store: JobStore) -> None:
    publish(site, "permanent", **{"long.mp4": "briefing-a.mp4", "short.mp4": "briefing-b.mp4"})
    fleet.start(concurrency=1, BRIEFING_MAX_VIDEO_SECONDS="30")
    job_id = submit_ingest(settings, store, site.url("permanent/page.html"),
                           page("gone.mp4", "long.mp4", "short.mp4"))
    job = wait_job(store, job_id, fleet)
    time.sleep(2)  # four times the retry backoff: a retry would have come by now
    job = store.get(job_id)  # type: ignore[assignment]
    gone, long, short = video(job, "gone.mp4"), video(job, "long.mp4"), video(job, "short.mp4")
    assert gone.state == "failed" and gone.attempts == 1
    assert gone.error == f"HTTP 404 Not Found from {site.url('permanent/gone.mp4')}"
    assert hits(site, "/permanent/gone.mp4") == 1
    assert long.state == "failed" and long.attempts == 1
    assert "the video is 0:00:32 long, over the cap of 0:00:30" in long.error
    assert short.state == "done"
    assert len(fleet.transcribed()) == 1  # only the short one

    shown = cli(["jobs", job_id], fleet.env(COLUMNS="300"))
    assert "failed: HTTP 404 Not Found" in shown.stdout


def test_two_workers_writing_the_index_at_once_lose_no_document(
        fleet: Fleet, site: Site, settings: Settings, store: JobStore, data_dir: Path) -> None:
    publish(site, "busy", **{"b.mp4": "briefing-b.mp4", "c.mp4": "speech-then-silence.mp4"})
    fleet.start(concurrency=2)
    fleet.start(concurrency=2)
    words = ["apricot", "bramble", "cobalt", "dolphin", "ember", "falcon", "granite", "hazel"]
    job_ids = [submit_ingest(settings, store, site.url(f"busy/{word}.html"),
                             page("b.mp4", "c.mp4", title=f"Bulletin {word}",
                                  text=f"Notes on the {word}."))
               for word in words]
    jobs = [wait_job(store, job_id, fleet) for job_id in job_ids]
    assert all(j.state == "done" and all(v.state == "done" for v in j.videos) for j in jobs), [
        (v.url, v.state, v.error) for j in jobs for v in j.videos]

    data = DataDir(data_dir)
    transcripts = list(data.transcripts())
    assert len(transcripts) == 2
    index = SearchIndex(data.index_root)
    assert index.doc_count() == len(words) + sum(len(t.segments) for t in transcripts)
    for word in words:
        assert [r.title for r in index.search(word) if not isinstance(r, Clip)] == [
            f"Bulletin {word}"]
    for transcript in transcripts:
        assert len(segment_ids(data_dir, transcript.video_id)) == len(transcript.segments)
    (clip,) = [r for r in index.search('"higher ground"') if isinstance(r, Clip)]
    assert len(clip.articles) == len(words)


def test_a_video_that_kills_its_worker_every_time_fails_after_three_deliveries(
        fleet: Fleet, site: Site, settings: Settings, store: JobStore) -> None:
    publish(site, "poison", **{"poison.mp4": "speech-then-silence.mp4",
                               "fine.mp4": "briefing-b.mp4"})
    duration = MANIFEST["speech-then-silence.mp4"]["duration"]
    worker = fleet.start(concurrency=1, module="tests.faults.poison_worker",
                         FAULT_KILL_ON_AUDIO_SECONDS=str(duration))
    job_id = submit_ingest(settings, store, site.url("poison/page.html"),
                           page("poison.mp4", "fine.mp4"))
    job = wait_job(store, job_id, fleet, timeout=180)
    poison, fine = video(job, "poison.mp4"), video(job, "fine.mp4")
    assert poison.state == "failed", poison
    assert poison.error == ("its worker died 3 times while transcribing it (killed, out of "
                            "memory or crashed); given up")
    assert poison.attempts == 3
    assert fine.state == "done"  # the rest of the job was not held up
    assert worker.proc.poll() is None  # the worker itself lives on
    assert worker.text().count("SIGKILL") >= 3


# -- the front doors without a worker ---------------------------------------------------------


def test_submit_ingest_says_the_broker_is_down_and_records_why(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, broker_url="redis://127.0.0.1:9/0")
    store = JobStore(DataDir(tmp_path).jobs_db)
    started = time.monotonic()
    with pytest.raises(BrokerUnavailableError, match=r"127\.0\.0\.1:9/0 cannot be reached"):
        submit_ingest(settings, store, "https://example.org/report.html")
    assert time.monotonic() - started < 30
    (job,) = store.recent()
    assert job.state == "failed" and job.error.startswith("not queued: the broker at")

    proc = cli(["ingest", "https://example.org/report.html"],
               cli_env(tmp_path, BRIEFING_BROKER_URL="redis://127.0.0.1:9/0"))
    assert proc.returncode == 1
    assert proc.stderr.startswith("error: the broker at redis://127.0.0.1:9/0 cannot be "
                                  "reached")
    assert proc.stderr.count("\n") == 1 and proc.stdout == ""


@pytest.mark.parametrize(("env", "message"), [
    ({}, "error: set BRIEFING_BROKER_URL (e.g. redis://127.0.0.1:6379/0) to run a worker"),
    ({"BRIEFING_BROKER_URL": "redis://127.0.0.1:9/0"},
     "error: the broker at redis://127.0.0.1:9/0 cannot be reached"),
    ({"BRIEFING_BROKER_URL": "amqp://guest@127.0.0.1//"},
     "error: the queue needs a Redis broker (redis://...), not amqp://"),
])
def test_worker_refuses_to_start_without_a_usable_broker(tmp_path: Path, env: dict[str, str],
                                                         message: str) -> None:
    proc = cli(["worker"], cli_env(tmp_path, **env))
    assert proc.returncode == 1
    assert proc.stderr.startswith(message), proc.stderr


def test_ingest_of_a_missing_local_file_is_refused_before_queueing(tmp_path: Path,
                                                                    broker: str) -> None:
    proc = cli(["ingest", str(tmp_path / "nope.html")],
               cli_env(tmp_path / "data", BRIEFING_BROKER_URL=broker))
    assert proc.returncode == 1
    assert f"no such file: {tmp_path / 'nope.html'}" in proc.stderr
    assert JobStore(DataDir(tmp_path / "data").jobs_db).recent() == []


# -- the numbers -------------------------------------------------------------------------------


def test_visibility_timeout_covers_the_longest_task_and_retry_delay() -> None:
    policy = QueuePolicy()
    longest_transcription = policy.transcribe_limit(policy.max_video_seconds) + 60
    assert policy.visibility_timeout > longest_transcription + policy.retry.longest_delay
    assert policy.visibility_timeout > policy.download_limit + 60 + policy.retry.longest_delay
    # Time limits grow with the video: an hour of audio gets about an hour more.
    assert policy.transcribe_limit(3600) - policy.transcribe_limit(0) == pytest.approx(3600)
    config = celery_config(Settings(broker_url="redis://127.0.0.1:6379/0"))
    assert config["broker_transport_options"]["visibility_timeout"] == policy.visibility_timeout
    assert config["task_acks_late"] and config["task_reject_on_worker_lost"]
    # Longer videos or slower models push the timeout out with them.
    slow = Settings(broker_url="redis://x", transcribe_time_factor=3)
    assert QueuePolicy.from_settings(slow).visibility_timeout > policy.visibility_timeout


def test_retry_delays_grow_exponentially_with_jitter_and_a_cap() -> None:
    import random

    policy = QueuePolicy(retry=RetryPolicy(retry_backoff=10, max_retries=8))
    rng = random.Random(7)
    for failures, ceiling in [(0, 10), (1, 20), (2, 40), (3, 80), (7, 600), (12, 600)]:
        delays = [policy.retry.delay(failures, rng) for _ in range(200)]
        assert ceiling / 2 <= min(delays) and max(delays) <= ceiling
        assert max(delays) - min(delays) > ceiling / 4  # jittered, not all the same
    assert policy.retry.longest_delay == 600


# -- deployment --------------------------------------------------------------------------------


def _compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((REPO / "compose.yaml").read_text())
    return loaded


def _ours(services: dict[str, Any]) -> dict[str, Any]:
    """The services built from our image (not Redis, not Flower)."""
    return {n: s for n, s in services.items() if s.get("image") == "briefing:latest"}


def _default(services: dict[str, Any]) -> dict[str, Any]:
    """Ours that a plain `docker compose up` starts (the embedded store on the data volume)."""
    return {n: s for n, s in _ours(services).items() if not s.get("profiles")}


def test_compose_services_run_real_briefing_commands() -> None:
    import typer

    from api.cli import app

    group: Any = typer.main.get_command(app)
    services = _compose()["services"]
    assert {"redis", "api", "worker"} <= set(services)
    for name, service in _ours(services).items():
        command = service["command"]
        assert command[0] == "briefing", (name, command)
        sub = group.commands.get(command[1])
        assert sub is not None, f"{name}: `briefing {command[1]}` does not exist"
        sub.make_context(command[1], list(command[2:]))  # unknown options raise here
        if command[1] == "worker":
            queues = command[command.index("--queues") + 1].split(",")
            assert set(queues) <= set(QUEUES), (name, queues)


def test_compose_uses_only_real_settings_and_shares_the_data_volume() -> None:
    compose = _compose()
    services = compose["services"]
    fields = set(Settings.model_fields)
    volumes = {}
    for name, service in _default(services).items():
        for variable in service.get("environment", {}):
            assert variable.startswith("BRIEFING_"), (name, variable)
            assert variable.removeprefix("BRIEFING_").lower() in fields, (name, variable)
        assert service["depends_on"]["redis"]["condition"] == "service_healthy"
        volumes[name] = {v.split(":")[0]: v.split(":")[1] for v in service["volumes"]}
        data_dir = service["environment"]["BRIEFING_DATA_DIR"]
        assert volumes[name].get("data") == data_dir, (name, volumes[name])
    workers = [n for n, s in services.items() if s.get("command", [None, None])[1] == "worker"]
    served = {q for n in workers
              for q in services[n]["command"][services[n]["command"].index("--queues") + 1]
              .split(",")}
    assert served == set(QUEUES)  # every queue has someone serving it
    redis_service = services["redis"]
    assert "--maxmemory-policy noeviction" in " ".join(redis_service["command"])
    assert redis_service["healthcheck"]["test"][-1] == "ping"
    assert "data" in compose["volumes"]


def test_dockerfile_installs_the_project_and_ffmpeg() -> None:
    dockerfile = (REPO / "Dockerfile").read_text()
    assert re.search(r"apt-get install[^\n]*\bffmpeg\b", dockerfile)
    assert re.search(r"pip install[^\n]* \.", dockerfile)
    ignored = (REPO / ".dockerignore").read_text().split()
    assert "briefing-data" in ignored and ".git" in ignored
    assert "secrets" in ignored  # compose's token file never goes into the image


_PEAK_TRANSCRIBE_MIB = 958  # README, "Memory": tiny.en, batch 8, 60 minutes of speech


def _mib(value: str) -> float:
    number, unit = re.fullmatch(r"(\d+)([mg])", value).groups()  # type: ignore[union-attr]
    return int(number) * (1024 if unit == "g" else 1)


def test_compose_workers_have_healthchecks_and_memory_sized_from_the_peak() -> None:
    from worker.queue.run import default_concurrency

    services = _compose()["services"]
    workers = {n: s for n, s in _default(services).items() if s["command"][1] == "worker"}
    assert set(workers) == {"worker", "fetcher", "indexer"}
    for name, service in workers.items():
        command = service["command"]
        # The healthcheck pings this container's own node, named after its hostname.
        assert command[command.index("--name") + 1] == "%h@%h", name
        test = " ".join(service["healthcheck"]["test"])
        assert "celery -A worker.queue.app inspect ping" in test, name
        assert '-d "$${HOSTNAME}@$${HOSTNAME}" | grep -q pong' in test, name
    every = [n for n, s in services.items() if "mem_limit" not in s]
    assert every == [], f"no memory limit: {every}"
    transcribe = workers["worker"]
    processes = int(transcribe["command"][transcribe["command"].index("--concurrency") + 1])
    limit = _mib(transcribe["mem_limit"].removeprefix("${WORKER_MEMORY:-").removesuffix("}"))
    assert processes * _PEAK_TRANSCRIBE_MIB < limit < processes * _PEAK_TRANSCRIBE_MIB * 1.5
    assert float(transcribe["cpus"]) == processes  # one process per core, as the code does:
    assert default_concurrency(["transcribe"], cores=processes) == processes
    assert "one process per core" in (REPO / "compose.yaml").read_text()


def test_compose_redis_password_token_secret_and_flower_behind_auth() -> None:
    compose = _compose()
    services = compose["services"]
    redis_service = services["redis"]
    assert "--requirepass" in " ".join(redis_service["command"])
    assert redis_service["environment"]["REDISCLI_AUTH"].startswith("${REDIS_PASSWORD:?")
    for name, service in _ours(services).items():
        if name == "migrate":  # the schema only: it never touches the queue
            assert "BRIEFING_BROKER_URL" not in service["environment"]
            continue
        url = service["environment"]["BRIEFING_BROKER_URL"]
        assert url.startswith("redis://:${REDIS_PASSWORD:?"), (name, url)
    api_service = services["api"]
    assert "BRIEFING_API_TOKEN" not in api_service["environment"]
    assert api_service["environment"]["BRIEFING_API_TOKEN_FILE"] == "/run/secrets/api_token"
    assert api_service["secrets"] == ["api_token"] and "api_token" in compose["secrets"]
    flower = services["flower"]
    assert flower["profiles"] == ["flower"]  # not started by a plain `up`
    assert "FLOWER_BASIC_AUTH" in flower["environment"]
    assert 'test -n "$$FLOWER_BASIC_AUTH"' in " ".join(flower["entrypoint"])
    assert flower["environment"]["CELERY_BROKER_URL"].startswith("redis://:${REDIS_PASSWORD:?")
    assert all(p.startswith("127.0.0.1:") for p in flower["ports"])


def test_compose_fleet_profile_shares_only_media_and_waits_for_postgres_and_the_schema() -> None:
    compose = _compose()
    services = compose["services"]
    fleet = {n for n, s in services.items() if "fleet" in s.get("profiles", [])}
    assert fleet == {"postgres", "migrate", "fleet-api", "fleet-worker", "fleet-fetcher",
                     "fleet-indexer"}
    # A plain `docker compose up` is what it was: the embedded store, no PostgreSQL.
    assert set(_default(services)) == {"api", "worker", "fetcher", "indexer"}
    for name in ("redis", *_default(services)):
        assert "BRIEFING_DATABASE_URL" not in services[name].get("environment", {}), name

    postgres = services["postgres"]
    # PostgreSQL 15 with the rum extension the phrase index needs (`briefing db upgrade`).
    assert postgres["image"] == "briefing-postgres:15"
    recipe = postgres["build"]["dockerfile_inline"]
    assert "FROM postgres:15" in recipe and "postgresql-15-rum" in recipe
    assert "pg_isready" in postgres["healthcheck"]["test"]
    assert postgres["volumes"] == ["postgres:/var/lib/postgresql/data"]
    assert {"postgres", "media"} <= set(compose["volumes"])
    env = postgres["environment"]
    database_url = (f"postgresql://{env['POSTGRES_USER']}:{env['POSTGRES_PASSWORD']}"
                    f"@postgres:5432/{env['POSTGRES_DB']}")
    assert env["POSTGRES_PASSWORD"] == "${POSTGRES_PASSWORD:-}"  # `:?` would break plain `up`

    migrate = services["migrate"]
    assert migrate["command"] == ["briefing", "db", "upgrade"]
    assert migrate["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert migrate["restart"] == "no" and migrate["volumes"] == []
    assert migrate["environment"] == {"BRIEFING_DATABASE_URL": database_url}

    fields = set(Settings.model_fields)
    served: set[str] = set()
    for name in fleet - {"postgres", "migrate"}:
        service = services[name]
        environment = service["environment"]
        for variable in environment:
            assert variable.removeprefix("BRIEFING_").lower() in fields, (name, variable)
        assert environment["BRIEFING_DATABASE_URL"] == database_url, name
        assert environment["BRIEFING_BROKER_URL"].startswith("redis://:${REDIS_PASSWORD:?")
        # Only media is shared; the scratch dir is each container's own.
        assert service["volumes"] == [f"media:{environment['BRIEFING_DATA_DIR']}"], name
        assert not environment["BRIEFING_SCRATCH_DIR"].startswith(
            environment["BRIEFING_DATA_DIR"] + "/"), name
        assert service["depends_on"] == {
            "redis": {"condition": "service_healthy"},
            "postgres": {"condition": "service_healthy"},
            "migrate": {"condition": "service_completed_successfully"}}, name
        assert "healthcheck" in service and "mem_limit" in service, name
        command = service["command"]
        if command[1] == "worker":
            assert "celery -A worker.queue.app inspect ping" in " ".join(
                service["healthcheck"]["test"]), name
            served |= set(command[command.index("--queues") + 1].split(","))
    assert served == set(QUEUES)  # every queue has a fleet worker

    api = services["fleet-api"]
    assert api["command"][:2] == ["briefing", "serve"]
    assert "/healthz" in " ".join(api["healthcheck"]["test"])
    assert api["secrets"] == ["api_token"]
    assert api["environment"]["BRIEFING_API_TOKEN_FILE"] == "/run/secrets/api_token"
    replicas = api["deploy"]["replicas"]
    (published,) = api["ports"]
    first, last = map(int, published.split(":")[0].split("-"))
    assert replicas >= 2 and last - first + 1 == replicas  # a host port for each replica
    assert first > 8000  # beside the default api's 8000

    # Every session the fleet may open fits: each API replica and each worker pool process
    # keeps up to twice the pool size (records and jobs, and searches).
    pool = Settings.model_fields["database_pool_size"].default
    processes = replicas + sum(
        int(s["command"][s["command"].index("--concurrency") + 1])
        for s in (services[n] for n in fleet) if s.get("command", [None, None])[1] == "worker")
    command = postgres["command"]
    assert command[:2] == ["postgres", "-c"]
    max_connections = int(command[command.index("-c") + 1].split("=")[1])
    assert processes == 13 and processes * 2 * pool <= max_connections - 3  # superusers' 3


def test_dockerfile_has_one_ffmpeg_a_healthcheck_pinned_dependencies_and_a_base_build() -> None:
    import tomllib

    dockerfile = (REPO / "Dockerfile").read_text()
    assert re.search(r"^HEALTHCHECK .*CMD .*?/healthz", dockerfile, re.M | re.S)
    assert "pip install --no-cache-dir -r requirements.lock" in dockerfile
    assert "pip install --no-cache-dir --no-deps ." in dockerfile and "pip check" in dockerfile
    assert re.search(r"^ARG BRIEFING_MODEL=tiny\.en$", dockerfile, re.M)
    assert "'.[base]'" in dockerfile and "ENV BRIEFING_MODEL=${BRIEFING_MODEL}" in dockerfile
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    lock = {}
    for line in (REPO / "requirements.lock").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, line  # every line an exact pin
            lock[name] = version
    # The only ffmpeg in the image is the system one: imageio-ffmpeg (a dependency, so that a
    # plain pip install is enough elsewhere) is not locked, and the project goes in --no-deps.
    assert "imageio-ffmpeg" not in lock
    assert any(d.startswith("imageio-ffmpeg") for d in project["dependencies"])
    assert "--no-deps ." in dockerfile
    for dependency in project["dependencies"]:
        name = re.split(r"[\[<>=~!; ]", dependency, maxsplit=1)[0].lower()
        if name == "imageio-ffmpeg":
            continue
        assert name in lock, f"{name} is not pinned in requirements.lock"
