"""Browsing (``GET /videos``, ``GET /articles``, ``GET /jobs``), takedowns (``DELETE``) and
re-transcription (``POST /videos/{id}/retranscribe``)."""

from __future__ import annotations

import re
from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query

from api.http.errors import ApiError
from api.http.ingest import WriteRoute
from api.http.schemas import (
    ArticleListItem,
    ArticlePage,
    CalendarDate,
    ErrorBody,
    JobOut,
    JobVideoOut,
    RemovalOut,
    RetranscribeAccepted,
    RetranscribeRequest,
    VideoListItem,
    VideoPage,
)
from api.http.services import Services, get_services
from worker.errors import BrokerUnavailableError
from worker.pipeline.takedown import take_down
from worker.storage.catalog import ListFilters, list_articles, list_videos
from worker.storage.datadir import Removal
from worker.storage.states import VideoState

__all__ = ["delete_article", "delete_video", "get_articles", "get_jobs", "get_videos",
           "post_retranscribe", "read_router", "write_router"]

ServicesDep = Annotated[Services, Depends(get_services)]
_ID = re.compile(r"[0-9a-f]{16}")
_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorBody,
                                                     "description": "No such item."}}
_READ: dict[int | str, dict[str, Any]] = {
    422: {"model": ErrorBody, "description": "A parameter is out of range or malformed."}}
_WRITE: dict[int | str, dict[str, Any]] = {
    **_NOT_FOUND,
    401: {"model": ErrorBody, "description": "Missing or wrong token (when one is set)."},
    422: {"model": ErrorBody, "description": "A parameter is missing or malformed."},
}

read_router = APIRouter(tags=["browse"])
write_router = APIRouter(route_class=WriteRoute, tags=["manage"])


def _filters(source: str | None, published_from: Any, published_to: Any,
             state: VideoState | None, language: str | None) -> ListFilters:
    return ListFilters(source or None,
                       published_from.isoformat() if published_from else None,
                       published_to.isoformat() if published_to else None,
                       state or None, language or None)


Limit = Annotated[int, Query(ge=1, le=100)]
Offset = Annotated[int, Query(ge=0)]
Source = Annotated[str | None, Query(max_length=200, description="A source (any case).")]
From = Annotated[CalendarDate | None, Query(description="Published on or after (YYYY-MM-DD).")]
To = Annotated[CalendarDate | None, Query(description="Published on or before (YYYY-MM-DD).")]
State = Annotated[VideoState | None, Query(description="A video state.")]
Language = Annotated[str | None, Query(max_length=16, description="Spoken language code.")]


@read_router.get("/videos", response_model=VideoPage, responses=_READ,
                 summary="Stored videos, newest first")
def get_videos(services: ServicesDep, limit: Limit = 20, offset: Offset = 0,
               source: Source = None, published_from: From = None, published_to: To = None,
               state: State = None, language: Language = None) -> VideoPage:
    """A page of stored videos: the linking articles' title, source and date, the duration,
    the state and the spoken language; filters apply together."""
    page = list_videos(services.data, _filters(source, published_from, published_to, state,
                                               language), offset=offset, limit=limit,
                       runs=services.runs)
    following = offset + limit
    return VideoPage(total=page.total, offset=offset, limit=limit,
                     next_offset=following if following < page.total else None,
                     items=[VideoListItem(**asdict(v)) for v in page.items])


@read_router.get("/articles", response_model=ArticlePage, responses=_READ,
                 summary="Stored articles, newest published first")
def get_articles(services: ServicesDep, limit: Limit = 20, offset: Offset = 0,
                 source: Source = None, published_from: From = None, published_to: To = None,
                 state: State = None, language: Language = None) -> ArticlePage:
    """A page of stored articles; ``state`` and ``language`` keep those with such a video."""
    page = list_articles(services.data, _filters(source, published_from, published_to, state,
                                                 language), offset=offset, limit=limit,
                       runs=services.runs)
    following = offset + limit
    return ArticlePage(total=page.total, offset=offset, limit=limit,
                       next_offset=following if following < page.total else None,
                       items=[ArticleListItem(**asdict(a)) for a in page.items])


@read_router.get("/jobs", response_model=list[JobOut], responses=_READ,
                 summary="The latest ingest jobs")
def get_jobs(services: ServicesDep,
             limit: Annotated[int, Query(ge=1, le=200)] = 20,
             active: Annotated[bool, Query(description="Only queued and running jobs.")] = False,
             ) -> list[JobOut]:
    """The latest jobs, newest first (``GET /jobs/{id}`` has one with its stalls); a
    takedown forgets the jobs of its article."""
    # Forgotten when the takedown is carried out; hidden from when it is recorded.
    hidden = services.data.hidden().article_ids
    jobs = [j for j in services.jobs.recent(200) if j.article_id not in hidden]
    if active:
        jobs = [j for j in jobs if str(j.state) in {"queued", "running"}]
    jobs = jobs[:limit]
    return [JobOut(id=j.id, source=j.source, state=str(j.state), article_id=j.article_id,
                   title=j.title, error=j.error, created=j.created, updated=j.updated,
                   runner=j.runner,
                   videos=[JobVideoOut(url=v.url, state=v.state, progress=v.progress,
                                       attempts=v.attempts, error=v.error,
                                       video_id=v.video_id, started=v.started,
                                       finished=v.finished) for v in j.videos])
            for j in jobs]


