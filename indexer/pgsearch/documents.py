"""Rows of the PostgreSQL search tables, analysed in Python exactly as the Whoosh index is.

The lexemes of ``tsv`` are :func:`indexer.normalize.normal_words` terms at their word's
position (a name's whole form stacked on its stem, as :class:`NormalizingTokenizer` puts
them), written as a tsvector literal: PostgreSQL's own parsers never see the text.  An
article's title comes first, weighted A (Whoosh boosts the title field), then its text after
a gap, so no phrase spans the two.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
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

SEGMENT_COLUMNS = ("kind", "video_id", "segment_id", "body", "tsv", "sources", "published",
                   "language", "url", "start_s", "end_s", "words", "links", "phones",
                   "percents", "phone_keys")


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
    titled: dict[str, list[int]] = {}
    body: dict[str, list[int]] = {}
    after = _positions(title, 1, titled) if title else 1
    _positions(text, after + FIELD_GAP if title else 1, body)
    entries: list[str] = []
    for term in titled.keys() | body.keys():
        # A position appears once per lexeme (the title's, where both have it: none do).
        marks = [f"{p}A" for p in dict.fromkeys(titled.get(term, ()))]
        marks += [str(p) for p in dict.fromkeys(body.get(term, ()))]
        entries.append(f"{quote_lexeme(term)}:{','.join(marks[:MAX_POSITIONS])}")
    return " ".join(entries)


def _values(field: str) -> list[str]:
    # Whoosh's comma-separated KEYWORD fields: split, stripped, empty values left out.
    return [v.strip() for v in field.split(",") if v.strip()]


def article_row(article: Article) -> dict[str, Any]:
    """The columns of an article's own row (the fields Whoosh's document has)."""
    doc = article_document(article)
    return {
        "kind": KIND_ARTICLE,
        "article_id": article.id,
        "title": doc["title"],
        "body": doc["text"],
        "tsv": tsvector_literal(doc["text"], doc["title"]),
        "source": doc["source"],
        "sources": [v.lower() for v in _values(doc["source"])],
        "published": _values(doc["published"]),
        "url": doc["url"],
    }


def segment_rows(transcript: Transcript, video_url: str,
                 articles: Sequence[ArticleRef]) -> Iterator[tuple[Any, ...]]:
    """The rows of a transcript's segments, in :data:`SEGMENT_COLUMNS` order."""
    for seg, doc in zip(transcript.segments,
                        segment_documents(transcript, video_url, articles), strict=True):
        phones = doc.get(PHONES_FIELD)
        keys = doc.get(PHONE_KEYS_FIELD, "")
        yield (KIND_SEGMENT, transcript.video_id, seg.id, doc["text"],
               tsvector_literal(doc["text"]),
               [v.lower() for v in _values(doc["source"])], _values(doc["published"]),
               doc["language"], doc["url"], doc["start"], doc["end"],
               json.dumps(doc["words"]), json.dumps(doc["articles"]),
               phones[0] if phones else None, phones[1] if phones else None,
               keys.split() if keys else [])


# What stored_fields reads of a row (of ``search_docs d``): all but the tsvector.
STORED_COLUMNS = ", ".join(f"d.{c}" for c in (
    "id", "kind", "article_id", "video_id", "title", "body", "source", "sources", "published",
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
