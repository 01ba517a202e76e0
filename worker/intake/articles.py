"""Turn a fetched article (HTML, Markdown or plain text) into an :class:`Article`.

Only parsing happens here: the caller fetches the page or reads the file and
hands over its text, so the CLI, the HTTP app and the Celery tasks share one
function and the tests need no network.  Pages are written by strangers, so
every step is bounded and a strange link is dropped, never raised on.
"""

from __future__ import annotations

import hashlib
import html as html_lib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import quote, urljoin, urlsplit, urlunsplit

from selectolax.lexbor import LexborHTMLParser, LexborNode

from indexer.domain import Article

KINDS = ("html", "markdown", "text")
MAX_INPUT_CHARS = 10_000_000

# Lexbor closes an open <p> before every block start tag by walking the whole
# stack of open elements, so 200k nested <div>s (1 MB) take minutes to parse.
# Browsers cap nesting for the same reason (Chromium at 512).
_MAX_DEPTH = 512
_MAX_TITLE_CHARS = 300
_MAX_URL_CHARS = 8192

_HTTP = frozenset({"http", "https"})
_MP4 = (".mp4",)
_VIDEO_EXTENSIONS = (".mp4", ".m4v", ".mov", ".webm")
_META_VIDEO_KEYS = frozenset(
    {"og:video", "og:video:url", "og:video:secure_url", "twitter:player:stream"}
)
_META_VIDEO_TYPE_KEYS = ("og:video:type", "twitter:player:stream:content_type")
_META_DATE_KEYS = (
    "article:published_time",
    "datepublished",
    "date",
    "pubdate",
    "publishdate",
    "dc.date",
    "dc.date.issued",
    "dcterms.date",
)

# Browsers ignore tabs and newlines anywhere in a URL; invisible format
# characters come from copy-pasted links.
_INVISIBLE = re.compile("[\t\n\r\u00ad\u200b-\u200f\u2028\u2029\u2060\ufeff]")
_HOST = re.compile(r"[\w.-]+|[0-9a-f:.]+", re.IGNORECASE)
_URL_SAFE = "/%:@!$&'()*+,;=~"
_BARE_URL = re.compile(r"(?:https?|file)://[^\s<>\"'`{}|\\^\[\]]+", re.IGNORECASE)
_TRAILING_PUNCTUATION = ".,;:!?*'\"»”’>"

_ALWAYS_DROP = frozenset({"script", "style", "noscript", "template", "iframe", "svg"})
_STRUCTURAL_DROP = frozenset({"nav", "footer", "aside"})
_FURNITURE_CANDIDATES = ", ".join(
    [*_ALWAYS_DROP, *_STRUCTURAL_DROP, "header", "form", "[class]", "[id]", "[role]"]
)
_NEVER_DROP = frozenset({"html", "body", "article", "main"})
_BOILERPLATE_WORDS = frozenset(
    {
        "nav", "navbar", "navigation", "menu", "menubar", "breadcrumb", "breadcrumbs",
        "cookie", "cookies", "consent", "gdpr", "share", "sharing", "social",
        "related", "comment", "comments", "footer",
    }
)  # fmt: skip
_BOILERPLATE_ROLES = frozenset(
    {"navigation", "menu", "menubar", "banner", "contentinfo", "complementary"}
)
_WORD = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])")
_BLOCKS = frozenset(
    {"p", "h1", "h2", "h3", "h4", "h5", "h6", "li", "blockquote", "figcaption", "pre"}
)
_FALLBACK_BLOCKS = _BLOCKS | {
    "div", "section", "article", "main", "body", "td", "th", "tr", "dd", "dt",
    "ul", "ol", "dl", "table", "figure",
}  # fmt: skip

# Tags that never deepen the tree: void elements and those whose end tag is
# optional (the parser closes them implicitly).
_FLAT_TAGS = frozenset(
    {
        "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
        "source", "track", "wbr", "param", "keygen", "p", "li", "dt", "dd",
        "option", "optgroup", "tr", "td", "th", "tbody", "thead", "tfoot",
        "colgroup", "rb", "rt", "rtc", "rp", "html", "head", "body",
    }
)  # fmt: skip
_RAW_TEXT_TAGS = ("script", "style", "textarea", "title", "xmp", "iframe",
                  "noembed", "noframes", "noscript", "plaintext")  # fmt: skip