def _removal_out(removal: Removal) -> RemovalOut:
    values = asdict(removal)
    return RemovalOut(**{**values, "article_ids": list(removal.article_ids),
                         "video_ids": list(removal.video_ids),
                         "kept_videos": list(removal.kept_videos)})


_DELETE: dict[int | str, dict[str, Any]] = {
    **_WRITE,
    503: {"model": ErrorBody, "description": "The broker (whose locks a takedown takes with "
          "the queue's workers) cannot be reached; asking again finishes the takedown."},
}
Reason = Annotated[str, Query(min_length=1, max_length=2000,
                              description="Why (kept in the audit record).")]


def _take_down(services: Services, kind: str, item_id: str, reason: str) -> RemovalOut:
    if not _ID.fullmatch(item_id):
        raise ApiError(404, "not_found", f"no such {kind}")
    if not reason.strip():
        raise ApiError(422, "invalid_parameters", "reason: must say why")
    try:
        removal = take_down(services.manage_context(), kind, item_id, reason.strip(), "http")
    except Exception as exc:
        if services.settings.broker_url:
            from worker.queue.config import broker_down

            if broker_down(exc):
                # Recorded by then: its items stay hidden, and asking again finishes it.
                raise BrokerUnavailableError("the broker cannot be reached (a takedown takes "
                                             "its locks); the takedown is recorded: ask again "
                                             "to finish it") from exc
        raise
    return _removal_out(removal)


@write_router.delete("/articles/{article_id}", response_model=RemovalOut, responses=_DELETE,
                     summary="Take down an article (and the videos only it links)")
def delete_article(article_id: Annotated[str, Path(description="16 hex digits.")],
                   reason: Reason, services: ServicesDep) -> RemovalOut:
    """Remove the article, its index entry and every video no other article links (media,
    transcripts, clips); videos other articles link are kept and re-indexed without it.
    Returns the audit record."""
    return _take_down(services, "article", article_id, reason)


@write_router.delete("/videos/{video_id}", response_model=RemovalOut, responses=_DELETE,
                     summary="Take down a video")
def delete_video(video_id: Annotated[str, Path(description="16 hex digits.")],
                 reason: Reason, services: ServicesDep) -> RemovalOut:
    """Remove the video's media, transcripts, index entries and exported clips, whoever
    links it.  Returns the audit record."""
    return _take_down(services, "video", video_id, reason)


@write_router.post("/videos/{video_id}/retranscribe", response_model=RetranscribeAccepted,
                   status_code=202, summary="Transcribe a video again",
                   responses={**_WRITE,
                              400: {"model": ErrorBody,
                                    "description": "The body cannot be decoded as UTF-8."},
                              503: {"model": ErrorBody,
                                              "description": "The broker is down, or too "
                                              "much work waits."}})
def post_retranscribe(video_id: Annotated[str, Path(description="16 hex digits.")],
                      services: ServicesDep,
                      body: RetranscribeRequest | None = None) -> RetranscribeAccepted:
    """Queue a new transcription (with ``model``, default the server's); when done it
    replaces the transcript, the old one is kept as a version (``GET /videos/{id}``) and
    the index is written again."""
    hidden = services.data.hidden().video_ids
    if (not _ID.fullmatch(video_id) or video_id in hidden
            or services.data.video_file(video_id) is None):
        raise ApiError(404, "not_found", "no such video")
    model = (body.model if body else None) or None
    # A client picks among model names only: a directory or a repository id would have the
    # server read its disk or fetch from the hub on a client's word.
    if model is not None and model != services.settings.model:
        from worker.speech.models import is_model_name

        if not is_model_name(model):
            raise ApiError(422, "invalid_parameters", "model: not a Whisper model name "
                           "(tiny.en, base, small, medium, large-v3...)")
    shown_model = model or services.settings.model
    if services.settings.broker_url:
        from worker.queue.config import submit_retranscribe

        task_id = submit_retranscribe(services.settings, video_id, model)
        return RetranscribeAccepted(video_id=video_id, model=shown_model, queued=True,
                                    task_id=task_id)
    from worker.pipeline.steps import retranscribe_step

    assert services.worker is not None
    services.worker.submit_call(f"re-transcribing video {video_id}",
                                lambda ctx: retranscribe_step(ctx, video_id, model))
    return RetranscribeAccepted(video_id=video_id, model=shown_model, queued=False,
                                task_id="")
