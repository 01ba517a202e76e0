"""Serving a stored video with HTTP range requests (RFC 9110 §14), so a player can seek.

Starlette's ``FileResponse`` does the work: one range (206), several (206
``multipart/byteranges``), ``If-Range`` against our ETag, ``HEAD``.  We change two answers:
an unsatisfiable range gets 416 with our JSON error body instead of plain text, and a ``Range``
header Starlette cannot parse (another unit, bad syntax) is ignored and the whole file sent, as
RFC 9110 §14.2 asks ("MUST ignore a Range header field that contains a range unit it does not
understand"), instead of Starlette's 400.
"""

from __future__ import annotations

from starlette.responses import FileResponse
from starlette.types import Message, Receive, Scope, Send

from api.http.errors import error_response

__all__ = ["MediaResponse"]


class _Held:
    """An ASGI ``send`` that passes messages through unless the response is one we replace."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self.replaced: int | None = None
        self.content_range = ""

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start" and message["status"] in (400, 416):
            self.replaced = message["status"]
            for name, value in message.get("headers", []):
                if name.lower() == b"content-range":
                    self.content_range = value.decode("latin-1")
        if self.replaced is None:
            await self._send(message)


class MediaResponse(FileResponse):
    """A stored video file, seekable, with our JSON 416 body."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        held = _Held(send)
        await super().__call__(scope, receive, held)
        if held.replaced == 416:
            size = held.content_range.rpartition("/")[2]
            await error_response(
                416, "range_not_satisfiable",
                f"the requested range is outside the file's {size} bytes",
                {"Content-Range": held.content_range, "Accept-Ranges": "bytes"},
            )(scope, receive, send)
        elif held.replaced == 400:  # only a Range header Starlette could not parse gives 400
            headers = [(k, v) for k, v in scope["headers"] if k.lower() != b"range"]
            await super().__call__({**scope, "headers": headers}, receive, send)
