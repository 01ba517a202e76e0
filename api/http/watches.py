"""Watches over HTTP: ``POST/GET/DELETE /watches``, ``GET /watches/{id}/hits``, the Atom feed
``GET /watches/{id}/feed.atom``, and ``GET /timeline`` (mentions over time).

Saving and deleting a watch needs the token when one is set (:class:`WriteRoute`); the
lists, the feed and the timeline are reads, open like a search, and never show a secret:
not the signing secret, and without the token (when one is set) not a webhook URL's path
either, which for many receivers is their credential.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal
from urllib.parse import quote, urlsplit
from xml.etree import ElementTree as ET

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from api.http.errors import ApiError
from api.http.ingest import WriteRoute, check_token
from api.http.schemas import HTTP_URL_PATTERN, CalendarDate, ErrorBody
from api.http.services import Services, get_services
from worker.errors import NoSuchWatchError
from worker.storage.watches import Hit, Watch
from worker.watching.saved import MAX_NAME_CHARS, MIN_SECRET_CHARS, add_watch
from worker.watching.timeline import mentions

__all__ = ["atom_feed", "read_router", "write_router"]

ServicesDep = Annotated[Services, Depends(get_services)]
ATOM = "http://www.w3.org/2005/Atom"
# Characters XML 1.0 cannot carry at all (escaping does not help): C0 controls but tab and
# line breaks, lone surrogates, U+FFFE/U+FFFF.  Outside text (titles, transcripts) may hold them.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")

write_router = APIRouter(route_class=WriteRoute, tags=["watches"])
read_router = APIRouter(tags=["watches"])


class WatchIn(BaseModel):
    """A watch to save."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=MAX_NAME_CHARS)
    query: str = Field(min_length=1, max_length=1000,
                       description='What to watch for, as a search: words and "phrases".')
    source: str = Field("", max_length=200, description="Only this source (any case).")
    language: str = Field("", max_length=20, description="Only clips in this language.")
    clips_only: bool = Field(False, description="Only what is said, not articles.")
    webhook_url: str | None = Field(None, max_length=2048, pattern=HTTP_URL_PATTERN,
                                    description="POST each hit here as signed JSON.")
    secret: str | None = Field(None, min_length=MIN_SECRET_CHARS, max_length=200,
                               description="The webhook's signing secret (default: random, "
                               "returned once).")


class WatchOut(BaseModel):
    """A saved watch (never its secret)."""

    id: str
    name: str
    query: str
    source: str
    language: str
    clips_only: bool
    webhook_url: str = Field(description="Whole only to a caller with the token (when one "
                             "is set); otherwise its scheme and host, then /…")
    created: float = Field(description="Unix time.")
    hits: int = Field(0, description="Hits recorded and not retracted.")
    last_hit: int = Field(0, description="The highest hit id: a reader who saw up to an id "
                          "has unseen hits while this is higher.")


class WatchCreated(WatchOut):
    """A watch just saved: the only answer that carries its webhook secret."""

    secret: str = Field(description="Signs the webhook bodies (empty without a webhook).")


class HitDeliveryOut(BaseModel):
    """Where a hit's webhook stands."""

    state: Literal["pending", "delivered", "failed", "retracted"]
    attempts: int
    error: str


class HitArticleOut(BaseModel):
    """An article linking the hit's video."""

    url: str
    title: str


class HitOut(BaseModel):
    """A clip (or an article) a watch found when it was indexed."""

    id: int
    key: str = Field(description="The idempotency key its webhook carries.")
    watch_id: str
    type: Literal["clip", "article"]
    video_id: str
    article_id: str
    start: float
    end: float
    url: str
    link: str = Field(description="The video URL with a media fragment (#t=start,end).")
    title: str
    text: str
    highlight: str = Field(description="HTML-escaped, only <mark> added.")
    match: str
    articles: list[HitArticleOut]
    created: float
    retracted: float | None
    delivery: HitDeliveryOut | None


class SourceCountOut(BaseModel):
    """One source's counts in an interval."""

    source: str
    clips: int
    articles: int


class BucketOut(BaseModel):
    """One interval of a timeline."""

    start: str
    end: str
    clips: int
    articles: int
    sources: list[SourceCountOut]


class TimelineOut(BaseModel):
    """Mentions over time."""

    query: str
    interval: Literal["day", "week", "month"]
    clips: int
    articles: int
    truncated: bool = Field(description="More results matched than were counted.")
    buckets: list[BucketOut]


