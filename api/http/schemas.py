"""The HTTP API's request and response models: the OpenAPI schema is built from these.

Search results mirror ``Clip.to_json()`` and ``ArticleHit.to_json()`` field for field (and in
the same order), so the API and ``briefing search --json`` print the same objects.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

__all__ = [
    "HTTP_URL_PATTERN",
    "ArticleInfo",
    "ArticleLink",
    "ArticleListItem",
    "ArticlePage",
    "ArticleRefOut",
    "ArticleResult",
    "CalendarDate",
    "ClipResult",
    "ErrorBody",
    "HealthCheck",
    "HealthOut",
    "IngestRequest",
    "JobAccepted",
    "JobOut",
    "JobVideoOut",
    "RemovalOut",
    "RetranscribeAccepted",
    "RetranscribeRequest",
    "SearchResponse",
    "SegmentOut",
    "TranscriptOut",
    "TranscriptSummary",
    "TranscriptVersionOut",
    "VideoListItem",
    "VideoOut",
    "VideoPage",
    "VideoSource",
    "WordOut",
]


_YYYY_MM_DD = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _yyyy_mm_dd(value: object) -> object:
    """Let only ``YYYY-MM-DD`` through: pydantic alone also reads "0" or "-7.4e-88" as a Unix
    time and "2026-11-20T00:00:00" as a date, none of which the schema's ``format: date`` is."""
    if isinstance(value, date) or (isinstance(value, str) and _YYYY_MM_DD.fullmatch(value)):
        return value
    raise ValueError("must be a date written YYYY-MM-DD")


CalendarDate = Annotated[date, BeforeValidator(_yyyy_mm_dd)]
"""A date parameter: ``YYYY-MM-DD`` exactly, as the schema's ``format: date`` says."""

# What the schema can say of an article URL; the validator also wants a host.
HTTP_URL_PATTERN = r"^\s*[Hh][Tt][Tt][Pp][Ss]?://"


class ErrorBody(BaseModel):
    """Every error response."""

    error: str = Field(description="A short code: bad_query, not_found, unauthorized, "
                       "body_too_large, invalid_parameters, range_not_satisfiable, "
                       "broker_unavailable, busy, index_unavailable, internal...")
    detail: str = Field(description="What went wrong, in one line.")


# -- ingest and jobs ---------------------------------------------------------------------------


class IngestRequest(BaseModel):
    """An article to ingest: its URL, and optionally its HTML (then nothing is fetched)."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(max_length=4096, pattern=HTTP_URL_PATTERN,
                     description="The article's http(s) URL. With `html` it is only used to "
                     "resolve relative links.",
                     examples=["https://news.example.org/2026/11/20/storm"])
    html: str | None = Field(None, description="The article's HTML, when the caller already "
                             "has it.")

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value.strip())
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an absolute http(s) URL")
        return value.strip()


class JobAccepted(BaseModel):
    """A job was created; poll ``status_url`` for its progress."""

    job_id: str
    state: str = Field(description="queued")
    status_url: str = Field(description="Where to read the job, e.g. /jobs/<job_id>.")


class JobVideoOut(BaseModel):
    """One video of a job."""

    url: str
    state: str = Field(description="queued, downloading, transcribing, indexing, done or failed")
    progress: float = Field(description="Share of the audio transcribed, 0 to 1.")
    attempts: int
    error: str
    video_id: str
    started: float | None = Field(description="Unix time.")
    finished: float | None = Field(description="Unix time.")
    stalled: bool = Field(False, description="Queued job: the broker holds no message for "
                          "this unfinished video (it lost its queue); resume the job.")


class JobOut(BaseModel):
    """An ingest job and each of its videos."""

    id: str
    source: str
    state: str = Field(description="queued, running, done or failed; interrupted (an inline "
                       "run that died) or stalled (a queued job the broker lost) are shown, "
                       "never stored")
    article_id: str
    title: str
    error: str = Field(description="Why the job failed (the article could not be read).")
    created: float = Field(description="Unix time.")
    updated: float = Field(description="Unix time.")
    videos: list[JobVideoOut]
    runner: str = Field("", description="queue, or inline and the run that runs it.")


class ResumedOut(BaseModel):
    """What a resume queued again."""

    job_id: str
    article: bool = Field(description="The article's step was queued again.")
    videos: list[str] = Field(description="The videos whose download step was queued again.")


# -- search ------------------------------------------------------------------------------------


class ArticleLink(BaseModel):
    """An article that links a clip's video."""

    url: str
    title: str


