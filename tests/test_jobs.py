"""The job store, driven by a real inline ingest job."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import make_context
from tests.siteserver import Site
from worker.errors import BriefingError
from worker.pipeline import ModelProvider, run_job
from worker.storage.jobs import JobStore
from worker.storage.states import JobState


def test_inline_job_records_each_video(tmp_path: Path, site: Site,
                                       models: ModelProvider) -> None:
    ctx = make_context(tmp_path, models)
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


def test_job_with_unreadable_article_fails_with_reason(tmp_path: Path, site: Site,
                                                       models: ModelProvider) -> None:
    ctx = make_context(tmp_path, models)
    jobs = ctx.jobs
    job_id = jobs.create(site.url("gone.html"))
    with pytest.raises(BriefingError, match="HTTP 404"):
        run_job(ctx, job_id, site.url("gone.html"))
    job = jobs.get(job_id)
    assert job is not None and job.state == JobState.FAILED and "HTTP 404" in job.error


def test_html_given_inline_resolves_links_against_its_url(tmp_path: Path, site: Site,
                                                          models: ModelProvider) -> None:
    ctx = make_context(tmp_path, models)
    jobs = ctx.jobs
    html = '<html><title>Posted</title><body><p>See <a href="media/briefing-b.mp4">it</a></p>'
    job_id = jobs.create(site.url("posted.html"))
    report = run_job(ctx, job_id, site.url("posted.html"), content=html)
    assert [v.url for v in report.videos] == [site.url("media/briefing-b.mp4")]
    assert jobs.get(job_id).state == JobState.DONE  # type: ignore[union-attr]


def test_unknown_job_is_none_and_old_jobs_stay(tmp_path: Path) -> None:
    jobs = JobStore(tmp_path / "jobs.sqlite3")
    assert jobs.get("no-such-job") is None
    ids = [jobs.create(f"https://example.org/{n}") for n in range(3)]
    reopened = JobStore(tmp_path / "jobs.sqlite3")
    assert [j.id for j in reopened.recent()] == ids[::-1]
