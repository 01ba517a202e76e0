"""Reading an article from where the user pointed: an http(s) URL or a local file."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from indexer.domain import Article
from worker.errors import FetchError
from worker.intake.articles import parse_article
from worker.intake.fetch import FetchLimits, fetch_text

__all__ = ["is_url", "read_article", "source_problem"]


def is_url(source: str) -> bool:
    """True for an http(s) URL, False for anything else (taken as a local path)."""
    return urlsplit(source).scheme.lower() in ("http", "https")


def source_problem(source: str) -> str | None:
    """Why *source* (an article or a video as typed) cannot be read, or None if it may be.

    Anything but an http(s) URL is taken as a local path; a path that is a folder, or that
    looks like a URL of another scheme, would otherwise be reported as "no such file".
    """
    scheme = urlsplit(source).scheme.lower()
    if scheme in ("http", "https"):
        return None
    # One letter is a Windows drive (C:\\...), not a scheme.
    if len(scheme) > 1 and "://" in source:
        return f"unsupported scheme {scheme}:// (use http://, https:// or a local file)"
    path = Path(source).expanduser()
    if path.is_dir():
        return f"{source} is a directory, not a file"
    if not path.exists():
        return f"no such file: {source}"
    return None


def _kind_from_content_type(content_type: str) -> str | None:
    lowered = content_type.lower()
    if "html" in lowered:
        return "html"
    if "markdown" in lowered:
        return "markdown"
    if lowered.startswith("text/plain"):
        return "text"
    return None


def read_article(source: str, limits: FetchLimits, content: str | None = None) -> Article:
    """Fetch and parse an article from an http(s) URL or a local HTML/Markdown/text file.

    With *content* (HTML handed to us, e.g. posted to the API), nothing is fetched and
    *source* is only the article's URL, used to resolve its links.
    """
    if content is not None:
        if not is_url(source):
            raise FetchError(f"an article given as HTML needs its http(s) URL, not {source!r}")
        if len(content) > limits.max_bytes:
            raise FetchError(f"article is over the size cap of {limits.max_bytes} bytes")
        return _parse(content, source, "html")
    if is_url(source):
        text, final_url, content_type = fetch_text(source, limits)
        return _parse(text, final_url, _kind_from_content_type(content_type))
    problem = source_problem(source)
    if problem is not None:
        raise FetchError(problem)
    path = Path(source).expanduser()
    if path.stat().st_size > limits.max_bytes:
        raise FetchError(f"{source} is over the article size cap of {limits.max_bytes} bytes")
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise FetchError(f"cannot read {source}: {exc.strerror}") from exc
    return _parse(text, path.resolve().as_uri(), None)


def _parse(text: str, location: str, kind: str | None) -> Article:
    try:
        return parse_article(text, location, kind)
    except ValueError as exc:  # a location parse_article refuses, e.g. one far too long
        raise FetchError(str(exc)) from exc
