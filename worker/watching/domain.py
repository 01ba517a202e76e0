"""The watches' domain: a watch (saved search), a match it found, a recorded hit with its
webhook delivery.  Frozen dataclasses and enums; imports nothing of ours."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

__all__ = ["Delivery", "DeliveryState", "Hit", "HitKind", "Match", "Recorded", "Watch",
           "item_key"]


class HitKind(StrEnum):
    """What a hit points at."""

    CLIP = "clip"
    ARTICLE = "article"


class DeliveryState(StrEnum):
    """Where a hit's webhook stands."""

    PENDING = "pending"  # due at next_at (first try, or a retry after a failure)
    DELIVERED = "delivered"  # the receiver answered 2xx; never sent again
    FAILED = "failed"  # every attempt failed: shown in `watch hits`, retried on request
    RETRACTED = "retracted"  # the hit was retracted before it was delivered (or after it failed)


@dataclass(frozen=True)
class Watch:
    """A saved search."""

    id: str
    name: str
    query: str
    source: str = ""
    language: str = ""
    clips_only: bool = False
    webhook_url: str = ""
    secret: str = ""  # signs the webhook bodies; never shown after creation
    created: float = 0.0

    def to_json(self, *, with_secret: bool = False) -> dict[str, Any]:
        """The watch as the API and ``--json`` show it (the secret only when asked)."""
        out: dict[str, Any] = {
            "id": self.id, "name": self.name, "query": self.query, "source": self.source,
            "language": self.language, "clips_only": self.clips_only,
            "webhook_url": self.webhook_url, "created": self.created,
        }
        if with_secret:
            out["secret"] = self.secret
        return out


@dataclass(frozen=True)
class Match:
    """One thing a watch found in an item, before it is recorded."""

    kind: HitKind
    video_id: str = ""
    article_id: str = ""
    start: float = 0.0
    end: float = 0.0
    url: str = ""  # the video's URL (a clip) or the article's
    title: str = ""  # the linking article's title (a clip) or the article's
    text: str = ""
    highlight: str = ""
    match: str = "exact"
    articles: tuple[tuple[str, str], ...] = ()  # (url, title) of the linking articles


def item_key(match: Match) -> str:
    """The item a match belongs to: ``v:<video_id>`` or ``a:<article_id>``."""
    return f"v:{match.video_id}" if match.kind is HitKind.CLIP else f"a:{match.article_id}"


@dataclass(frozen=True)
class Hit:
    """A recorded match of a watch, with its webhook delivery (if the watch has a webhook)."""

    id: int
    key: str  # the idempotency key sent with its webhook
    watch_id: str
    kind: HitKind
    video_id: str
    article_id: str
    start: float
    end: float
    url: str
    title: str
    text: str
    highlight: str
    match: str
    articles: tuple[tuple[str, str], ...]
    created: float
    updated: float
    retracted: float | None
    delivery: DeliveryState | None = None
    attempts: int = 0
    error: str = ""

    @property
    def link(self) -> str:
        """The media fragment of a clip (``URL#t=start,end``); an article's URL."""
        if self.kind is HitKind.CLIP:
            return f"{self.url}#t={self.start:.1f},{self.end:.1f}"
        return self.url

    def to_json(self) -> dict[str, Any]:
        """The hit as the API, the webhook and ``--json`` show it."""
        return {
            "id": self.id, "key": self.key, "watch_id": self.watch_id, "type": str(self.kind),
            "video_id": self.video_id, "article_id": self.article_id,
            "start": self.start, "end": self.end, "url": self.url, "link": self.link,
            "title": self.title, "text": self.text, "highlight": self.highlight,
            "match": self.match,
            "articles": [{"url": u, "title": t} for u, t in self.articles],
            "created": self.created, "retracted": self.retracted,
            "delivery": None if self.delivery is None else {
                "state": str(self.delivery), "attempts": self.attempts, "error": self.error},
        }


@dataclass(frozen=True)
class Recorded:
    """What one evaluation of an item changed."""

    new: tuple[Hit, ...] = ()
    retracted: tuple[Hit, ...] = ()
    # Hit ids of the item whose webhooks are pending: the new ones, and any an earlier
    # evaluation left unsent (its runner could not hand them on, e.g. the broker was down).
    deliveries: tuple[int, ...] = ()


@dataclass(frozen=True)
class Delivery:
    """A webhook due to be sent: the hit, its watch, and how many tries came before."""

    hit: Hit
    watch: Watch
    attempts: int
