"""What every watch store offers: the embedded one (:class:`worker.storage.watches.WatchStore`,
SQLite in the data dir) and the fleet's (:class:`worker.storage.pg.watches.PgWatchStore`).

Callers (the watching package, the pipeline, the HTTP app and the CLI) take a
:class:`WatchStoreLike` and never learn which one they were given.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from worker.storage.datadir import Hidden
from worker.storage.watchrules import NOTHING_HIDDEN
from worker.watching.domain import Delivery, Hit, Match, Recorded, Watch

__all__ = ["WatchStoreLike"]


class WatchStoreLike(Protocol):
    """Watches, their hits and the hits' webhook deliveries (see the embedded store's
    module for the rules: a hit once per watch, item and clip; retraction; claims)."""

    def add(self, name: str, query: str, *, source: str = "", language: str = "",
            clips_only: bool = False, webhook_url: str = "", secret: str = "") -> Watch:
        """Save a new watch; :class:`~worker.errors.WatchExistsError` for a name in use."""
        ...

    def watches(self) -> list[Watch]:
        """Every watch, oldest first."""
        ...

    def find(self, name_or_id: str) -> Watch:
        """The watch with this name or id; :class:`~worker.errors.NoSuchWatchError` if none."""
        ...

    def remove(self, name_or_id: str) -> Watch:
        """Delete a watch with its hits and deliveries."""
        ...

    def record(self, item: str, found: Sequence[tuple[Watch, Sequence[Match]]]) -> Recorded:
        """Record what each watch found in *item* now, in one transaction.

        *found* is complete for the watches it names: a hit of *item* that a named watch did
        not find again is retracted.  A watch deleted since *found* was made (a user removed
        it while the item was matched) is passed over.  Returns the new and retracted hits
        and the deliveries now due.
        """
        ...

    def hit(self, hit_id: int) -> Hit | None:
        """One hit, or None."""
        ...

    def hits(self, watch: Watch, *, retracted: bool = False, after: int = 0,
             limit: int = 1000, hidden: Hidden = NOTHING_HIDDEN) -> list[Hit]:
        """A watch's hits, newest first (retracted ones too when asked); *after* keeps those
        with a higher id (the unseen ones of a reader who saw up to that id); nothing of
        *hidden* (takedowns not finished)."""
        ...

    def hit_counts(self, hidden: Hidden = NOTHING_HIDDEN) -> dict[str, tuple[int, int]]:
        """Per watch id: live hits and the highest hit id; none of *hidden*."""
        ...

    def withdraw(self, video_ids: Sequence[str], article_ids: Sequence[str]) -> int:
        """Delete every hit of these items with its delivery; how many."""
        ...

    def claim(self, hit_id: int | None = None, *, lease: float = 120.0,
              now: float | None = None, limit: int = 50,
              hidden: Hidden = NOTHING_HIDDEN) -> list[Delivery]:
        """Take due deliveries (one, by *hit_id*, or up to *limit*) for *lease* seconds.

        A claimed delivery is skipped by every other claimant until it is settled or its
        lease runs out (its sender died), so two runners never send it at once.  One of an
        item of *hidden* (being taken down) is not taken: its takedown withdraws it.
        """
        ...

    def delivered(self, hit_id: int, status: int) -> None:
        """The receiver took the hit: it is never sent again."""
        ...

    def attempt_failed(self, hit_id: int, error: str, *, retry_at: float | None,
                       status: int = 0) -> None:
        """An attempt failed: due again at *retry_at*, or failed for good when None."""
        ...

    def retry_failed(self, watch: Watch | None = None) -> int:
        """Make failed deliveries (of one watch, or all) due again now; how many."""
        ...

    def pending_for(self, item: str) -> tuple[int, ...]:
        """The hits of *item* whose webhooks are pending."""
        ...

    def due_in(self, hit_id: int, hidden: Hidden = NOTHING_HIDDEN) -> float | None:
        """Seconds until a pending delivery may be claimed (0: now); None when it is not
        pending (delivered, failed, retracted, or there is none) or its item is *hidden*
        (its takedown withdraws it)."""
        ...

    def pending(self, hidden: Hidden = NOTHING_HIDDEN) -> tuple[int, float | None]:
        """How many deliveries are pending, and when the next is due (None: none)."""
        ...
