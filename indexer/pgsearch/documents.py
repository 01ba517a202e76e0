"""Rows of the PostgreSQL search tables, analysed in Python exactly as the Whoosh index is.

The lexemes of ``tsv`` are :func:`indexer.normalize.normal_words` terms at their word's
position (a name's whole form stacked on its stem, as :class:`NormalizingTokenizer` puts
them), written as a tsvector literal: PostgreSQL's own parsers never see the text.  An
article's title comes first, weighted A (Whoosh boosts the title field), then its text after
a gap, so no phrase spans the two.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from indexer.domain import Article, ArticleRef, Transcript
from indexer.index import article_document, segment_documents
from indexer.normalize import normal_words
from indexer.schema import KIND_ARTICLE, KIND_SEGMENT, PHONE_KEYS_FIELD, PHONES_FIELD

# PostgreSQL's limits: positions above MAX_POSITION are stored as it, a lexeme keeps at most
# MAX_POSITIONS of them, and longer lexemes are refused (no word is that long; a pasted
# blob may be).
MAX_POSITION = 16383
MAX_POSITIONS = 255
MAX_LEXEME_BYTES = 2000
# Positions between a title and its text: a phrase never runs from one into the other.
FIELD_GAP = 2

# ts_rank's weight of a title (A) over a text (D): an article's order counts it.
TITLE_BOOST = 1.5

# The columns of a segment's two rows (``id`` first, given by the writer), in the order
# SegmentRows holds them.
SEGMENT_DOC_COLUMNS = ("id", "kind", "video_id", "segment_id", "body", "source", "published",
                       "url", "start_s", "end_s", "words", "links", "phones", "percents")
MATCH_COLUMNS = ("id", "kind", "video_id", "article_id", "sources", "published", "language",
                 "tsv", "rank_order", "phone_keys")


def quote_lexeme(term: str) -> str:
    """*term* as a quoted tsvector/tsquery lexeme."""
    return "'" + term.replace("\\", "\\\\").replace("'", "''") + "'"


def _positions(text: str, first: int, into: dict[str, list[int]]) -> int:
    """Add the terms of *text* at positions from *first* to *into*; the next free position."""
    words = normal_words(text)
    for pos, word in enumerate(words):
        at = min(first + pos, MAX_POSITION)
        for term in word.terms():
            if len(term.encode("utf-8")) <= MAX_LEXEME_BYTES:
                into.setdefault(term, []).append(at)
    return first + len(words)


def tsvector_literal(text: str, title: str = "") -> str:
    """The tsvector literal of a document's *title* (weight A) and *text* (weight D)."""
    return analysed(text, title)[0]


def analysed(text: str, title: str = "") -> tuple[str, float]:
    """The tsvector literal of a document's *title* (weight A) and *text* (weight D), and its
    ``rank_order``: ``1 + ln(words)`` (what ts_rank's normalisation divides by), smaller for
    a titled document, so the documents a word most likely ranks high in come first."""
    titled: dict[str, list[int]] = {}
    body: dict[str, list[int]] = {}
    after = _positions(title, 1, titled) if title else 1
    end = _positions(text, after + FIELD_GAP if title else 1, body)
    entries: list[str] = []
    for term in titled.keys() | body.keys():
        # A position appears once per lexeme (the title's, where both have it: none do).
        marks = [f"{p}A" for p in dict.fromkeys(titled.get(term, ()))]
        marks += [str(p) for p in dict.fromkeys(body.get(term, ()))]
        entries.append(f"{quote_lexeme(term)}:{','.join(marks[:MAX_POSITIONS])}")
    order = 1.0 + math.log(max(end - 1, 1))
    return " ".join(entries), order / TITLE_BOOST if title else order


def _values(field: str) -> list[str]:
    # Whoosh's comma-separated KEYWORD fields: split, stripped, empty values left out.
    return [v.strip() for v in field.split(",") if v.strip()]


def article_rows(article: Article) -> tuple[dict[str, Any], dict[str, Any]]:
    """The columns of an article's own rows (the fields Whoosh's document has): shown
    (``search_docs``) and matched (``search_match``), both without ``id``."""
    doc = article_document(article)
    tsv, order = analysed(doc["text"], doc["title"])
    published = _values(doc["published"])
    shown = {"kind": KIND_ARTICLE, "article_id": article.id, "title": doc["title"],
             "body": doc["text"], "source": doc["source"], "published": published,
             "url": doc["url"]}
    matched = {"kind": KIND_ARTICLE, "article_id": article.id,
               "sources": [v.lower() for v in _values(doc["source"])],
               "published": published, "tsv": tsv, "rank_order": order}
    return shown, matched


@dataclass(frozen=True)
class SegmentRows:
    """A segment's rows without their ``id``: shown (:data:`SEGMENT_DOC_COLUMNS`), matched
    (:data:`MATCH_COLUMNS`), and its phone keys."""

    shown: tuple[Any, ...]
    matched: tuple[Any, ...]
    keys: list[str]


def segment_rows(transcript: Transcript, video_url: str,
                 articles: Sequence[ArticleRef]) -> Iterator[SegmentRows]:
    """The rows of a transcript's segments."""
    for seg, doc in zip(transcript.segments,
                        segment_documents(transcript, video_url, articles), strict=True):
        phones = doc.get(PHONES_FIELD)
        keys = doc.get(PHONE_KEYS_FIELD, "")
        key_list = sorted(set(keys.split())) if keys else []
        tsv, order = analysed(doc["text"])
        published = _values(doc["published"])
        yield SegmentRows(
            (KIND_SEGMENT, transcript.video_id, seg.id, doc["text"], doc["source"], published,
             doc["url"], doc["start"], doc["end"], json.dumps(doc["words"]),
             json.dumps(doc["articles"]), phones[0] if phones else None,
             phones[1] if phones else None),
            (KIND_SEGMENT, transcript.video_id, None,
             [v.lower() for v in _values(doc["source"])], published, doc["language"], tsv,
             order, key_list),
            key_list)


# What stored_fields reads of a row (of ``search_docs d``).
STORED_COLUMNS = ", ".join(f"d.{c}" for c in (
    "id", "kind", "article_id", "video_id", "title", "body", "source", "published",
    "url", "start_s", "end_s", "words", "links", "phones", "percents"))


def stored_fields(row: dict[str, Any]) -> dict[str, Any]:
    """A row as the stored fields of the Whoosh document it stands for (what
    :mod:`indexer.search`'s result builders read)."""
    if row["kind"] == KIND_ARTICLE:
        return {"kind": KIND_ARTICLE, "article_id": row["article_id"], "url": row["url"],
                "title": row["title"], "text": row["body"], "source": row["source"],
                "published": ",".join(row["published"])}
    doc: dict[str, Any] = {
        "kind": KIND_SEGMENT, "video_id": row["video_id"], "url": row["url"],
        "text": row["body"], "start": row["start_s"], "end": row["end_s"],
        "words": row["words"] or [], "articles": row["links"] or [],
    }
    if row["phones"] is not None:
        doc[PHONES_FIELD] = (row["phones"], row["percents"])
    return doc
