"""Article-primed transcription: which words of the linking articles reach faster-whisper,
and the guards against what a primed model invents."""

from __future__ import annotations

from pathlib import Path

import pytest

from indexer.domain import Article, Segment, Word
from worker.speech.priming import primed_options, priming_terms
from worker.speech.transcribe import (
    PRIME_OFF,
    PRIME_PROMPT,
    TranscribeOptions,
    echoes_prompt,
    loops,
    prompt_words_of,
    sentence_segments,
    too_fast,
)
from worker.storage.datadir import DataDir

ARTICLE = Article(
    "a1", "https://news.example/red-sea", "Red Sea attacks push shipping around the Cape",
    "Two freighters were hit near Hodeidah, and insurers raised premiums for the Bab "
    "el-Mandeb. Carriers are diverting vessels around the Cape of Good Hope. Guayaquil "
    "police said nothing. Warships based in Djibouti escorted tankers on Monday; the "
    "long-range patrols go on.",
    "Coastal Times",
)


def test_priming_terms_are_the_names_and_rare_compounds() -> None:
    terms = priming_terms([ARTICLE])
    for name in ("Hodeidah", "Bab el-Mandeb", "Cape of Good Hope", "Djibouti", "Guayaquil",
                 "long-range", "Red Sea"):
        assert name in terms
    # Sentence starters, weekdays and parts of longer names stay out.
    for word in ("Carriers", "Warships", "Two", "Monday", "Mandeb", "Cape"):
        assert word not in terms


def test_a_name_repeated_across_articles_comes_first() -> None:
    other = Article("a2", "u", "Djibouti port busy", "Ships wait off Djibouti.", "")
    assert priming_terms([ARTICLE, other])[0] == "Djibouti"


def test_primed_options_fill_hotwords_unless_set_or_off() -> None:
    primed = primed_options(TranscribeOptions(), [ARTICLE])
    assert primed.hotwords is not None and "Hodeidah" in primed.hotwords
    assert primed.initial_prompt is None
    prompted = primed_options(TranscribeOptions(prime=PRIME_PROMPT), [ARTICLE])
    assert prompted.initial_prompt is not None and prompted.hotwords is None
    assert primed_options(TranscribeOptions(prime=PRIME_OFF), [ARTICLE]).hotwords is None
    own = primed_options(TranscribeOptions(hotwords="Sanaa"), [ARTICLE])
    assert own.hotwords == "Sanaa"


def test_linking_articles_are_found_through_the_video_urls(tmp_path: Path) -> None:
    data = DataDir(tmp_path)
    other = Article("a2", "https://news.example/b", "Other", "text", "")
    unrelated = Article("a3", "https://news.example/c", "Unrelated", "text", "")
    for article in (ARTICLE, other, unrelated):
        data.save_article(article)
    data.update_source("https://cdn.example/v.mp4", add_article="a1", video_id="vid1")
    data.update_source("https://mirror.example/v.mp4", add_article="a2", video_id="vid1")
    data.update_source("https://cdn.example/w.mp4", add_article="a3", video_id="vid2")
    assert [a.id for a in data.linking_articles("vid1")] == ["a1", "a2"]


def words(text: str, start: float = 0.0) -> tuple[Word, ...]:
    return tuple(Word(f" {t}", start + i * 0.5, start + i * 0.5 + 0.4)
                 for i, t in enumerate(text.split()))


def test_windows_are_recut_into_sentences_by_word_timings() -> None:
    first = words("The minister promised to follow up")
    second = words("report within a week. Police ended a riot.", start=3.0)
    segments = [Segment(0, 0.0, 3.0, "", first), Segment(1, 3.0, 7.0, "", second)]
    out = sentence_segments(segments)
    assert [s.text for s in out] == [
        "The minister promised to follow up report within a week.",
        "Police ended a riot.",
    ]
    assert out[0].start == first[0].start and out[0].end == second[3].end
    assert [s.id for s in out] == [0, 1]


def test_a_long_pause_also_ends_a_segment() -> None:
    segments = [Segment(0, 0.0, 10.0, "", words("one two") + words("three four", start=8.0))]
    assert [s.text for s in sentence_segments(segments)] == ["one two", "three four"]


@pytest.mark.parametrize(("text", "echo"), [
    ("Zalingei.", True),
    ("and Zaporizhzhia.", True),
    ("Khartoum, Khartoum, Khartoum,", True),
    ("Talks in Zalingei resumed.", False),
    ("Thank you.", False),
])
def test_a_segment_that_only_echoes_the_prompt_is_a_hallucination(text: str, echo: bool) -> None:
    prompt = prompt_words_of("El Fasher, Khartoum, Zalingei, Zaporizhzhia")
    assert echoes_prompt(text, prompt) is echo


def test_a_decoding_loop_is_recognised() -> None:
    assert loops("X6, Z, Z, Xing, X, X, X, X, X, X.")
    assert not loops("The next meeting is in March.")


def test_words_squeezed_faster_than_speech_are_a_hallucination() -> None:
    names = ["Lima", "Oh", "Quito", "Nah", "Quito", "Quito"]  # six words in 0.6 s
    invented = tuple(Word(f" {t},", 40.0 + i * 0.1, 40.0 + i * 0.1 + 0.1)
                     for i, t in enumerate(names))
    assert too_fast(Segment(0, 40.0, 40.6, "", invented))
    said = words("Residents are running short of rice and fuel this week.")  # 2 words/s
    assert not too_fast(Segment(0, 0.0, said[-1].end, "", said))
    # A number in pieces (" 25" ",000") is one word, and two words are too few to judge.
    pieces = (Word(" 25", 1.0, 1.2), Word(",000", 1.2, 1.3), Word(" children", 1.3, 1.6),
              Word(" wait.", 1.6, 1.9))
    assert not too_fast(Segment(0, 1.0, 1.9, "", pieces))
    assert not too_fast(Segment(0, 0.0, 0.3, "", words("Thank you.")[:2]))