def _out(watch: Watch, counts: dict[str, tuple[int, int]]) -> dict[str, Any]:
    hits, last = counts.get(watch.id, (0, 0))
    return {**watch.to_json(), "hits": hits, "last_hit": last}


def _shown_to(request: Request, url: str) -> str:
    """*url* for this caller: whole with the token (or none is set), else its origin only."""
    try:
        check_token(request)
    except ApiError:
        parts = urlsplit(url)
        return f"{parts.scheme}://{parts.netloc}/…" if url else ""
    return url


def _find(services: Services, watch_id: str) -> Watch:
    try:
        return services.watches.find(watch_id)
    except NoSuchWatchError:
        raise ApiError(404, "not_found", "no such watch") from None


_INVALID: dict[int | str, dict[str, Any]] = {
    422: {"model": ErrorBody, "description": "A parameter is out of range or malformed."},
}
_WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "Missing or wrong token (when one is set)."},
    **_INVALID,
}


@write_router.post(
    "/watches",
    status_code=201,
    response_model=WatchCreated,
    summary="Save a watch: every video or article indexed from now on is matched against it",
    responses={
        400: {"model": ErrorBody, "description": "The query cannot be read, or the webhook "
              "URL is refused (a non-public address, an unusual port)."},
        409: {"model": ErrorBody, "description": "A watch by that name exists."},
        422: {"model": ErrorBody, "description": "A field is missing or malformed."},
        **_WRITE_ERRORS,
    },
)
def post_watch(body: WatchIn, services: ServicesDep, response: Response) -> WatchCreated:
    """Save a watch; with a webhook, its signing secret is in this answer and nowhere else."""
    watch = add_watch(services.watches, services.fetch_limits, body.name, body.query,
                      source=body.source, language=body.language, clips_only=body.clips_only,
                      webhook_url=body.webhook_url or "", secret=body.secret or "")
    response.headers["Location"] = f"/watches/{watch.id}/hits"
    return WatchCreated.model_validate({**_out(watch, {}), "secret": watch.secret})


@write_router.delete(
    "/watches/{watch_id}",
    status_code=204,
    summary="Delete a watch with its hits",
    responses={404: {"model": ErrorBody, "description": "No such watch."}, **_WRITE_ERRORS},
)
def delete_watch(watch_id: str, services: ServicesDep) -> Response:
    """Delete the watch (by id or name), its hits and its pending webhooks."""
    services.watches.remove(_find(services, watch_id).id)
    return Response(status_code=204)


@read_router.get("/watches", response_model=list[WatchOut], summary="Every watch")
def get_watches(services: ServicesDep, request: Request) -> list[WatchOut]:
    """Every watch, oldest first, with its number of hits and its highest hit id."""
    counts = services.watches.hit_counts(services.data.hidden())
    return [WatchOut.model_validate({**_out(w, counts),
                                     "webhook_url": _shown_to(request, w.webhook_url)})
            for w in services.watches.watches()]


