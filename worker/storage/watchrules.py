"""The rules both watch stores (SQLite, PostgreSQL) follow, kept in one place.

Which recorded hit a new match *is* (overlap), what a re-evaluation changes (an update, a
restore, a new hit, a retraction), how a stored row becomes a domain object, and what a
takedown in progress hides.  The stores only turn these decisions into their own SQL.
"""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

from worker.errors import NoSuchWatchError, WatchExistsError
from worker.storage.datadir import Hidden
from worker.watching.domain import DeliveryState, Hit, HitKind, Match, Watch

__all__ = [
    "NOTHING_HIDDEN",
    "STORED_HIT_SELECT",
    "RecordPlan",
    "Row",
    "StoredHit",
    "StoredWatch",
    "articles_json",
    "clip_key",
    "failed_attempt_state",
    "hidden_items",
    "hit_from_row",
    "new_watch_id",
    "no_such_watch",
    "overlaps",
    "plan_record",
    "stored_hit_from_row",
    "stored_watches",
    "unlinked",
    "watch_exists",
    "watch_from_row",
    "watch_secret",
    "withdrawn_items",
]

NOTHING_HIDDEN = Hidden()


class Row(Protocol):
    """A stored row read by column name: an ``sqlite3.Row`` or a psycopg dict row."""

    def keys(self) -> Iterable[str]: ...

    def __getitem__(self, key: str, /) -> Any: ...


def new_watch_id() -> str:
    """A new watch's id: short enough to type, random enough never to repeat."""
    return uuid.uuid4().hex[:12]


def watch_secret(webhook_url: str, secret: str) -> str:
    """The secret a new watch signs its webhooks with: the one given, else a fresh one when
    it has a webhook, else none."""
    return secret or (secrets.token_hex(32) if webhook_url else "")


def watch_exists(name: str) -> WatchExistsError:
    """The error for a new watch whose *name* another watch has."""
    return WatchExistsError(f"a watch named {name!r} exists already")


def no_such_watch(name_or_id: str) -> NoSuchWatchError:
    """The error for a watch looked up by a name or id that no watch has."""
    return NoSuchWatchError(f"no watch named {name_or_id!r}")


def failed_attempt_state(retry_at: float | None) -> DeliveryState:
    """A delivery's state after a failed attempt: due again when a retry time is set,
    failed for good when not."""
    return DeliveryState.PENDING if retry_at is not None else DeliveryState.FAILED


def watch_from_row(row: Row) -> Watch:
    """A ``watches`` row as a :class:`Watch`."""
    return Watch(id=row["id"], name=row["name"], query=row["query"], source=row["source"],
                 language=row["language"], clips_only=bool(row["clips_only"]),
                 webhook_url=row["webhook_url"], secret=row["secret"], created=row["created"])


def hit_from_row(row: Row) -> Hit:
    """A ``watch_hits`` row (joined with its delivery's ``state``, ``attempts`` and ``error``
    when it has those columns) as a :class:`Hit`."""
    # keys(): `in` on an sqlite3.Row looks among its values.
    state = row["state"] if "state" in row.keys() else None  # noqa: SIM118
    articles = row["articles"]
    if isinstance(articles, str | bytes):  # SQLite keeps JSON text; PostgreSQL jsonb, decoded
        articles = json.loads(articles)
    return Hit(id=int(row["id"]), key=row["key"], watch_id=row["watch_id"],
               kind=HitKind(row["kind"]), video_id=row["video_id"],
               article_id=row["article_id"], start=row["start"], end=row["end"],
               url=row["url"], title=row["title"], text=row["text"],
               highlight=row["highlight"], match=row["match"],
               articles=tuple((u, t) for u, t in articles),
               created=row["created"], updated=row["updated"], retracted=row["retracted"],
               delivery=DeliveryState(state) if state else None,
               attempts=row["attempts"] if state else 0,
               error=row["error"] if state else "")


@dataclass(frozen=True)
class StoredHit:
    """A hit as its store keeps it, with the parts of its delivery a :class:`Hit` leaves
    out (what ``briefing transfer`` copies and compares)."""

    hit: Hit
    item: str
    clip: str
    next_at: float | None = None  # the delivery's; None: the hit has no delivery
    claimed_until: float = 0.0
    status: int = 0
    delivered: float | None = None


@dataclass(frozen=True)
class StoredWatch:
    """A watch (its id and secret kept) with every hit it recorded, by hit id."""

    watch: Watch
    hits: tuple[StoredHit, ...]


