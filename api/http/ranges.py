"""Serving a stored video with HTTP range requests (RFC 9110 §14), so a player can seek.

We answer one range per request, which is what media players ask for; a request for several
ranges gets the whole file, as the RFC allows.  An unsatisfiable range gets 416 with our JSON
error body (the framework's own file response answers those in plain text).
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from email.utils import formatdate
from pathlib import Path

import anyio
from starlette.responses import StreamingResponse

from api.http.errors import ApiError

__all__ = ["CHUNK_BYTES", "ByteRange", "file_response", "parse_range"]

CHUNK_BYTES = 256 * 1024
_SPEC = re.compile(r"\s*(\d*)\s*-\s*(\d*)\s*")


@dataclass(frozen=True)
class ByteRange:
    """Bytes ``start`` up to, not including, ``end``."""

    start: int
    end: int


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """The single range a ``Range`` header asks for, or None to send the whole file.

    Headers we cannot use (other units, several ranges, bad syntax) are ignored, as the RFC
    allows.  Raises :class:`ApiError` 416 when the range starts past the end of the file.
    """
    if not header:
        return None
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    match = _SPEC.fullmatch(spec)
    if match is None or match.group(1) == match.group(2) == "":
        return None
    first, last = match.groups()
    if first == "":
        suffix = int(last)
        if suffix == 0 or size == 0:
            raise _unsatisfiable(size)
        return ByteRange(max(size - suffix, 0), size)
    start = int(first)
    if last and int(last) < start:
        return None
    if start >= size:
        raise _unsatisfiable(size)
    end = min(int(last) + 1, size) if last else size
    return ByteRange(start, end)


def _unsatisfiable(size: int) -> ApiError:
    return ApiError(416, "range_not_satisfiable",
                    f"the requested range is outside the file's {size} bytes",
                    {"Content-Range": f"bytes */{size}", "Accept-Ranges": "bytes"})


async def _read(path: Path, start: int, end: int) -> AsyncIterator[bytes]:
    async with await anyio.open_file(path, "rb") as fh:
        await fh.seek(start)
        remaining = end - start
        while remaining > 0:
            chunk = await fh.read(min(CHUNK_BYTES, remaining))
            if not chunk:  # the file shrank under us; stop rather than hang
                return
            remaining -= len(chunk)
            yield chunk


def file_response(path: Path, *, media_type: str, etag: str, filename: str,
                  request_headers: Mapping[str, str]) -> StreamingResponse:
    """The file, or the one range of it the request asks for (206)."""
    stat = os.stat(path)
    size = stat.st_size
    last_modified = formatdate(stat.st_mtime, usegmt=True)
    wanted = parse_range(request_headers.get("range"), size)
    if_range = request_headers.get("if-range")
    if wanted is not None and if_range is not None and if_range not in (etag, last_modified):
        wanted = None  # the client's copy is of other bytes: send them all
    headers = {
        "Accept-Ranges": "bytes",
        "ETag": etag,
        "Last-Modified": last_modified,
        "Content-Disposition": f'inline; filename="{filename}"',
        # The bytes behind a video id never change (the id is their hash).
        "Cache-Control": "public, max-age=86400",
    }
    if wanted is None:
        headers["Content-Length"] = str(size)
        return StreamingResponse(_read(path, 0, size), status_code=200, headers=headers,
                                 media_type=media_type)
    headers["Content-Length"] = str(wanted.end - wanted.start)
    headers["Content-Range"] = f"bytes {wanted.start}-{wanted.end - 1}/{size}"
    return StreamingResponse(_read(path, wanted.start, wanted.end), status_code=206,
                             headers=headers, media_type=media_type)
