"""Finding an article's video links, and the URL rules they must pass.

Candidates come from every format: ``<a href>``, ``<video src>``, ``<source
src>``, og:video and schema.org ``VideoObject`` in JSON-LD in HTML, the same tags
written into Markdown, and bare URLs in any text.  Each is resolved against the article's
location, normalised and kept only if it is an allowed, plausible video URL; a strange link
is dropped, never raised on.
"""

from __future__ import annotations

import html as html_lib
import json
import re
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import quote, urljoin, urlsplit, urlunsplit

from selectolax.lexbor import LexborNode

_HTTP = frozenset({"http", "https"})
_MP4 = (".mp4",)
_VIDEO_EXTENSIONS = (".mp4", ".m4v", ".mov", ".webm")
_MAX_URL_CHARS = 8192
# The longest video URL kept, after resolving and percent-encoding (which can multiply an
# href's length by twelve); it is stored, indexed and sent with every clip.
MAX_VIDEO_URL_CHARS = 4096
_META_VIDEO_KEYS = frozenset(
    {"og:video", "og:video:url", "og:video:secure_url", "twitter:player:stream"}
)
_META_VIDEO_TYPE_KEYS = ("og:video:type", "twitter:player:stream:content_type")

# Browsers ignore tabs and newlines anywhere in a URL; invisible format
# characters come from copy-pasted links.
_INVISIBLE = re.compile("[\t\n\r\u00ad\u200b-\u200f\u2028\u2029\u2060\ufeff]")
_HOST = re.compile(r"[\w.-]+|[0-9a-f:.]+", re.IGNORECASE)
_URL_SAFE = "/%:@!$&'()*+,;=~"
_BARE_URL = re.compile(r"(?:https?|file)://[^\s<>\"'`{}|\\^\[\]]+", re.IGNORECASE)
_TRAILING_PUNCTUATION = ".,;:!?*'\"»”’>"

_MEDIA_TAG = re.compile(r"<(/?)(video|source)\b([^<>]{0,2000})>", re.IGNORECASE)
_TAG_ATTR = re.compile(
    r"""(?:^|\s)(src|type)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+))""",
    re.IGNORECASE,
)


class _Videos:
    """Resolves candidate links and keeps the first ``limit`` distinct videos."""

    def __init__(self, base: str, schemes: frozenset[str], limit: int) -> None:
        self.base = base
        self._schemes = schemes
        self._limit = max(limit, 0)
        self._seen: set[str] = set()
        self._tried: set[tuple[str, tuple[str, ...] | None]] = set()
        self.urls: list[str] = []

    @property
    def full(self) -> bool:
        """True once the cap is reached, so callers can stop looking."""
        return len(self.urls) >= self._limit

    def add(self, raw: str | None, extensions: tuple[str, ...] | None) -> None:
        """Keep ``raw`` if it resolves to an allowed URL whose path ends in one
        of ``extensions`` (any path when None)."""
        # Cheap tests first: a page can hold hundreds of thousands of links.
        if raw is None or self.full or (raw, extensions) in self._tried:
            return
        self._tried.add((raw, extensions))
        href = _clean_href(raw)
        if extensions is not None and not any(ext in href.lower() for ext in extensions):
            return
        url = _resolve(href, self.base, self._schemes, extensions)
        if url is not None and url not in self._seen:
            self._seen.add(url)
            self.urls.append(url)

    def add_bare_urls(self, text: str) -> None:
        """Keep every bare MP4 URL written out in ``text``."""
        for _, url in _bare_urls(text):
            self.add(url, _MP4)


# --- URLs -------------------------------------------------------------------


def _canonical_location(location: str) -> str:
    parts = urlsplit(location.strip())
    scheme = parts.scheme.lower()
    if scheme in _HTTP and parts.hostname:
        path = parts.path or "/"
    elif scheme == "file" and parts.path.startswith("/"):
        path = parts.path
    else:
        raise ValueError(f"not an http(s) or file:/// URL: {location!r}")
    return urlunsplit((scheme, parts.netloc.lower(), path, parts.query, ""))


def _clean_href(raw: str) -> str:
    return _INVISIBLE.sub("", raw).strip()


def _resolve(
    href: str, base: str, schemes: frozenset[str], extensions: tuple[str, ...] | None
) -> str | None:
    if not href or len(href) > _MAX_URL_CHARS:
        return None
    try:
        # Browsers read "\" as "/" in web URLs; do the same so "http:\\x" and
        # "a.com\@b.com" cannot smuggle a different host past the checks.
        parts = urlsplit(urljoin(base, href.replace("\\", "/")))
        if parts.port == 0:
            return None
    except ValueError:  # bad port, unbalanced IPv6 brackets, bad netloc
        return None
    scheme = parts.scheme.lower()
    if scheme not in schemes or "@" in parts.netloc:
        return None
    if scheme == "file":
        if parts.netloc.lower() not in ("", "localhost"):
            return None
    elif not _HOST.fullmatch(parts.hostname or ""):
        return None
    if extensions is not None and not parts.path.lower().endswith(extensions):
        return None
    path = quote(parts.path, safe=_URL_SAFE) or "/"
    query = quote(parts.query, safe=_URL_SAFE + "?")
    url = urlunsplit((scheme, parts.netloc.lower(), path, query, ""))
    # Dropped, not cut: a shortened URL would name another resource.
    return url if len(url) <= MAX_VIDEO_URL_CHARS else None


