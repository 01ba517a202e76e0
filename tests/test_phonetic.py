"""Phonetic search: the phone index, the alignment across word boundaries, and old indexes.

Real espeak-ng (through the espeakng-loader wheel), real panphon features, a real Whoosh
index in tmp_path and the PostgreSQL one (tests.search_backends); word timings and
probabilities are made by hand, as a recogniser would give them.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from whoosh import index as windex

from indexer.domain import ArticleRef, Clip, Segment, Transcript, Word
from indexer.generations import _new_generation, _write_current
from indexer.index import SearchIndex, rebuild_index
from indexer.phonematch import Layout, align
from indexer.phones import phone_distance, phone_keys, pronounce, skeleton
from indexer.phonesearch import UPGRADE_NOTICE, segment_phone_fields
from indexer.schema import PHONE_KEYS_FIELD, build_schema
from tests.search_backends import AnyIndex, SearchBackend


def timed(text: str, doubted: tuple[str, ...] = (), start: float = 10.0) -> tuple[Word, ...]:
    """Words of *text* 0.4 s apart; those in *doubted* heard with probability 0.3."""
    out = []
    t = start
    for token in text.split():
        probability = 0.3 if token.strip(".,") in doubted else 0.95
        out.append(Word(f" {token}", round(t, 2), round(t + 0.35, 2), probability))
        t += 0.4
    return tuple(out)


def transcript(video_id: str, text: str, doubted: tuple[str, ...] = ()) -> Transcript:
    ws = timed(text, doubted)
    return Transcript(video_id, "en", 60.0, "tiny.en", "test",
                      (Segment(0, ws[0].start, ws[-1].end, text, ws),))


def add(ix: AnyIndex, video_id: str, text: str, doubted: tuple[str, ...] = ()) -> None:
    ix.add_transcript(transcript(video_id, text, doubted), f"https://example.org/{video_id}.mp4",
                      [ArticleRef("https://example.org/a", "A")])


def clips(ix: AnyIndex, query: str, **kw: object) -> list[Clip]:
    return [r for r in ix.search(query, **kw) if isinstance(r, Clip)]  # type: ignore[arg-type]


def phones_of(text: str) -> tuple[str, ...]:
    return tuple(p for word in pronounce(text.split()) for p in word)


# -- pronunciations, features and keys ------------------------------------------------------


def test_pronunciations_come_from_espeak_ng_and_ignore_case_and_punctuation() -> None:
    assert pronounce(["Qamishli,", "qamishli"]) == [("k", "æ", "m", "ɪ", "ʃ", "l", "i")] * 2
    assert pronounce(["", "--"]) == [(), ()]


def test_phones_differing_in_voicing_only_are_closer_than_a_consonant_and_a_vowel() -> None:
    assert phone_distance("k", "ɡ") < phone_distance("t", "k") < phone_distance("k", "a")
    assert phone_distance("s", "s") == 0.0


def test_only_doubted_words_and_runs_between_them_are_keyed() -> None:
    words = pronounce(["officials", "in", "deer", "as", "zor", "said"])
    assert phone_keys(words, [False] * 6) == []
    keys = phone_keys(words, [False, False, True, False, True, False])
    assert skeleton(phones_of("deer as zor")) in keys  # the run from "deer" to "zor"
    assert skeleton(phones_of("officials")) not in keys


# -- the alignment ---------------------------------------------------------------------------


def test_the_alignment_finds_the_words_that_sound_like_the_query() -> None:
    sentences = [pronounce(s.split()) for s in
                 ("Kurdish officials in chemistry called", "in Sumy by the afternoon")]
    near, far = align(phones_of("Qamishli"), sentences)
    assert near is not None and (near.first, near.last) == (3, 3)
    assert far is not None and far.similarity < near.similarity


def test_a_target_aligned_after_its_first_part_matches_one_aligned_afresh() -> None:
    # A layout goes on from the last row of a target the next one starts with ("Al", then
    # "Al Mansouri"): the same stretches and similarities as a layout that never saw "Al".
    sentences = [pronounce(s.split()) for s in
                 ("the talks in almansuri ended", "al man sorry said the minister",
                  "nothing like it here")]
    shared = Layout(sentences)
    align(phones_of("Al"), shared)
    assert align(phones_of("Al Mansouri"), shared) == align(phones_of("Al Mansouri"),
                                                             Layout(sentences))
    assert align(phones_of("Al Mansouri"), shared)[0] is not None


# -- searching --------------------------------------------------------------------------------


def test_a_name_split_across_two_heard_words_is_found(search_backend: SearchBackend) -> None:
    ix = search_backend.open()
    add(ix, "split", "Engineers in a leppo restored the main water line.", ("a", "leppo"))
    add(ix, "other", "Engineers in a lot of places restored the power.")
    [clip] = clips(ix, "Aleppo")
    assert (clip.video_id, clip.match, clip.heard) == ("split", "phonetic", "a leppo")
    assert "<mark>a</mark> <mark>leppo</mark>" in clip.highlight
    # Word-exact bounds: from half a second before "a" (the third word, at 10.8 s).
    assert clip.start == pytest.approx(10.8 - 0.5)
    assert 0.7 < (clip.similarity or 0) <= 1.0
    assert clip.to_json()["sounds_like"] == clip.similarity


def test_a_phrase_heard_glued_into_one_word_is_found(search_backend: SearchBackend) -> None:
    ix = search_backend.open()
    add(ix, "glued", "The harbour master in portside expects more delays.", ("portside",))
    add(ix, "apart", "The port was closed on Monday.")
    [clip] = clips(ix, "Port Said")
    assert (clip.video_id, clip.heard) == ("glued", "portside")
    assert "<mark>portside</mark>" in clip.highlight


def test_a_name_one_syllable_off_is_found(search_backend: SearchBackend) -> None:
    ix = search_backend.open()
    add(ix, "off", "Relief planes landed at Gildic carrying tents.", ("Gildic",))
    add(ix, "sure", "Relief planes landed at Gilbert carrying tents.")
    found = clips(ix, "Gilgit")
    assert [(c.video_id, c.heard) for c in found] == [("off", "Gildic")]


def test_a_name_heard_as_a_common_word_is_found_only_where_it_was_doubted(
        search_backend: SearchBackend) -> None:
    ix = search_backend.open()
    add(ix, "doubted", "Kurdish officials in chemistry called for an inquiry.", ("chemistry",))
    add(ix, "sure", "Students in chemistry called for an inquiry.")
    assert [c.video_id for c in clips(ix, "Qamishli")] == ["doubted"]


def test_an_and_query_finds_a_mangled_name_beside_a_word_said_exactly(
        search_backend: SearchBackend) -> None:
    # No segment says both words: the exact AND, read only where both could be, finds
    # nothing, and the phonetic pass finds the name heard as another word.
    ix = search_backend.open()
    with ix.batch():
        add(ix, "doubted", "Kurdish officials in chemistry called for an inquiry.",
            ("chemistry",))
        add(ix, "officials", "Officials in the capital called for calm.")
        add(ix, "elsewhere", "Students of chemistry called for an inquiry.")
    found = clips(ix, "Qamishli officials")
    assert [(c.video_id, c.match) for c in found] == [("doubted", "phonetic")]
    assert "<mark>officials</mark>" in found[0].highlight


def test_a_common_short_word_does_not_match_by_sound_everywhere(
        search_backend: SearchBackend) -> None:
    ix = search_backend.open()
    with ix.batch():
        add(ix, "said", "The water supply was restored this morning.")
        alike = ["What are they doing about it now.", "The order was given at noon.",
                 "His daughter is safe now.", "A quarter of the town flooded.",
                 "They waited for hours at the border.", "We will talk later tonight.",
                 "Officials wander through the rubble.", "The otter swam away."]
        for n, text in enumerate(alike):
            # As unsure of every word as a recogniser ever is.
            add(ix, f"alike{n}", text, tuple(text.strip(".").split()))
    found = clips(ix, "water")
    assert [c.video_id for c in found] == ["said"]


def test_the_query_heard_exactly_makes_sound_alikes_need_more(
        search_backend: SearchBackend) -> None:
    ix = search_backend.open()
    add(ix, "heard", "Fighting was reported near Mindanao overnight.", ("Mindanao",))
    assert [c.heard for c in clips(ix, "Mandalay")] == ["Mindanao"]
    add(ix, "exact", "Fighting was reported near Mandalay overnight.")
    assert [c.video_id for c in clips(ix, "Mandalay")] == ["exact"]


# -- indexes made before the phone index ------------------------------------------------------


def old_index(root: Path) -> SearchIndex:
    """An index as made before the phone index (sound keys, no phone fields)."""
    path = _new_generation(root)
    windex.create_in(str(path), build_schema(phone_index=False, sound_keys=True))
    _write_current(root, path.name)
    return SearchIndex(root)


def test_an_index_without_the_phone_index_still_searches_and_says_how_to_upgrade(
        tmp_path: Path) -> None:
    root = tmp_path / "index"
    ix = old_index(root)
    texts = {"exact": ("Two vessels were struck off Hodeidah on Monday.", ()),
             "heard": ("Two cargo ships were hit off the port of Odida overnight.", ("Odida",)),
             "split": ("Engineers in a leppo restored the main water line.", ("a", "leppo"))}
    for video_id, (text, doubted) in texts.items():
        add(ix, video_id, text, doubted)
    page = ix.search_page("Hodeidah")
    # The exact pass and the spelling-based sound keys still answer.
    assert [(r.video_id, r.match) for r in page.results  # type: ignore[union-attr]
            ] == [("exact", "exact"), ("heard", "phonetic")]
    assert page.notice == UPGRADE_NOTICE and "briefing reindex" in page.notice
    assert clips(ix, "Aleppo") == []  # across two words: only the phone index hears that
    ix.close()

    def fill(fresh: SearchIndex) -> None:
        for video_id, (text, doubted) in texts.items():
            add(fresh, video_id, text, doubted)

    rebuild_index(root, fill)  # what `briefing reindex` does with the stored transcripts
    ix = SearchIndex(root)
    assert ix.search_page("Hodeidah").notice == ""
    assert [c.heard for c in clips(ix, "Aleppo")] == ["a leppo"]
    ix.close()


def test_a_segment_stores_its_phones_and_keys_only_with_word_timings() -> None:
    assert segment_phone_fields(()) == {}
    fields = segment_phone_fields(timed("Talks in Jeddah resumed", ("Jeddah",)))
    keys = fields[PHONE_KEYS_FIELD].split()
    # Doubted words and names as written are keyed, and runs between them; not the rest.
    assert skeleton(phones_of("Jeddah")) in keys
    assert skeleton(phones_of("Talks in Jeddah")) in keys
    assert skeleton(phones_of("resumed")) not in keys
    spoken, percents = fields["phones"]
    assert spoken.split(" ")[2] == ".".join(phones_of("Jeddah"))
    assert [ord(c) - 48 for c in percents] == [95, 95, 30, 95]


def test_alike_keys_are_each_keys_most_alike_terms_with_ties_taken_in_order() -> None:
    # What alike_keys computes in one pass per first letter, worked out key by key: each
    # key's MAX_KEY_TERMS most alike terms of its letter (ties: the first in the list),
    # then all of them by their best similarity, ties by the term.
    from rapidfuzz import fuzz, process

    from indexer.phonesearch import KEY_SIMILARITY, MAX_KEY_TERMS, Target, alike_keys

    letters = "nkrstlmp"
    terms = sorted({a + b + c + d for a in "nk" for b in letters for c in letters
                    for d in ("", *letters[:3])})

    class Terms:
        def starting(self, field: str, prefix: str) -> list[str]:
            assert field == PHONE_KEYS_FIELD
            return [t for t in terms if t.startswith(prefix)]

    targets = [Target((0,), ("x",), "nkr", ("nkr", "nk")), Target((1,), ("x",), "krst", ("ks",)),
               Target((0, 1), ("x",), "nkrkrst", ())]
    scored: dict[str, float] = {}
    for key in sorted({k for t in targets for k in (t.key, *t.keys)}):
        for term, score, _ in process.extract(key, Terms().starting(PHONE_KEYS_FIELD, key[0]),
                                              scorer=fuzz.ratio, score_cutoff=KEY_SIMILARITY,
                                              limit=MAX_KEY_TERMS):
            scored[term] = max(scored.get(term, 0.0), float(score))
    expected = sorted(scored, key=lambda t: (-scored[t], t))
    # Keys with more alike terms than are kept, so the cut and its ties count.
    assert len(expected) > 2 * MAX_KEY_TERMS
    assert alike_keys(Terms(), targets) == expected