class ClipResult(BaseModel):
    """A time-coded stretch of a video that answers the query."""

    type: Literal["clip"]
    score: float
    video_id: str
    video_url: str = Field(description="Where the video was found (it may since be gone; "
                           "/videos/{video_id}/media serves the stored copy).")
    start: float = Field(description="Seconds.")
    end: float = Field(description="Seconds.")
    text: str
    highlight: str = Field(description="The text, HTML-escaped, with only <mark> added.")
    context: str = Field(description="The whole sentence the clip starts in, to the clip's "
                         "end: HTML-escaped, with only <mark> added.")
    link: str = Field(description="video_url with a media fragment, #t=start,end.")
    articles: list[ArticleLink]
    match: str = Field(description='"exact", or "phonetic"/"fuzzy" when the words only '
                       "sound like the query's.")
    heard: str = Field(default="", description="A phonetic match: the words heard where the "
                       "query's sounded (empty otherwise).")
    sounds_like: float | None = Field(default=None, description="A phonetic match: how alike "
                                      "the heard words sound to the query's, 0 to 1.")


class ArticleResult(BaseModel):
    """An article whose own text answers the query."""

    type: Literal["article"]
    score: float
    url: str
    title: str
    source: str
    published: str = Field(description="YYYY-MM-DD, or empty when unknown.")
    highlight: str = Field(description="An excerpt, HTML-escaped, with only <mark> added.")


SearchResultOut = Annotated[ClipResult | ArticleResult, Field(discriminator="type")]


class ArticleInfo(BaseModel):
    """A stored article, for showing results grouped by the article they come from."""

    url: str
    title: str
    source: str
    published: str = Field(description="YYYY-MM-DD, or empty when unknown.")
    excerpt: str = Field(description="The start of the article's text (plain text).")


class SearchResponse(BaseModel):
    """One page of results, ranked best first."""

    query: str
    total: int = Field(description="How many results match in all (at least, when "
                       "total_exact is false).")
    total_exact: bool = Field(True, description="False when more than total results match "
                              "(the PostgreSQL index counts up to 1,000); pages stop there.")
    limit: int
    offset: int
    next_offset: int | None = Field(description="The offset of the next page, or null.")
    results: list[SearchResultOut]
    articles: list[ArticleInfo] = Field(description="Every article that a result on this "
                                        "page comes from or is.")
    notice: str = Field(default="", description="Something to know about the index (how "
                        "to upgrade it for phonetic search), or empty.")


# -- videos ------------------------------------------------------------------------------------


class VideoSource(BaseModel):
    """One URL that served this video, and how processing it went."""

    url: str
    state: str
    error: str


class TranscriptSummary(BaseModel):
    """What the transcript holds, without the text."""

    language: str
    duration: float = Field(description="Seconds.")
    model: str
    segments: int


class VideoOut(BaseModel):
    """A stored video: its bytes, where it was found, who links it, how far it got."""

    video_id: str
    state: str = Field(description="done once indexed; otherwise the latest state of its "
                       "URLs (transcribing, indexing, failed...).")
    error: str = Field(description="The latest failure, when state is failed.")
    sha256: str
    size: int = Field(description="Bytes.")
    container: str
    media_url: str = Field(description="The stored copy, with HTTP range requests.")
    urls: list[str] = Field(description="Every URL that served these bytes.")
    sources: list[VideoSource]
    articles: list[ArticleInfo]
    transcript: TranscriptSummary | None
    versions: list[TranscriptVersionOut] = Field(
        default_factory=list, description="Earlier transcripts, kept when the video was "
        "transcribed again, oldest first.")


