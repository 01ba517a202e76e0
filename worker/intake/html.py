"""Reading an HTML page: its metadata, its main text without page furniture, its videos.

Pages are written by strangers: nesting too deep for the parser is cut before
parsing (see :func:`_limit_nesting`), and odd markup yields less, never an error.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from selectolax.lexbor import LexborHTMLParser, LexborNode

from worker.intake.fields import _collapse, _Fields, _parse_date
from worker.intake.links import (
    _HTTP,
    _clean_href,
    _collect_html_videos,
    _collect_json_ld_videos,
    _resolve,
    _Videos,
)

# Lexbor closes an open <p> before every block start tag by walking the whole
# stack of open elements, so 200k nested <div>s (1 MB) take minutes to parse.
# Browsers cap nesting for the same reason (Chromium at 512).
_MAX_DEPTH = 512

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
        # Above the headline and under it: section labels and the author/date line. Their
        # facts are read as metadata; run into the text they made every excerpt open with
        # "Region ... By Maria Ellis, 20 November 2026".
        "kicker", "eyebrow", "byline", "dateline",
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


def _parse_html(content: str, url: str, videos: _Videos) -> _Fields:
    """The fields of an HTML page; its video links go to ``videos``."""
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
    # Links in furniture (a related-videos box, a footer) are not the article's.
    nodes = (node for node, _ in _walk(root, furniture, frozenset()))
    _collect_html_videos(nodes, videos, metas)
    # Structured data (JSON-LD) after the page's own links; read with json, not extruct:
    # it is all VideoObject discovery needs (benchmarks/articles.py: 0.04 ms a page against
    # extruct's 0.24 ms and its rdflib/lxml/html5lib dependencies).
    _collect_json_ld_videos(
        (node.text(deep=True) for node in tree.css('script[type="application/ld+json" i]')),
        videos)
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
            return name
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
