"""What the HTTP endpoints share for the life of the app: built once from Settings."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from fastapi import Request

from api.http.inline_worker import InlineWorker
from api.http.schemas import ArticleInfo
from indexer.backend import SearchBackend
from indexer.domain import SearchPage
from indexer.errors import BrokenIndexError, SearchIndexError
from worker.intake.articles import article_id_for
from worker.intake.fetch import FetchLimits
from worker.pipeline.context import Context
from worker.settings import Settings
from worker.storage.interfaces import JobStoreLike, Records, Runs
from worker.storage.stores import (
    open_job_store,
    open_records,
    open_runs,
    open_search_index,
    open_watch_store,
)
from worker.storage.watch_interface import WatchStoreLike
from worker.watching.webhooks import DeliveryLoop

__all__ = [
    "EXCERPT_CHARS",
    "Services",
    "SharedIndex",
    "article_info",
    "build_services",
    "get_services",
]

EXCERPT_CHARS = 280


class SharedIndex:
    """One SearchIndex for every request, opened on first use and refreshed as it goes.

    A Whoosh searcher is not safe to use from two threads at once (refreshing one closes
    the readers the other may be using), so searches take turns; they are pure Python
    and would hold the GIL anyway.
    """

    def __init__(self, opener: Callable[[], SearchBackend],
                 rebuild: Callable[[], None] | None = None) -> None:
        self._opener = opener
        self._lock = threading.Lock()
        self._index: SearchBackend | None = None
        self._rebuild = rebuild
        self._rebuilding: threading.Thread | None = None

    def _open(self) -> SearchBackend:
        if self._index is None:
            try:
                self._index = self._opener()
            except BrokenIndexError:
                self._start_rebuild()
                raise SearchIndexError("the search index is damaged and is being rebuilt "
                                       "from the stored transcripts; try again shortly"
                                       ) from None
        return self._index

    def _start_rebuild(self) -> None:
        # Searches answer 503 while one background thread rebuilds the index into a new
        # generation; the swap is atomic, so the next search sees the whole new index.
        if self._rebuild is None or (self._rebuilding and self._rebuilding.is_alive()):
            return
        self._rebuilding = threading.Thread(target=self._rebuild, name="briefing-rebuild",
                                            daemon=True)
        self._rebuilding.start()

    def search_page(self, text: str, **filters: Any) -> SearchPage:
        """``SearchIndex.search_page``, one caller at a time."""
        with self._lock:
            try:
                return self._open().search_page(text, **filters)
            except SearchIndexError:
                self._drop()  # a damaged or swapped index is opened afresh next time
                raise

    def doc_count(self) -> int:
        """Live documents in the index."""
        with self._lock:
            try:
                return self._open().doc_count()
            except SearchIndexError:
                self._drop()
                raise

    def _drop(self) -> None:
        if self._index is not None:
            # Closing a broken index may fail too; it is dropped either way.
            with contextlib.suppress(Exception):
                self._index.close()
            self._index = None

    def close(self) -> None:
        """Release the index files."""
        with self._lock:
            self._drop()


@dataclass
class Services:
    """The app's long-lived parts."""

    settings: Settings
    data: Records
    index: SharedIndex
    jobs: JobStoreLike
    runs: Runs  # tells whose work was interrupted (the runs of the job store's backend)
    worker: InlineWorker | None  # None when a broker runs the jobs
    watches: WatchStoreLike
    fetch_limits: FetchLimits  # what webhook URLs are checked against (as articles are)
    deliveries: DeliveryLoop | None = None  # webhook retries without a broker
    # Built on first use by a takedown (worker.pipeline.takedown), which writes the index.
    _manage: Context | None = None
    _manage_lock: threading.Lock = field(default_factory=threading.Lock)

    def manage_context(self) -> Context:
        """The pipeline Context of takedowns: the data dir's file locks, and with a broker
        the fleet's locks first, so a takedown's index write waits for the queue's writer."""
        with self._manage_lock:
            if self._manage is None:
                from worker.pipeline.wiring import build_context

                ctx = build_context(self.settings)
                if self.settings.broker_url:
                    from worker.pipeline.locks import BrokerLocks, LockChain

                    ctx = replace(ctx, locks=LockChain(
                        [BrokerLocks.from_url(self.settings.broker_url), ctx.locks]))
                self._manage = ctx
            return self._manage

    def release(self) -> None:
        """Close the takedown Context's index, if one was opened."""
        with self._manage_lock:
            if self._manage is not None:
                self._manage.index.close()
                self._manage = None

    def submit(self, source: str, content: str | None) -> str:
        """Create an ingest job and start it on the queue or the in-process worker."""
        if self.settings.broker_url:
            from worker.queue.config import submit_ingest

            job_id: str = submit_ingest(self.settings, self.jobs, source, content)
            return job_id
        assert self.worker is not None
        return self.worker.submit(source, content)

    def token(self) -> str:
        """The API token, or "" when write endpoints are open."""
        secret = self.settings.api_token
        return secret.get_secret_value() if secret is not None else ""


def build_services(settings: Settings) -> Services:
    """Open the data dir, the job store and the index; set up the in-process worker."""
    from worker.pipeline.wiring import article_limits, webhook_policy

    # A database down while the app starts is checked once it answers: meanwhile /healthz
    # says so and requests get 503 (an older schema stops the app here).
    data = open_records(settings, start_unreachable=True)
    runs = open_runs(settings)
    jobs = open_job_store(settings, runs)
    watches = open_watch_store(settings)
    worker = None
    # Without a broker this server sends the webhooks its jobs' hits make due (at once after
    # each job) and retries them; with one, the workers' delivery tasks do.
    deliveries = None
    if not settings.broker_url:
        from worker.pipeline.wiring import build_context

        deliveries = DeliveryLoop(watches, webhook_policy(settings), settings.webhook_poll,
                                  hidden=data.hidden)
        worker = InlineWorker(lambda: build_context(settings), jobs,
                              after_job=deliveries.wake)

    def rebuild() -> None:
        open_search_index(settings, rebuild_from=data).close()

    return Services(settings=settings, data=data,
                    index=SharedIndex(lambda: open_search_index(settings), rebuild), jobs=jobs,
                    runs=runs,
                    worker=worker,
                    watches=watches, fetch_limits=article_limits(settings),
                    deliveries=deliveries)


def get_services(request: Request) -> Services:
    """FastAPI dependency: the app's Services."""
    services: Services = request.app.state.services
    return services


def _excerpt(text: str, title: str) -> str:
    text = " ".join(text.split())
    if title and text.startswith(title):  # most article texts open with their headline
        text = text[len(title):].lstrip()
    if len(text) <= EXCERPT_CHARS:
        return text
    return text[:EXCERPT_CHARS].rsplit(" ", 1)[0] + "…"


def article_info(data: Records, url: str, title: str) -> ArticleInfo:
    """The stored article at *url* for display; just *url* and *title* when not stored."""
    try:
        article = data.load_article(article_id_for(url))
    except ValueError:  # not an http(s) or file URL, so nothing is stored under it
        article = None
    if article is None:
        return ArticleInfo(url=url, title=title, source="", published="", excerpt="")
    return ArticleInfo(url=article.url, title=article.title, source=article.source,
                       published=article.published, excerpt=_excerpt(article.text, article.title))
