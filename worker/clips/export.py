"""Exporting a clip: the cut file, its captions in clip time, and its provenance sidecar."""

from __future__ import annotations

import json
import os
import secrets
import stat
import subprocess
import time
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from pathlib import Path

from worker.clips.captions import clip_transcript
from worker.clips.cut import CutMode, cut_clip, media_facts
from worker.clips.provenance import build_sidecar
from worker.errors import ClipError, NotFoundError
from worker.speech.media import ffmpeg_binary
from worker.speech.subtitles import render
from worker.storage.datadir import is_item_id
from worker.storage.files import file_sha256, write_text_atomic
from worker.storage.interfaces import Records

__all__ = ["DEFAULT_MAX_CLIP_SECONDS", "ExportedClip", "export_clip", "sidecar_path"]

DEFAULT_MAX_CLIP_SECONDS = 600.0
_CUTS = {
    CutMode.REENCODE: "re-encoded (H.264 libx264 veryfast crf 20, AAC 128 kb/s): starts on "
                      "the asked frame",
    CutMode.COPY: "stream copy: starts at the keyframe at or before the asked start",
}


@dataclass(frozen=True)
class ExportedClip:
    """The files of one exported clip."""

    clip: Path
    sidecar: Path
    srt: Path
    vtt: Path
    sha256: str
    start: float
    end: float
    duration: float  # of the cut file, from its header


def sidecar_path(clip: Path) -> Path:
    """Where the sidecar of *clip* goes: ``clip.mp4`` → ``clip.json``."""
    return clip.with_suffix(".json")


@cache
def _ffmpeg_version() -> str:
    try:
        out = subprocess.run([ffmpeg_binary(), "-version"], capture_output=True, timeout=30,
                             check=False).stdout.decode("utf-8", "replace")
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return out.splitlines()[0] if out else "unknown"


def _software() -> dict[str, str]:
    try:
        version = metadata.version("briefing")
    except metadata.PackageNotFoundError:
        version = "0"
    return {"briefing": version, "ffmpeg": _ffmpeg_version()}


def check_bounds(start: float, end: float, duration: float, max_seconds: float) -> float:
    """The clip's end after checking *start* to *end* against the video; raises ClipError."""
    if not (start >= 0 and end > start):
        raise ClipError(f"a clip must end after it starts, at 0 s or later (got {start:g}–"
                        f"{end:g})")
    if start >= duration:
        raise ClipError(f"the clip starts at {start:g} s, after the video's end at "
                        f"{duration:.1f} s")
    if end - start > max_seconds:
        raise ClipError(f"the clip is {end - start:.1f} s long, over the limit of "
                        f"{max_seconds:g} s (BRIEFING_MAX_CLIP_SECONDS)")
    return min(end, duration)


def _check_target(target: Path) -> None:
    if target.suffix.lower() in {".json", ".srt", ".vtt"}:
        raise ClipError(f"{target.name}: the clip's sidecar and captions take the .json, .srt "
                        "and .vtt names beside it; name the clip .mp4")
    try:
        mode = target.stat().st_mode
    except FileNotFoundError:
        mode = None
    if mode is not None and not stat.S_ISREG(mode):
        raise ClipError(f"{target} is not a regular file: a clip is written with its sidecar "
                        "beside it")
    if not target.parent.is_dir():
        raise ClipError(f"no such folder: {target.parent}")


def export_clip(data: Records, video_id: str, start: float, end: float, target: Path, *,
                timeout: float = 1800.0, max_seconds: float = DEFAULT_MAX_CLIP_SECONDS,
                mode: CutMode = CutMode.REENCODE) -> ExportedClip:
    """Cut *start* to *end* of a stored video to *target* with captions and a sidecar.

    Written beside *target*: ``.srt`` and ``.vtt`` captions in clip time, and the sidecar
    ``.json`` (last, since it describes the others).  Each file is written to a temporary
    name and renamed, so a crash never leaves a half-written clip under the asked name.
    """
    if not is_item_id(video_id):
        raise NotFoundError(f"no stored video {video_id!r}: an id is 16 hex digits")
    if video_id in data.hidden().video_ids:
        raise NotFoundError(f"video {video_id} is being taken down")
    meta = data.video_meta(video_id)
    media = data.video_file(video_id) if meta is not None else None
    if meta is None or media is None:
        raise NotFoundError(f"no stored video {video_id}")
    transcript = data.load_transcript(video_id)
    if transcript is None:
        raise NotFoundError(f"video {video_id} has no transcript yet")
    end = check_bounds(start, end, transcript.duration, max_seconds)
    target = target.resolve() if target.is_symlink() else target
    _check_target(target)
    temp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
    srt, vtt = target.with_suffix(".srt"), target.with_suffix(".vtt")
    fetched = media.stat().st_mtime
    shifted = clip_transcript(transcript, start, end)
    try:
        cut_clip(media, start, end, temp, mode=mode, timeout=timeout, name=f"video {video_id}")
        facts = media_facts(temp)
        sha256 = file_sha256(temp)
        # The files appear and are recorded under the video's lock, after checking that no
        # takedown removed it during the cut: a takedown finds all of them or none.
        with data.video_files(video_id):
            if not data.standing(video_id):
                raise NotFoundError(f"video {video_id} was taken down meanwhile")
            os.replace(temp, target)
            write_text_atomic(srt, render(shifted, "srt"))
            write_text_atomic(vtt, render(shifted, "vtt"))
            sidecar = build_sidecar(
                meta=meta, original_duration=transcript.duration, transcript=transcript,
                transcript_version=data.transcript_number(video_id),
                articles=data.article_refs_for_video(video_id), start=start, end=end,
                clip_file=target, clip_sha256=sha256, clip_duration=facts.duration,
                captions={"srt": srt.name, "vtt": vtt.name}, cut=_CUTS[mode],
                software=_software(), exported=time.time(), fallback_fetched=fetched)
            write_text_atomic(sidecar_path(target),
                              json.dumps(sidecar, ensure_ascii=False, indent=2))
            data.record_export(video_id, target, sha256)
    finally:
        temp.unlink(missing_ok=True)
    return ExportedClip(target, sidecar_path(target), srt, vtt, sha256, start, end,
                        facts.duration)
