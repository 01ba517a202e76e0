"""Turning a matching transcript segment into a clip with word-exact bounds, and highlights."""

from __future__ import annotations

import bisect
import html
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from indexer.domain import Clip, Word
from indexer.normalize import NormWord, normal_words
from indexer.phonetic import heard_keys, sound_keys
from indexer.query import (
    KEY_FUZZY_MIN,
    LOOSE_MIN_LETTERS,
    MAX_RUN_ON,
    SLOT_SAME_SOUNDS,
    Clause,
    ParsedQuery,
    fuzzy_distance,
    joined_keys,
    query_words,
    slot_words,
)

LEAD_IN_SECONDS = 0.5
_SENTENCE_END = (".", "?", "!", "…")
_FRAGMENT_CHARS = 240

MATCH_EXACT = "exact"
MATCH_PHONETIC = "phonetic"
MATCH_FUZZY = "fuzzy"


@dataclass(frozen=True)
class WordMatch:
    """Which words answer a query, and whether every clause was said exactly."""

    indexes: tuple[int, ...]
    kind: str = MATCH_EXACT
    complete: bool = True  # every clause found (exactly or, if allowed, by sound)


def join_words(words: Sequence[str]) -> tuple[str, list[int]]:
    """The text *words* spell, and where each word starts in it.

    Whisper splits some written words into pieces without a leading space (" 40" ",000",
    " say" "-shipping"); such a piece is glued to the word before it, so "40,000" reads as
    one number again.
    """
    offsets: list[int] = []
    text = ""
    for word in words:
        piece = word.strip()
        if text and not (piece[:1] and not piece[0].isalnum() and word[:1] != " "):
            text += " "
        offsets.append(len(text))
        text += piece
    return text, offsets


def _stream(words: Sequence[str]) -> list[tuple[NormWord, int, int]]:
    """The normalised words of *words* with the first and last word index each comes from."""
    text, offsets = join_words(words)
    out = []
    for norm in normal_words(text):
        first = bisect.bisect_right(offsets, norm.start) - 1
        last = bisect.bisect_right(offsets, max(norm.start, norm.end - 1)) - 1
        out.append((norm, first, last))
    return out


def _exact_positions(stream: Sequence[tuple[NormWord, int, int]], clause: Clause) -> set[int]:
    """Stream positions of every occurrence of every option of *clause* that is satisfied."""
    terms = [norm.terms() for norm, _, _ in stream]
    found: set[int] = set()
    for option in clause.options:
        hits: set[int] = set()
        for sequence in option:
            size = len(sequence)
            occurrences = [
                pos for pos in range(len(terms) - size + 1)
                if all(sequence[j] in terms[pos + j] for j in range(size))
            ]
            if not occurrences:
                break
            for pos in occurrences:
                hits.update(range(pos, pos + size))
        else:
            found |= hits
    return found


