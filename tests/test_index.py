"""The index room on its own: query parsing, clip bounds, highlights, idempotent writes."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from indexer.clips import clip_for_segment, merge_overlapping
from indexer.domain import Article, ArticleHit, ArticleRef, Clip, Segment, Transcript, Word
from indexer.errors import QueryError
from indexer.query import parse_query
from tests.search_backends import AnyIndex, SearchBackend


def words(text: str, start: float = 10.0, step: float = 0.4) -> tuple[Word, ...]:
    out = []
    t = start
    for token in text.split():
        out.append(Word(f" {token}", round(t, 2), round(t + step - 0.05, 2)))
        t += step
    return tuple(out)


SENTENCES = ("Good morning from the harbour. The convoy crossed the old bridge at dawn, "
             "and relief workers followed. Next update tomorrow.")


def transcript(video_id: str = "v1") -> Transcript:
    ws = words(SENTENCES)
    return Transcript(video_id, "en", 60.0, "tiny.en", "test",
                      (Segment(0, ws[0].start, ws[-1].end, SENTENCES, ws),))


@pytest.fixture
def index(search_backend: SearchBackend) -> AnyIndex:
    ix = search_backend.open()
    ix.add_transcript(transcript(), "https://example.org/v.mp4",
                      [ArticleRef("https://example.org/a", "Storm <b>news</b>")])
    ix.add_article(Article("a1", "https://example.org/a", "Storm <script>x</script> news",
                           "The <b>harbour</b> is open again after the storm.",
                           "Example", published="2026-11-20"))
    return ix


def test_clip_starts_at_first_matched_word_less_lead_in_and_ends_at_sentence_end(
    index: AnyIndex,
) -> None:
    ws = words(SENTENCES)
    [clip] = [r for r in index.search("convoy") if isinstance(r, Clip)]
    convoy = next(w for w in ws if w.word.strip() == "convoy")
    followed = next(w for w in ws if w.word.strip() == "followed.")
    assert convoy.start - 1.0 <= clip.start < convoy.start
    assert clip.end == followed.end
    assert clip.text.startswith("The convoy") and clip.text.endswith("followed.")
    assert clip.link == f"https://example.org/v.mp4#t={clip.start:.1f},{clip.end:.1f}"


def test_phrase_must_match_in_order(index: AnyIndex) -> None:
    assert [r for r in index.search('"old bridge"') if isinstance(r, Clip)]
    assert not [r for r in index.search('"bridge old"') if isinstance(r, Clip)]


def test_terms_are_anded(index: AnyIndex) -> None:
    assert index.search("convoy harbour")  # the segment says both
    assert not index.search("convoy volcano")


def test_results_are_html_escaped_with_only_mark_added(index: AnyIndex) -> None:
    [article] = [r for r in index.search("harbour storm") if isinstance(r, ArticleHit)]
    assert "&lt;b&gt;<mark>harbour</mark>&lt;/b&gt;" in article.highlight
    assert article.title == "Storm <script>x</script> news"  # raw; the page escapes it


def test_writes_are_idempotent(index: AnyIndex) -> None:
    count = index.doc_count()
    index.add_transcript(transcript(), "https://example.org/v.mp4", [])
    index.add_article(Article("a1", "https://example.org/a", "t", "harbour", ""))
    assert index.doc_count() == count


def test_rebuild_swaps_in_a_new_generation(index: AnyIndex, search_backend: SearchBackend,
                                           tmp_path: Path) -> None:
    search_backend.rebuild(lambda fresh: fresh.add_transcript(
        transcript("v2"), "https://example.org/w.mp4", []))
    clips = [r for r in index.search("convoy") if isinstance(r, Clip)]
    assert [c.video_id for c in clips] == ["v2"]
    assert [r for r in index.search("harbour") if isinstance(r, ArticleHit)] == []
    if search_backend.name == "embedded":
        assert len([p for p in (tmp_path / "index").iterdir() if p.is_dir()]) == 1


def test_overlapping_clips_of_one_video_merge() -> None:
    a = Clip(2.0, "v", "u", 10.0, 15.0, "one", "<mark>one</mark>")
    b = Clip(3.0, "v", "u", 14.5, 18.0, "two", "two")
    c = Clip(1.0, "v", "u", 30.0, 31.0, "three", "three")
    d = Clip(1.0, "w", "u2", 14.0, 16.0, "other", "other")
    merged = sorted(merge_overlapping([a, b, c, d]), key=lambda x: (x.video_id, x.start))
    assert [(m.video_id, m.start, m.end, m.score) for m in merged] == [
        ("v", 10.0, 18.0, 3.0), ("v", 30.0, 31.0, 1.0), ("w", 14.0, 16.0, 1.0)]
    assert merged[0].text == "one two"


def test_lead_in_never_goes_below_zero() -> None:
    ws = words("Convoy arrived.", start=0.2)
    clip = clip_for_segment(score=1, video_id="v", video_url="u", seg_start=0.2, seg_end=1.0,
                            seg_text="Convoy arrived.", words=ws, query=parse_query("convoy"))
    assert clip.start == 0.0


def test_hyphenated_query_word_is_a_phrase() -> None:
    parsed = parse_query("cease-fire Paris")
    assert parsed.phrases == (("ceas", "fire"),)
    assert parsed.terms == ("pari",)


@pytest.mark.parametrize("bad", ['"open', "", "   ", "(((", ":", "*", "~", "\x00", "a" * 1001])
def test_malformed_queries_raise_query_error(bad: str) -> None:
    with pytest.raises(QueryError):
        parse_query(bad)


@pytest.mark.parametrize("query", ["the", "The of and", '"the"', "it is"])
def test_a_query_of_only_stopwords_is_refused(query: str) -> None:
    with pytest.raises(QueryError, match=r"^only stopwords: .*; nothing to search for$"):
        parse_query(query)


@pytest.mark.parametrize("query", ["the bridge", '"to be or not to be"', "WHO", "IT"])
def test_stopwords_with_something_to_find_are_searched(query: str) -> None:
    assert parse_query(query).clauses


def test_a_clip_carries_the_sentence_it_starts_in(index: AnyIndex) -> None:
    [clip] = [r for r in index.search('"relief workers"') if isinstance(r, Clip)]
    assert clip.highlight.startswith("and <mark>relief</mark>")
    assert clip.context == ("The convoy crossed the old bridge at dawn, and "
                            "<mark>relief</mark> <mark>workers</mark> followed.")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_query_parser_either_parses_or_raises_query_error(text: str) -> None:
    try:
        parsed = parse_query(text)
    except QueryError:
        return
    assert parsed.terms or parsed.phrases
    assert all(term for term in parsed.all_terms())


def test_filters_by_kind_source_date_and_language(search_backend: SearchBackend) -> None:
    ix = search_backend.open()
    ix.add_article(Article("a1", "https://e.org/a", "Harbour news", "the harbour convoy",
                           "Example News", published="2026-11-20"))
    ix.add_article(Article("a2", "https://o.org/b", "Other harbour", "harbour convoy again",
                           "Other Gazette", published="2026-10-01"))
    ix.add_transcript(transcript(), "https://e.org/v.mp4",
                      [ArticleRef("https://e.org/a", "Harbour news", "Example News",
                                  "2026-11-20")])

    def kinds(**filters: str) -> list[tuple[str, str]]:
        return sorted(("clip", r.video_id) if isinstance(r, Clip) else ("article", r.url)
                      for r in ix.search("harbour convoy", **filters))

    assert kinds(kind="clip") == [("clip", "v1")]
    assert kinds(kind="article") == [("article", "https://e.org/a"), ("article", "https://o.org/b")]
    assert kinds(source="example news") == [("article", "https://e.org/a"), ("clip", "v1")]
    assert kinds(published_from="2026-11-01") == [("article", "https://e.org/a"), ("clip", "v1")]
    assert kinds(published_to="2026-10-31") == [("article", "https://o.org/b")]
    assert kinds(language="en") == [("clip", "v1")]
    # A filter nothing matches finds nothing (Whoosh would read an empty set as no filter).
    assert kinds(source="nobody") == []
    assert kinds(language="fr") == []
    with pytest.raises(QueryError):
        ix.search("harbour", kind="video")
    # The filter's documents are remembered per searcher: a new commit is seen at once.
    ix.add_article(Article("a3", "https://n.org/c", "Harbour again", "harbour convoy third",
                           "Nobody", published="2026-11-21"))
    assert kinds(source="nobody") == [("article", "https://n.org/c")]
    assert ("article", "https://n.org/c") in kinds(published_from="2026-11-01")


def test_pages_and_total(search_backend: SearchBackend) -> None:
    ix = search_backend.open()
    with ix.batch():
        for n in range(25):
            ix.add_article(Article(f"a{n}", f"https://e.org/{n}", f"Report {n}", "storm report"))
    first = ix.search_page("storm", limit=10)
    third = ix.search_page("storm", limit=10, offset=20)
    assert first.total == third.total == 25
    assert len(first.results) == 10 and len(third.results) == 5
    seen = {r.url for r in first.results} | {r.url for r in third.results}  # type: ignore[union-attr]
    assert len(seen) == 15


def test_removed_and_hidden_items_are_not_found(index: AnyIndex) -> None:
    def found(**filters: frozenset[str]) -> list[str]:
        return sorted(r.video_id if isinstance(r, Clip) else r.article_id
                      for r in index.search("harbour", **filters))  # type: ignore[arg-type]

    assert found() == ["a1", "v1"]
    assert found(hidden_videos=frozenset({"v1"})) == ["a1"]
    assert found(hidden_articles=frozenset({"a1"})) == ["v1"]
    assert index.search_page("harbour", hidden_videos=frozenset({"v1"})).total == 1
    [clip] = [r for r in index.search("harbour", hidden_links=frozenset({"https://example.org/a"}))
              if isinstance(r, Clip)]
    assert clip.articles == ()
    index.remove_video("v1")
    assert found() == ["a1"]
    index.remove_article("a1")
    assert found() == [] and index.doc_count() == 0


def test_a_batch_that_fails_writes_nothing(index: AnyIndex) -> None:
    with pytest.raises(RuntimeError), index.batch():
        index.add_transcript(transcript("v2"), "https://example.org/w.mp4", [])
        index.remove_video("v1")
        raise RuntimeError("the worker died")
    assert [r.video_id for r in index.search("convoy") if isinstance(r, Clip)] == ["v1"]


def test_one_video_written_twice_at_once_is_indexed_once(
        index: AnyIndex, search_backend: SearchBackend) -> None:
    # A redelivered task writes the video again while the first delivery still does.
    count = index.doc_count()
    writers = [search_backend.open() for _ in range(2)]
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda ix: ix.add_transcript(transcript(), "https://example.org/v.mp4",
                                                   []), writers))
    assert index.doc_count() == count
    assert len([r for r in index.search("convoy") if isinstance(r, Clip)]) == 1
