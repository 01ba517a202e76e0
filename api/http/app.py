"""The HTTP app: the JSON API, the search page, and the guards in front of both.

``create_app(settings)`` builds everything once (data dir, job store, one shared search index,
the in-process worker when there is no broker); ``briefing serve`` runs it with uvicorn.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import metadata
from pathlib import Path

import anyio
from fastapi import FastAPI, Security
from fastapi.responses import HTMLResponse
from fastapi.security import HTTPBearer
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import Headers, MutableHeaders
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.http.clips import router as clips_router
from api.http.errors import install_error_handlers
from api.http.ingest import read_router as jobs_router
from api.http.ingest import write_router as ingest_router
from api.http.manage import read_router as browse_router
from api.http.manage import write_router as manage_router
from api.http.search import router as search_router
from api.http.services import build_services
from api.http.videos import router as videos_router
from api.http.watches import read_router as watches_read_router
from api.http.watches import write_router as watches_write_router
from worker.settings import Settings

__all__ = [
    "CONTENT_SECURITY_POLICY",
    "SECURITY_HEADERS",
    "WEB_DIR",
    "BodyLimit",
    "HeadAsGet",
    "SecurityHeaders",
    "create_app",
]

WEB_DIR = Path(__file__).parent / "web"

# The page loads nothing from elsewhere and runs no inline script, so a title or transcript
# that slipped through as HTML could still not run code or phone home.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "media-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


async def _send_json(send: Send, status: int, error: str, detail: str) -> None:
    body = json.dumps({"error": error, "detail": detail}, separators=(",", ":")).encode()
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
        (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


# A body over the limit by at most this much is read and dropped before the 413 goes out:
# a server that closes a connection with request bytes unread makes the kernel reset it, and
# the client may then lose the 413 (seen in a test run).  Beyond it the 413 goes out at once.
DRAIN_BYTES = 1024**2


async def _drain(receive: Receive, left: int) -> None:
    """Read and drop the rest of the request body while it stays within *left* bytes."""
    while left >= 0:
        message = await receive()
        if message["type"] != "http.request":
            return
        left -= len(message.get("body", b""))
        if not message.get("more_body", False):
            return


class BodyLimit:
    """Refuse a request body over *max_bytes* with 413 before anything parses it."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the declared length, or count a chunked body as it arrives."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        declared = headers.get("content-length")
        too_large = f"the request body is over the limit of {self.max_bytes} bytes"
        if declared is not None:
            # The server enforces the declared length, so the header is all we need.
            if declared.strip().isdigit() and int(declared) > self.max_bytes:
                if int(declared) <= self.max_bytes + DRAIN_BYTES:
                    await _drain(receive, int(declared))
                await _send_json(send, 413, "body_too_large", too_large)
                return
            await self.app(scope, receive, send)
            return
        if "chunked" not in headers.get("transfer-encoding", "").lower():
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                chunks.clear()
                if message.get("more_body", False):
                    await _drain(receive, self.max_bytes + DRAIN_BYTES - size)
                await _send_json(send, 413, "body_too_large", too_large)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": b"".join(chunks), "more_body": False}

        await self.app(scope, replay, send)


class SecurityHeaders:
    """Adds the headers of :data:`SECURITY_HEADERS` to every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Wrap ``send`` to add the headers to the response start."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    if name not in headers:
                        headers.append(name, value)
            await send(message)

        await self.app(scope, receive, with_headers)


class HeadAsGet:
    """Answer ``HEAD`` wherever ``GET`` is answered: GET's status and headers, no body.

    FastAPI routes only the methods they declare (Starlette's own routes add HEAD to GET),
    so without this every page and endpoint answered HEAD with 405.  A route that declares
    HEAD itself (the media, which must not read the file) is left to do so.
    """

    def __init__(self, app: ASGIApp, routes: list[BaseRoute]) -> None:
        self.app = app
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run a HEAD request as GET and drop the body on its way out."""
        if (scope["type"] != "http" or scope["method"] != "HEAD"
                or any(route.matches(scope)[0] is Match.FULL for route in self.routes)):
            await self.app(scope, receive, send)
            return

        async def headers_only(message: Message) -> None:
            if message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, headers_only)


def _version() -> str:
    try:
        return metadata.version("briefing")
    except metadata.PackageNotFoundError:
        return "0"


def create_app(settings: Settings) -> FastAPI:
    """The whole HTTP app for *settings*."""
    services = build_services(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if services.worker is not None:
            services.worker.start()
        if services.deliveries is not None:
            services.deliveries.start()
        try:
            yield
        finally:
            if services.worker is not None:
                await anyio.to_thread.run_sync(services.worker.stop)
            if services.deliveries is not None:
                await anyio.to_thread.run_sync(services.deliveries.stop)
            services.index.close()
            services.release()

    app = FastAPI(
        title="briefing",
        version=_version(),
        description="Search what is said in the video briefings news articles link: "
                    "time-coded clips, transcripts, and the stored videos.",
        lifespan=lifespan,
        # Swagger UI and ReDoc load their scripts from a CDN; the schema is at /openapi.json.
        docs_url=None,
        redoc_url=None,
    )
    app.state.services = services
    install_error_handlers(app)
    bearer = HTTPBearer(auto_error=False, description="BRIEFING_API_TOKEN")
    # Declared for the schema only when a token is set; WriteRoute does the checking.
    app.include_router(ingest_router, dependencies=[Security(bearer)] if services.token() else [])
    app.include_router(manage_router, dependencies=[Security(bearer)] if services.token() else [])
    app.include_router(jobs_router)
    app.include_router(browse_router)
    app.include_router(search_router)
    app.include_router(clips_router)
    app.include_router(videos_router)
    app.include_router(watches_write_router,
                       dependencies=[Security(bearer)] if services.token() else [])
    app.include_router(watches_read_router)
    _add_web(app)
    app.add_middleware(HeadAsGet, routes=app.router.routes)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(SecurityHeaders)
    return app


def _add_web(app: FastAPI) -> None:
    page = (WEB_DIR / "index.html").read_text(encoding="utf-8")

    @app.get("/", response_class=HTMLResponse, tags=["web"], summary="The search page")
    def index() -> HTMLResponse:
        """The search page (``?q=`` searches at once, ``#clip=<video_id>,<start>,<end>``
        opens a clip)."""
        return HTMLResponse(page, headers={"Cache-Control": "no-cache"})

    app.mount("/static", StaticFiles(directory=WEB_DIR), name="static")