# Every column a StoredHit needs, in both stores' SQL (``end`` quoted for PostgreSQL).
STORED_HIT_SELECT = ("SELECT h.*, d.state, d.attempts, d.error, d.next_at, d.claimed_until,"
                     " d.status, d.delivered FROM watch_hits h"
                     " LEFT JOIN watch_deliveries d ON d.hit_id = h.id")


def stored_hit_from_row(row: Row) -> StoredHit:
    """A row of :data:`STORED_HIT_SELECT` as a :class:`StoredHit`."""
    has = row["state"] is not None
    return StoredHit(hit=hit_from_row(row), item=row["item"], clip=row["clip"],
                     next_at=float(row["next_at"]) if has else None,
                     claimed_until=float(row["claimed_until"]) if has else 0.0,
                     status=int(row["status"]) if has else 0,
                     delivered=row["delivered"] if has else None)


def stored_watches(watches: Iterable[Watch], hit_rows: Iterable[Row]) -> list[StoredWatch]:
    """*watches* (in their order) with their hits, from rows of :data:`STORED_HIT_SELECT`
    (in hit id order)."""
    hits: dict[str, list[StoredHit]] = {}
    for row in hit_rows:
        hits.setdefault(row["watch_id"], []).append(stored_hit_from_row(row))
    return [StoredWatch(watch, tuple(hits.get(watch.id, ()))) for watch in watches]


def articles_json(match: Match) -> str:
    """A match's linking articles as the stores keep them (a JSON list of [url, title])."""
    return json.dumps([list(a) for a in match.articles])


def clip_key(match: Match) -> str:
    """The clip part of a hit's unique key (watch, item, clip): its bounds when first found."""
    return f"{match.start:.2f}-{match.end:.2f}"


def hidden_items(hidden: Hidden) -> tuple[str, ...]:
    """The item keys (``v:<id>``, ``a:<id>``) of what *hidden* leaves out."""
    return (*(f"v:{v}" for v in sorted(hidden.video_ids)),
            *(f"a:{a}" for a in sorted(hidden.article_ids)))


def withdrawn_items(video_ids: Sequence[str], article_ids: Sequence[str]) -> list[str]:
    """The item keys of the videos and articles a takedown removes."""
    return [f"v:{v}" for v in video_ids] + [f"a:{a}" for a in article_ids]


def unlinked(hit: Hit, hidden: Hidden) -> Hit:
    """*hit* without the articles being taken down among those linking its clip."""
    if not hidden.article_urls or not any(u in hidden.article_urls for u, _ in hit.articles):
        return hit
    kept = tuple((u, t) for u, t in hit.articles if u not in hidden.article_urls)
    return replace(hit, articles=kept, title=kept[0][1] if kept else "")


def overlaps(a_start: float, a_end: float, b_start: float, b_end: float) -> bool:
    """Whether two clips share time (or are the same zero-length instant)."""
    return (a_start < b_end and b_start < a_end) or (a_start, a_end) == (b_start, b_end)


def _unchanged(hit: Hit, match: Match) -> bool:
    return ((hit.start, hit.end, hit.url, hit.title, hit.text, hit.highlight, hit.match,
             hit.articles)
            == (match.start, match.end, match.url, match.title, match.text, match.highlight,
                match.match, match.articles))


@dataclass(frozen=True)
class RecordPlan:
    """What recording one watch's matches in one item changes, in the order to apply it."""

    # Each match to write, in the order found: with the recorded hit it *is* (to update, or
    # to restore when it was retracted), or with None for a new hit.
    writes: tuple[tuple[Match, Hit | None], ...] = ()
    # Live hits of the item that no match covers any more.
    retract: tuple[Hit, ...] = ()


def plan_record(matches: Sequence[Match], recorded: Sequence[Hit]) -> RecordPlan:
    """Pair what a watch found in an item now with what was recorded for it before.

    A match overlapping a recorded hit (live or retracted) not yet paired *is* that hit;
    found again exactly as it was, it is left untouched (its feed entry's ``updated`` does
    not move, so feed readers do not show it again).  A recorded live hit no match pairs
    with is retracted.
    """
    kept: set[int] = set()
    writes: list[tuple[Match, Hit | None]] = []
    for found in matches:
        same = next((h for h in recorded if h.id not in kept
                     and overlaps(found.start, found.end, h.start, h.end)), None)
        if same is None:
            writes.append((found, None))
            continue
        kept.add(same.id)
        if same.retracted is None and _unchanged(same, found):
            continue
        writes.append((found, same))
    return RecordPlan(writes=tuple(writes),
                      retract=tuple(h for h in recorded
                                    if h.id not in kept and h.retracted is None))
