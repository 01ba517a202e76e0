"""``GET /videos/{id}``, its transcript in four formats, and its media with range requests."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import Response

from api.http.errors import ApiError
from api.http.ranges import MediaResponse
from api.http.schemas import (
    ErrorBody,
    TranscriptOut,
    TranscriptSummary,
    TranscriptVersionOut,
    VideoOut,
    VideoSource,
)
from api.http.services import Services, article_info, get_services
from worker.containers import CONTAINERS
from worker.speech.subtitles import render
from worker.storage.datadir import SourceRecord, VideoMeta
from worker.storage.interfaces import Runs
from worker.storage.runs import shown_state
from worker.storage.states import VideoState

__all__ = ["get_media", "get_transcript", "get_video", "head_media", "router"]

ServicesDep = Annotated[Services, Depends(get_services)]
VideoId = Annotated[str, Path(description="16 hex digits (the start of the video's SHA-256).")]

_VIDEO_ID = re.compile(r"[0-9a-f]{16}")
_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorBody, "description": "No such video."},
}
TRANSCRIPT_TYPES = {
    "json": "application/json; charset=utf-8",
    "srt": "application/x-subrip; charset=utf-8",
    "vtt": "text/vtt; charset=utf-8",
    "txt": "text/plain; charset=utf-8",
}

router = APIRouter(tags=["videos"])


def _meta(services: Services, video_id: str) -> VideoMeta:
    # Anything but a well-formed id is "not found": it never reaches a file path.
    meta = services.data.video_meta(video_id) if _VIDEO_ID.fullmatch(video_id) else None
    if meta is None or video_id in services.data.hidden().video_ids:
        raise ApiError(404, "not_found", "no such video")
    return meta


def _sources(services: Services, meta: VideoMeta) -> list[SourceRecord]:
    urls = set(meta.urls)
    return [r for r in services.data.sources() if r.video_id == meta.video_id or r.url in urls]


def _state(runs: Runs, records: list[SourceRecord],
           has_transcript: bool) -> tuple[str, str]:
    """done once any URL of it is done; otherwise the newest state (and its error)."""
    if any(r.state is VideoState.DONE for r in records):
        return VideoState.DONE, ""
    if not records:
        return (VideoState.DONE if has_transcript else "unknown"), ""
    latest = max(records, key=lambda r: r.updated)
    return (shown_state(runs, latest.state, latest.runner),
            latest.error if latest.state is VideoState.FAILED else "")


@router.get("/videos/{video_id}", response_model=VideoOut, responses=_NOT_FOUND,
            summary="A stored video: metadata, linking articles, state")
def get_video(video_id: VideoId, services: ServicesDep) -> VideoOut:
    """What we hold for one video and where it stands."""
    meta = _meta(services, video_id)
    transcript = services.data.load_transcript(meta.video_id)
    records = _sources(services, meta)
    state, error = _state(services.runs, records, transcript is not None)
    return VideoOut(
        video_id=meta.video_id, state=state, error=error, sha256=meta.sha256, size=meta.size,
        container=meta.container, media_url=f"/videos/{meta.video_id}/media",
        urls=list(meta.urls),
        sources=[VideoSource(url=r.url, state=r.state, error=r.error) for r in records],
        articles=[article_info(services.data, ref.url, ref.title)
                  for ref in services.data.article_refs_for_video(meta.video_id)],
        transcript=None if transcript is None else TranscriptSummary(
            language=transcript.language, duration=transcript.duration,
            model=transcript.model, segments=len(transcript.segments)),
        versions=[TranscriptVersionOut(
            version=v.number, model=v.transcript.model,
            model_version=v.transcript.model_version, language=v.transcript.language,
            segments=len(v.transcript.segments), replaced=v.replaced)
            for v in services.data.transcript_versions(meta.video_id)],
    )


@router.get(
    "/videos/{video_id}/transcript",
    summary="The transcript as JSON, SubRip, WebVTT or plain text",
    response_class=Response,
    responses={
        200: {
            "description": "The transcript, as a download named <video_id>.<format>.",
            "model": TranscriptOut,
            "content": {
                "application/x-subrip": {"schema": {"type": "string"}},
                "text/vtt": {"schema": {"type": "string"}},
                "text/plain": {"schema": {"type": "string"}},
            },
        },
        404: {"model": ErrorBody, "description": "No such video, or not transcribed yet."},
        422: {"model": ErrorBody, "description": "Unknown format."},
    },
)
def get_transcript(
    video_id: VideoId,
    services: ServicesDep,
    fmt: Annotated[Literal["json", "srt", "vtt", "txt"], Query(alias="format")] = "json",
) -> Response:
    """Every segment of the video's transcript (JSON: with word timings)."""
    meta = _meta(services, video_id)
    transcript = services.data.load_transcript(meta.video_id)
    if transcript is None:
        raise ApiError(404, "not_found", "this video has no transcript yet")
    # The name is built from the hex id alone, so no header can be smuggled through it.
    headers = {"Content-Disposition": f'attachment; filename="{meta.video_id}.{fmt}"'}
    return Response(render(transcript, fmt), media_type=TRANSCRIPT_TYPES[fmt],
                    headers=headers)


_MEDIA_CONTENT = {"video/mp4": {"schema": {"type": "string", "format": "binary"}},
                  "video/webm": {"schema": {"type": "string", "format": "binary"}}}
_MEDIA_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "The whole file.", "content": _MEDIA_CONTENT},
    206: {"description": "The requested byte range (Content-Range says which); several ranges "
                         "come as multipart/byteranges.",
          "content": {**_MEDIA_CONTENT,
                      "multipart/byteranges": {"schema": {"type": "string",
                                                          "format": "binary"}}}},
    404: {"model": ErrorBody, "description": "No such video, or its file is gone."},
    416: {"model": ErrorBody, "description": "The range starts past the end."},
}


def _media(video_id: str, services: Services) -> MediaResponse:
    meta = _meta(services, video_id)
    path = services.data.video_file(meta.video_id)
    if path is None:
        raise ApiError(404, "not_found", "the video file is not stored")
    container = CONTAINERS[meta.container]
    headers = {
        # Our ETag is the content hash, so If-Range compares bytes, not mtimes.
        "ETag": f'"{meta.sha256}"',
        # The bytes behind a video id never change (the id is their hash).
        "Cache-Control": "public, max-age=86400",
    }
    # The name is built from the hex id alone, so no header can be smuggled through it.
    return MediaResponse(path, media_type=container.media_type, headers=headers,
                         filename=f"{meta.video_id}.{container.extension}",
                         content_disposition_type="inline")


@router.get("/videos/{video_id}/media", response_class=MediaResponse,
            responses=_MEDIA_RESPONSES, summary="The stored video file, with range requests")
def get_media(video_id: VideoId, services: ServicesDep) -> MediaResponse:
    """Our copy of the video, so playback works even after the origin took it down."""
    return _media(video_id, services)


@router.head("/videos/{video_id}/media", response_class=MediaResponse,
             responses=_MEDIA_RESPONSES, summary="The stored video file's headers")
def head_media(video_id: VideoId, services: ServicesDep) -> MediaResponse:
    """The headers ``GET`` would send (length, type, ETag), without the body."""
    return _media(video_id, services)