class WordOut(BaseModel):
    """A recognised word."""

    word: str
    start: float
    end: float
    probability: float


class SegmentOut(BaseModel):
    """A stretch of speech."""

    id: int
    start: float
    end: float
    text: str
    words: list[WordOut]


class TranscriptOut(BaseModel):
    """A transcript as stored (``format=json``)."""

    video_id: str
    language: str
    duration: float
    model: str
    model_version: str
    segments: list[SegmentOut]
    language_probability: float
    options: dict[str, Any]


# -- health ------------------------------------------------------------------------------------


class HealthCheck(BaseModel):
    """One checked part."""

    ok: bool
    detail: str


class HealthOut(BaseModel):
    """Whether the service can do its work."""

    status: Literal["ok", "unavailable"]
    checks: dict[str, HealthCheck] = Field(description="index, data_dir, broker and, with a "
                                           "broker, workers (answering a ping); without "
                                           "one, worker (the in-process one); with "
                                           "BRIEFING_DATABASE_URL, database.")


# -- browsing, takedown, re-transcription ------------------------------------------------------


class TranscriptVersionOut(BaseModel):
    """A transcript the video had before (kept when it was transcribed again)."""

    version: int = Field(description="1 for the first transcript the video had.")
    model: str
    model_version: str
    language: str
    segments: int
    replaced: float = Field(description="When it stopped being current (Unix time).")


class ArticleRefOut(BaseModel):
    """An article linking a video, as listings show it."""

    url: str
    title: str
    source: str
    published: str


class VideoListItem(BaseModel):
    """A stored video in a listing."""

    video_id: str
    title: str = Field(description="The earliest linking article's title (else the file name).")
    source: str
    published: str = Field(description="The newest linking article's date, YYYY-MM-DD or ''.")
    stored: float = Field(description="When its bytes were first stored (Unix time).")
    duration: float | None = Field(description="Seconds, once transcribed.")
    state: str
    error: str
    language: str
    model: str
    urls: list[str]
    articles: list[ArticleRefOut]


class VideoPage(BaseModel):
    """One page of stored videos, newest first."""

    total: int
    offset: int
    limit: int
    next_offset: int | None
    items: list[VideoListItem]


class ArticleListItem(BaseModel):
    """A stored article in a listing."""

    id: str
    url: str
    title: str
    source: str
    published: str
    stored: float = Field(description="When it was last stored (Unix time).")
    video_ids: list[str]
    languages: list[str]


class ArticlePage(BaseModel):
    """One page of stored articles, newest published first."""

    total: int
    offset: int
    limit: int
    next_offset: int | None
    items: list[ArticleListItem]


class RemovalOut(BaseModel):
    """The audit record of a takedown."""

    id: str
    kind: str = Field(description="article or video")
    target: str
    reason: str
    requested: float = Field(description="Unix time.")
    completed: float | None = Field(description="Unix time; null while unfinished.")
    article_ids: list[str]
    video_ids: list[str] = Field(description="Videos removed with it.")
    kept_videos: list[str] = Field(description="Videos kept: another article links them.")
    by: str


class RetranscribeRequest(BaseModel):
    """Which model to transcribe with again."""

    model_config = ConfigDict(extra="forbid")

    model: str | None = Field(None, max_length=200, description="A Whisper model's name "
                              "(tiny.en, base, small...; not a directory); the server's "
                              "BRIEFING_MODEL when unset.")


class RetranscribeAccepted(BaseModel):
    """A re-transcription was queued (or handed to the server's own worker)."""

    video_id: str
    model: str
    queued: bool = Field(description="True when on the broker's queue.")
    task_id: str = Field(description="The queue's task id; '' in-process.")
