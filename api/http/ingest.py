"""``POST /articles`` (start an ingest job) and ``GET /jobs/{id}`` (how it is going)."""

from __future__ import annotations

import hmac
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.routing import APIRoute

from api.http.errors import ApiError
from api.http.schemas import (
    ErrorBody,
    IngestRequest,
    JobAccepted,
    JobOut,
    JobVideoOut,
    ResumedOut,
)
from api.http.services import Services, get_services
from worker.errors import BriefingError, BrokerUnavailableError
from worker.storage.states import JobState

__all__ = ["WriteRoute", "check_token", "get_job", "post_article", "read_router",
           "resume_job", "write_router"]

ServicesDep = Annotated[Services, Depends(get_services)]


def check_token(request: Request) -> None:
    """Raise 401 unless the request carries the configured bearer token (if one is set)."""
    services: Services = request.app.state.services
    expected = services.token()
    if not expected:
        return
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(),
                                                             expected.encode()):
        raise ApiError(401, "unauthorized", "this endpoint needs Authorization: Bearer <token>",
                       {"WWW-Authenticate": "Bearer"})


class WriteRoute(APIRoute):
    """A write endpoint: the token is checked before the body is read or parsed."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """The usual handler, behind the token check."""
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            check_token(request)
            return await handler(request)

        return guarded


write_router = APIRouter(route_class=WriteRoute, tags=["ingest"])
read_router = APIRouter(tags=["ingest"])


@write_router.post(
    "/articles",
    status_code=202,
    response_model=JobAccepted,
    summary="Ingest an article and every video it links",
    responses={
        # FastAPI's own answer to a body it cannot decode (bytes that are not UTF-8).
        400: {"model": ErrorBody, "description": "The body cannot be decoded as UTF-8."},
        401: {"model": ErrorBody, "description": "Missing or wrong token (when one is set)."},
        413: {"model": ErrorBody, "description": "Body or posted HTML too large."},
        422: {"model": ErrorBody, "description": "Not an http(s) URL, or unknown fields."},
        503: {"model": ErrorBody, "description": "The broker is down, or too many jobs wait."},
    },
)
def post_article(body: IngestRequest, services: ServicesDep, response: Response) -> JobAccepted:
    """Start an ingest job and return its id at once.

    With only ``url`` the article is fetched; with ``html`` too, that HTML is the article and
    ``url`` only resolves its links.  The job runs on the queue when a broker is configured,
    otherwise on the server's own background worker.
    """
    cap = services.settings.max_article_bytes
    if body.html is not None and len(body.html.encode("utf-8", "replace")) > cap:
        raise ApiError(413, "body_too_large", f"html is over the article size cap of {cap} bytes")
    job_id = services.submit(body.url, body.html)
    status_url = f"/jobs/{job_id}"
    response.headers["Location"] = status_url
    return JobAccepted(job_id=job_id, state=JobState.QUEUED, status_url=status_url)


@read_router.get(
    "/jobs/{job_id}",
    response_model=JobOut,
    summary="An ingest job's state, per-video progress and failures",
    responses={404: {"model": ErrorBody, "description": "No such job."}},
)
def get_job(job_id: str, services: ServicesDep) -> JobOut:
    """The job as the job store has it (the same in inline and queued mode)."""
    job = services.jobs.get(job_id)
    # A takedown in progress hides its article's jobs (once done, it forgets them).
    if job is None or job.article_id in services.data.hidden().article_ids:
        raise ApiError(404, "not_found", "no such job")
    stalled: tuple[str, ...] = ()
    state = str(job.state)
    if services.settings.broker_url:
        from worker.queue.stalls import stalled_parts

        try:
            report = stalled_parts(services.settings, [job]).get(job.id)
        except BriefingError:
            report = None  # the broker is down: /healthz says so; show the stored state
        if report is not None and report.stalled:
            state, stalled = "stalled", report.videos
    return JobOut(
        id=job.id, source=job.source, state=state, article_id=job.article_id,
        title=job.title, error=job.error, created=job.created, updated=job.updated,
        runner=job.runner,
        videos=[JobVideoOut(url=v.url, state=v.state, progress=v.progress, attempts=v.attempts,
                            error=v.error, video_id=v.video_id, started=v.started,
                            finished=v.finished, stalled=v.url in stalled)
                for v in job.videos],
    )


@write_router.post(
    "/jobs/{job_id}/resume",
    response_model=ResumedOut,
    status_code=202,
    summary="Queue again what of a stalled job the broker lost",
    responses={
        400: {"model": ErrorBody, "description": "The job is not stalled, not queued, or "
              "there is no broker."},
        401: {"model": ErrorBody, "description": "Missing or wrong token (when one is set)."},
        404: {"model": ErrorBody, "description": "No such job."},
        503: {"model": ErrorBody, "description": "The broker cannot be reached."},
    },
)
def resume_job(job_id: str, services: ServicesDep) -> ResumedOut:
    """Re-queue the article step or the stalled videos' download steps of a queued job."""
    if not services.settings.broker_url:
        raise ApiError(400, "not_resumable", "no broker is configured: an inline job is "
                       "resumed by posting its article again")
    job = services.jobs.get(job_id)
    # Not a job whose article is being taken down: resuming it would ingest it again.
    if job is None or job.article_id in services.data.hidden().article_ids:
        raise ApiError(404, "not_found", "no such job")
    from worker.queue.stalls import resume_job as resume

    try:
        done = resume(services.settings, services.jobs, job_id)
    except BrokerUnavailableError:
        raise  # 503, like every other broker outage
    except BriefingError as exc:
        raise ApiError(400, "not_resumable", str(exc)) from None
    return ResumedOut(job_id=job_id, article=done.article, videos=list(done.videos))
