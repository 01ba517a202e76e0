"""Errors at the HTTP edge: every failure becomes JSON ``{"error", "detail"}`` with its status.

Our error tree is mapped here and only here; nothing else in the app picks status codes for
library errors.  Messages never carry a traceback, a request body or a fetched page.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from indexer.errors import BriefingError, QueryError, SearchIndexError
from worker.errors import (
    BrokerUnavailableError,
    ClipError,
    NoSuchWatchError,
    NotFoundError,
    SchemaError,
    StoreUnavailableError,
    VerificationError,
    WatchError,
    WatchExistsError,
    WorkerBusyError,
)

__all__ = [
    "ApiError",
    "briefing_status",
    "error_response",
    "install_error_handlers",
]

log = logging.getLogger("briefing.http")

# Codes for statuses raised by the framework itself (unknown route, wrong method...).
_STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "body_too_large",
    416: "range_not_satisfiable",
    422: "invalid_parameters",
    503: "unavailable",
}


class ApiError(Exception):
    """An error answer chosen by an endpoint."""

    def __init__(self, status: int, error: str, detail: str,
                 headers: Mapping[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.error = error
        self.detail = detail
        self.headers = dict(headers or {})


def error_response(status: int, error: str, detail: str,
                   headers: Mapping[str, str] | None = None) -> JSONResponse:
    """The JSON error body every failure uses."""
    return JSONResponse({"error": error, "detail": detail}, status_code=status,
                        headers=dict(headers or {}))


def briefing_status(exc: BriefingError) -> tuple[int, str]:
    """Status and code for one of our errors."""
    if isinstance(exc, QueryError):
        return 400, "bad_query"
    if isinstance(exc, NotFoundError):
        return 404, "not_found"
    if isinstance(exc, ClipError | VerificationError):
        return 400, "bad_clip"
    if isinstance(exc, NoSuchWatchError):
        return 404, "not_found"
    if isinstance(exc, WatchExistsError):
        return 409, "watch_exists"
    if isinstance(exc, WatchError):
        return 400, "bad_watch"
    if isinstance(exc, BrokerUnavailableError):
        return 503, "broker_unavailable"
    if isinstance(exc, WorkerBusyError):
        return 503, "busy"
    if isinstance(exc, SearchIndexError):
        return 503, "index_unavailable"
    if isinstance(exc, StoreUnavailableError):
        return 503, "database_unavailable"
    if isinstance(exc, SchemaError):
        return 503, "schema_mismatch"
    return 500, "internal"


def _validation_detail(exc: RequestValidationError) -> str:
    # loc and msg only: "input" could echo a posted article back to the caller.
    parts = []
    for item in exc.errors()[:5]:
        loc = ".".join(str(p) for p in item.get("loc", ()))
        parts.append(f"{loc}: {item.get('msg', 'invalid')}" if loc else str(item.get("msg")))
    return "; ".join(parts) or "invalid request"


async def _on_api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.error, exc.detail, exc.headers)


_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def _allowed(request: Request) -> set[str]:
    """Every method some route answers at the request's path.

    Starlette answers 405 from the first route whose path matches, naming only its own
    methods; a path served by several routers (``GET /articles`` and ``POST /articles``)
    must name them all.
    """
    methods: set[str] = set()
    for method in _METHODS:
        scope = {**request.scope, "method": method}
        if any(route.matches(scope)[0] is Match.FULL for route in request.app.router.routes):
            methods.add(method)
    return methods


async def _on_http_exception(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _STATUS_CODES.get(exc.status_code, "error")
    headers = dict(exc.headers or {})
    if exc.status_code == 405 and (methods := _allowed(request)):
        headers["Allow"] = ", ".join(sorted(methods))
    return error_response(exc.status_code, code, str(exc.detail), headers)


async def _on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return error_response(422, "invalid_parameters", _validation_detail(exc))


async def _on_briefing_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, BriefingError)
    status, code = briefing_status(exc)
    if code == "internal":
        log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
        return error_response(status, code, "internal error")
    # These messages name files and internal addresses: the log keeps them, the caller
    # gets what it can act on.
    if code == "index_unavailable":
        log.error("search index unavailable: %s", exc)
        return error_response(status, code, "the search index cannot be read right now")
    if code == "broker_unavailable":
        log.error("job not queued: %s", exc)
        return error_response(status, code, "the job queue cannot be reached; try again later")
    return error_response(status, code, str(exc))


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(500, "internal", "internal error")


def install_error_handlers(app: FastAPI) -> None:
    """Route every exception type to its JSON answer."""
    app.add_exception_handler(ApiError, _on_api_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_exception)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(BriefingError, _on_briefing_error)
    app.add_exception_handler(Exception, _on_unexpected)
