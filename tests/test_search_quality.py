"""Sound-alike names and word-exact clip bounds (the unit side of the search-quality benchmark).

The benchmark (``python -m benchmarks.search_quality``) measures recall on synthesised
briefings; these tests pin the behaviour it relies on, with hand-made word timings.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from indexer.clips import clip_for_segment, match_words
from indexer.domain import ArticleRef, Clip, Segment, Transcript, Word
from indexer.index import SearchIndex
from indexer.phonesearch import PhoneticTuning
from indexer.phonetic import sound_key, sound_keys
from indexer.query import parse_query
from tests.search_backends import AnyIndex, SearchBackend


@pytest.mark.parametrize(
    ("written", "heard"),
    [("Kharkiv", "Karkiv"), ("Kharkiv", "Carcave"), ("Belgorod", "Belgrad"),
     ("Hodeidah", "Odida"), ("Kassala", "Kasala"), ("Halvorsen", "Halvorson")],
)
def test_names_a_recogniser_misspells_share_a_sound_key(written: str, heard: str) -> None:
    assert sound_key(written.lower()) == sound_key(heard.lower()) != ""


@pytest.mark.parametrize(("a", "b"), [("kharkiv", "kherson"), ("belgorod", "belfast"),
                                      ("mandalay", "mandera")])
def test_different_names_have_different_keys(a: str, b: str) -> None:
    assert sound_key(a) != sound_key(b)


def test_short_words_have_no_key() -> None:
    assert sound_key("sit") == sound_key("city") == ""


@pytest.mark.parametrize(
    ("written", "heard"),
    [("Mikhail", "Michael"), ("Khalid", "Halid"), ("Walesa", "Valesa")],
)
def test_a_spelling_read_two_ways_gives_a_second_key(written: str, heard: str) -> None:
    # "ch" may be a "k", "kh" may be silent, "w" may be a "v".
    assert sound_key(written.lower()) != sound_key(heard.lower())
    assert set(sound_keys(written.lower())) & set(sound_keys(heard.lower()))


def timed(text: str, start: float = 10.0, step: float = 0.4,
          doubted: tuple[str, ...] = ()) -> tuple[Word, ...]:
    """Words of *text* 0.4 s apart; those in *doubted* heard with a low probability."""
    out = []
    t = start
    for token in text.split():
        probability = 0.3 if token.strip(".,") in doubted else 0.95
        out.append(Word(f" {token}", round(t, 2), round(t + step - 0.05, 2), probability))
        t += step
    return tuple(out)


def add(ix: AnyIndex, video_id: str, text: str, doubted: tuple[str, ...] = ()) -> None:
    ws = timed(text, doubted=doubted)
    ix.add_transcript(
        Transcript(video_id, "en", 60.0, "tiny.en", "test",
                   (Segment(0, ws[0].start, ws[-1].end, text, ws),)),
        f"https://example.org/{video_id}.mp4", [ArticleRef("https://example.org/a", "A")])


@pytest.fixture
def index(search_backend: SearchBackend) -> AnyIndex:
    ix = search_backend.open()
    with ix.batch():
        add(ix, "exact", "Two vessels were struck off Hodeidah on Monday.")
        add(ix, "heard", "Two cargo ships were hit off the port of Odida overnight.")
        add(ix, "added", "Fuel duty was added to the price.")  # sounds like it, lower case
        add(ix, "other", "Talks resumed in Jeddah after the holiday.")
    return ix


def clips(index: AnyIndex, query: str, **kw: Any) -> list[Clip]:
    return [r for r in index.search(query, **kw) if isinstance(r, Clip)]


def test_sound_alike_clip_ranks_below_the_exact_one_and_says_so(index: AnyIndex) -> None:
    found = clips(index, "Hodeidah")
    assert [(c.video_id, c.match) for c in found] == [("exact", "exact"), ("heard", "phonetic")]
    heard = found[1]
    assert "<mark>Odida</mark>" in heard.highlight  # the word actually spoken
    assert heard.to_json()["match"] == "phonetic"
    assert found[0].score > heard.score


def test_sound_alike_clips_follow_the_pages_of_exact_ones(search_backend: SearchBackend) -> None:
    ix = search_backend.open()
    with ix.batch():
        for n in range(12):
            add(ix, f"exact{n:02d}", f"Shelling hit Hodeidah again on day {n}.")
        for n in range(3):
            add(ix, f"heard{n}", f"Shelling hit Odida again on night {n}.")
    first = ix.search_page("Hodeidah", limit=10)
    # The exact clips fill the first page; the sound-alike ones are not searched for yet.
    assert len(first.results) == 10
    assert all(r.match == "exact" for r in first.results)  # type: ignore[union-attr]
    assert first.total == 12
    second = ix.search_page("Hodeidah", limit=10, offset=10)
    kinds = [r.match for r in second.results]  # type: ignore[union-attr]
    assert kinds == ["exact", "exact", "phonetic", "phonetic", "phonetic"]
    assert second.total == 15
    assert min(r.score for r in first.results) >= max(r.score for r in second.results)


def test_sound_alike_can_be_switched_off(index: AnyIndex) -> None:
    assert [c.video_id for c in clips(index, "Hodeidah", sound_alike=False)] == ["exact"]


def test_every_clause_must_still_be_said(index: AnyIndex) -> None:
    # "Odida" sounds right but the segment never says "Monday".
    assert [c.video_id for c in clips(index, "Hodeidah Monday")] == ["exact"]
    assert clips(index, "Hodeidah cargo")[0].video_id == "heard"


def test_a_fuzzy_spelling_is_marked_fuzzy(tmp_path: Path) -> None:
    # The spelling pass runs beside the phone index only when asked (an index made before
    # the phone index always runs it): a name written in lower case and heard with
    # confidence is not in the phone index's keys.
    ix = SearchIndex(tmp_path / "index")
    add(ix, "v", "Convoys waited at checkpoints near kasala today.")
    assert clips(ix, "Kassala") == []
    [clip] = clips(ix, "Kassala", tuning=PhoneticTuning(keys=True))
    assert clip.match == "fuzzy"
    assert "<mark>kasala</mark>" in clip.highlight


def test_name_run_on_into_the_next_syllable_is_found(search_backend: SearchBackend) -> None:
    ix = search_backend.open()
    add(ix, "v", "More families fled in North Kivupa province.")
    [clip] = clips(ix, '"North Kivu"')
    # The phones of "North Kivu" are those of "North Kivupa" but the last syllable.
    assert (clip.match, clip.heard) == ("phonetic", "North Kivupa")


def test_clip_starts_half_a_second_before_the_first_spoken_word_and_ends_the_sentence() -> None:
    ws = timed("The port reopened. Ships from Hodeidah sailed at dawn. Then rain.")
    clip = clip_for_segment(score=1.0, video_id="v", video_url="u", seg_start=ws[0].start,
                            seg_end=ws[-1].end, seg_text="", words=ws,
                            query=parse_query("Hodeidah"))
    hodeidah = next(w for w in ws if "Hodeidah" in w.word)
    dawn = next(w for w in ws if "dawn." in w.word)
    assert clip.start == pytest.approx(hodeidah.start - 0.5)
    assert clip.end == dawn.end
    assert clip.text == "from Hodeidah sailed at dawn."


def test_a_number_split_into_pieces_is_one_match() -> None:
    # Whisper writes "40,000" as the words " 40" and ",000".
    ws = (Word(" Power", 1.0, 1.3), Word(" reached", 1.3, 1.7), Word(" 40", 1.7, 2.0),
          Word(",000", 2.0, 2.4), Word(" homes.", 2.4, 2.8))
    found = match_words([w.word for w in ws], parse_query("forty thousand homes"))
    assert found.indexes == (2, 3, 4)
    clip = clip_for_segment(score=1.0, video_id="v", video_url="u", seg_start=1.0,
                            seg_end=2.8, seg_text="", words=ws,
                            query=parse_query("forty thousand homes"))
    assert clip.start == pytest.approx(1.7 - 0.5)
    assert clip.text == "reached 40,000 homes."
    assert clip.highlight == "reached <mark>40,000</mark> <mark>homes.</mark>"


def test_a_name_heard_as_several_doubted_words_is_found(search_backend: SearchBackend) -> None:
    ix = search_backend.open()
    add(ix, "v", "Students in beer site went on strike.", doubted=("beer", "site"))
    [clip] = clips(ix, "Birzeit")
    assert clip.match == "phonetic"
    assert "<mark>beer</mark> <mark>site</mark>" in clip.highlight
    assert clip.start == pytest.approx(10.0 + 2 * 0.4 - 0.5)  # "beer" is the third word


def test_a_name_glued_to_the_word_before_is_found(search_backend: SearchBackend) -> None:
    ix = search_backend.open()
    add(ix, "v", "Tourists stranded atantalya airport wait for flights.", doubted=("atantalya",))
    [clip] = clips(ix, "Antalya")
    assert "<mark>atantalya</mark>" in clip.highlight


def test_common_words_heard_with_confidence_do_not_sound_like_a_name(
        search_backend: SearchBackend) -> None:
    # "can there" reads like "Kandahar" (KNTR), but the recogniser was sure of both words.
    ix = search_backend.open()
    add(ix, "sure", "Nobody knows what can there be done.")
    assert clips(ix, "Kandahar") == []
    # A run of words is keyed by its phones where it starts and ends with a doubted word.
    add(ix, "doubted", "Nobody knows what can there be done.", doubted=("can", "there"))
    assert [c.video_id for c in clips(ix, "Kandahar")] == ["doubted"]


def test_a_second_reading_needs_a_doubted_word(search_backend: SearchBackend) -> None:
    # "Michael" is also "Mikhail" when "ch" is read as "k", but not when heard with confidence.
    ix = search_backend.open()
    add(ix, "sure", "Talks with Michael ended.")
    assert clips(ix, "Mikhail") == []
    add(ix, "doubted", "Talks with Michael ended.", doubted=("Michael",))
    assert [c.video_id for c in clips(ix, "Mikhail")] == ["doubted"]


def test_a_long_name_heard_with_one_word_wrong_is_found(search_backend: SearchBackend) -> None:
    ix = search_backend.open()
    add(ix, "emirate", "Flights to Ras al-Kamal resumed today.")
    add(ix, "bay", "Storms hit the bay of Biscay overnight.")
    [clip] = clips(ix, "Ras al-Khaimah")
    assert (clip.video_id, clip.match) == ("emirate", "phonetic")
    assert "<mark>Ras</mark> <mark>al-Kamal</mark>" in clip.highlight
    # The wrong word must start with the same sounds: "Biscay" (PS..) is not "Bengal" (PN..).
    assert clips(ix, '"bay of Bengal"') == []
