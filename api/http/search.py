"""``GET /search`` (clips and articles, paged) and ``GET /healthz``."""

from __future__ import annotations

import logging
import os
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse

from api.http.errors import error_response
from api.http.schemas import (
    ArticleInfo,
    ArticleResult,
    CalendarDate,
    ClipResult,
    ErrorBody,
    HealthCheck,
    HealthOut,
    SearchResponse,
    SearchResultOut,
)
from api.http.services import Services, article_info, get_services
from indexer.domain import ArticleHit, Clip, SearchResult
from indexer.errors import BriefingError
from worker.storage.interfaces import Records

__all__ = ["healthz", "router", "search"]

ServicesDep = Annotated[Services, Depends(get_services)]
MAX_OFFSET = 10_000
BROKER_CHECK_TIMEOUT = 2.0
DATABASE_CHECK_TIMEOUT = 2.0
WORKER_PING_TIMEOUT = 1.0
log = logging.getLogger("briefing.http")

router = APIRouter(tags=["search"])


def _to_out(result: SearchResult) -> SearchResultOut:
    if isinstance(result, Clip):
        return ClipResult.model_validate(result.to_json())
    return ArticleResult.model_validate(result.to_json())


def _articles_of(results: list[SearchResult], data: Records) -> list[ArticleInfo]:
    """Every article a result comes from or is, once each, in order of first mention."""
    seen: dict[str, ArticleInfo] = {}
    for result in results:
        if isinstance(result, ArticleHit):
            refs = [(result.url, result.title)]
        else:
            refs = [(a.url, a.title) for a in result.articles]
        for url, title in refs:
            if url not in seen:
                seen[url] = article_info(data, url, title)
    return list(seen.values())


@router.get(
    "/search",
    response_model=SearchResponse,
    summary="Search what was said (clips) and written (articles)",
    responses={
        400: {"model": ErrorBody, "description": "The query cannot be understood."},
        422: {"model": ErrorBody, "description": "A parameter is out of range or malformed."},
        503: {"model": ErrorBody, "description": "The index cannot be read right now."},
    },
)
def search(
    services: ServicesDep,
    q: Annotated[str, Query(min_length=1,
                            description='Words (all required) and "quoted phrases".')],
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    kind: Annotated[Literal["clip", "article"] | None,
                    Query(alias="type", description="Only clips or only articles.")] = None,
    source: Annotated[str | None, Query(max_length=200,
                                        description="Only from this source (any case).")] = None,
    published_from: Annotated[CalendarDate | None,
                              Query(description="Published on or after (YYYY-MM-DD).")] = None,
    published_to: Annotated[CalendarDate | None,
                            Query(description="Published on or before (YYYY-MM-DD).")] = None,
    language: Annotated[str | None, Query(max_length=16,
                                          description="Only clips in this language.")] = None,
) -> SearchResponse:
    """Clips and articles ranked together, best first: the objects ``briefing search --json``
    prints, with the total, paging, and the articles the results come from."""
    # Items of a takedown in progress are left out from the moment it is recorded.
    hidden = services.data.hidden()
    page = services.index.search_page(
        q, limit=limit, offset=offset, kind=kind, source=source or None,
        published_from=published_from.isoformat() if published_from else None,
        published_to=published_to.isoformat() if published_to else None,
        language=language or None, hidden_videos=hidden.video_ids,
        hidden_articles=hidden.article_ids, hidden_links=hidden.article_urls,
    )
    following = offset + limit
    return SearchResponse(
        query=q, total=page.total, total_exact=page.total_exact, limit=limit, offset=offset,
        next_offset=following if following < page.total else None,
        results=[_to_out(r) for r in page.results],
        articles=_articles_of(page.results, services.data),
        notice=page.notice,
    )


def _check_data_dir(services: Services) -> HealthCheck:
    root = services.data.root
    if not root.is_dir():
        return HealthCheck(ok=False, detail="missing")
    if not os.access(root, os.W_OK):
        return HealthCheck(ok=False, detail="not writable")
    return HealthCheck(ok=True, detail="writable")


def _check_index(services: Services) -> HealthCheck:
    try:
        count = services.index.doc_count()
    except BriefingError:
        return HealthCheck(ok=False, detail="cannot be read (see the server log)")
    return HealthCheck(ok=True, detail=f"{count} documents")


def _check_workers(services: Services) -> HealthCheck:
    # Celery's own ping, answered by each worker's main process: a worker whose pool is busy
    # transcribing still answers, one that exited (or never started) does not.
    from worker.queue.config import workers_answering

    try:
        names = workers_answering(services.settings, timeout=WORKER_PING_TIMEOUT)
    except BriefingError:
        return HealthCheck(ok=False, detail="cannot ask: the broker is unreachable")
    if not names:
        return HealthCheck(ok=False, detail="no worker answered: queued jobs will wait")
    return HealthCheck(ok=True, detail=f"{len(names)} worker(s) answered")


def _check_broker(services: Services) -> HealthCheck:
    url = services.settings.broker_url
    if not url:
        return HealthCheck(ok=True, detail="not configured: jobs run in this process")
    from worker.queue.config import broker_problem

    problem = broker_problem(url, timeout=BROKER_CHECK_TIMEOUT)
    if problem is not None:
        log.warning("health check: %s", problem)  # names the broker's address: log only
        return HealthCheck(ok=False, detail="unreachable")
    return HealthCheck(ok=True, detail="reachable")


@router.get(
    "/healthz",
    response_model=HealthOut,
    summary="Whether the index, the data dir and the broker work",
    responses={503: {"model": HealthOut | ErrorBody,
                     "description": "Something is down (the database: an error body)."}},
)
def healthz(services: ServicesDep) -> JSONResponse:
    """200 when every part works, 503 (same body) when one does not; 503 with an error body
    when the database (BRIEFING_DATABASE_URL) does not answer, since nothing else can."""
    from worker.storage.stores import database_problem

    problem = database_problem(services.settings, timeout=DATABASE_CHECK_TIMEOUT)
    if problem is not None:
        log.warning("health check: %s", problem)  # names the database's address: log only
        return error_response(503, "database_unavailable",
                              "the database does not answer (see the server log)")
    checks = {
        "index": _check_index(services),
        "data_dir": _check_data_dir(services),
        "broker": _check_broker(services),
    }
    if services.settings.database_url is not None:
        checks["database"] = HealthCheck(ok=True, detail="answers")
    if services.settings.broker_url and checks["broker"].ok:
        checks["workers"] = _check_workers(services)
    if services.worker is not None:
        alive = services.worker.alive
        checks["worker"] = HealthCheck(
            ok=alive, detail=f"in process, {services.worker.pending} job(s) waiting"
            if alive else "the in-process worker is not running")
    ok = all(c.ok for c in checks.values())
    body = HealthOut(status="ok" if ok else "unavailable", checks=checks)
    return JSONResponse(body.model_dump(), status_code=200 if ok else 503)
