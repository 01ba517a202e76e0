"""The media containers we accept: how each is recognised, demuxed, stored and served.

One table, read by the download sniffing, ffmpeg, the data dir and the media route.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CONTAINERS", "Container", "describe_head", "sniff_container"]


@dataclass(frozen=True)
class Container:
    """One container kind."""

    name: str
    demuxer: str  # ffmpeg's input format, forced (never guessed from the file)
    extension: str  # of the stored file and of a downloaded copy
    media_type: str  # served to browsers


# A Matroska file is served as video/webm: browsers play WebM (a Matroska profile) under that
# type and refuse video/x-matroska, though the file keeps Matroska's own extension.
CONTAINERS = {
    "mp4": Container("mp4", demuxer="mov", extension="mp4", media_type="video/mp4"),
    "matroska": Container("matroska", demuxer="matroska", extension="mkv",
                          media_type="video/webm"),
}

_MP4_BOXES = (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip", b"pnot")


def sniff_container(head: bytes) -> str | None:
    """The container kind from a file's first bytes: "mp4", "matroska", or None."""
    if len(head) >= 8 and head[4:8] in _MP4_BOXES:
        return "mp4"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "matroska"
    return None


def describe_head(head: bytes) -> str:
    """What a file that is not a video seems to be, for an error message."""
    start = head[:64].lstrip().lower()
    if start.startswith((b"<!doctype", b"<html", b"<?xml", b"<head", b"<body")):
        return "it is an HTML page, perhaps an error page"
    if start.startswith(b"#extm3u"):
        return "it is an HLS playlist"
    if start.startswith(b"ffconcat"):
        return "it is an ffmpeg concat list"
    if not head:
        return "it is empty"
    return f"unknown content starting {head[:8]!r}"
