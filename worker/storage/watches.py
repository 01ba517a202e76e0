"""The watch store (SQLite in the data dir): saved searches, their hits and webhook deliveries.

A *watch* is a saved query with filters; a *hit* is one clip of one video (or one article)
that a watch found when the item was indexed; a *delivery* is the webhook POST of one hit.
Every write is one transaction with unique keys, so a re-index, a redelivered task or two
runners evaluating the same video at once record a hit once and queue its webhook once:

* a hit is keyed by (watch, item, clip): an item is ``v:<video_id>`` or ``a:<article_id>``,
  and a new match that overlaps a hit already recorded for that watch and item *is* that
  hit (its bounds and words are brought up to date, nothing new is sent);
* an item evaluated again whose matches no longer cover a hit retracts it (its pending
  webhook is dropped); a later evaluation that finds it again restores it, unsent again;
* a takedown withdraws the hits of the items it removes (:meth:`WatchStore.withdraw`: gone
  with their deliveries, never sent); until it has, the readers and the senders are given
  the data dir's :class:`~worker.storage.datadir.Hidden` and leave those items out, and
  drop the removed articles from the clips of the videos it keeps.

The methods are :class:`~worker.storage.watch_interface.WatchStoreLike`, which the fleet's
store (:mod:`worker.storage.pg.watches`, PostgreSQL) implements too; the rules both follow are
in :mod:`worker.storage.watchrules`, the domain types in :mod:`worker.watching.domain`
(re-exported here).
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from worker.storage.datadir import Hidden
from worker.storage.sqlite import connect, transaction
from worker.storage.watch_interface import WatchStoreLike
from worker.storage.watchrules import (
    NOTHING_HIDDEN,
    STORED_HIT_SELECT,
    StoredWatch,
    articles_json,
    clip_key,
    failed_attempt_state,
    hidden_items,
    hit_from_row,
    new_watch_id,
    no_such_watch,
    plan_record,
    stored_watches,
    unlinked,
    watch_exists,
    watch_from_row,
    watch_secret,
    withdrawn_items,
)
from worker.watching.domain import (
    Delivery,
    DeliveryState,
    Hit,
    HitKind,
    Match,
    Recorded,
    Watch,
    item_key,
)

__all__ = [
    "NOTHING_HIDDEN",
    "Delivery",
    "DeliveryState",
    "Hit",
    "HitKind",
    "Match",
    "Recorded",
    "Watch",
    "WatchStore",
    "item_key",
]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS watches (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    query TEXT NOT NULL,
    source TEXT NOT NULL DEFAULT '',
    language TEXT NOT NULL DEFAULT '',
    clips_only INTEGER NOT NULL DEFAULT 0,
    webhook_url TEXT NOT NULL DEFAULT '',
    secret TEXT NOT NULL DEFAULT '',
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS watch_hits (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL UNIQUE,
    watch_id TEXT NOT NULL REFERENCES watches(id) ON DELETE CASCADE,
    item TEXT NOT NULL,
    clip TEXT NOT NULL,
    kind TEXT NOT NULL,
    video_id TEXT NOT NULL DEFAULT '',
    article_id TEXT NOT NULL DEFAULT '',
    start REAL NOT NULL DEFAULT 0,
    end REAL NOT NULL DEFAULT 0,
    url TEXT NOT NULL DEFAULT '',
    title TEXT NOT NULL DEFAULT '',
    text TEXT NOT NULL DEFAULT '',
    highlight TEXT NOT NULL DEFAULT '',
    match TEXT NOT NULL DEFAULT 'exact',
    articles TEXT NOT NULL DEFAULT '[]',
    created REAL NOT NULL,
    updated REAL NOT NULL,
    retracted REAL,
    UNIQUE (watch_id, item, clip)
);
CREATE INDEX IF NOT EXISTS watch_hits_item ON watch_hits(watch_id, item);
CREATE TABLE IF NOT EXISTS watch_deliveries (
    hit_id INTEGER PRIMARY KEY REFERENCES watch_hits(id) ON DELETE CASCADE,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at REAL NOT NULL,
    claimed_until REAL NOT NULL DEFAULT 0,
    error TEXT NOT NULL DEFAULT '',
    status INTEGER NOT NULL DEFAULT 0,
    delivered REAL
);
CREATE INDEX IF NOT EXISTS watch_deliveries_due ON watch_deliveries(state, next_at);
"""


_HIT_SELECT = ("SELECT h.*, d.state, d.attempts, d.error FROM watch_hits h "
               "LEFT JOIN watch_deliveries d ON d.hit_id = h.id")


