"""Turn a fetched article (HTML, Markdown or plain text) into an :class:`Article`.

Only parsing happens here: the caller fetches the page or reads the file and
hands over its text, so the CLI, the HTTP app and the Celery tasks share one
function and the tests need no network.  Pages are written by strangers, so
every step is bounded and a strange link is dropped, never raised on.

Each format has its own module (:mod:`worker.intake.html`,
:mod:`worker.intake.markdown`); finding and vetting video links is
:mod:`worker.intake.links`.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import replace
from urllib.parse import urlsplit

from indexer.domain import Article
from worker.intake.fields import FIELD_LIMITS, _capped
from worker.intake.html import _parse_html
from worker.intake.links import _HTTP, _canonical_location, _Videos
from worker.intake.markdown import _parse_markdown, _parse_text

KINDS = ("html", "markdown", "text")
MAX_INPUT_CHARS = 10_000_000

_HTML_SNIFF = re.compile(r"<(?:html|head|body|p|div|article)[\s>]", re.IGNORECASE)


def article_id_for(location: str) -> str:
    """Stable id of an article: sha1 of its canonical location, 16 hex digits.

    The canonical location drops the fragment and lowercases scheme and host,
    so ``https://EXAMPLE.com/a#top`` and ``https://example.com/a`` share an id.
    Raises ``ValueError`` for anything but an http(s) URL or a ``file:///`` URL.
    """
    canonical = _canonical_location(location)
    return hashlib.sha1(canonical.encode("utf-8")).hexdigest()[:16]


def parse_article(
    content: str,
    location: str,
    kind: str | None = None,
    *,
    max_videos: int = 100,
    max_text_chars: int = 2_000_000,
    max_input_chars: int = MAX_INPUT_CHARS,
) -> Article:
    """Parse an article's text into an :class:`Article` with its video links.

    ``location`` is the article's absolute http(s) URL or a ``file:///`` URL;
    relative links resolve against it and the article's ``url`` is its
    canonical form (see :func:`article_id_for`).  ``kind`` is "html",
    "markdown" or "text"; when None it is guessed from the extension, or for
    web pages without one, from the content.  Only the first
    ``max_input_chars`` characters are read.  Raises ``ValueError`` for an
    unsupported location or kind, or a location longer than ``FIELD_LIMITS.url``,
    never for odd content.  Title, source and author are cut to ``FIELD_LIMITS``.

    ``video_urls`` holds at most ``max_videos`` distinct URLs in page order,
    absolute, percent-encoded, without fragment or userinfo; http(s) only,
    plus ``file:`` ones when the article itself is a local file.  Links in
    page furniture (navigation, footers, asides, comments, related links)
    are not the article's and are left out, as is its text.
    """
    url = _canonical_location(location)
    if len(url) > FIELD_LIMITS.url:
        # A cut URL would name another page; an address this long is no article's.
        raise ValueError(f"article URL too long: over {FIELD_LIMITS.url} characters")
    kind = kind if kind is not None else _guess_kind(content, url)
    if kind not in KINDS:
        raise ValueError(f"unknown article kind {kind!r}; expected one of {KINDS}")
    # Lone surrogates cannot be encoded for the parser; replace rather than fail.
    content = content[: max(max_input_chars, 0)]
    content = content.encode("utf-8", "replace").decode("utf-8")
    schemes = _HTTP | {"file"} if url.startswith("file:") else _HTTP
    videos = _Videos(url, schemes, max_videos)
    if kind == "html":
        fields = _parse_html(content, url, videos)
    elif kind == "markdown":
        fields = _parse_markdown(content.replace("\r\n", "\n"), videos)
    else:
        fields = _parse_text(content.replace("\r\n", "\n"), url, videos)
    if not fields.source and not url.startswith("file:"):
        fields = replace(fields, source=urlsplit(url).hostname or "")
    fields = _capped(fields)
    return Article(
        id=article_id_for(url),
        url=url,
        title=fields.title,
        text=fields.text[: max(max_text_chars, 0)],
        source=fields.source,
        author=fields.author,
        published=fields.published,
        video_urls=tuple(videos.urls),
    )


def _guess_kind(content: str, url: str) -> str:
    path = urlsplit(url).path.lower()
    if path.endswith((".html", ".htm")):
        return "html"
    if path.endswith((".md", ".markdown")):
        return "markdown"
    if url.startswith("file:") or path.endswith(".txt"):
        return "text"
    head = content[:100_000].lstrip("\ufeff \t\r\n").lower()
    if head.startswith(("<!doctype", "<html")) or _HTML_SNIFF.search(head):
        return "html"
    return "text"
