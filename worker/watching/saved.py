"""Saving a watch: its name, query, filters and webhook checked once, for every front door."""

from __future__ import annotations

import re

from indexer.errors import QueryError
from indexer.percolate import parsed
from worker.errors import WatchError
from worker.intake.fetch import FetchLimits
from worker.storage.watch_interface import WatchStoreLike
from worker.watching.domain import Watch
from worker.watching.webhooks import check_webhook_url

__all__ = ["MAX_NAME_CHARS", "MIN_SECRET_CHARS", "add_watch"]

MAX_NAME_CHARS = 100
MIN_SECRET_CHARS = 16  # a guessable secret signs nothing
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f]")


def add_watch(store: WatchStoreLike, limits: FetchLimits, name: str, query: str, *,
              source: str = "", language: str = "", clips_only: bool = False,
              webhook_url: str = "", secret: str = "") -> Watch:
    """Check and save a watch; raises :class:`WatchError` (or :class:`QueryError` for a query
    a search would refuse) with one line saying what is wrong."""
    name = name.strip()
    if not name or len(name) > MAX_NAME_CHARS or _CONTROLS.search(name):
        raise WatchError(f"a watch name is 1 to {MAX_NAME_CHARS} printable characters")
    try:
        parsed(query)
    except QueryError as exc:
        raise QueryError(f"watch query: {exc}") from None
    for value, what in ((source, "source"), (language, "language"), (secret, "secret")):
        if len(value) > 200 or _CONTROLS.search(value):
            raise WatchError(f"the {what} is at most 200 printable characters")
    if secret and len(secret) < MIN_SECRET_CHARS:  # as the HTTP schema asks
        raise WatchError(f"a webhook secret is at least {MIN_SECRET_CHARS} characters")
    webhook_url = webhook_url.strip()
    if webhook_url:
        if len(webhook_url) > 2048:
            raise WatchError("the webhook URL is over 2048 characters")
        check_webhook_url(webhook_url, limits)
    elif secret:
        raise WatchError("a secret signs webhooks: give a webhook URL too")
    return store.add(name, query, source=source.strip(), language=language.strip().lower(),
                     clips_only=clips_only, webhook_url=webhook_url, secret=secret)
