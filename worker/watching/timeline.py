"""Mentions over time: per day, week or month, the clips that *said* a query and the articles
that *wrote* it, by source.

The results are exactly a search's (the same matching, sound-alike clips included, clips of
one video that overlap merged), counted by date:

* a clip counts on the published date of each article linking its video, under that
  article's source: a briefing two outlets carry on two days counts on both (as the
  published-date filter of a search finds it on both), once per day however many articles
  of that day link it; a video no linking article dates counts on the day it was first
  fetched (else the day its transcript was written: it is indexed right after), not moved
  by a re-transcription, under "(unknown)" when no article names a source;
* an article counts on its published date, else the day it was stored.

``from``/``to`` bound those dates (inclusive); a *source* keeps the days on which an article
of that source links the clip.  The totals add the intervals up.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from indexer.domain import ArticleHit, Clip, SearchPage
from indexer.errors import QueryError
from worker.storage.interfaces import Records

__all__ = ["MAX_BUCKETS", "MAX_RESULTS", "UNKNOWN_SOURCE", "Bucket", "Interval", "Timeline",
           "mentions"]

MAX_RESULTS = 5000  # clips and articles counted; more is reported as truncated
MAX_BUCKETS = 1000
UNKNOWN_SOURCE = "(unknown)"

Search = Callable[..., SearchPage]


class Interval(StrEnum):
    """The width of a timeline's bars."""

    DAY = "day"
    WEEK = "week"  # ISO weeks, Monday to Sunday
    MONTH = "month"

    def start_of(self, day: dt.date) -> dt.date:
        """The first day of the interval holding *day*."""
        if self is Interval.WEEK:
            return day - dt.timedelta(days=day.weekday())
        if self is Interval.MONTH:
            return day.replace(day=1)
        return day

    def after(self, start: dt.date) -> dt.date:
        """The first day of the next interval."""
        if self is Interval.WEEK:
            return start + dt.timedelta(days=7)
        if self is Interval.MONTH:
            return (start.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
        return start + dt.timedelta(days=1)


@dataclass
class Bucket:
    """One interval's counts."""

    start: dt.date
    end: dt.date  # the interval's last day
    clips: int = 0
    articles: int = 0
    sources: dict[str, list[int]] = field(default_factory=dict)  # source -> [clips, articles]

    def to_json(self) -> dict[str, Any]:
        """The bucket as the API and ``--json`` show it."""
        return {"start": self.start.isoformat(), "end": self.end.isoformat(),
                "clips": self.clips, "articles": self.articles,
                "sources": [{"source": name, "clips": c, "articles": a}
                            for name, (c, a) in sorted(self.sources.items())]}


@dataclass(frozen=True)
class Timeline:
    """Every interval from the first mention to the last (or the bounds asked for)."""

    query: str
    interval: Interval
    buckets: tuple[Bucket, ...]
    truncated: bool = False

    @property
    def clips(self) -> int:
        """Clips counted in all."""
        return sum(b.clips for b in self.buckets)

    @property
    def articles(self) -> int:
        """Articles counted in all."""
        return sum(b.articles for b in self.buckets)

    def to_json(self) -> dict[str, Any]:
        """The timeline as the API and ``--json`` show it."""
        return {"query": self.query, "interval": str(self.interval), "clips": self.clips,
                "articles": self.articles, "truncated": self.truncated,
                "buckets": [b.to_json() for b in self.buckets]}


def _day_of(path: Path) -> dt.date | None:
    try:
        stamp = path.stat().st_mtime
    except OSError:
        return None
    return dt.datetime.fromtimestamp(stamp, dt.UTC).date()


def _saved_day(data: Records, article_id: str) -> dt.date | None:
    try:
        stamp = data.article_stored(article_id)
    except OSError:  # not stored (any more)
        return None
    return dt.datetime.fromtimestamp(stamp, dt.UTC).date()


def _iso(value: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        return None


def _video_dates(data: Records, video_ids: set[str], hidden_articles: frozenset[str]
                 ) -> dict[str, dict[dt.date, set[str]]]:
    """Per video: each day it counts on, with the sources of the articles of that day.

    One pass over the URL records (not one per video, as ``linking_articles`` would take).
    """
    urls: dict[str, str] = {}
    fetched: dict[str, float] = {}
    for video_id in video_ids:
        meta = data.video_meta(video_id)
        for url in meta.urls if meta else ():
            urls[url] = video_id
        if meta is not None and meta.fetched:
            fetched[video_id] = min(meta.fetched.values())
    linked: dict[str, set[str]] = {v: set() for v in video_ids}
    for record in data.sources():
        video_id = record.video_id if record.video_id in video_ids else urls.get(record.url, "")
        if video_id:
            linked[video_id].update(a for a in record.articles if a not in hidden_articles)
    dates: dict[str, dict[dt.date, set[str]]] = {}
    for video_id, article_ids in linked.items():
        days: dict[dt.date, set[str]] = {}
        articles = [a for a in (data.load_article(i) for i in sorted(article_ids)) if a]
        for article in articles:
            day = _iso(article.published)
            if day is not None:
                days.setdefault(day, set()).add(article.source or UNKNOWN_SOURCE)
        if not days:
            indexed = (dt.datetime.fromtimestamp(fetched[video_id], dt.UTC).date()
                       if video_id in fetched
                       else _day_of(data.video_dir(video_id) / "transcript.json"))
            if indexed is not None:
                days[indexed] = {a.source for a in articles if a.source} or {UNKNOWN_SOURCE}
        dates[video_id] = days
    return dates


def _bounds(text: str | None, name: str) -> dt.date | None:
    if not text:
        return None
    day = _iso(text)
    if day is None:
        raise QueryError(f"{name} must look like 2026-11-20, not {text!r}")
    return day


def mentions(search: Search, data: Records, query: str, *, interval: str = "day",
             source: str | None = None, date_from: str | None = None,
             date_to: str | None = None) -> Timeline:
    """Count *query*'s clips and articles per *interval* (see the module's rules).

    *search* is ``SearchIndex.search_page`` (or the HTTP app's shared one).  Raises
    :class:`QueryError` for a query, interval or date that cannot be read.
    """
    try:
        width = Interval(interval)
    except ValueError:
        raise QueryError(f"unknown interval {interval!r}: use day, week or month") from None
    low, high = _bounds(date_from, "from"), _bounds(date_to, "to")
    if low is not None and high is not None and low > high:
        raise QueryError(f"from ({low}) is after to ({high})")
    # A takedown not finished already hides its items, as in a search.
    hidden = data.hidden()
    page = search(query, limit=MAX_RESULTS, offset=0, source=source or None,
                  hidden_videos=hidden.video_ids, hidden_articles=hidden.article_ids,
                  hidden_links=hidden.article_urls)
    wanted = source.strip().lower() if source else ""
    clips = [r for r in page.results if isinstance(r, Clip)]
    video_dates = _video_dates(data, {c.video_id for c in clips}, hidden.article_ids)
    dated: list[tuple[dt.date, bool, set[str]]] = []  # (day, is a clip, sources)
    for clip in clips:
        for day, sources in video_dates[clip.video_id].items():
            if wanted:
                sources = {name for name in sources if name.lower() == wanted}
                if not sources:
                    continue  # that day's articles are of other sources
            dated.append((day, True, sources))
    for hit in page.results:
        if isinstance(hit, ArticleHit):
            written = (_iso(hit.published)
                       or _saved_day(data, hit.article_id))
            if written is not None:
                dated.append((written, False, {hit.source or UNKNOWN_SOURCE}))
    dated = [d for d in dated if (low is None or d[0] >= low) and (high is None or d[0] <= high)]
    if not dated and (low is None or high is None):
        return Timeline(query, width, (), page.total > len(page.results))
    first = width.start_of(low or min(d[0] for d in dated))
    last = high or max(d[0] for d in dated)
    buckets: dict[dt.date, Bucket] = {}
    start = first
    while start <= last:
        if len(buckets) >= MAX_BUCKETS:
            raise QueryError(f"over {MAX_BUCKETS} intervals: narrow the dates or use a "
                             "longer interval")
        try:
            following = width.after(start)
        except OverflowError:  # the calendar ends in 9999
            raise QueryError("dates must end before 9999-12") from None
        buckets[start] = Bucket(start, following - dt.timedelta(days=1))
        start = following
    for day, is_clip, sources in dated:
        bucket = buckets[width.start_of(day)]
        if is_clip:
            bucket.clips += 1
        else:
            bucket.articles += 1
        for name in sources:
            counts = bucket.sources.setdefault(name, [0, 0])
            counts[0 if is_clip else 1] += 1
    return Timeline(query, width, tuple(buckets.values()), page.total > len(page.results))
