"""Queue commands (``briefing worker``, ``briefing jobs``) and queued ``briefing ingest``."""

from __future__ import annotations

import json
import os
import time
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from api.cli.common import (
    VideoLine,
    article_error,
    article_summary,
    clear_errors,
    err,
    fail,
    format_time,
    load_settings,
    out,
    shown,
    visible,
)
from worker.storage.states import JobState, Step, VideoState

if TYPE_CHECKING:
    # Type-only: importing the settings loads pydantic-settings, which `briefing search`
    # (api.cli imports this module to register its commands) should not pay for.
    from worker.settings import Settings
    from worker.storage.interfaces import JobStoreLike
    from worker.storage.jobs import Job, JobVideo

__all__ = [
    "follow",
    "job_json",
    "job_view",
    "jobs_command",
    "jobs_table",
    "queue_ingest",
    "worker",
]

_POLL = 0.5
_STEP_ORDER = tuple(Step)


def _in_order(steps: dict[str, float]) -> dict[str, float]:
    return dict(sorted(steps.items(), key=lambda item: (
        _STEP_ORDER.index(item[0]) if item[0] in _STEP_ORDER else len(_STEP_ORDER), item[0])))


def _store(settings: Settings) -> JobStoreLike:
    from worker.storage.stores import open_job_store

    return open_job_store(settings)


def _hidden_articles(settings: Settings) -> frozenset[str]:
    from worker.storage.stores import open_records

    return open_records(settings).hidden().article_ids


# -- worker ------------------------------------------------------------------------------------


def worker(
    queues: Annotated[str, typer.Option(
        "--queues", "-Q", metavar="QUEUES", help="Comma-separated queues to serve: media "
        "(articles and downloads), transcribe, index.")] = "media,transcribe,index",
    concurrency: Annotated[int | None, typer.Option(
        "--concurrency", "-c", min=1, metavar="N", help="Processes [default: one per core "
        "when transcribing, 8 for media only, 1 for index only].")] = None,
    loglevel: Annotated[str, typer.Option("--loglevel", "-l", metavar="LEVEL",
                                          help="debug, info, warning "
                                          "or error.")] = "info",
    name: Annotated[str | None, typer.Option("--name", metavar="NAME", help="Node name "
                                             "[default: briefing-PID@HOST].")] = None,
) -> None:
    """Run a queue worker (needs BRIEFING_BROKER_URL); stop it with Ctrl-C or SIGTERM."""
    if loglevel.lower() not in ("debug", "info", "warning", "error"):
        raise fail(f"unknown log level {loglevel!r}; use debug, info, warning or error")
    settings = load_settings()
    # SIGTERM (docker stop, systemd, Kubernetes) stops like SIGQUIT: running tasks get the
    # soft-shutdown grace, then go back on the queue at once. Celery's own SIGTERM waits for
    # them however long they take, and the supervisor's SIGKILL would then strand them until
    # the visibility timeout. Read by billiard when imported, hence before the import below.
    os.environ.setdefault("REMAP_SIGTERM", "SIGQUIT")
    with clear_errors():
        from worker.queue.run import run_worker

        code = run_worker(settings, queues=[q.strip() for q in queues.split(",") if q.strip()],
                          concurrency=concurrency, loglevel=loglevel, nodename=name)
    raise typer.Exit(code)


# -- jobs --------------------------------------------------------------------------------------


def job_json(job: Job, seconds: dict[str, dict[str, float]] | None = None,
             stalled: tuple[str, ...] = ()) -> dict[str, Any]:
    """A job as JSON: its own fields, and each video's with the seconds of each step."""
    seconds = seconds or {}
    return {
        "id": job.id, "source": job.source, "state": job.state, "article_id": job.article_id,
        "title": job.title, "error": job.error, "created": job.created, "updated": job.updated,
        "runner": job.runner, "seconds": _in_order(seconds.get("", {})),
        "videos": [
            {"url": v.url, "state": v.state, "progress": v.progress, "attempts": v.attempts,
             "error": v.error, "video_id": v.video_id, "started": v.started,
             "finished": v.finished, "seconds": _in_order(seconds.get(v.url, {})),
             "stalled": v.url in stalled}
            for v in job.videos
        ],
    }