_TAG_OPEN = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9:-]*)|<!--")
_RAW_TEXT_END = {name: re.compile(rf"</{name}[\s/>]", re.IGNORECASE) for name in _RAW_TEXT_TAGS}

_ISO_DATE = re.compile(r"\s*(\d{4})([-/.])(\d{1,2})\2(\d{1,2})(?!\d)")
_BASIC_DATE = re.compile(r"\s*(\d{4})(\d{2})(\d{2})(?!\d)")
_WORDY_DATE_FORMATS = ("%B %d, %Y", "%b %d, %Y", "%d %B %Y", "%d %b %Y")

_MD_TARGET = (
    r"\([ \t]{0,8}<?([^\s()<>]{0,4000}(?:\([^\s()<>]{0,4000}\)[^\s()<>]{0,4000})?)>?"
    r"(?:[ \t]{1,8}(?:\"[^\"\n]{0,1000}\"|'[^'\n]{0,1000}'))?[ \t]{0,8}\)"
)
_MD_IMAGE = re.compile(r"!\[[^\[\]\n]{0,1000}\]" + _MD_TARGET)
_MD_LINK = re.compile(r"\[([^\[\]\n]{0,1000})\]" + _MD_TARGET)
_MD_REF_LINK = re.compile(r"\[([^\[\]\n]{1,1000})\]\[[^\[\]\n]{0,1000}\]")
_MD_REF_DEF = re.compile(
    r"^[ ]{0,3}\[[^\[\]\n]{1,1000}\]:[ \t]*<?([^\s<>]{1,4000})>?[^\n]*$", re.MULTILINE
)
_MD_AUTOLINK = re.compile(r"<((?:https?|file)://[^\s<>]{1,4000})>", re.IGNORECASE)
_HTML_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9-]{0,30}(?:\s[^<>]{0,2000})?/?>")
_MEDIA_TAG = re.compile(r"<(/?)(video|source)\b([^<>]{0,2000})>", re.IGNORECASE)
_TAG_ATTR = re.compile(
    r"""(?:^|\s)(src|type)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+))""",
    re.IGNORECASE,
)
_FRONT_MATTER_LINE = re.compile(r"([A-Za-z_][\w-]*)[ \t]*:[ \t]*(.*)")
_FRONT_MATTER_KEYS = {
    "title": "title",
    "author": "author",
    "date": "published",
    "published": "published",
    "pubdate": "published",
    "publishdate": "published",
    "source": "source",
    "site": "source",
    "site_name": "source",
}
_RELATIVE_VIDEO_LINE = re.compile(
    r"^[ \t]*([^\s:<>\"'|*?]{1,4000}\.mp4)[ \t]*$", re.MULTILINE | re.IGNORECASE
)
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
    unsupported location or kind, never for odd content.

    ``video_urls`` holds at most ``max_videos`` distinct URLs in page order,
    absolute, percent-encoded, without fragment or userinfo; http(s) only,
    plus ``file:`` ones when the article itself is a local file.  Links in
    page furniture (navigation, footers, asides, comments, related links)
    are not the article's and are left out, as is its text.
    """
    url = _canonical_location(location)
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
    host = urlsplit(url).hostname or ""
    return Article(
        id=article_id_for(url),
        url=url,
        title=_shorten(fields.title, _MAX_TITLE_CHARS),
        text=fields.text[: max(max_text_chars, 0)],
        source=fields.source or (host if not url.startswith("file:") else ""),
        author=fields.author,
        published=fields.published,
        video_urls=tuple(videos.urls),
    )


@dataclass(frozen=True)
class _Fields:
    """What one parser found, before the shared defaults and limits apply."""

    title: str
    text: str
    author: str = ""
    source: str = ""
    published: str = ""


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
    return urlunsplit((scheme, parts.netloc.lower(), path, query, ""))


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


# --- HTML -------------------------------------------------------------------


def _parse_html(content: str, url: str, videos: _Videos) -> _Fields:
    tree = LexborHTMLParser(_limit_nesting(content))
    root = tree.root
    if root is None:
        return _Fields(title="", text="")
    metas = _meta_values(tree)
    base = tree.css_first("base[href]")
    if base is not None and url.startswith("http"):
        base_url = _resolve(_clean_href(base.attributes.get("href") or ""), url, _HTTP, None)
        videos.base = base_url or url
    container = _main_container(tree)
    furniture = _furniture(tree, container)
    _collect_html_videos(root, furniture, videos, metas)
    title = metas.get("og:title") or _first_text(tree, "title")
    return _Fields(
        title=title or _first_text(tree, "h1"),
        text=_main_text(container, furniture),
        author=_html_author(tree, metas),
        source=metas.get("og:site_name", ""),
        published=_html_published(tree, metas),
    )


def _limit_nesting(content: str, max_depth: int = _MAX_DEPTH) -> str:
    """Remove start tags (and their end tags) nested deeper than ``max_depth``.

    A cheap tokenizer estimates the depth the parser will reach; real pages
    stay far below the cap and come back unchanged.
    """
    depth = dropped = 0
    cuts: list[tuple[int, int]] = []
    pos = 0
    while (match := _TAG_OPEN.search(content, pos)) is not None:
        if match.group() == "<!--":
            end = content.find("-->", match.end())
            if end < 0:
                break
            pos = end + 3
            continue
        tag_end = content.find(">", match.end())
        if tag_end < 0:
            break
        pos = tag_end + 1
        name = match.group(2).lower()
        if match.group(1):  # an end tag
            if name in _FLAT_TAGS or name in _RAW_TEXT_END:
                continue
            if dropped:
                dropped -= 1
                cuts.append((match.start(), pos))
            elif depth:
                depth -= 1
            continue
        if name in _RAW_TEXT_END:
            raw_end = _RAW_TEXT_END[name].search(content, pos)
            if raw_end is None:
                break
            pos = raw_end.start()
            continue
        # "<x/>" only self-closes in SVG and MathML, but counting it would
        # make every icon-heavy page look deep.
        if name in _FLAT_TAGS or content[tag_end - 1] == "/":
            continue
        if depth >= max_depth:
            dropped += 1
            cuts.append((match.start(), pos))
        else:
            depth += 1
    if not cuts:
        return content
    pieces: list[str] = []
    last = 0
    for start, end in cuts:
        pieces.append(content[last:start])
        last = end
    pieces.append(content[last:])
    return "".join(pieces)


def _furniture(tree: LexborHTMLParser, container: LexborNode | None) -> frozenset[int]:
    """mem_ids of the subtrees that are page furniture rather than the article.

    Nothing that contains the main container is furniture, so a wrapper such
    as ASP.NET's page-wide <form> or a "has-sidebar" layout <div> never takes
    the article with it.  Without an <article> or <main> to anchor on, the
    headline (<h1>) stands in for the article.
    """
    holds_main = _ancestor_ids([container] if container is not None else [])
    holds_heading = holds_main
    if container is None or container.tag == "body":
        holds_heading = holds_main | _ancestor_ids(tree.css("h1"))
    # An article's own <header> holds its headline, standfirst and often the
    # lead video; only the page's header is furniture.
    article_headers = {node.mem_id for node in tree.css("article header")}
    furniture: set[int] = set()
    for node in tree.css(_FURNITURE_CANDIDATES):
        tag, key = node.tag or "", node.mem_id
        if tag in _ALWAYS_DROP:
            dropped = True
        elif tag in _NEVER_DROP:
            dropped = False
        elif tag in _STRUCTURAL_DROP or (tag == "header" and key not in article_headers):
            dropped = key not in holds_main
        elif tag == "form" or _marked_as_boilerplate(node):
            dropped = key not in holds_heading
        else:
            dropped = False
        if dropped:
            furniture.add(key)
    return frozenset(furniture)


def _ancestor_ids(nodes: list[LexborNode]) -> frozenset[int]:
    """mem_ids of ``nodes`` and of everything above them."""
    ids: set[int] = set()
    for node in nodes:
        ids.add(node.mem_id)
        ancestor = node.parent
        # Stop at a known ancestor: every node above it is already in the set.
        while ancestor is not None and ancestor.mem_id not in ids:
            ids.add(ancestor.mem_id)
            ancestor = ancestor.parent
    return frozenset(ids)


def _marked_as_boilerplate(node: LexborNode) -> bool:
    attrs = node.attributes
    role = (attrs.get("role") or "").strip().lower()
    if role in _BOILERPLATE_ROLES:
        return True
    names = f"{attrs.get('class') or ''} {attrs.get('id') or ''}"[:1000]
    return any(word.lower() in _BOILERPLATE_WORDS for word in _WORD.findall(names))


def _walk(
    root: LexborNode, furniture: frozenset[int], blocks: frozenset[str]
) -> Iterator[tuple[LexborNode, int]]:
    """Yield the element and text nodes under ``root`` in document order,
    skipping furniture, each with a number naming its nearest block (0: none)."""
    counter = 0
    stack: list[tuple[LexborNode, int]] = [(root, 0)]
    while stack:
        node, block = stack.pop()
        if node.is_text_node:
            yield node, block
            continue
        if not node.is_element_node or (node is not root and node.mem_id in furniture):
            continue
        if node.tag in blocks:
            counter += 1
            block = counter
        yield node, block
        children = []
        child = node.child
        while child is not None:
            children.append((child, block))
            child = child.next
        stack.extend(reversed(children))


def _main_container(tree: LexborHTMLParser) -> LexborNode | None:
    # Teaser cards are <article>s too; the story is the one with the most text.
    articles = tree.css("article")[:50]
    if articles:
        return max(articles, key=lambda node: len(node.text()))
    return tree.css_first("main") or tree.css_first("[role=main]") or tree.body


def _main_text(container: LexborNode | None, furniture: frozenset[int]) -> str:
    if container is None:
        return ""
    paragraphs = _paragraphs(container, furniture, _BLOCKS)
    if not paragraphs:
        paragraphs = _paragraphs(container, furniture, _FALLBACK_BLOCKS | {container.tag or ""})
    return "\n\n".join(paragraphs)


def _paragraphs(
    container: LexborNode, furniture: frozenset[int], blocks: frozenset[str]
) -> list[str]:
    paragraphs: list[str] = []
    pieces: list[str] = []
    current = 0
    for node, block in _walk(container, furniture, blocks):
        if block != current:
            _flush(pieces, paragraphs)
            current = block
        if not block:
            continue
        if node.is_text_node:
            pieces.append(node.text_content or "")
        elif node.tag == "br":
            pieces.append(" ")
    _flush(pieces, paragraphs)
    return paragraphs


def _flush(pieces: list[str], paragraphs: list[str]) -> None:
    text = _collapse("".join(pieces))
    if text:
        paragraphs.append(text)
    pieces.clear()


def _collect_html_videos(
    root: LexborNode, furniture: frozenset[int], videos: _Videos, metas: dict[str, str]
) -> None:
    # og:video is often a player page (YouTube's embed URL) that no
    # downloader can read; trust it only with a video path or a video type.
    meta_typed = any(
        metas.get(key, "").lower().startswith("video/") for key in _META_VIDEO_TYPE_KEYS
    )
    for node, _ in _walk(root, furniture, frozenset()):
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


def _meta_values(tree: LexborHTMLParser) -> dict[str, str]:
    """First non-empty content of each meta name/property/itemprop, lowercased."""
    values: dict[str, str] = {}
    for node in tree.css("meta[content]"):
        attrs = node.attributes
        content = _collapse(attrs.get("content") or "")
        for attr in ("property", "name", "itemprop"):
            key = (attrs.get(attr) or "").strip().lower()
            if key and content:
                values.setdefault(key, content)
    return values


def _first_text(tree: LexborHTMLParser, selector: str) -> str:
    node = tree.css_first(selector)
    return _collapse(node.text()) if node is not None else ""


def _html_author(tree: LexborHTMLParser, metas: dict[str, str]) -> str:
    # article:author is usually a profile URL rather than a name.
    candidates = [metas.get("author", ""), metas.get("article:author", "")]
    candidates += [node.text() for node in tree.css("[rel~=author], .byline")[:10]]
    for candidate in candidates:
        name = re.sub(r"^by\s+", "", _collapse(candidate), flags=re.IGNORECASE)
        if name and "://" not in name:
            return _shorten(name, 200)
    return ""


def _html_published(tree: LexborHTMLParser, metas: dict[str, str]) -> str:
    candidates = [metas.get(key, "") for key in _META_DATE_KEYS]
    nodes = tree.css("[itemprop=datePublished]")[:10] + tree.css("time[datetime]")[:1]
    for node in nodes:
        attrs = node.attributes
        candidates.append(attrs.get("datetime") or attrs.get("content") or node.text())
    for candidate in candidates:
        if parsed := _parse_date(candidate):
            return parsed
    return ""


# --- Markdown and plain text ------------------------------------------------


def _parse_markdown(content: str, videos: _Videos) -> _Fields:
    meta, body = _front_matter(content.lstrip("\ufeff"))
    found: list[tuple[int, str, tuple[str, ...] | None]] = []
    found += [(m.start(), m.group(1), _MP4) for m in _MD_IMAGE.finditer(body)]
    # Blank images out (keeping offsets) so "[![poster](p.jpg)](clip.mp4)" is one link.
    without_images = _MD_IMAGE.sub(lambda m: " " * len(m.group()), body)
    found += [(m.start(), m.group(2), _MP4) for m in _MD_LINK.finditer(without_images)]
    found += [(m.start(), m.group(1), _MP4) for m in _MD_REF_DEF.finditer(body)]
    found += _media_tags(body)
    found += [(offset, url, _MP4) for offset, url in _bare_urls(body)]
    for _, raw, extensions in sorted(found, key=lambda item: item[0]):
        videos.add(raw, extensions)

    text = _MD_REF_DEF.sub("", _MD_IMAGE.sub("", body))
    text = _MD_REF_LINK.sub(r"\1", _MD_LINK.sub(r"\1", text))
    text = _HTML_TAG.sub("", _MD_AUTOLINK.sub(r"\1", _strip_comments(text)))
    lines: list[str] = []
    title = ""
    for line in text.split("\n"):
        heading, level = _heading(line)
        if level == 1 and not title:
            title = heading
        lines.append(heading if level else line.rstrip())
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    return _Fields(
        title=meta.get("title") or title or _first_line(text),
        text=text,
        author=meta.get("author", ""),
        source=meta.get("source", ""),
        published=_parse_date(meta.get("published", "")),
    )


def _front_matter(content: str) -> tuple[dict[str, str], str]:
    """Split a leading ``---`` YAML block off; read its flat ``key: value`` lines."""
    lines = content.split("\n", 200)
    if not lines or lines[0].strip() != "---":
        return {}, content
    for end in range(1, min(len(lines), 200)):
        if lines[end].strip() in ("---", "..."):
            break
    else:
        return {}, content
    meta: dict[str, str] = {}
    for line in lines[1:end]:
        match = _FRONT_MATTER_LINE.fullmatch(line.strip())
        key = _FRONT_MATTER_KEYS.get(match.group(1).lower()) if match else None
        if match is None or key is None:
            continue
        value = match.group(2).strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        # Lists, block scalars and nested maps are beyond "simple" lines.
        if value and value[0] not in "[{|>&*" and key not in meta:
            meta[key] = _collapse(value)
    return meta, "\n".join(lines[end + 1 :])


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


def _strip_comments(text: str) -> str:
    # A regex would rescan to the end for every unclosed "<!--".
    pieces: list[str] = []
    pos = 0
    while (start := text.find("<!--", pos)) >= 0:
        end = text.find("-->", start + 4)
        if end < 0:
            break
        pieces.append(text[pos:start])
        pos = end + 3
    pieces.append(text[pos:])
    return "".join(pieces)


def _heading(line: str) -> tuple[str, int]:
    """The text and level of an ATX heading line, or ("", 0)."""
    stripped = line.lstrip(" ")
    if len(line) - len(stripped) > 3:
        return "", 0
    level = len(stripped) - len(stripped.lstrip("#"))
    rest = stripped[level:]
    if not 1 <= level <= 6 or (rest and rest[0] not in " \t"):
        return "", 0
    rest = rest.strip()
    unclosed = rest.rstrip("#")
    if not unclosed or unclosed[-1] in " \t":
        rest = unclosed.rstrip()
    return rest, level


def _parse_text(content: str, url: str, videos: _Videos) -> _Fields:
    text = content.strip()
    found = list(_bare_urls(text))
    if url.startswith("file:"):
        # Lets an offline example list its clips by path, one per line.
        found += [(m.start(1), m.group(1)) for m in _RELATIVE_VIDEO_LINE.finditer(text)]
    for _, raw in sorted(found, key=lambda item: item[0]):
        videos.add(raw, _MP4)
    return _Fields(title=_first_line(text), text=text)


# --- Small helpers ------------------------------------------------------------


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
