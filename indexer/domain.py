"""Domain types shared by every room: articles, videos, transcripts and clips.

They are frozen dataclasses so that a value read from the index or the data dir
cannot be changed behind another reader's back.  JSON conversion lives here too,
because the JSON files in the data dir are the system of record.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Word:
    """One recognised word with its time span in seconds."""

    word: str
    start: float
    end: float
    probability: float = 1.0


@dataclass(frozen=True)
class Segment:
    """A stretch of speech as faster-whisper returns it, with its words."""

    id: int
    start: float
    end: float
    text: str
    words: tuple[Word, ...] = ()


@dataclass(frozen=True)
class Transcript:
    """Everything said in one video, with the model that heard it."""

    video_id: str
    language: str
    duration: float
    model: str
    model_version: str
    segments: tuple[Segment, ...]
    language_probability: float = 1.0
    options: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """Plain JSON-ready dict (the on-disk format)."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Transcript:
        """Inverse of :meth:`to_json`."""
        segments = tuple(
            Segment(
                id=int(s["id"]),
                start=float(s["start"]),
                end=float(s["end"]),
                text=str(s["text"]),
                words=tuple(Word(**w) for w in s.get("words", ())),
            )
            for s in data["segments"]
        )
        return cls(
            video_id=str(data["video_id"]),
            language=str(data["language"]),
            duration=float(data["duration"]),
            model=str(data["model"]),
            model_version=str(data["model_version"]),
            segments=segments,
            language_probability=float(data.get("language_probability", 1.0)),
            options=dict(data.get("options", {})),
        )


@dataclass(frozen=True)
class Article:
    """A news article: its metadata, its main text and the videos it links."""

    id: str
    url: str
    title: str
    text: str
    source: str = ""
    author: str = ""
    published: str = ""  # ISO date "YYYY-MM-DD", or "" when unknown
    video_urls: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """Plain JSON-ready dict (the on-disk format)."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Article:
        """Inverse of :meth:`to_json`."""
        fields = dict(data)
        fields["video_urls"] = tuple(fields.get("video_urls", ()))
        return cls(**fields)


@dataclass(frozen=True)
class ArticleRef:
    """The part of an article a clip shows, and what clip filters look at."""

    url: str
    title: str
    source: str = ""
    published: str = ""


@dataclass(frozen=True)
class Clip:
    """A time-coded stretch of one video that answers a query."""

    score: float
    video_id: str
    video_url: str
    start: float
    end: float
    text: str
    highlight: str  # HTML-escaped text, only <mark> added
    articles: tuple[ArticleRef, ...] = ()
    match: str = "exact"
    # The whole sentence the clip starts in, to its end, marked and escaped like highlight
    # (empty: the same as highlight).
    context: str = ""
    # A phonetic match: the words heard where the query's sounded, and how alike they
    # sound, 0 to 1 (None for other matches).
    heard: str = ""
    similarity: float | None = None

    @property
    def link(self) -> str:
        """Media-fragment URL that opens the video at the clip."""
        return f"{self.video_url}#t={self.start:.1f},{self.end:.1f}"

    def to_json(self) -> dict[str, Any]:
        """The clip as a search result object (CLI ``--json`` and HTTP API)."""
        return {
            "type": "clip",
            "score": self.score,
            "video_id": self.video_id,
            "video_url": self.video_url,
            "start": self.start,
            "end": self.end,
            "text": self.text,
            "highlight": self.highlight,
            "context": self.context or self.highlight,
            "link": self.link,
            "articles": [{"url": a.url, "title": a.title} for a in self.articles],
            # "exact", or "phonetic"/"fuzzy" when the words only sound like the query's.
            "match": self.match,
            # For a phonetic match: what was heard, and how alike it sounds (0-1).
            "heard": self.heard,
            "sounds_like": self.similarity,
        }


@dataclass(frozen=True)
class ArticleHit:
    """An article whose own text answers a query."""

    score: float
    article_id: str
    url: str
    title: str
    source: str
    published: str
    highlight: str

    def to_json(self) -> dict[str, Any]:
        """The article as a search result object (CLI ``--json`` and HTTP API)."""
        return {
            "type": "article",
            "score": self.score,
            "url": self.url,
            "title": self.title,
            "source": self.source,
            "published": self.published,
            "highlight": self.highlight,
        }


SearchResult = Clip | ArticleHit


@dataclass(frozen=True)
class SearchPage:
    """One page of ranked results and how many documents matched in all."""

    results: list[SearchResult]
    total: int
    # False when at least ``total`` documents match: the PostgreSQL index stops counting a
    # common word's matches at a thousand (counting them all reads every matching row).
    total_exact: bool = True
    # Something the searcher should know about the index (how to upgrade it), or "".
    notice: str = ""
