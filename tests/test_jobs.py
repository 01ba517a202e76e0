"""The job store, driven by a real inline ingest job and directly; every test runs against
both backends (the embedded SQLite file and PostgreSQL)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from tests.conftest import make_context
from tests.siteserver import Site
from worker.errors import BriefingError
from worker.pipeline import ModelProvider, run_job
from worker.storage.interfaces import JobStoreLike, Runs
from worker.storage.jobs import JobProgress, JobStore
from worker.storage.pg.jobs import PgJobStore
from worker.storage.pg.runs import PgRuns
from worker.storage.runs import FileRuns
from worker.storage.states import JobState, Step, VideoState


@dataclass
class Backend:
    """One job store backend: its runs, and a way to open (or reopen) its store."""

    name: str
    runs: Runs
    open: Callable[[], JobStoreLike]


@pytest.fixture(params=["embedded", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "embedded":
        data = tmp_path / "store"
        file_runs = FileRuns(data)
        yield Backend("embedded", file_runs, lambda: JobStore(data / "jobs.sqlite3", file_runs))
        return
    url: str = request.getfixturevalue("pg_url")
    pg_runs = PgRuns(url, tmp_path / "scratch", check_every=0.2)
    yield Backend("postgres", pg_runs, lambda: PgJobStore(url, pg_runs))


def test_inline_job_records_each_video(tmp_path: Path, site: Site, models: ModelProvider,
                                       backend: Backend) -> None:
    ctx = replace(make_context(tmp_path, models), jobs=backend.open())
    jobs = ctx.jobs
    job_id = jobs.create(site.url("article-b.html"))
    assert jobs.get(job_id).state == "queued"  # type: ignore[union-attr]
    run_job(ctx, job_id, site.url("article-b.html"))
    job = jobs.get(job_id)
    assert job is not None and job.state == JobState.DONE
    assert job.title == "Convoy reaches the city"
    assert [v.state for v in job.videos] == ["done", "done"]
    first, mirror = job.videos
    assert first.progress == 1.0 and first.attempts == 1 and first.video_id
    assert mirror.video_id == first.video_id  # identical bytes, one video
    assert first.started is not None and first.finished is not None
    assert first.finished >= first.started
    # Every step was counted and timed: the article, and each video's steps.
    seconds = jobs.step_seconds(job_id)
    assert set(seconds) == {"", first.url, mirror.url}
    assert set(seconds[""]) == {Step.ARTICLE}
    assert all(s >= 0 for steps in seconds.values() for s in steps.values())


def test_job_with_unreadable_article_fails_with_reason(tmp_path: Path, site: Site,
                                                       models: ModelProvider,
                                                       backend: Backend) -> None:
    ctx = replace(make_context(tmp_path, models), jobs=backend.open())
    jobs = ctx.jobs
    job_id = jobs.create(site.url("gone.html"))
    with pytest.raises(BriefingError, match="HTTP 404"):
        run_job(ctx, job_id, site.url("gone.html"))
    job = jobs.get(job_id)
    assert job is not None and job.state == JobState.FAILED and "HTTP 404" in job.error


def test_html_given_inline_resolves_links_against_its_url(tmp_path: Path, site: Site,
                                                          models: ModelProvider,
                                                          backend: Backend) -> None:
    ctx = replace(make_context(tmp_path, models), jobs=backend.open())
    jobs = ctx.jobs
    html = '<html><title>Posted</title><body><p>See <a href="media/briefing-b.mp4">it</a></p>'
    job_id = jobs.create(site.url("posted.html"))
    report = run_job(ctx, job_id, site.url("posted.html"), content=html)
    assert [v.url for v in report.videos] == [site.url("media/briefing-b.mp4")]
    assert jobs.get(job_id).state == JobState.DONE  # type: ignore[union-attr]


def test_unknown_job_is_none_and_old_jobs_stay(backend: Backend) -> None:
    jobs = backend.open()
    assert jobs.get("no-such-job") is None
    ids = [jobs.create(f"https://example.org/{n}") for n in range(3)]
    reopened = backend.open()
    assert [j.id for j in reopened.recent()] == ids[::-1]
    assert [j.id for j in reopened.recent(2)] == ids[:0:-1]
    assert [j.source for j in reopened.recent()] == [f"https://example.org/{n}"
                                                     for n in (2, 1, 0)]


def test_a_job_settles_once_every_video_is_done_or_failed(backend: Backend) -> None:
    jobs = backend.open()
    job_id = jobs.create("https://example.org/a", runner="queue")
    jobs.set_article(job_id, "art1", "Title", ["https://v/1", "https://v/2"])
    # A redelivered article step records the same videos, not twice.
    jobs.set_article(job_id, "art1", "Title", ["https://v/1", "https://v/2"])
    job = jobs.get(job_id)
    assert job is not None and job.state == JobState.RUNNING and job.runner == "queue"
    assert [(v.url, v.state) for v in job.videos] == [("https://v/1", "queued"),
                                                     ("https://v/2", "queued")]
    progress = JobProgress(jobs, job_id)
    progress.state("https://v/1", VideoState.DOWNLOADING)
    progress.transcribed("https://v/1", 0.5)
    progress.transcribed("https://v/1", 0.51)  # under 2 % more: not written
    progress.state("https://v/1", VideoState.DONE, video_id="abc")
    job = jobs.get(job_id)
    assert job is not None and job.state == JobState.RUNNING
    first = job.videos[0]
    assert first.state == "done" and first.progress == 1.0 and first.video_id == "abc"
    assert first.started is not None and first.finished is not None
    jobs.update_video(job_id, "https://v/2", state=VideoState.TRANSCRIBING)
    jobs.update_video(job_id, "https://v/2", progress=0.25)
    assert jobs.get(job_id).videos[1].progress == 0.25  # type: ignore[union-attr]
    jobs.update_video(job_id, "https://v/2", state=VideoState.FAILED, error="broken")
    job = jobs.get(job_id)
    assert job is not None and job.state == JobState.DONE
    assert job.videos[1].state == "failed" and job.videos[1].error == "broken"
    # Unknown videos and jobs change nothing and raise nothing.
    jobs.update_video(job_id, "https://v/none", state=VideoState.DONE)
    jobs.update_video("no-such-job", "https://v/1", state=VideoState.DONE)
    assert jobs.get("no-such-job") is None


def test_a_failed_job_stays_failed(backend: Backend) -> None:
    jobs = backend.open()
    job_id = jobs.create("https://example.org/b")
    jobs.set_article(job_id, "art2", "T", ["https://v/1"])
    jobs.set_job_state(job_id, JobState.FAILED, "stopped by hand")
    jobs.update_video(job_id, "https://v/1", state=VideoState.DONE)
    job = jobs.get(job_id)
    assert job is not None and job.state == JobState.FAILED and job.error == "stopped by hand"


def test_an_article_without_videos_is_done_at_once(backend: Backend) -> None:
    jobs = backend.open()
    job_id = jobs.create("https://example.org/c")
    jobs.set_article(job_id, "art3", "No videos", [])
    job = jobs.get(job_id)
    assert job is not None and job.state == JobState.DONE and job.videos == ()


def test_deliveries_count_crashes_and_transient_failures_per_step(backend: Backend) -> None:
    jobs = backend.open()
    job_id = jobs.create("https://example.org/d")
    jobs.set_article(job_id, "art4", "T", ["https://v/1"])
    first = jobs.begin_delivery(job_id, "https://v/1", Step.TRANSCRIBE)
    assert (first.number, first.crashes, first.new_crashes, first.failures,
            first.retrying) == (1, 0, 0, 0, False)
    # Never ended: its worker died; the next delivery counts it as a crash, once.
    second = jobs.begin_delivery(job_id, "https://v/1", Step.TRANSCRIBE)
    assert (second.number, second.crashes, second.new_crashes) == (2, 1, 1)
    jobs.end_delivery(job_id, "https://v/1", Step.TRANSCRIBE, transient_failure=True)
    third = jobs.begin_delivery(job_id, "https://v/1", Step.TRANSCRIBE)
    assert (third.number, third.crashes, third.new_crashes, third.failures,
            third.retrying) == (3, 1, 0, 1, True)
    jobs.end_delivery(job_id, "https://v/1", Step.TRANSCRIBE)
    jobs.end_delivery(job_id, "https://v/1", Step.TRANSCRIBE)  # a duplicate end: no effect
    fourth = jobs.begin_delivery(job_id, "https://v/1", Step.TRANSCRIBE)
    assert (fourth.number, fourth.crashes, fourth.new_crashes, fourth.retrying) == (
        4, 1, 0, False)
    # Another step of the same video counts on its own.
    other = jobs.begin_delivery(job_id, "https://v/1", Step.DOWNLOAD)
    assert other.number == 1 and other.crashes == 0
    jobs.end_delivery(job_id, "https://v/1", Step.DOWNLOAD)
    assert set(jobs.step_seconds(job_id)["https://v/1"]) == {"transcribe", "download"}


def test_forget_drops_the_jobs_of_taken_down_articles_and_videos(backend: Backend) -> None:
    jobs = backend.open()
    gone = jobs.create("https://example.org/gone")
    jobs.set_article(gone, "art-gone", "Gone", ["https://v/g"])
    jobs.begin_delivery(gone, "https://v/g", Step.DOWNLOAD)
    kept = jobs.create("https://example.org/kept")
    jobs.set_article(kept, "art-kept", "Kept", ["https://v/shared", "https://v/own"])
    jobs.update_video(kept, "https://v/shared", state=VideoState.DONE, video_id="vid-gone")
    jobs.update_video(kept, "https://v/own", state=VideoState.DONE, video_id="vid-kept")
    jobs.begin_delivery(kept, "https://v/shared", Step.INDEX)
    jobs.end_delivery(kept, "https://v/shared", Step.INDEX)
    jobs.forget(("art-gone",), ("vid-gone",))
    assert jobs.get(gone) is None
    assert [j.id for j in jobs.recent()] == [kept]
    job = jobs.get(kept)
    assert job is not None and [v.url for v in job.videos] == ["https://v/own"]
    assert "https://v/shared" not in jobs.step_seconds(kept)
    # A runner still at work on the forgotten job writes nothing and fails on nothing.
    jobs.update_video(gone, "https://v/g", state=VideoState.DONE)
    jobs.set_article(gone, "art-gone", "Gone", ["https://v/g"])
    jobs.end_delivery(gone, "https://v/g", Step.DOWNLOAD)
    assert jobs.get(gone) is None


def test_two_runners_settling_two_videos_at_once_leave_the_job_done(backend: Backend) -> None:
    # Each finishes one video of the same job at the same moment; whichever settles last
    # must see the other's video done (the stores serialise settling per job).
    stores = [backend.open(), backend.open()]
    rounds = 15
    job_ids = []
    for n in range(rounds):
        job_id = stores[0].create(f"https://example.org/race/{n}")
        stores[0].set_article(job_id, f"race{n}", "T", ["https://v/a", "https://v/b"])
        job_ids.append(job_id)
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def finish(store: JobStoreLike, url: str) -> None:
        try:
            for job_id in job_ids:
                barrier.wait(timeout=30)
                store.update_video(job_id, url, state=VideoState.DONE)
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=finish, args=(store, url))
               for store, url in zip(stores, ["https://v/a", "https://v/b"], strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    states = [stores[1].get(job_id).state for job_id in job_ids]  # type: ignore[union-attr]
    assert states == [JobState.DONE] * rounds


def test_an_inline_job_whose_run_died_is_shown_interrupted(backend: Backend) -> None:
    jobs = backend.open()
    run = backend.runs.claim()
    job_id = jobs.create("https://example.org/e", runner=f"inline {run.id}")
    jobs.set_article(job_id, "art5", "T", ["https://v/1"])
    queued = jobs.create("https://example.org/f", runner="queue")
    job = jobs.get(job_id)
    assert job is not None and job.state == JobState.RUNNING and not job.error
    run.release()
    job = jobs.get(job_id)
    assert job is not None and job.state == JobState.INTERRUPTED
    assert "ingest the article again" in job.error
    assert [j.state for j in jobs.recent()] == [JobState.QUEUED, JobState.INTERRUPTED]
    assert jobs.get(queued).state == JobState.QUEUED  # type: ignore[union-attr]
