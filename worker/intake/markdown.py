"""Reading Markdown and plain-text articles: title, text, front matter and video links.

Markdown is read by a few bounded regular expressions rather than a full
CommonMark parser: only the title, the readable text and the links matter.
"""

from __future__ import annotations

import re

from worker.intake.fields import _collapse, _Fields, _first_line, _parse_date
from worker.intake.links import _MP4, _bare_urls, _media_tags, _Videos

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


def _parse_markdown(content: str, videos: _Videos) -> _Fields:
    """The fields of a Markdown article; its video links go to ``videos``."""
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


# --- Plain text -------------------------------------------------------------


def _parse_text(content: str, url: str, videos: _Videos) -> _Fields:
    """The fields of a plain-text article; its video links go to ``videos``."""
    text = content.strip()
    found = list(_bare_urls(text))
    if url.startswith("file:"):
        # Lets an offline example list its clips by path, one per line.
        found += [(m.start(1), m.group(1)) for m in _RELATIVE_VIDEO_LINE.finditer(text)]
    for _, raw in sorted(found, key=lambda item: item[0]):
        videos.add(raw, _MP4)
    return _Fields(title=_first_line(text), text=text)
