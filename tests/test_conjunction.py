"""An AND query evaluated only at its candidates, and the postings read a block at a time.

A real Whoosh index in tmp_path, written one video per commit (so a search reads several
segments), with a word in more segments than one posting block holds (128) and a video
indexed twice (deleted documents): every restricted search must match the same documents,
with the same scores, as Whoosh's own query.
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from indexer.conjunction import restricted_query
from indexer.domain import ArticleRef, Segment, Transcript, Word
from indexer.index import SearchIndex
from indexer.postings import document_numbers, holding, skip_to
from indexer.query import SEARCH_FIELDS, expand, parse_query, to_whoosh

VOCABULARY = ("el", "el", "el", "ra", "du", "raha", "rahadu", "sea", "wall", "seawall",
              "jakarta", "port", "said", "harbour", "convoy", "bridge", "qian", "ha", "qianha")


def transcript(video_id: str, texts: list[str]) -> Transcript:
    segments = []
    t = 0.0
    for n, text in enumerate(texts):
        words = []
        for token in text.split():
            words.append(Word(f" {token}", round(t, 2), round(t + 0.3, 2), 0.9))
            t += 0.4
        segments.append(Segment(n, words[0].start, words[-1].end, text, tuple(words)))
    return Transcript(video_id, "en", t, "tiny.en", "test", tuple(segments))


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> SearchIndex:
    rng = random.Random(3)
    ix = SearchIndex(tmp_path_factory.mktemp("conjunction") / "index")
    refs = [ArticleRef("https://example.org/a", "A story")]

    def texts(count: int) -> list[str]:
        return [" ".join(rng.choice(VOCABULARY) for _ in range(rng.randint(4, 12)))
                for _ in range(count)]

    # One large commit first: "el" in more than one block of postings.
    ix.add_transcript(transcript("big", texts(400)), "https://example.org/big.mp4", refs)
    for n in range(6):
        ix.add_transcript(transcript(f"v{n}", texts(30)), f"https://example.org/{n}.mp4", refs)
    # Indexed again: its first documents are deleted, new ones written.
    ix.add_transcript(transcript("v0", texts(30)), "https://example.org/0.mp4", refs)
    return ix


def found(searcher: Any, query: Any, allow: set[int] | None = None) -> list[tuple[int, float]]:
    hits = searcher.search(query, limit=None, filter=allow)
    return sorted((hit.docnum, round(float(hit.score), 9)) for hit in hits)


QUERIES = ("rahadu sea", "sea wall jakarta", '"sea wall" port', "rahadu wall port",
           "el ra", "qianha harbour el", "jakarta nowhere", "cease-fire el", "el du ra ha")


@pytest.mark.parametrize("text", QUERIES)
def test_a_restricted_and_matches_and_scores_as_whoosh_does(index: SearchIndex,
                                                          text: str) -> None:
    searcher = index._get_searcher()
    reader = searcher.reader()
    parsed = expand(parse_query(text),
                    lambda t: any((f, t) in reader for f in SEARCH_FIELDS))
    restricted = restricted_query(searcher, parsed)
    assert restricted is not None
    assert found(searcher, restricted) == found(searcher, to_whoosh(parsed))
    assert len(searcher.leaf_searchers()) > 1


def test_a_restricted_and_keeps_to_the_allowed_documents(index: SearchIndex) -> None:
    searcher = index._get_searcher()
    parsed = parse_query("el ra")
    everything = found(searcher, to_whoosh(parsed))
    allow = {docnum for docnum, _ in everything[::2]}
    deny = {docnum for docnum, _ in everything[1::4]}
    restricted = restricted_query(searcher, parsed, allow, deny)
    assert restricted is not None
    expected = [(d, s) for d, s in everything if d in allow and d not in deny]
    assert found(searcher, restricted, allow) == expected
    assert found(searcher, restricted) == expected  # outside them it reads nothing


def test_a_query_of_one_plain_clause_is_left_to_whoosh(index: SearchIndex) -> None:
    assert restricted_query(index._get_searcher(), parse_query("harbour")) is None


def test_postings_read_by_block_are_whooshs_own(index: SearchIndex) -> None:
    reader = index._get_searcher().reader()
    for word in ("el", "rahadu", "jakarta", "nowhere"):
        expected = (sorted(reader.postings("text", word).all_ids())
                    if ("text", word) in reader else [])
        assert document_numbers(reader, "text", word) == expected
        sample = list(range(0, reader.doc_count_all(), 7))
        assert holding(reader, "text", word, sample) == set(expected) & set(sample)
    assert len(document_numbers(reader, "text", "el")) > 128
    assert reader.has_deletions()


def test_skipping_inside_a_block_lands_where_whoosh_does(index: SearchIndex) -> None:
    leaf, _ = index._get_searcher().reader().leaf_readers()[0]
    for target in (0, 1, 5, 127, 128, 129, 200, 255, 301, 399):
        ours, theirs = leaf.postings("text", "el"), leaf.postings("text", "el")
        skip_to(ours, target)
        theirs.skip_to(target)
        assert ours.is_active() == theirs.is_active()
        if theirs.is_active():
            assert ours.id() == theirs.id() >= target
