"""``GET /videos/{id}/clip``: a clip cut from the stored video, its captions and sidecar."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import FileResponse

from api.http.errors import ApiError
from api.http.schemas import ErrorBody
from api.http.services import Services, get_services
from worker.clips import ExportedClip, export_clip
from worker.clips.export import check_bounds

__all__ = ["get_clip", "router"]

ServicesDep = Annotated[Services, Depends(get_services)]
_VIDEO_ID = re.compile(r"[0-9a-f]{16}")
_TYPES = {"mp4": "video/mp4", "json": "application/json", "srt": "application/x-subrip",
          "vtt": "text/vtt"}
_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "The part asked for, as a download.",
          "content": {"video/mp4": {"schema": {"type": "string", "format": "binary"}},
                      "application/json": {"schema": {"type": "object"}},
                      "application/x-subrip": {"schema": {"type": "string"}},
                      "text/vtt": {"schema": {"type": "string"}}}},
    400: {"model": ErrorBody, "description": "Bounds outside the video, or a clip too long."},
    404: {"model": ErrorBody, "description": "No such video, or not transcribed yet."},
    422: {"model": ErrorBody, "description": "A parameter is missing or malformed."},
}

router = APIRouter(tags=["videos"])


def _cut(services: Services, video_id: str, start: float, end: float) -> ExportedClip:
    """The clip from the data dir's cache of cut clips, cut once under a lock."""
    data = services.data
    # To the hundredth, as the cache is keyed: what is cut is what the key says.
    start, end = round(start, 2), round(end, 2)
    transcript = data.load_transcript(video_id)
    if transcript is None or video_id in data.hidden().video_ids:
        raise ApiError(404, "not_found", "no such video, or not transcribed yet")
    end = check_bounds(start, end, transcript.duration, services.settings.max_clip_seconds)
    # Keyed by the transcript's version too: a re-transcription's clips get its captions.
    folder = (data.clips_dir(video_id) / f"v{data.transcript_number(video_id)}"
              / f"{start:.2f}-{end:.2f}")
    # Named as the download is, so the sidecar's file names match what the client saves.
    target = folder / f"{video_id}-{start:.2f}-{end:.2f}.mp4"
    with data.lock(f"clip-{video_id}"):
        sidecar = target.with_suffix(".json")
        if not (target.is_file() and sidecar.is_file()):
            folder.mkdir(parents=True, exist_ok=True)
            return export_clip(data, video_id, start, end, target,
                               timeout=services.settings.ffmpeg_timeout,
                               max_seconds=services.settings.max_clip_seconds)
    return ExportedClip(target, sidecar, target.with_suffix(".srt"), target.with_suffix(".vtt"),
                        "", start, end, 0.0)


@router.get("/videos/{video_id}/clip", response_class=FileResponse, responses=_RESPONSES,
            summary="A clip of the stored video, with captions and a provenance sidecar")
def get_clip(
    video_id: Annotated[str, Path(description="16 hex digits.")],
    services: ServicesDep,
    start: Annotated[float, Query(ge=0, description="Seconds into the video.")],
    end: Annotated[float, Query(gt=0, description="Seconds into the video.")],
    fmt: Annotated[Literal["mp4", "json", "srt", "vtt"], Query(
        alias="format", description="mp4: the clip; json: its provenance sidecar; srt, "
        "vtt: its captions in clip time.")] = "mp4",
) -> FileResponse:
    """Cut (frame-accurately, re-encoded) from our stored copy, so it works after the
    origin took the video down.  Cut once per bounds and kept until the video is removed."""
    if not _VIDEO_ID.fullmatch(video_id):
        raise ApiError(404, "not_found", "no such video")
    done = _cut(services, video_id, start, end)
    path = {"mp4": done.clip, "json": done.sidecar, "srt": done.srt, "vtt": done.vtt}[fmt]
    # The name is built from the hex id and numbers alone, so no header can be smuggled.
    name = f"{video_id}-{done.start:.2f}-{done.end:.2f}.{fmt}"
    return FileResponse(path, media_type=_TYPES[fmt], filename=name)
