"""The watch store on PostgreSQL (BRIEFING_DATABASE_URL): watches, hits and webhook
deliveries shared by every process of a fleet.

The same methods, answers and rules as :class:`worker.storage.watches.WatchStore` (the rules
themselves are in :mod:`worker.storage.watchrules`); what changes is how many writers there
may be, on how many machines:

* recording an item's hits takes a transaction-scoped advisory lock on that item, so two
  runners evaluating one video at once take turns and the second finds the first's hits
  (the overlap rule needs to see them); the unique key (watch, item, clip) with ``ON
  CONFLICT DO NOTHING`` keeps a hit once even so;
* a webhook is claimed with ``SELECT … FOR UPDATE SKIP LOCKED`` and a lease: concurrent
  claimants skip each other's rows, and a row another claimant just leased no longer
  qualifies when re-read, so no two senders hold one hit;
* "now" is the database's clock, one for every machine, so a lease does not depend on how
  well the senders' clocks agree.  Only the times a caller passes (``claim(now=)``,
  ``attempt_failed(retry_at=)``) are the caller's.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from psycopg.types.json import Jsonb

from worker.storage.datadir import Hidden
from worker.storage.pg.pool import Conn, connection, transaction
from worker.storage.watch_interface import WatchStoreLike
from worker.storage.watchrules import (
    NOTHING_HIDDEN,
    STORED_HIT_SELECT,
    RecordPlan,
    StoredWatch,
    clip_key,
    failed_attempt_state,
    hidden_items,
    hit_from_row,
    new_watch_id,
    no_such_watch,
    plan_record,
    stored_hit_from_row,
    stored_watches,
    unlinked,
    watch_exists,
    watch_from_row,
    watch_secret,
    withdrawn_items,
)
from worker.watching.domain import Delivery, DeliveryState, Hit, Match, Recorded, Watch

__all__ = ["PgWatchStore"]

def _nul_free(text: str) -> str:
    # PostgreSQL's text (and jsonb) cannot hold NUL; outside text (a title, a transcript)
    # may.  U+FFFD is what the feed and the terminal show for it anyway.
    return text.replace("\x00", "\ufffd")


def _fields(match: Match, now: float) -> dict[str, Any]:
    """The columns of a hit that a new evaluation may change, as parameters."""
    return {"start": match.start, "end": match.end, "url": match.url, "title": match.title,
            "text": match.text, "highlight": match.highlight, "match": match.match,
            "articles": Jsonb([list(a) for a in match.articles]), "now": now}


def _storable(match: Match) -> Match:
    """*match* as this store can keep it (compared so, a repeat is still unchanged)."""
    if not any("\x00" in t for t in (match.url, match.title, match.text, match.highlight,
                                      match.match, *(x for a in match.articles for x in a))):
        return match
    return replace(match, url=_nul_free(match.url), title=_nul_free(match.title),
                   text=_nul_free(match.text), highlight=_nul_free(match.highlight),
                   match=_nul_free(match.match),
                   articles=tuple((_nul_free(u), _nul_free(t)) for u, t in match.articles))


# The database's clock, in the domain's unit (seconds since the epoch).
_NOW = "extract(epoch FROM clock_timestamp())::double precision"

_HIT_SELECT = ("SELECT h.*, d.state, d.attempts, d.error FROM watch_hits h "
               "LEFT JOIN watch_deliveries d ON d.hit_id = h.id")

# Written into the statements, not passed: a prepared statement's generic plan can use the
# partial index of pending deliveries only when it sees this very value.
_PENDING = f"'{DeliveryState.PENDING}'"

# The two-key advisory lock space of the watch store; an item's key is the hash of its name
# (two items sharing a hash only take turns, which is harmless).
_ITEM_LOCK = "SELECT pg_advisory_xact_lock(hashtext('briefing-watch-item'), hashtext(%s))"
_LOCKED_NOW = f"{_ITEM_LOCK}, {_NOW} AS now"


def _unhidden(hidden: Hidden, placeholder: str) -> str:
    """A condition on deliveries ``d`` leaving out those of *hidden*'s items (their array
    the *placeholder*): the few hits of those items, looked up by item, not a join of every
    delivery with its hit; none when nothing is hidden."""
    if not hidden_items(hidden):
        return ""
    return (" AND d.hit_id NOT IN (SELECT id FROM watch_hits "
            f"WHERE item = ANY({placeholder}::text[]))")


class PgWatchStore:
    """Watches, hits and deliveries in PostgreSQL; safe for many processes on many
    machines.  *url* is the database's (its schema upgraded to the current version)."""

    def __init__(self, url: str) -> None:
        self.url = url

    @staticmethod
    def _now(db: Conn) -> float:
        row = db.execute(f"SELECT {_NOW} AS now").fetchone()
        assert row is not None
        return float(row["now"])

    # -- watches ---------------------------------------------------------------------------

    def add(self, name: str, query: str, *, source: str = "", language: str = "",
            clips_only: bool = False, webhook_url: str = "", secret: str = "") -> Watch:
        """Save a new watch (its query already checked); a webhook gets a secret if none is
        given.  Raises :class:`WatchExistsError` for a name in use."""
        with transaction(self.url) as db:
            row = db.execute(
                "INSERT INTO watches (id, name, query, source, language, clips_only, "
                f"webhook_url, secret, created) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, {_NOW}) "
                "ON CONFLICT (name) DO NOTHING RETURNING *",
                (new_watch_id(), name, _nul_free(query), source, language, clips_only,
                 webhook_url, watch_secret(webhook_url, secret))
            ).fetchone()
        if row is None:
            raise watch_exists(name)
        return watch_from_row(row)

    def watches(self) -> list[Watch]:
        """Every watch, oldest first."""
        with connection(self.url) as db:
            rows = db.execute("SELECT * FROM watches ORDER BY created, name").fetchall()
        return [watch_from_row(row) for row in rows]

    def find(self, name_or_id: str) -> Watch:
        """The watch with this name or id; :class:`NoSuchWatchError` when there is none."""
        with connection(self.url) as db:
            row = db.execute("SELECT * FROM watches WHERE id=%(k)s OR name=%(k)s "
                             "ORDER BY id=%(k)s DESC LIMIT 1", {"k": name_or_id}).fetchone()
        if row is None:
            raise no_such_watch(name_or_id)
        return watch_from_row(row)

    def stored_watches(self) -> list[StoredWatch]:
        """Every watch, oldest first, with all its hits and their deliveries as stored."""
        with connection(self.url) as db:
            rows = db.execute(f"{STORED_HIT_SELECT} ORDER BY h.id").fetchall()
        return stored_watches(self.watches(), rows)

    def import_watch(self, stored: StoredWatch) -> bool:
        """Store a watch read from another store as it is there: its id, secret and
        creation time, and its hits with their ids (a reader's "seen up to" stays true),
        keys and deliveries; True when it wrote, False when it was so already
        (``briefing transfer`` run again).  :class:`WatchExistsError` when another watch
        here has its name."""
        watch = stored.watch
        with transaction(self.url) as db:
            db.execute("SELECT pg_advisory_xact_lock(hashtext('briefing-watch-import'),"
                       " hashtext(%s))", (watch.id,))
            row = db.execute("SELECT * FROM watches WHERE id=%s", (watch.id,)).fetchone()
            if row is not None and watch_from_row(row) == watch:
                hits = db.execute(f"{STORED_HIT_SELECT} WHERE h.watch_id=%s ORDER BY h.id",
                                  (watch.id,)).fetchall()
                if tuple(stored_hit_from_row(h) for h in hits) == stored.hits:
                    return False
            taken = db.execute("SELECT id FROM watches WHERE name=%s AND id<>%s",
                               (watch.name, watch.id)).fetchone()
            if taken is not None:
                raise watch_exists(watch.name)
            db.execute(
                "INSERT INTO watches (id, name, query, source, language, clips_only,"
                " webhook_url, secret, created) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
                " ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, query = EXCLUDED.query,"
                " source = EXCLUDED.source, language = EXCLUDED.language,"
                " clips_only = EXCLUDED.clips_only, webhook_url = EXCLUDED.webhook_url,"
                " secret = EXCLUDED.secret, created = EXCLUDED.created",
                (watch.id, watch.name, watch.query, watch.source, watch.language,
                 watch.clips_only, watch.webhook_url, watch.secret, watch.created))
            # Its hits anew (their deliveries go with them): ids kept, so the sequence is
            # moved past them afterwards for the hits recorded here later.
            db.execute("DELETE FROM watch_hits WHERE watch_id=%s", (watch.id,))
            with db.cursor() as cur:
                cur.executemany(
                    "INSERT INTO watch_hits (id, key, watch_id, item, clip, kind, video_id,"
                    ' article_id, start, "end", url, title, text, highlight, match, articles,'
                    " created, updated, retracted) OVERRIDING SYSTEM VALUE VALUES (%s, %s, %s,"
                    " %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                    [(s.hit.id, s.hit.key, watch.id, s.item, s.clip, s.hit.kind,
                      s.hit.video_id, s.hit.article_id, s.hit.start, s.hit.end, s.hit.url,
                      s.hit.title, s.hit.text, s.hit.highlight, s.hit.match,
                      Jsonb([list(a) for a in s.hit.articles]), s.hit.created,
                      s.hit.updated, s.hit.retracted) for s in stored.hits])
                cur.executemany(
                    "INSERT INTO watch_deliveries (hit_id, state, attempts, next_at,"
                    " claimed_until, error, status, delivered)"
                    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                    [(s.hit.id, s.hit.delivery, s.hit.attempts, s.next_at, s.claimed_until,
                      s.hit.error, s.status, s.delivered)
                     for s in stored.hits if s.hit.delivery is not None])
            db.execute(
                "SELECT setval(q.seq, m.top) FROM"
                " (SELECT pg_get_serial_sequence('watch_hits', 'id')::regclass AS seq) q,"
                " (SELECT max(id) AS top FROM watch_hits) m"
                " WHERE m.top > COALESCE(pg_sequence_last_value(q.seq), 0)")
        return True

    def remove(self, name_or_id: str) -> Watch:
        """Delete a watch with its hits and deliveries."""
        watch = self.find(name_or_id)
        with transaction(self.url) as db:
            db.execute("DELETE FROM watches WHERE id=%s", (watch.id,))
        return watch

    # -- hits ------------------------------------------------------------------------------

    def record(self, item: str, found: Sequence[tuple[Watch, Sequence[Match]]]) -> Recorded:
        """Record what each watch found in *item* now (:meth:`WatchStoreLike.record`), in
        one transaction holding the item's advisory lock, by the database's clock."""
        if not found:
            return Recorded()
        with transaction(self.url) as db:
            row = db.execute(_LOCKED_NOW, (item,)).fetchone()
            assert row is not None
            now = float(row["now"])
            # KEY SHARE: a watch being removed now waits for this record (or is gone already).
            alive = {row["id"] for row in db.execute(
                "SELECT id FROM watches WHERE id = ANY(%s::text[]) FOR KEY SHARE",
                ([w.id for w, _ in found],))}
            recorded: dict[str, list[Hit]] = {}
            for row in db.execute("SELECT * FROM watch_hits WHERE item=%s AND "
                                  "watch_id = ANY(%s::text[]) ORDER BY id",
                                  (item, list(alive))):
                recorded.setdefault(row["watch_id"], []).append(hit_from_row(row))
            plans = [(watch, plan_record([_storable(m) for m in matches],
                                         recorded.get(watch.id, [])))
                     for watch, matches in found if watch.id in alive]
            return self._apply(db, item, plans, now)

    def _apply(self, db: Conn, item: str, plans: Sequence[tuple[Watch, RecordPlan]],
               now: float) -> Recorded:
        """Write the plans: a statement per kind of change (not per hit), pipelined."""
        writes = [(watch, found, same) for watch, plan in plans for found, same in plan.writes]
        gone = [hit.id for _, plan in plans for hit in plan.retract]
        updates = [(found, same) for _, found, same in writes if same is not None]
        inserts = [(watch, found) for watch, found, same in writes if same is None]
        with db.cursor() as cur:
            if updates:
                cur.executemany(
                    'UPDATE watch_hits SET start=%(start)s, "end"=%(end)s, url=%(url)s, '
                    "title=%(title)s, text=%(text)s, highlight=%(highlight)s, match=%(match)s, "
                    "articles=%(articles)s, updated=%(now)s, retracted=NULL WHERE id=%(id)s",
                    [{**_fields(found, now), "id": same.id} for found, same in updates])
            # Said again after a retraction: due again unless it was delivered.
            restored: set[int] = set()
            back = [same.id for found, same in updates if same.retracted is not None]
            if back:
                restored = {row["hit_id"] for row in cur.execute(
                    "UPDATE watch_deliveries SET state=%s, next_at=%s, claimed_until=0 "
                    "WHERE hit_id = ANY(%s::bigint[]) AND state=%s RETURNING hit_id",
                    (DeliveryState.PENDING, now, back, DeliveryState.RETRACTED))}
            new: list[int | None] = []
            if inserts:
                cur.executemany(
                    "INSERT INTO watch_hits (key, watch_id, item, clip, kind, video_id, "
                    'article_id, start, "end", url, title, text, highlight, match, articles, '
                    "created, updated) VALUES (%(key)s, %(watch)s, %(item)s, %(clip)s, "
                    "%(kind)s, %(video)s, %(article)s, %(start)s, %(end)s, %(url)s, %(title)s, "
                    "%(text)s, %(highlight)s, %(match)s, %(articles)s, %(now)s, %(now)s) "
                    "ON CONFLICT ON CONSTRAINT watch_hits_once DO NOTHING RETURNING id",
                    [{**_fields(found, now), "key": uuid.uuid4().hex, "watch": watch.id,
                      "item": item, "clip": clip_key(found), "kind": str(found.kind),
                      "video": found.video_id, "article": found.article_id}
                     for watch, found in inserts], returning=True)
                for _ in cur.results():
                    # None: that clip's key is another hit's, paired with another match.
                    row = cur.fetchone()
                    new.append(None if row is None else int(row["id"]))
            hooked = [hit_id for (watch, _), hit_id in zip(inserts, new, strict=True)
                      if hit_id is not None and watch.webhook_url]
            if hooked:
                cur.execute("INSERT INTO watch_deliveries (hit_id, state, next_at) "
                            "SELECT unnest(%s::bigint[]), %s, %s ON CONFLICT (hit_id) DO NOTHING",
                            (hooked, DeliveryState.PENDING, now))
            if gone:
                cur.execute("UPDATE watch_hits SET retracted=%s, updated=%s "
                            "WHERE id = ANY(%s::bigint[])", (now, now, gone))
                # A failed one too: `retry_failed` must not send a hit no longer said.
                cur.execute("UPDATE watch_deliveries SET state=%s, claimed_until=0 "
                            "WHERE hit_id = ANY(%s::bigint[]) AND state = ANY(%s::text[])",
                            (DeliveryState.RETRACTED, gone,
                             [DeliveryState.PENDING, DeliveryState.FAILED]))
        # The deliveries now due, in the order their matches were found.
        due: list[int] = []
        ids = iter(new)
        for watch, _, same in writes:
            if same is not None:
                if same.id in restored:
                    due.append(same.id)
                continue
            hit_id = next(ids)
            if hit_id is not None and watch.webhook_url:
                due.append(hit_id)
        hits = self._hits_by_id(db, [*gone, *(i for i in new if i is not None)])
        out = set(gone)
        return Recorded(new=tuple(h for h in hits if h.id not in out),
                        retracted=tuple(h for h in hits if h.id in out),
                        deliveries=tuple(due))

    @staticmethod
    def _hits_by_id(db: Conn, ids: Sequence[int]) -> list[Hit]:
        if not ids:
            return []
        rows = db.execute(f"{_HIT_SELECT} WHERE h.id = ANY(%s::bigint[]) ORDER BY h.id",
                          (list(ids),)).fetchall()
        return [hit_from_row(row) for row in rows]

    def hit(self, hit_id: int) -> Hit | None:
        """One hit, or None."""
        with connection(self.url) as db:
            found = self._hits_by_id(db, [hit_id])
        return found[0] if found else None

    def hits(self, watch: Watch, *, retracted: bool = False, after: int = 0,
             limit: int = 1000, hidden: Hidden = NOTHING_HIDDEN) -> list[Hit]:
        """A watch's hits, newest first (:meth:`WatchStoreLike.hits`)."""
        where = ("h.watch_id=%s AND h.id>%s AND h.item <> ALL(%s::text[])"
                 + ("" if retracted else " AND h.retracted IS NULL"))
        with connection(self.url) as db:
            rows = db.execute(f"{_HIT_SELECT} WHERE {where} ORDER BY h.id DESC LIMIT %s",
                              (watch.id, after, list(hidden_items(hidden)), limit)).fetchall()
        return [unlinked(hit_from_row(row), hidden) for row in rows]

    def hit_counts(self, hidden: Hidden = NOTHING_HIDDEN) -> dict[str, tuple[int, int]]:
        """Per watch id: live hits, and the highest hit id (0 when none); nothing of
        *hidden*."""
        with connection(self.url) as db:
            rows = db.execute("SELECT watch_id, COUNT(*) AS n, MAX(id) AS last FROM watch_hits "
                              "WHERE retracted IS NULL AND item <> ALL(%s::text[]) "
                              "GROUP BY watch_id", (list(hidden_items(hidden)),)).fetchall()
        return {row["watch_id"]: (int(row["n"]), int(row["last"] or 0)) for row in rows}

    def withdraw(self, video_ids: Sequence[str], article_ids: Sequence[str]) -> int:
        """Delete every hit of these videos and articles (being taken down) with its
        delivery, sent or not: a pending webhook of theirs is never sent.  How many."""
        items = sorted(set(withdrawn_items(video_ids, article_ids)))
        if not items:
            return 0
        # The items' record locks, in one order for every caller: an evaluation of one of
        # them finishes first, or starts after and finds its hits gone.
        with transaction(self.url) as db, db.cursor() as cur:
            cur.executemany(_ITEM_LOCK, [(item,) for item in items])  # pipelined, in order
            cur.execute("DELETE FROM watch_hits WHERE item = ANY(%s::text[])", (items,))
            return int(cur.rowcount)

    # -- deliveries ------------------------------------------------------------------------

    def claim(self, hit_id: int | None = None, *, lease: float = 120.0,
              now: float | None = None, limit: int = 50,
              hidden: Hidden = NOTHING_HIDDEN) -> list[Delivery]:
        """Take due deliveries for *lease* seconds (:meth:`WatchStoreLike.claim`): rows
        another claimant has locked are skipped, not waited for (``SKIP LOCKED``); *now*
        defaults to the database's clock."""
        args: dict[str, Any] = {"now": now, "lease": lease,
                                "hidden": list(hidden_items(hidden)), "limit": limit,
                                "hit": hit_id}
        one = " AND d.hit_id=%(hit)s" if hit_id is not None else ""
        unhidden = _unhidden(hidden, "%(hidden)s")
        with transaction(self.url) as db:
            if now is None:
                args["now"] = self._now(db)
            # Rows another claimant holds are skipped, not waited for; a row it leased and
            # committed meanwhile is read again as it is now, and its lease excludes it.
            rows = db.execute(
                "WITH due AS (SELECT d.hit_id FROM watch_deliveries d "
                f"WHERE d.state={_PENDING} AND d.next_at<=%(now)s "
                f"AND d.claimed_until<=%(now)s{unhidden}{one} "
                "ORDER BY d.next_at, d.hit_id LIMIT %(limit)s "
                "FOR UPDATE OF d SKIP LOCKED) "
                "UPDATE watch_deliveries d SET claimed_until = %(now)s + %(lease)s "
                "FROM due WHERE d.hit_id = due.hit_id "
                "RETURNING d.hit_id, d.attempts, d.next_at", args).fetchall()
            rows.sort(key=lambda r: (r["next_at"], r["hit_id"]))
            hits = {h.id: h for h in self._hits_by_id(db, [r["hit_id"] for r in rows])}
            watches = {w["id"]: watch_from_row(w) for w in db.execute(
                "SELECT * FROM watches WHERE id = ANY(%s::text[])",
                (list({h.watch_id for h in hits.values()}),))}
        return [Delivery(hit=unlinked(hits[r["hit_id"]], hidden),
                         watch=watches[hits[r["hit_id"]].watch_id], attempts=r["attempts"])
                for r in rows]

    def delivered(self, hit_id: int, status: int) -> None:
        """The receiver took the hit: it is never sent again."""
        with transaction(self.url) as db:
            db.execute("UPDATE watch_deliveries SET state=%s, attempts=attempts+1, status=%s, "
                       f"error='', delivered={_NOW}, claimed_until=0 WHERE hit_id=%s",
                       (DeliveryState.DELIVERED, status, hit_id))

    def attempt_failed(self, hit_id: int, error: str, *, retry_at: float | None,
                       status: int = 0) -> None:
        """An attempt failed: due again at *retry_at*, or failed for good when None."""
        with transaction(self.url) as db:
            db.execute("UPDATE watch_deliveries SET attempts=attempts+1, error=%s, status=%s, "
                       f"claimed_until=0, state=%s, next_at=COALESCE(%s, {_NOW}) "
                       "WHERE hit_id=%s AND state=%s",
                       (error, status,
                        failed_attempt_state(retry_at),
                        retry_at, hit_id, DeliveryState.PENDING))

    def retry_failed(self, watch: Watch | None = None) -> int:
        """Make failed deliveries (of one watch, or all) due again now; how many."""
        where = "state=%s"
        args: list[Any] = [DeliveryState.FAILED]
        if watch is not None:
            where += " AND hit_id IN (SELECT id FROM watch_hits WHERE watch_id=%s)"
            args.append(watch.id)
        with transaction(self.url) as db:
            changed = db.execute(f"UPDATE watch_deliveries SET state=%s, attempts=0, "
                                 f"next_at={_NOW} WHERE {where}",
                                 (DeliveryState.PENDING, *args))
            return int(changed.rowcount)

    def pending_for(self, item: str) -> tuple[int, ...]:
        """The hits of *item* (any watch) whose webhooks are pending."""
        with connection(self.url) as db:
            rows = db.execute(
                "SELECT d.hit_id FROM watch_deliveries d JOIN watch_hits h ON h.id = d.hit_id "
                f"WHERE h.item=%s AND d.state={_PENDING} ORDER BY d.hit_id",
                (item,)).fetchall()
        return tuple(int(row["hit_id"]) for row in rows)

    def due_in(self, hit_id: int, hidden: Hidden = NOTHING_HIDDEN) -> float | None:
        """Seconds until a pending delivery may be claimed (:meth:`WatchStoreLike.due_in`),
        by the database's clock."""
        with connection(self.url) as db:
            row = db.execute(f"SELECT GREATEST(d.next_at, d.claimed_until) - {_NOW} AS wait "
                             "FROM watch_deliveries d JOIN watch_hits h ON h.id = d.hit_id "
                             f"WHERE d.hit_id=%s AND d.state={_PENDING} "
                             "AND h.item <> ALL(%s::text[])",
                             (hit_id, list(hidden_items(hidden)))).fetchone()
        return None if row is None else max(0.0, float(row["wait"]))

    def pending(self, hidden: Hidden = NOTHING_HIDDEN) -> tuple[int, float | None]:
        """How many deliveries are pending, and when the next one is due (None: none);
        those of *hidden* items are not counted (they are never sent)."""
        unhidden = _unhidden(hidden, "%s")
        with connection(self.url) as db:
            row = db.execute("SELECT COUNT(*) AS n, "
                             "MIN(GREATEST(d.next_at, d.claimed_until)) AS due "
                             "FROM watch_deliveries d "
                             f"WHERE d.state={_PENDING}{unhidden}",
                             (list(hidden_items(hidden)),) if unhidden else ()).fetchone()
        assert row is not None
        return int(row["n"]), row["due"]


if TYPE_CHECKING:  # mypy checks that this store offers every method callers may use
    _conforms: type[WatchStoreLike] = PgWatchStore