def _not_hidden(hidden: Hidden, column: str = "h.item") -> tuple[str, tuple[str, ...]]:
    """An SQL condition (and its arguments) leaving out the items of *hidden*."""
    items = hidden_items(hidden)
    if not items:
        return "1", ()
    return f"{column} NOT IN ({','.join('?' * len(items))})", items


class WatchStore:
    """Watches, hits and deliveries in an SQLite file (WAL); shared by threads and processes
    on one host, like the job store."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._db().executescript(_SCHEMA)

    def _db(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = connect(self.path, foreign_keys=True)
            self._local.db = db
        return db

    @contextlib.contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with transaction(self._db()) as db:
            yield db

    # -- watches ---------------------------------------------------------------------------

    def add(self, name: str, query: str, *, source: str = "", language: str = "",
            clips_only: bool = False, webhook_url: str = "", secret: str = "") -> Watch:
        """Save a new watch (its query already checked); a webhook gets a secret if none is
        given.  Raises :class:`WatchExistsError` for a name in use."""
        watch = Watch(id=new_watch_id(), name=name, query=query, source=source,
                      language=language, clips_only=clips_only, webhook_url=webhook_url,
                      secret=watch_secret(webhook_url, secret), created=time.time())
        try:
            with self._tx() as db:
                db.execute("INSERT INTO watches (id, name, query, source, language, "
                           "clips_only, webhook_url, secret, created) "
                           "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                           (watch.id, watch.name, watch.query, watch.source, watch.language,
                            int(watch.clips_only), watch.webhook_url, watch.secret,
                            watch.created))
        except sqlite3.IntegrityError:
            raise watch_exists(name) from None
        return watch

    def watches(self) -> list[Watch]:
        """Every watch, oldest first."""
        rows = self._db().execute("SELECT * FROM watches ORDER BY created, name")
        return [watch_from_row(row) for row in rows]

    def find(self, name_or_id: str) -> Watch:
        """The watch with this name or id; :class:`NoSuchWatchError` when there is none."""
        row = self._db().execute("SELECT * FROM watches WHERE id=? OR name=? "
                                 "ORDER BY id=? DESC LIMIT 1",
                                 (name_or_id, name_or_id, name_or_id)).fetchone()
        if row is None:
            raise no_such_watch(name_or_id)
        return watch_from_row(row)

    def stored_watches(self) -> list[StoredWatch]:
        """Every watch, oldest first, with all its hits and their deliveries as stored
        (``briefing transfer`` copies them)."""
        rows = self._db().execute(f"{STORED_HIT_SELECT} ORDER BY h.id").fetchall()
        return stored_watches(self.watches(), rows)

    def remove(self, name_or_id: str) -> Watch:
        """Delete a watch with its hits and deliveries."""
        watch = self.find(name_or_id)
        with self._tx() as db:
            db.execute("DELETE FROM watches WHERE id=?", (watch.id,))
        return watch

    # -- hits ------------------------------------------------------------------------------

    def record(self, item: str, found: Sequence[tuple[Watch, Sequence[Match]]]) -> Recorded:
        """Record what each watch found in *item* now (:meth:`WatchStoreLike.record`), in
        one SQLite transaction, hit by hit."""
        now = time.time()
        new: list[int] = []
        retracted: list[int] = []
        due: list[int] = []
        with self._tx() as db:
            for watch, matches in found:
                if db.execute("SELECT 1 FROM watches WHERE id=?", (watch.id,)).fetchone() is None:
                    continue
                rows = db.execute("SELECT * FROM watch_hits "
                                  "WHERE watch_id=? AND item=?", (watch.id, item)).fetchall()
                if not rows and not matches:
                    continue
                self._record_one(db, watch, item, matches, [hit_from_row(r) for r in rows],
                                 now, new, retracted, due)
        return Recorded(new=tuple(self._hits_by_id(new)),
                        retracted=tuple(self._hits_by_id(retracted)), deliveries=tuple(due))

    def _record_one(self, db: sqlite3.Connection, watch: Watch, item: str,
                    matches: Sequence[Match], recorded: list[Hit], now: float,
                    new: list[int], retracted: list[int], due: list[int]) -> None:
        plan = plan_record(matches, recorded)
        for found, same in plan.writes:
            fields = (found.start, found.end, found.url, found.title, found.text,
                      found.highlight, found.match, articles_json(found), now)
            if same is not None:
                db.execute("UPDATE watch_hits SET start=?, end=?, url=?, title=?, text=?, "
                           "highlight=?, match=?, articles=?, updated=?, retracted=NULL "
                           "WHERE id=?", (*fields, same.id))
                if same.retracted is not None:
                    # Said again after a retraction: due again unless it was delivered.
                    changed = db.execute(
                        "UPDATE watch_deliveries SET state=?, next_at=?, claimed_until=0 "
                        "WHERE hit_id=? AND state=?",
                        (DeliveryState.PENDING, now, same.id, DeliveryState.RETRACTED))
                    if changed.rowcount:
                        due.append(same.id)
                continue
            cursor = db.execute(
                "INSERT INTO watch_hits (key, watch_id, item, clip, kind, video_id, "
                "article_id, start, end, url, title, text, highlight, match, articles, "
                "updated, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (uuid.uuid4().hex, watch.id, item, clip_key(found),
                 found.kind, found.video_id, found.article_id, *fields, now))
            hit_id = int(cursor.lastrowid or 0)
            new.append(hit_id)
            if watch.webhook_url:
                db.execute("INSERT INTO watch_deliveries (hit_id, state, next_at) "
                           "VALUES (?, ?, ?)", (hit_id, DeliveryState.PENDING, now))
                due.append(hit_id)
        for hit in plan.retract:
            db.execute("UPDATE watch_hits SET retracted=?, updated=? WHERE id=?",
                       (now, now, hit.id))
            # A failed one too: `retry_failed` must not send a hit no longer said.
            db.execute("UPDATE watch_deliveries SET state=?, claimed_until=0 "
                       "WHERE hit_id=? AND state IN (?, ?)",
                       (DeliveryState.RETRACTED, hit.id, DeliveryState.PENDING,
                        DeliveryState.FAILED))
            retracted.append(hit.id)

    def _hits_by_id(self, ids: Sequence[int]) -> list[Hit]:
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        rows = self._db().execute(f"{_HIT_SELECT} WHERE h.id IN ({marks}) ORDER BY h.id",
                                  tuple(ids))
        return [hit_from_row(row) for row in rows]

    def hit(self, hit_id: int) -> Hit | None:
        """One hit, or None."""
        found = self._hits_by_id([hit_id])
        return found[0] if found else None

    def hits(self, watch: Watch, *, retracted: bool = False, after: int = 0,
             limit: int = 1000, hidden: Hidden = NOTHING_HIDDEN) -> list[Hit]:
        """A watch's hits, newest first (:meth:`WatchStoreLike.hits`)."""
        unhidden, items = _not_hidden(hidden)
        where = (f"h.watch_id=? AND h.id>? AND {unhidden}"
                 + ("" if retracted else " AND h.retracted IS NULL"))
        rows = self._db().execute(f"{_HIT_SELECT} WHERE {where} ORDER BY h.id DESC LIMIT ?",
                                  (watch.id, after, *items, limit))
        return [unlinked(hit_from_row(row), hidden) for row in rows]

    def hit_counts(self, hidden: Hidden = NOTHING_HIDDEN) -> dict[str, tuple[int, int]]:
        """Per watch id: live hits, and the highest hit id (0 when none); nothing of
        *hidden*."""
        unhidden, items = _not_hidden(hidden, "item")
        rows = self._db().execute("SELECT watch_id, COUNT(*) AS n, MAX(id) AS last "
                                  f"FROM watch_hits WHERE retracted IS NULL AND {unhidden} "
                                  "GROUP BY watch_id", items)
        return {row["watch_id"]: (row["n"], row["last"] or 0) for row in rows}

    def withdraw(self, video_ids: Sequence[str], article_ids: Sequence[str]) -> int:
        """Delete every hit of these videos and articles (being taken down) with its
        delivery, sent or not: a pending webhook of theirs is never sent.  How many."""
        items = withdrawn_items(video_ids, article_ids)
        if not items:
            return 0
        with self._tx() as db:
            gone = db.execute(f"DELETE FROM watch_hits WHERE item IN "
                              f"({','.join('?' * len(items))})", items)
            return int(gone.rowcount)

    # -- deliveries ------------------------------------------------------------------------

    def claim(self, hit_id: int | None = None, *, lease: float = 120.0,
              now: float | None = None, limit: int = 50,
              hidden: Hidden = NOTHING_HIDDEN) -> list[Delivery]:
        """Take due deliveries for *lease* seconds (:meth:`WatchStoreLike.claim`): SQLite's
        write lock keeps a second claimant out until the leases are written."""
        now = time.time() if now is None else now
        unhidden, items = _not_hidden(hidden)
        where = f"d.state=? AND d.next_at<=? AND d.claimed_until<=? AND {unhidden}"
        args: list[Any] = [DeliveryState.PENDING, now, now, *items]
        if hit_id is not None:
            where += " AND d.hit_id=?"
            args.append(hit_id)
        with self._tx() as db:
            rows = db.execute(
                f"SELECT d.hit_id, d.attempts, w.* FROM watch_deliveries d "
                f"JOIN watch_hits h ON h.id=d.hit_id JOIN watches w ON w.id=h.watch_id "
                f"WHERE {where} ORDER BY d.next_at LIMIT ?", (*args, limit)).fetchall()
            for row in rows:
                db.execute("UPDATE watch_deliveries SET claimed_until=? WHERE hit_id=?",
                           (now + lease, row["hit_id"]))
        claimed = []
        for row in rows:
            hit = self.hit(row["hit_id"])
            if hit is not None:
                claimed.append(Delivery(hit=unlinked(hit, hidden), watch=watch_from_row(row),
                                        attempts=row["attempts"]))
        return claimed

    def delivered(self, hit_id: int, status: int) -> None:
        """The receiver took the hit: it is never sent again."""
        with self._tx() as db:
            db.execute("UPDATE watch_deliveries SET state=?, attempts=attempts+1, status=?, "
                       "error='', delivered=?, claimed_until=0 WHERE hit_id=?",
                       (DeliveryState.DELIVERED, status, time.time(), hit_id))

    def attempt_failed(self, hit_id: int, error: str, *, retry_at: float | None,
                       status: int = 0) -> None:
        """An attempt failed: due again at *retry_at*, or failed for good when None."""
        with self._tx() as db:
            db.execute("UPDATE watch_deliveries SET attempts=attempts+1, error=?, status=?, "
                       "claimed_until=0, state=?, next_at=? WHERE hit_id=? AND state=?",
                       (error, status,
                        failed_attempt_state(retry_at),
                        retry_at if retry_at is not None else time.time(), hit_id,
                        DeliveryState.PENDING))

    def retry_failed(self, watch: Watch | None = None) -> int:
        """Make failed deliveries (of one watch, or all) due again now; how many."""
        where = "state=?"
        args: list[Any] = [DeliveryState.FAILED]
        if watch is not None:
            where += " AND hit_id IN (SELECT id FROM watch_hits WHERE watch_id=?)"
            args.append(watch.id)
        with self._tx() as db:
            changed = db.execute(f"UPDATE watch_deliveries SET state=?, attempts=0, next_at=? "
                                 f"WHERE {where}", (DeliveryState.PENDING, time.time(), *args))
            return int(changed.rowcount)

    def pending_for(self, item: str) -> tuple[int, ...]:
        """The hits of *item* (any watch) whose webhooks are pending."""
        rows = self._db().execute(
            "SELECT d.hit_id FROM watch_deliveries d JOIN watch_hits h ON h.id = d.hit_id "
            "WHERE h.item=? AND d.state=? ORDER BY d.hit_id", (item, DeliveryState.PENDING))
        return tuple(int(row["hit_id"]) for row in rows)

    def due_in(self, hit_id: int, hidden: Hidden = NOTHING_HIDDEN) -> float | None:
        """Seconds until a pending delivery may be claimed (:meth:`WatchStoreLike.due_in`),
        by this machine's clock."""
        unhidden, items = _not_hidden(hidden)
        row = self._db().execute("SELECT MAX(d.next_at, d.claimed_until) AS due FROM "
                                 "watch_deliveries d JOIN watch_hits h ON h.id=d.hit_id "
                                 f"WHERE d.hit_id=? AND d.state=? AND {unhidden}",
                                 (hit_id, DeliveryState.PENDING, *items)).fetchone()
        return None if row is None else max(0.0, float(row["due"]) - time.time())

    def pending(self, hidden: Hidden = NOTHING_HIDDEN) -> tuple[int, float | None]:
        """How many deliveries are pending, and when the next one is due (None: none);
        those of *hidden* items are not counted (they are never sent)."""
        unhidden, items = _not_hidden(hidden)
        row = self._db().execute("SELECT COUNT(*) AS n, "
                                 "MIN(MAX(d.next_at, d.claimed_until)) AS due "
                                 "FROM watch_deliveries d JOIN watch_hits h ON h.id=d.hit_id "
                                 f"WHERE d.state=? AND {unhidden}",
                                 (DeliveryState.PENDING, *items)).fetchone()
        return int(row["n"]), row["due"]


if TYPE_CHECKING:  # mypy checks that this store offers every method callers may use
    _conforms: type[WatchStoreLike] = WatchStore