def _when(stamp: float) -> str:
    return datetime.fromtimestamp(stamp).strftime("%Y-%m-%d %H:%M:%S")


def _name(url: str) -> str:
    return url.rsplit("/", 1)[-1] or url


def _video_state(video: JobVideo) -> Text:
    if video.state is VideoState.TRANSCRIBING:
        return Text(f"transcribing {video.progress * 100:3.0f}% of audio", style="cyan")
    if video.state is VideoState.FAILED:
        return Text.assemble("failed: ", shown(video.error), style="red")
    style = {VideoState.DONE: "green", VideoState.QUEUED: "dim"}.get(video.state, "cyan")
    return Text(video.state, style=style)


def _elapsed(video: JobVideo) -> str:
    if video.started is None:
        return ""
    end = video.finished if video.finished is not None else time.time()
    return f"{max(0.0, end - video.started):.1f} s"


def _counts(job: Job) -> str:
    by_state: dict[str, int] = {}
    for video in job.videos:
        by_state[video.state] = by_state.get(video.state, 0) + 1
    parts = ", ".join(f"{n} {state}" for state, n in sorted(by_state.items()))
    return f"{parts} / {len(job.videos)}" if job.videos else "no videos"


def job_view(job: Job, seconds: dict[str, dict[str, float]] | None = None) -> RenderableType:
    """One job: a header line and a row per video (state, attempts, time, steps)."""
    seconds = seconds or {}
    head = Text()
    head.append(f"job {visible(job.id)}", style="bold")
    head.append(f" · {job.state}")
    if job.title:
        head.append(f" · {visible(job.title)}")
    head.append(f"\nsource  {visible(job.source)}\ncreated {_when(job.created)}, updated "
                f"{_when(job.updated)}")
    if job.error:
        head.append(f"\nerror   {visible(job.error)}", style="red")
    if not job.videos:
        return head
    table = Table(show_edge=False, pad_edge=False)
    for column in ("video", "state", "attempts", "time", "steps"):
        table.add_column(column, overflow="fold")
    for video in job.videos:
        steps = " · ".join(f"{step} {secs:.1f} s" for step, secs in
                           _in_order(seconds.get(video.url, {})).items())
        table.add_row(shown(_name(video.url)), _video_state(video), str(video.attempts),
                      _elapsed(video), steps)
    return Group(head, table)


def jobs_table(jobs: list[Job]) -> Table:
    """The newest jobs, one line each."""
    table = Table(show_edge=False, pad_edge=False)
    for column in ("job", "state", "videos", "created", "runner", "article"):
        table.add_column(column, overflow="fold")
    for job in jobs:
        table.add_row(shown(job.id), shown(job.state), shown(_counts(job)),
                      _when(job.created), shown(job.runner.split(" ", 1)[0]),
                      shown(job.title or job.source))
    return table


def jobs_command(
    job_id: Annotated[str | None, typer.Argument(help="Show this job (default: list the "
                                                 "newest).")] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=1000, metavar="N",
                                               help="List at most N jobs.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    resume: Annotated[bool, typer.Option("--resume", help="Queue again what of the stalled "
                                         "job JOB_ID the broker lost.")] = False,
) -> None:
    """List ingest jobs, or show one: each video's state, attempts and timings.

    A queued job whose broker lost its messages (a restart without persistence) is shown
    as stalled; `--resume` queues its missing steps again.
    """
    from worker.queue.stalls import resume_job, shown_jobs

    settings = load_settings()
    if resume and job_id is None:
        raise fail("--resume needs the JOB_ID of a stalled job")
    with clear_errors():
        store = _store(settings)
        # A takedown forgets its article's jobs; until it is finished they are hidden (and
        # not resumed: that would ingest the article again).
        hidden = _hidden_articles(settings)
        if resume and job_id is not None:
            found = store.get(job_id)
            if found is not None and found.article_id in hidden:
                raise fail(f"job {job_id} not found")
            if not settings.broker_url:
                raise fail("--resume needs BRIEFING_BROKER_URL: an inline job is resumed by "
                           "ingesting its article again")
            done = resume_job(settings, store, job_id)
            parts = (["the article"] if done.article else []) + [
                f"{len(done.videos)} video(s)"] * bool(done.videos)
            out.print(shown(f"queued again for job {job_id}: {', '.join(parts)}"))
            return
        if job_id is None:
            recent, reports = shown_jobs(settings, [j for j in store.recent(limit)
                                                    if j.article_id not in hidden])
            if as_json:
                print(json.dumps([job_json(j, store.step_seconds(j.id),
                                           reports[j.id].videos if j.id in reports else ())
                                  for j in recent]))
            elif recent:
                out.print(jobs_table(recent))
            else:
                out.print("no jobs yet")
            return
        found = store.get(job_id)
        if found is None or found.article_id in hidden:
            raise fail(f"job {job_id} not found")
        (job,), reports = shown_jobs(settings, [found])
        seconds = store.step_seconds(job_id)
    if as_json:
        stalled = reports[job.id].videos if job.id in reports else ()
        print(json.dumps(job_json(job, seconds, stalled), ensure_ascii=False))
    else:
        out.print(job_view(job, seconds))


