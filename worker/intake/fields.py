"""What a parser found in an article, and the small normalisers every format shares.

Each format's parser (:mod:`worker.intake.html`, :mod:`worker.intake.markdown`) fills
a :class:`_Fields`; :func:`worker.intake.articles.parse_article` applies the defaults
and limits common to all of them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date, datetime
from email.utils import parsedate_to_datetime


@dataclass(frozen=True)
class FieldLimits:
    """The longest each stored field of an :class:`~indexer.domain.Article` may be, in characters.

    Every field is written by the page's author, and each one is repeated in every search
    hit, job and page render that shows the article: a megabyte site name once made every
    answer megabytes long.  ``published`` needs no cap: it is a parsed ``YYYY-MM-DD`` or "".
    """

    title: int = 300
    source: int = 200
    author: int = 200
    url: int = 4096


FIELD_LIMITS = FieldLimits()

_ISO_DATE = re.compile(r"\s*(\d{4})([-/.])(\d{1,2})\2(\d{1,2})(?!\d)")
_BASIC_DATE = re.compile(r"\s*(\d{4})(\d{2})(\d{2})(?!\d)")
_WORDY_DATE_FORMATS = ("%B %d, %Y", "%b %d, %Y", "%d %B %Y", "%d %b %Y")


@dataclass(frozen=True)
class _Fields:
    """What one parser found, before the shared defaults and limits apply."""

    title: str
    text: str
    author: str = ""
    source: str = ""
    published: str = ""


def _capped(fields: _Fields, limits: FieldLimits = FIELD_LIMITS) -> _Fields:
    """``fields`` with each one shortened to its limit: the one place every format's
    fields pass through before they become an article."""
    return replace(
        fields,
        title=_shorten(fields.title, limits.title),
        author=_shorten(fields.author, limits.author),
        source=_shorten(fields.source, limits.source),
    )


def _parse_date(value: str) -> str:
    """ISO ``YYYY-MM-DD`` for a date or timestamp, or "" when unreadable.

    The publisher's own calendar date is kept: converting
    "2024-03-05T23:30-05:00" to UTC would move the story to the next day.
    """
    value = value.strip()[:100]
    if not value:
        return ""
    match = _ISO_DATE.match(value)
    if match is not None:
        year, month, day = match.group(1), match.group(3), match.group(4)
    elif (match := _BASIC_DATE.match(value)) is not None:
        year, month, day = match.groups()
    else:
        return _parse_wordy_date(value)
    try:
        return date(int(year), int(month), int(day)).isoformat()
    except ValueError:
        return ""


def _parse_wordy_date(value: str) -> str:
    try:
        return parsedate_to_datetime(value).date().isoformat()  # RFC 2822
    except (TypeError, ValueError, IndexError):
        pass
    for fmt in _WORDY_DATE_FORMATS:
        try:
            return datetime.strptime(value, fmt).date().isoformat()
        except ValueError:
            continue
    return ""


def _first_line(text: str) -> str:
    for line in text[:100_000].split("\n"):
        if line.strip():
            return _collapse(line)
    return ""


def _collapse(text: str) -> str:
    return " ".join(text.split())


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