def _bare_urls(text: str) -> Iterator[tuple[int, str]]:
    """Offsets and URLs of the http(s) and file URLs written out in ``text``."""
    for match in _BARE_URL.finditer(text):
        # Far too long to be a link; trimming it would cost more than it is worth.
        if len(match.group()) <= _MAX_URL_CHARS:
            yield match.start(), _trim_bare_url(match.group())


def _trim_bare_url(url: str) -> str:
    """Drop sentence punctuation after a URL; keep ")" that closes a "(" in it."""
    end = len(url)
    unmatched = url.count(")") - url.count("(")
    while end:
        last = url[end - 1]
        if last in _TRAILING_PUNCTUATION or (last == ")" and unmatched > 0):
            unmatched -= last == ")"
            end -= 1
        else:
            break
    return url[:end]


# --- Video tags in HTML and Markdown ----------------------------------------


def _collect_html_videos(
    nodes: Iterable[LexborNode], videos: _Videos, metas: dict[str, str]
) -> None:
    """Offer ``videos`` the links of ``nodes``, element and text nodes in page order."""
    # og:video is often a player page (YouTube's embed URL) that no
    # downloader can read; trust it only with a video path or a video type.
    meta_typed = any(
        metas.get(key, "").lower().startswith("video/") for key in _META_VIDEO_TYPE_KEYS
    )
    for node in nodes:
        if videos.full:
            return
        if node.is_text_node:
            videos.add_bare_urls(node.text_content or "")
            continue
        tag, attrs = node.tag, node.attributes
        if tag == "a":
            videos.add(attrs.get("href"), _MP4)
        elif tag == "video":
            videos.add(attrs.get("src"), None)
        elif tag == "source" and node.parent is not None and node.parent.tag == "video":
            typed = (attrs.get("type") or "").strip().lower().startswith("video/")
            videos.add(attrs.get("src"), None if typed else _VIDEO_EXTENSIONS)
        elif tag == "meta":
            key = (attrs.get("property") or attrs.get("name") or "").strip().lower()
            if key in _META_VIDEO_KEYS:
                videos.add(attrs.get("content"), None if meta_typed else _VIDEO_EXTENSIONS)


# A page's JSON-LD is read only this far: the number of scripts, each script's characters,
# and the JSON values looked at in all (objects, lists, strings).
_MAX_LD_SCRIPTS = 20
_MAX_LD_CHARS = 1_000_000
_MAX_LD_VALUES = 10_000


def _collect_json_ld_videos(scripts: Iterable[str], videos: _Videos) -> None:
    """Offer ``videos`` the media of every schema.org ``VideoObject`` in the JSON-LD
    ``scripts``: its ``contentUrl`` (the file itself; any path when its ``encodingFormat``
    is a video type, else a video extension) and an ``embedUrl`` that is a video file
    (usually it is a player page, which no downloader can read)."""
    budget = _MAX_LD_VALUES
    for index, script in enumerate(scripts):
        if index >= _MAX_LD_SCRIPTS or videos.full:
            return
        try:
            stack: list[Any] = [json.loads(script[:_MAX_LD_CHARS])]
        except (ValueError, RecursionError):
            continue  # invalid (or cut) JSON: the page's other links still count
        while stack and budget > 0 and not videos.full:
            value = stack.pop()
            budget -= 1
            if isinstance(value, list):
                stack.extend(reversed(value))
            elif isinstance(value, dict):
                if _is_video_object(value):
                    fmt = value.get("encodingFormat")
                    typed = isinstance(fmt, str) and fmt.strip().lower().startswith("video/")
                    for key, extensions in (("contentUrl", None if typed else _VIDEO_EXTENSIONS),
                                            ("embedUrl", _VIDEO_EXTENSIONS)):
                        url = value.get(key)
                        if isinstance(url, str):
                            videos.add(url, extensions)
                # Nested objects: @graph, a NewsArticle's "video", "associatedMedia".
                stack.extend(reversed([v for v in value.values()
                                       if isinstance(v, dict | list)]))


def _is_video_object(value: dict[str, Any]) -> bool:
    kind = value.get("@type")
    kinds = kind if isinstance(kind, list) else [kind]
    return any(isinstance(k, str) and k.rsplit("/", 1)[-1] == "VideoObject" for k in kinds)


def _media_tags(body: str) -> list[tuple[int, str, tuple[str, ...] | None]]:
    """<video src> and <source src> inside <video>, written as HTML in Markdown."""
    found: list[tuple[int, str, tuple[str, ...] | None]] = []
    open_videos = 0
    for match in _MEDIA_TAG.finditer(body):
        closing, name = match.group(1), match.group(2).lower()
        if name == "video":
            open_videos = max(open_videos - 1, 0) if closing else open_videos + 1
        if closing or (name == "source" and not open_videos):
            continue
        attrs: dict[str, str] = {}
        for attr in _TAG_ATTR.finditer(match.group(3)):
            value = attr.group(2) or attr.group(3) or attr.group(4) or ""
            attrs.setdefault(attr.group(1).lower(), html_lib.unescape(value))
        if "src" not in attrs:
            continue
        typed = name == "video" or attrs.get("type", "").lower().startswith("video/")
        found.append((match.start(), attrs["src"], None if typed else _VIDEO_EXTENSIONS))
    return found