# -- queued ingest -----------------------------------------------------------------------------


def _finished(job: Job) -> bool:
    return job.state in (JobState.DONE, JobState.FAILED)


def _summary(job: Job) -> None:
    """What happened, as inline ingest reports it: the article, then one line per video."""
    if job.state is JobState.FAILED:
        article_error(job.source, job.error)
        return
    article_summary(job.title or job.source, [
        VideoLine(v.url, v.state is VideoState.DONE, "transcribed and indexed"
                  if v.state is VideoState.DONE else v.error or v.state)
        for v in job.videos])


def follow(store: JobStoreLike, job_ids: list[str]) -> list[Job]:
    """Show the jobs' progress live (on a terminal) until every one is done or failed."""
    def current() -> list[Job]:
        return [job for job in (store.get(i) for i in job_ids) if job is not None]

    def view(jobs: list[Job]) -> RenderableType:
        started = time.monotonic() - began
        return Group(*(job_view(j, store.step_seconds(j.id)) for j in jobs),
                     Text(f"waiting {format_time(started)} · Ctrl-C stops waiting, not the "
                          f"job", style="dim"))

    began = time.monotonic()
    jobs = current()
    from rich.live import Live

    with Live(view(jobs), console=err, transient=True, auto_refresh=False,
              redirect_stdout=False, redirect_stderr=False) as live:
        while not all(_finished(j) for j in jobs):
            time.sleep(_POLL)
            jobs = current()
            if err.is_terminal:
                live.update(view(jobs), refresh=True)
    return jobs


def queue_ingest(settings: Settings, sources: list[str], *, as_json: bool, wait: bool) -> None:
    """``briefing ingest`` with a broker: queue each article, print its job id at once."""
    from worker.intake.reading import is_url, source_problem
    from worker.queue.config import submit_ingest

    unreadable = 0
    with clear_errors():
        store = _store(settings)
        job_ids, queued_sources = [], []
        for source in sources:
            problem = source_problem(source)
            if problem is not None:
                unreadable += 1
                article_error(source, problem)
                continue
            if not is_url(source):
                # A worker reads the file: send the absolute path (shared with the workers).
                source = str(Path(source).expanduser().resolve())
            job_id = submit_ingest(settings, store, source)
            job_ids.append(job_id)
            queued_sources.append(source)
            if not as_json:
                print(job_id, flush=True)
    if unreadable and not job_ids:
        raise typer.Exit(1)
    if not wait:
        if as_json:
            queued = [{"job_id": i, "source": s, "state": JobState.QUEUED}
                      for i, s in zip(job_ids, queued_sources, strict=True)]
            print(json.dumps(queued, ensure_ascii=False))  # a list, as inline ingest prints
        else:
            err.print("queued; follow with `briefing jobs JOB_ID` (or ingest --wait)",
                      highlight=False)
        if unreadable:
            raise typer.Exit(1)
        return
    try:
        with clear_errors():
            jobs = follow(store, job_ids)
    except KeyboardInterrupt:
        raise fail("stopped waiting; the jobs go on (see `briefing jobs`)", code=130) from None
    if as_json:
        payload = [job_json(j, store.step_seconds(j.id)) for j in jobs]
        print(json.dumps(payload, ensure_ascii=False))
    else:
        for job in jobs:
            _summary(job)
    if unreadable or any(job.state is JobState.FAILED for job in jobs):
        raise typer.Exit(1)
