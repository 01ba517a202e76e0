"""Fuzzy and prefix terms expanded from the in-memory vocabulary match what Whoosh's own do."""

from __future__ import annotations

from pathlib import Path

import pytest
from whoosh import query as wq

from indexer.domain import Article
from indexer.index import SearchIndex
from indexer.vocabulary import MAX_EXPANSIONS, Vocabulary, expand_multiterms

TEXTS = (
    "Kharkiv Karkiv Kharkov Carcave harbour harbor harbours harder",
    "Hodeidah Odida Hodeida Hudaydah convoy convoys conveyor",
    "Belgorod Belgrad Belgrade belong ceasefire ceasefires cease",
)


@pytest.fixture
def index(tmp_path: Path) -> SearchIndex:
    ix = SearchIndex(tmp_path / "index")
    # One commit per article: several segments, as a live index has.
    for n, text in enumerate(TEXTS):
        ix.add_article(Article(f"a{n}", f"https://e.org/{n}", f"t{n}", text))
    return ix


@pytest.mark.parametrize("query", [
    wq.FuzzyTerm("text", "kharkiv", maxdist=1, prefixlength=1),
    wq.FuzzyTerm("text", "kharkiv", maxdist=2, prefixlength=1),
    wq.FuzzyTerm("text", "hodeidah", maxdist=2, prefixlength=1),
    wq.FuzzyTerm("text", "belgorod", maxdist=2, prefixlength=2),
    wq.Prefix("text", "conv"),
    wq.Prefix("text", "cease"),
    wq.And([wq.Prefix("text", "harb"), wq.FuzzyTerm("text", "karkov", maxdist=1)]),
])
def test_expanded_query_matches_the_same_documents(index: SearchIndex, query: wq.Query) -> None:
    searcher = index._get_searcher()
    whoosh_docs = set(searcher.docs_for_query(query))
    ours = expand_multiterms(query, Vocabulary(searcher.reader()))
    assert not any(isinstance(q, (wq.FuzzyTerm, wq.Prefix)) for q in ours.leaves())
    assert set(searcher.docs_for_query(ours)) == whoosh_docs
    assert whoosh_docs  # each case finds something


def test_expansions_are_the_closest_words_and_bounded(index: SearchIndex) -> None:
    vocabulary = Vocabulary(index._get_searcher().reader())
    near = vocabulary.near("text", "kharkiv", 2, 1)
    assert near[0] == "kharkiv" and set(near) == {"kharkiv", "kharkov", "karkiv"}
    assert vocabulary.near("text", "zzzz", 2, 1) == []
    many = [f"word{n:03d}" for n in range(MAX_EXPANSIONS * 2)]
    index.add_article(Article("many", "https://e.org/m", "m", " ".join(many)))
    fresh = Vocabulary(index._get_searcher().reader())
    assert len(fresh.prefixed("text", "word")) == MAX_EXPANSIONS
    assert expand_multiterms(wq.Prefix("text", "zzz"), fresh) is wq.NullQuery
