"""The Whoosh schema and the one analyzer used for documents and queries alike."""

from __future__ import annotations

from typing import Any

from whoosh.analysis import Analyzer
from whoosh.fields import ID, KEYWORD, STORED, TEXT, Schema

from indexer.normalize import NormalizingTokenizer, index_terms
from indexer.phonetic import SoundKeyTokenizer

# Normalised, stemmed words (indexer.normalize).  Stop words are kept: spoken phrases such as
# "the bridge at" must match as phrases, and the few extra postings cost little next to
# audio transcription.
ANALYZER: Analyzer = NormalizingTokenizer()
# Sound-alike keys of the words of transcripts (indexer.phonetic), in older indexes.
SOUNDS_ANALYZER: Analyzer = SoundKeyTokenizer()

KIND_ARTICLE = "article"
KIND_SEGMENT = "segment"
# The field a segment is found by in a phonetic search; an index without it predates the
# phone index (see indexer.phonesearch).
PHONE_KEYS_FIELD = "phonekeys"
PHONES_FIELD = "phones"
# The spelling-based sound keys of indexes made before the phone index (indexer.phonetic).
SOUNDS_FIELD = "sounds"


def build_schema(*, phone_index: bool = True, sound_keys: bool = False) -> Schema:
    """Schema of one index holding article documents and transcript-segment documents.

    Times, words and article links are STORED only: numeric fields cost Whoosh many terms per
    value and nothing searches on them.  A new index has the phone index (*phone_index*);
    an index made before it has the spelling-based sound keys (*sound_keys*) instead, and
    still searches by them until ``briefing reindex``.
    """
    fields: dict[str, Any] = dict(
        id=ID(unique=True, stored=True),
        kind=ID(stored=True),
        article_id=ID(stored=True),
        video_id=ID(stored=True),
        title=TEXT(analyzer=ANALYZER, stored=True, phrase=True, field_boost=1.5),
        text=TEXT(analyzer=ANALYZER, stored=True, phrase=True),
        # Comma-separated: a segment carries the sources and dates of every linking article,
        # so filters on clips mean "linked from an article of that source / date".
        source=KEYWORD(stored=True, commas=True, lowercase=True, scorable=False),
        published=KEYWORD(stored=True, commas=True, scorable=False),
        language=ID(stored=True),
        url=STORED(),
        start=STORED(),
        end=STORED(),
        words=STORED(),
        articles=STORED(),
    )
    if sound_keys:
        # Only segments fill it: the names as heard, for sound-alike matching.
        fields[SOUNDS_FIELD] = TEXT(analyzer=SOUNDS_ANALYZER, phrase=False)
    if phone_index:
        # Only segments fill them (indexer.phonesearch): each heard word's phones and
        # probability (percent), and the keys a phonetic search finds the segment by.
        fields[PHONES_FIELD] = STORED()
        fields[PHONE_KEYS_FIELD] = KEYWORD(commas=False, lowercase=False, scorable=False)
    return Schema(**fields)


def analyze(text: str) -> list[str]:
    """The index terms of *text*, in order (a name's whole form right after its stem)."""
    return index_terms(text)


def _keyword(value: str) -> str:
    # Commas separate keyword values, so they cannot appear inside one.
    return value.replace(",", " ").strip()