@read_router.get(
    "/watches/{watch_id}/hits",
    response_model=list[HitOut],
    summary="A watch's hits, newest first, with their webhook deliveries",
    responses={404: {"model": ErrorBody, "description": "No such watch."}, **_INVALID},
)
def get_hits(
    watch_id: str,
    services: ServicesDep,
    after: Annotated[int, Query(ge=0, description="Only hits with a higher id (the unseen "
                                "ones of a reader who saw up to this id).")] = 0,
    retracted: Annotated[bool, Query(description="Also hits a re-index retracted.")] = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[HitOut]:
    """The hits (clips said, articles written) of one watch."""
    watch = _find(services, watch_id)
    return [HitOut.model_validate(h.to_json())
            for h in services.watches.hits(watch, retracted=retracted, after=after,
                                           limit=limit, hidden=services.data.hidden())]


def _iso(stamp: float) -> str:
    return dt.datetime.fromtimestamp(stamp, dt.UTC).isoformat(timespec="seconds")


def _page_link(base: str, watch: Watch, hit: Hit) -> str:
    """Where the search page opens the hit: the clip, or a search showing the article."""
    page = f"{base}/?q={quote(watch.query, safe='')}"
    if hit.kind == "clip":
        return f"{page}#clip={hit.video_id},{hit.start:.2f},{hit.end:.2f}"
    return page


def atom_feed(watch: Watch, hits: list[Hit], base: str, self_url: str) -> bytes:
    """An Atom 1.0 feed of *hits*: each entry links to the clip on the page (alternate) and
    to the media fragment (related)."""
    ET.register_namespace("", ATOM)

    def sub(parent: ET.Element, tag: str, text: str | None = None,
            **attrs: str) -> ET.Element:
        node = ET.SubElement(parent, f"{{{ATOM}}}{tag}",
                             {k: _NOT_XML.sub("\ufffd", v) for k, v in attrs.items()})
        if text is not None:
            node.text = _NOT_XML.sub("\ufffd", text)
        return node

    feed = ET.Element(f"{{{ATOM}}}feed")
    sub(feed, "id", f"urn:briefing:watch:{watch.id}")
    sub(feed, "title", f"briefing watch: {watch.name}")
    sub(feed, "subtitle", f"New clips saying {watch.query}")
    sub(feed, "updated", _iso(max((h.updated for h in hits), default=watch.created)))
    sub(feed, "link", rel="self", href=self_url, type="application/atom+xml")
    sub(feed, "link", rel="alternate", href=f"{base}/?q={quote(watch.query, safe='')}",
        type="text/html")
    author = sub(feed, "author")
    sub(author, "name", "briefing")
    for hit in hits:
        entry = sub(feed, "entry")
        sub(entry, "id", f"urn:briefing:hit:{hit.key}")
        where = (f"{hit.start:.1f}–{hit.end:.1f} s" if hit.kind == "clip" else "article")
        sub(entry, "title", f"{hit.title or hit.url} ({where})")
        sub(entry, "updated", _iso(hit.updated))
        sub(entry, "published", _iso(hit.created))
        sub(entry, "link", rel="alternate", href=_page_link(base, watch, hit), type="text/html")
        if hit.kind == "clip":
            sub(entry, "link", rel="related", href=hit.link, title="the video at the clip")
        sub(entry, "summary", hit.text or hit.title)
    return bytes(ET.tostring(feed, encoding="utf-8", xml_declaration=True))


@read_router.get(
    "/watches/{watch_id}/feed.atom",
    response_class=Response,
    summary="A watch's hits as an Atom feed",
    responses={200: {"content": {"application/atom+xml": {}}},
               404: {"model": ErrorBody, "description": "No such watch."}, **_INVALID},
)
def get_feed(watch_id: str, services: ServicesDep, request: Request) -> Response:
    """The newest 100 hits as Atom entries linking to the clip and the media fragment."""
    watch = _find(services, watch_id)
    base = str(request.base_url).rstrip("/")
    hits = services.watches.hits(watch, limit=100, hidden=services.data.hidden())
    body = atom_feed(watch, hits, base,
                     f"{base}/watches/{watch.id}/feed.atom")
    return Response(body, media_type="application/atom+xml; charset=utf-8")


@read_router.get(
    "/timeline",
    response_model=TimelineOut,
    summary="Mentions over time: clips that said it and articles that wrote it, by source",
    responses={
        400: {"model": ErrorBody, "description": "The query cannot be understood, too "
              "many intervals, or from is after to."},
        422: {"model": ErrorBody, "description": "A parameter is out of range or malformed."},
        503: {"model": ErrorBody, "description": "The index cannot be read right now."},
    },
)
def get_timeline(
    services: ServicesDep,
    q: Annotated[str, Query(min_length=1, max_length=1000,
                            description='Words (all required) and "quoted phrases".')],
    interval: Annotated[Literal["day", "week", "month"], Query()] = "day",
    source: Annotated[str | None, Query(max_length=200, description="Only this source.")] = None,
    date_from: Annotated[CalendarDate | None, Query(alias="from",
                                                    description="From (YYYY-MM-DD).")] = None,
    date_to: Annotated[CalendarDate | None, Query(alias="to",
                                                  description="To (YYYY-MM-DD).")] = None,
) -> TimelineOut:
    """Per interval, how many clips said *q* and how many articles wrote it, by source (a
    clip counts on the date of each article linking it, else the day it was indexed)."""
    found = mentions(services.index.search_page, services.data, q, interval=interval,
                     source=source,
                     date_from=date_from.isoformat() if date_from else None,
                     date_to=date_to.isoformat() if date_to else None)
    return TimelineOut.model_validate(found.to_json())