def edit_distance(a: str, b: str, limit: int) -> int:
    """Levenshtein distance of *a* and *b*, or ``limit + 1`` once it exceeds *limit*."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1,
                               previous[j - 1] + (ca != cb)))
        if min(current) > limit:
            return limit + 1
        previous = current
    return previous[-1]


def _keys_alike(heard: str, wanted: str, *, fuzzy: bool = True) -> bool:
    if heard == wanted:
        return True
    return (fuzzy and len(wanted) >= KEY_FUZZY_MIN and heard[:1] == wanted[:1]
            and edit_distance(heard, wanted, 1) <= 1)


def _said_alike(stream: Sequence[tuple[NormWord, int, int]],
                wanted: Sequence[str]) -> set[int]:
    """Stream positions of the names, glued words and runs of words heard like a key in
    *wanted* (see :func:`indexer.phonetic.heard_keys`)."""
    found: set[int] = set()
    if not wanted:
        return found
    for first, last, key, name in heard_keys([n for n, _, _ in stream]):
        # Only a name as heard may be one symbol off: runs of common words are too many.
        if any(_keys_alike(key, w, fuzzy=name) for w in wanted):
            found.update(range(first, last + 1))
    return found


def _slot_positions(stream: Sequence[tuple[NormWord, int, int]],
                    query: ParsedQuery) -> set[int]:
    """Positions of the query's words said in order, but for one longer word heard as
    another word that starts with the same sounds ("Bab el-Mansouri" for "Bab el-Mandeb")."""
    words = query_words(query)
    found: set[int] = set()
    slots = slot_words(query)
    stems = [normal_words(w)[0].stem for w in words] if slots else []
    for slot in slots:
        heads = {k[:SLOT_SAME_SOUNDS] for k in sound_keys(words[slot], SLOT_SAME_SOUNDS)}
        for at in range(len(stream) - len(words) + 1):
            said = [stream[at + j][0] for j in range(len(words))]
            if (all(stems[j] in said[j].terms() for j in range(len(words)) if j != slot)
                    and stems[slot] not in said[slot].terms()
                    and heads & {k[:SLOT_SAME_SOUNDS]
                                 for k in sound_keys(said[slot].surface, SLOT_SAME_SOUNDS)}):
                found.update(range(at, at + len(words)))
    return found


def _loose_positions(stream: Sequence[tuple[NormWord, int, int]],
                     clause: Clause) -> tuple[set[int], str] | None:
    """Positions answering each longer word of *clause* exactly or by sound; None if a word
    is not there at all."""
    found: set[int] = set()
    kind = MATCH_EXACT
    for word in (w for w in clause.words if len(w) >= LOOSE_MIN_LETTERS):
        target = normal_words(word)
        wanted = target[0].stem if target else word
        exact = {p for p, (n, _, _) in enumerate(stream) if wanted in n.terms()}
        if exact:
            found |= exact
            continue
        distance = fuzzy_distance(word)
        phonetic = _said_alike(stream, sound_keys(word))
        fuzzy = {p for p, (n, _, _) in enumerate(stream)
                 if distance and any(t[:1] == word[:1] and edit_distance(t, word, distance)
                                     <= distance for t in n.terms())}
        run_on = {p for p, (n, _, _) in enumerate(stream)
                  if n.capital and n.surface.startswith(word)
                  and len(word) < len(n.surface) <= len(word) + MAX_RUN_ON}
        fuzzy |= run_on
        if not phonetic and not fuzzy:
            return None
        found |= phonetic | fuzzy
        if phonetic:
            kind = MATCH_PHONETIC
        elif kind == MATCH_EXACT:
            kind = MATCH_FUZZY
    return found, kind


def match_words(words: Sequence[str], query: ParsedQuery, *,
                sound_alike: bool = False) -> WordMatch:
    """The words answering *query*; with *sound_alike*, a clause not said exactly may be
    answered by words that sound like it (the match then says "phonetic" or "fuzzy")."""
    stream = _stream(words)
    positions: set[int] = set()
    kind = MATCH_EXACT
    complete = True
    for clause in query.clauses:
        exact = _exact_positions(stream, clause)
        if exact or not sound_alike:
            positions |= exact
            complete = complete and bool(exact)
            continue
        loose = _loose_positions(stream, clause)
        if loose is None:
            complete = False
            continue
        positions |= loose[0]
        if loose[1] == MATCH_PHONETIC or (loose[1] == MATCH_FUZZY and kind == MATCH_EXACT):
            kind = loose[1]
    if sound_alike and not complete:
        # The whole query may be heard as other words ("Deir ez-Zor" as "deer as zor").
        whole = _said_alike(stream, joined_keys(query)) or _slot_positions(stream, query)
        if whole:
            positions, kind, complete = whole, MATCH_PHONETIC, True
    indexes: set[int] = set()
    for pos in positions:
        _, first, last = stream[pos]
        indexes.update(range(first, last + 1))
    return WordMatch(tuple(sorted(indexes)), kind, complete)


def matched_word_indexes(words: Sequence[str], query: ParsedQuery) -> list[int]:
    """Indexes of the words that match a query term or belong to a matched phrase."""
    return list(match_words(words, query).indexes)


def _ends_sentence(word: str) -> bool:
    return word.strip().rstrip("\"')]”’").endswith(_SENTENCE_END)


def _mark(words: Sequence[str], marked: set[int], first: int, last: int) -> str:
    shown = words[first : last + 1]
    text, offsets = join_words(shown)
    out: list[str] = []
    for i, start in enumerate(offsets):
        end = offsets[i + 1] if i + 1 < len(offsets) else len(text)
        piece = text[start:end]
        gap = piece[len(piece.rstrip()):]
        escaped = html.escape(piece.rstrip(), quote=True)
        out.append((f"<mark>{escaped}</mark>" if first + i in marked else escaped) + gap)
    # Pieces of one written word ("40" ",000") read as one mark.
    return "".join(out).replace("</mark><mark>", "")


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
    match: str = MATCH_EXACT,
    sound_alike: bool = False,
) -> Clip:
    """The clip of one matching segment.

    It starts at the first matched word less a short lead-in and ends at the end of the
    sentence (or the segment) that holds the last matched word; its ``context`` is the same
    stretch from the start of the sentence the clip starts in.  With *sound_alike* the
    words may only sound like the query's, and the clip's ``match`` says how it was found.
    """
    tokens = [w.word for w in words]
    found = match_words(tokens, query, sound_alike=sound_alike)
    if sound_alike:
        match = found.kind
    return clip_for_words(score=score, video_id=video_id, video_url=video_url,
                          seg_start=seg_start, seg_end=seg_end, seg_text=seg_text, words=words,
                          hits=found.indexes, match=match)


def clip_for_words(
    *,
    score: float,
    video_id: str,
    video_url: str,
    seg_start: float,
    seg_end: float,
    seg_text: str,
    words: Sequence[Word],
    hits: Sequence[int],
    match: str = MATCH_EXACT,
    heard: str = "",
    similarity: float | None = None,
) -> Clip:
    """The clip of a segment whose words at indexes *hits* answer a query (see
    :func:`clip_for_segment`); *heard* and *similarity* describe a phonetic match."""
    tokens = [w.word for w in words]
    hits = sorted(hits)
    if not words or not hits:
        # No word timings (or the match was only in a form we cannot place): the whole segment.
        escaped = html.escape(seg_text.strip(), quote=True)
        return Clip(score, video_id, video_url, round(seg_start, 2), round(seg_end, 2),
                    seg_text.strip(), escaped, match=match, context=escaped, heard=heard,
                    similarity=similarity)
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
    text = join_words(tokens[show_from : end_index + 1])[0]
    # The clip plays from just before the hit; what a journalist quotes is the sentence.
    sentence_from = show_from
    while sentence_from > 0 and not _ends_sentence(tokens[sentence_from - 1]):
        sentence_from -= 1
    return Clip(
        score=score,
        video_id=video_id,
        video_url=video_url,
        start=round(start, 2),
        end=round(end, 2),
        text=text,
        highlight=_mark(tokens, set(hits), show_from, end_index),
        match=match,
        context=_mark(tokens, set(hits), sentence_from, end_index),
        heard=heard,
        similarity=similarity,
    )


def sound_alike_clip(
    *,
    score: float,
    video_id: str,
    video_url: str,
    seg_start: float,
    seg_end: float,
    seg_text: str,
    words: Sequence[Word],
    query: ParsedQuery,
) -> Clip | None:
    """The clip of a segment where some of the query's words are only said alike.

    None when a clause is not said at all, or when every word is said exactly (a phrase's
    words in another order are not a sound-alike match).
    """
    found = match_words([w.word for w in words], query, sound_alike=True)
    if not found.complete or found.kind == MATCH_EXACT:
        return None
    return clip_for_segment(score=score, video_id=video_id, video_url=video_url,
                            seg_start=seg_start, seg_end=seg_end, seg_text=seg_text,
                            words=words, query=query, sound_alike=True)


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
                    context=f"{current.context} {clip.highlight}",
                    heard=current.heard if current.score >= clip.score else clip.heard,
                    similarity=(current.similarity if current.score >= clip.score
                                else clip.similarity),
                )
            else:
                merged.append(current)
                current = clip
        merged.append(current)
    return merged


def highlight_fragment(text: str, query: ParsedQuery, max_chars: int = _FRAGMENT_CHARS) -> str:
    """An HTML-escaped excerpt of *text* around its first match, matches in ``<mark>``."""
    window = text[:200_000]  # a match deep in a huge article is not worth the analysis time
    stream = [(norm, 0, 0) for norm in normal_words(window)]
    positions: set[int] = set()
    for clause in query.clauses:
        positions |= _exact_positions(stream, clause)
    spans = sorted((stream[p][0].start, stream[p][0].end) for p in positions)
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
        if s < begin or e > finish or s < cursor:
            continue
        out.append(html.escape(window[cursor:s], quote=True))
        out.append(f"<mark>{html.escape(window[s:e], quote=True)}</mark>")
        cursor = e
    out.append(html.escape(window[cursor:finish], quote=True))
    if finish < len(text):
        out.append("…")
    return "".join(out).strip()
