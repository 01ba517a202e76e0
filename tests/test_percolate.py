"""The percolator's phonetic memo: what it keeps for every watch matched against one video
must find exactly what reading the video afresh for each watch finds, and nothing of another
video.

Real espeak-ng and panphon, real in-memory Whoosh indexes; word timings and probabilities
are made by hand, as a recogniser would give them.
"""

from __future__ import annotations

import random

import numpy as np
from whoosh.filedb.filestore import RamStorage
from whoosh.searching import Searcher

from indexer.domain import ArticleRef, Clip, SearchResult, Segment, Transcript, Word
from indexer.index import segment_documents
from indexer.percolate import Percolator, parsed
from indexer.phonematch import Layout, align
from indexer.phones import pronounce
from indexer.phonesearch import PhoneticMemo
from indexer.schema import build_schema
from indexer.search import SearcherCache, search_page

ARTICLE = ArticleRef("https://news.example.org/briefing", "Daily briefing", "Example News",
                     "2026-11-20")

# What a recogniser made of a briefing about places it did not know: names heard as other
# words (doubted), split in two, or glued to the next word.
SAID = [
    ("The convoy reached Carcave before dawn.", ("Carcave",)),
    ("Talks in Geneva went on until late.", ()),
    ("Shelling near Buck moot and Sole dar continued.", ("Buck", "moot", "Sole", "dar")),
    ("Officials in Zapper reach ya said the plant was safe.", ("Zapper", "reach", "ya")),
    ("Aid reached Kharkiv and Odessa by train.", ()),
    ("The mayor of Mykolaev spoke after the sea wall failed.", ("Mykolaev",)),
    ("Fighting around Avdiivka and Carcave again.", ("Avdiivka",)),
    ("Weather delayed the convoy near Hersonn.", ("Hersonn",)),
]
QUERIES = ["Kharkiv", "Bakhmut", "Soledar", "Zaporizhzhia", "Mykolaiv", "Kherson", "Geneva",
           "convoy Kharkiv", "Bakhmut Soledar", '"sea wall"', "seawall", "Odesa", "Avdiivka",
           "convoy", "plant"]


def _transcript(video_id: str, said: list[tuple[str, tuple[str, ...]]],
                offset: float = 0.0) -> Transcript:
    segments = []
    t = 1.0 + offset
    for n, (text, doubted) in enumerate(said):
        words = []
        for token in text.split():
            probability = 0.3 if token.strip(".,") in doubted else 0.95
            words.append(Word(f" {token}", round(t, 2), round(t + 0.35, 2), probability))
            t += 0.4
        segments.append(Segment(n, words[0].start, words[-1].end, text, tuple(words)))
        t += 1.0
    return Transcript(video_id=video_id, language="en", duration=t + 1.0, model="tiny.en",
                      model_version="test", segments=tuple(segments))


def _searcher(transcript: Transcript) -> Searcher:
    ix = RamStorage().create_index(build_schema())
    writer = ix.writer()
    for doc in segment_documents(transcript, "https://example.org/v.mp4", [ARTICLE]):
        writer.add_document(**doc)
    writer.commit()
    return ix.searcher()


def _search(searcher: Searcher, cache: SearcherCache, query: str,
            kind: str | None = None) -> list[SearchResult]:
    return search_page(searcher, cache, parsed(query), limit=500, offset=0, kind=kind,
                       source=None, published_from=None, published_to=None, language=None,
                       sound_alike=True).results


def test_the_memo_finds_for_every_query_what_reading_the_video_afresh_finds() -> None:
    searcher = _searcher(_transcript("0123456789abcdef", SAID))
    kept = SearcherCache(phonetic=PhoneticMemo(searcher))
    found_by_sound = 0
    # One memo for all the queries, in turn, as the percolator uses it (and each query twice:
    # the second time from what the first kept).
    for query in QUERIES + QUERIES[::-1]:
        for kind in (None, "clip"):
            afresh = _search(searcher, SearcherCache(), query, kind)
            assert _search(searcher, kept, query, kind) == afresh, (query, kind)
            found_by_sound += sum(isinstance(r, Clip) and r.match == "phonetic" for r in afresh)
    # The queries do take the phonetic pass (else this compared nothing of the memo's).
    assert found_by_sound >= 10


def test_a_percolator_finds_nothing_of_the_video_before() -> None:
    first = _transcript("0123456789abcdef", SAID)
    # The same names said at other times and heard otherwise; no Carcave, no sea wall.
    second = _transcript("fedcba9876543210", [
        ("Weather delayed the convoy near Hersonn.", ("Hersonn",)),
        ("Aid reached Car keev by train.", ("Car", "keev")),
        ("The convoy turned back before dawn.", ()),
    ], offset=30.0)
    searched = {}
    for transcript in (first, second):
        searcher = _searcher(transcript)
        searched[transcript.video_id] = {
            query: [(r.start, r.end, r.match, r.highlight)
                    for r in _search(searcher, SearcherCache(), query)]
            for query in QUERIES}
    for transcript in (first, second, first):  # evaluations in a row, each a new video
        percolator = Percolator.for_video(transcript, "https://example.org/v.mp4", [ARTICLE])
        try:
            for query in QUERIES:
                found = [(r.start, r.end, r.match, r.highlight)
                         for r in percolator.match(query)]
                assert found == searched[transcript.video_id][query], (
                    transcript.video_id, query)
        finally:
            percolator.close()
    # The videos answer differently (else a percolator reading the one before could pass).
    assert searched[first.video_id]["Kharkiv"] != searched[second.video_id]["Kharkiv"]
    assert searched[second.video_id]["Kharkiv"]
    assert not searched[second.video_id]['"sea wall"']


def test_a_layout_cut_from_a_larger_one_is_the_layout_of_those_sentences() -> None:
    rng = random.Random(5)
    sentences = [pronounce(text.split()) for text, _ in SAID]
    sentences.append(pronounce(["2026"]))  # no phones at all: only its barrier
    sentences.append([])
    doubted = [[rng.random() < 0.3 for _ in words] for words in sentences]
    whole = Layout(sentences, doubted)
    for _ in range(50):
        picked = rng.sample(range(len(sentences)), rng.randint(1, len(sentences)))
        cut = whole.subset(picked)
        new = Layout([sentences[b] for b in picked], [doubted[b] for b in picked])
        assert (cut.starts, cut.size, cut.word_of) == (new.starts, new.size, new.word_of)
        for name in ("barrier", "columns", "insert", "cumulative", "initial"):
            assert np.array_equal(getattr(cut, name), getattr(new, name)), name
        # What a barrier holds after it is never read.
        assert np.array_equal(cut.after[~cut.barrier], new.after[~new.barrier])
        target = sentences[picked[0]][0] if sentences[picked[0]] else ("k", "a")
        assert align(target, cut) == align(target, new)


def test_a_phone_met_after_an_alignment_is_aligned_as_well() -> None:
    # The substitution costs are kept between alignments; a phone met later must grow them.
    assert align(("k", "a", "t", "a"), [[("k", "a"), ("t", "a")]])[0] is not None
    unheard = ("ʘ\u0330", "a", "ǀ\u0330", "a")  # clicks no word of the tests has
    [same, other] = align(unheard, [[unheard], [("k", "a", "t", "a")]])
    assert same is not None and same.similarity == 1.0
    assert other is None or other.similarity < 1.0
