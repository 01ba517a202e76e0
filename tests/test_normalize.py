"""Normalisation: documents and queries reduce to the same terms however a word is written."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from indexer.domain import ArticleRef, Clip, Segment, Transcript, Word
from indexer.index import SearchIndex
from indexer.normalize import index_terms, normal_words
from indexer.query import parse_query


def stems(text: str) -> list[str]:
    return [w.stem for w in normal_words(text)]


@pytest.mark.parametrize(
    ("spoken", "written"),
    [
        ("eleven people", "11 people"),
        ("forty thousand homes", "40,000 homes"),
        ("twenty-five thousand children", "25000 children"),
        ("one hundred and twenty miles", "120 miles"),
        ("one point two million", "1.2 million"),
        ("forty percent", "40%"),
        ("the sixth month", "the 6th month"),
        ("twenty-first", "21st"),
        ("Bogotá", "BOGOTA"),
        ("Gdańsk", "gdansk"),
        ("Wiśniewski", "Wisniewski"),
        ("Cox's Bazar", "Cox Bazar"),
        ("Straße", "strasse"),
    ],
)
def test_spellings_of_one_thing_normalise_alike(spoken: str, written: str) -> None:
    assert stems(spoken) == stems(written)


def test_separate_numbers_stay_separate() -> None:
    assert stems("two three") == ["2", "3"]
    assert stems("twenty twenty") == ["20", "20"]
    assert stems("thirteen fourteen") == ["13", "14"]


def test_a_capitalised_name_is_kept_whole_beside_its_stem() -> None:
    assert index_terms("near Sittwe") == ["near", "sittw", "sittwe"]
    assert index_terms("she sits") == ["she", "sit"]  # ordinary words are only stemmed
    # Queries are typed in lower case and match through the stem.
    assert parse_query("sittwe").terms == ("sittw",)


def test_hyphenated_words_split_into_their_parts() -> None:
    assert stems("cease-fire") == ["ceas", "fire"]
    assert stems("Port-au-Prince") == ["port", "au", "princ"]


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_every_term_is_non_empty_and_lower_case(text: str) -> None:
    for term in index_terms(text):
        assert term and term == term.lower()


def transcript(video_id: str, text: str, start: float = 5.0) -> Transcript:
    words = []
    t = start
    for token in text.split():
        words.append(Word(f" {token}", round(t, 2), round(t + 0.35, 2)))
        t += 0.4
    return Transcript(video_id, "en", 60.0, "tiny.en", "test",
                      (Segment(0, words[0].start, words[-1].end, text, tuple(words)),))


def indexed(root: Path, videos: dict[str, str]) -> SearchIndex:
    """An index holding one transcript per video id, saying its text."""
    ix = SearchIndex(root)
    ref = [ArticleRef("https://example.org/a", "A")]
    with ix.batch():
        for n, (video_id, text) in enumerate(videos.items()):
            ix.add_transcript(transcript(video_id, text), f"https://example.org/{n}.mp4", ref)
    return ix


@pytest.fixture
def index(tmp_path: Path) -> SearchIndex:
    return indexed(tmp_path / "index", {
        "hyphen": "Talks on a cease-fire have stalled.",
        "joined": "The ceasefire is holding.",
        "spaced": "A cease fire was agreed.",
        "peace": "United Nations peacekeepers have withdrawn.",
        "count": "Eleven people were injured in Bogota.",
        "range": "They target long-range missile parts.",
    })


def clip_videos(index: SearchIndex, query: str) -> set[str]:
    return {r.video_id for r in index.search(query, sound_alike=False) if isinstance(r, Clip)}


@pytest.mark.parametrize("query", ["ceasefire", "cease-fire", '"cease fire"', "Ceasefire"])
def test_every_spelling_of_a_compound_finds_every_other(index: SearchIndex, query: str) -> None:
    assert clip_videos(index, query) == {"hyphen", "joined", "spaced"}


def test_two_words_find_the_compound(index: SearchIndex) -> None:
    assert clip_videos(index, "peace keepers") == {"peace"}
    assert clip_videos(index, '"longrange missile"') == {"range"}


def test_numbers_and_accents_match_across_spellings(index: SearchIndex) -> None:
    assert clip_videos(index, "11 injured") == {"count"}
    assert clip_videos(index, "Bogotá") == {"count"}
    assert clip_videos(index, "twelve injured") == set()


def test_clip_of_a_compound_starts_at_its_first_part(index: SearchIndex) -> None:
    [clip] = [r for r in index.search("ceasefire", sound_alike=False)
              if isinstance(r, Clip) and r.video_id == "spaced"]
    # "A cease fire was agreed.": "cease" is the second word, at 5.4 s.
    assert clip.start == pytest.approx(5.4 - 0.5)
    assert "<mark>cease</mark> <mark>fire</mark>" in clip.highlight


def test_a_compound_ending_in_a_particle_finds_its_two_words(tmp_path: Path) -> None:
    ix = indexed(tmp_path / "index", {"split": "She promised to follow up the report.",
                                       "street": "They walked in side streets."})
    assert clip_videos(ix, "followup") == {"split"}
    # A two-letter first part is not split off: "inside" is not "in side".
    assert clip_videos(ix, "inside") == set()
