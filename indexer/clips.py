"""Turning a matching transcript segment into a clip with word-exact bounds, and highlights."""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence

from indexer.domain import Clip, Word
from indexer.query import ParsedQuery
from indexer.schema import ANALYZER, analyze

LEAD_IN_SECONDS = 0.5
_SENTENCE_END = (".", "?", "!", "…")
_FRAGMENT_CHARS = 240


def matched_word_indexes(words: Sequence[str], query: ParsedQuery) -> list[int]:
    """Indexes of the words that match a query term or belong to a matched phrase."""
    flat: list[tuple[str, int]] = []  # (index term, word index)
    for index, word in enumerate(words):
        flat.extend((term, index) for term in analyze(word))
    hits: set[int] = set()
    singles = set(query.terms)
    for term, index in flat:
        if term in singles:
            hits.add(index)
    terms_only = [term for term, _ in flat]
    for phrase in query.phrases:
        size = len(phrase)
        for pos in range(len(terms_only) - size + 1):
            if tuple(terms_only[pos : pos + size]) == phrase:
                hits.update(index for _, index in flat[pos : pos + size])
    return sorted(hits)


def _ends_sentence(word: str) -> bool:
    return word.strip().rstrip("\"')]”’").endswith(_SENTENCE_END)


def _mark(words: Sequence[str], marked: set[int], first: int, last: int) -> str:
    parts: list[str] = []
    for index in range(first, last + 1):
        text = html.escape(words[index].strip(), quote=True)
        parts.append(f"<mark>{text}</mark>" if index in marked else text)
    return " ".join(parts)


def clip_for_segment(
    *,
    score: float,
    video_id: str,
    video_url: str,
    seg_start: float,
    seg_end: float,
    seg_text: str,
    words: Sequence[Word],
    query: ParsedQuery,
    match: str = "exact",
) -> Clip:
    """The clip of one matching segment.

    It starts at the first matched word less a short lead-in and ends at the end of the
    sentence (or the segment) that holds the last matched word.
    """
    tokens = [w.word for w in words]
    hits = matched_word_indexes(tokens, query)
    if not words or not hits:
        # No word timings (or the match was only in a form we cannot place): the whole segment.
        escaped = html.escape(seg_text.strip(), quote=True)
        return Clip(score, video_id, video_url, round(seg_start, 2), round(seg_end, 2),
                    seg_text.strip(), escaped, match=match)
    first, last = hits[0], hits[-1]
    end_index = last
    while end_index < len(words) - 1 and not _ends_sentence(tokens[end_index]):
        end_index += 1
    start = max(0.0, words[first].start - LEAD_IN_SECONDS)
    # Show the words that fall in the lead-in too, so the text matches what is heard.
    show_from = first
    while show_from > 0 and words[show_from - 1].start >= start:
        show_from -= 1
    end = words[end_index].end if end_index < len(words) - 1 else max(words[-1].end, seg_end)
    text = " ".join(t.strip() for t in tokens[show_from : end_index + 1])
    return Clip(
        score=score,
        video_id=video_id,
        video_url=video_url,
        start=round(start, 2),
        end=round(end, 2),
        text=text,
        highlight=_mark(tokens, set(hits), show_from, end_index),
        match=match,
    )


def merge_overlapping(clips: Iterable[Clip]) -> list[Clip]:
    """Merge clips of the same video whose time ranges overlap; keep the best score."""
    by_video: dict[str, list[Clip]] = {}
    for clip in clips:
        by_video.setdefault(clip.video_id, []).append(clip)
    merged: list[Clip] = []
    for group in by_video.values():
        group.sort(key=lambda c: c.start)
        current = group[0]
        for clip in group[1:]:
            if clip.start <= current.end:
                current = Clip(
                    score=max(current.score, clip.score),
                    video_id=current.video_id,
                    video_url=current.video_url,
                    start=current.start,
                    end=max(current.end, clip.end),
                    text=f"{current.text} {clip.text}",
                    highlight=f"{current.highlight} {clip.highlight}",
                    articles=current.articles,
                    match=current.match if current.score >= clip.score else clip.match,
                )
            else:
                merged.append(current)
                current = clip
        merged.append(current)
    return merged


def highlight_fragment(text: str, query: ParsedQuery, max_chars: int = _FRAGMENT_CHARS) -> str:
    """An HTML-escaped excerpt of *text* around its first match, matches in ``<mark>``."""
    wanted = query.all_terms()
    window = text[:200_000]  # a match deep in a huge article is not worth the analysis time
    spans: list[tuple[int, int]] = []
    for token in ANALYZER(window, chars=True):
        if token.text in wanted:
            spans.append((token.startchar, token.endchar))
    if not spans:
        snippet = text[:max_chars]
        return html.escape(snippet + ("…" if len(text) > max_chars else ""), quote=True)
    begin = max(0, spans[0][0] - max_chars // 4)
    # Start the excerpt on a word boundary.
    while 0 < begin < spans[0][0] and not window[begin - 1].isspace():
        begin += 1
    finish = min(len(window), begin + max_chars)
    out: list[str] = ["…" if begin > 0 else ""]
    cursor = begin
    for s, e in spans:
        if s < begin or e > finish:
            continue
        out.append(html.escape(window[cursor:s], quote=True))
        out.append(f"<mark>{html.escape(window[s:e], quote=True)}</mark>")
        cursor = e
    out.append(html.escape(window[cursor:finish], quote=True))
    if finish < len(text):
        out.append("…")
    return "".join(out).strip()
