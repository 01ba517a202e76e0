"""What only the PostgreSQL search index promises: a rebuild that writers wait for and readers
do not, database failures reported as transient index errors, and a common word's matches
ranked from candidates and counted up to a thousand.  (Everything else runs
against both backends: tests/search_backends.py.)"""

from __future__ import annotations

import threading
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from indexer.domain import Clip, SearchPage, Segment, Transcript
from indexer.errors import SearchIndexError
from indexer.pgsearch import PgSearchIndex
from indexer.pgsearch import search as pgsearch_search
from indexer.pgsearch.stats import PHRASE_INDEX, LexemeStats
from indexer.query import parse_query
from tests.test_index import transcript, words
from worker.storage.pg.migrate import ensure_phrase_index, upgrade


def clip_videos(index: PgSearchIndex, query: str) -> list[str]:
    return sorted(r.video_id for r in index.search(query) if isinstance(r, Clip))


def indexed(url: str, texts: list[str]) -> PgSearchIndex:
    """An index of one video whose segments say *texts*, ten seconds apart."""
    segments = []
    for n, text in enumerate(texts):
        ws = words(text, start=n * 10.0)
        segments.append(Segment(n, ws[0].start, ws[-1].end, text, ws))
    index = PgSearchIndex(url)
    index.add_transcript(Transcript("v1", "en", 10.0 * len(texts), "tiny.en", "test",
                                    tuple(segments)), "https://example.org/1.mp4", [])
    return index


def test_a_video_written_during_a_rebuild_waits_and_is_kept(pg_url: str) -> None:
    index = PgSearchIndex(pg_url)
    index.add_transcript(transcript("v1"), "https://example.org/1.mp4", [])
    filled = threading.Event()
    release = threading.Event()

    def fill(fresh: PgSearchIndex) -> None:
        fresh.add_transcript(transcript("v2"), "https://example.org/2.mp4", [])
        filled.set()
        assert release.wait(30)

    rebuilding = threading.Thread(target=PgSearchIndex(pg_url).rebuild, args=(fill,))
    rebuilding.start()
    assert filled.wait(30)
    writer = threading.Thread(target=PgSearchIndex(pg_url).add_transcript,
                              args=(transcript("v3"), "https://example.org/3.mp4", []))
    writer.start()
    writer.join(1.0)
    # The writer waits for the rebuild; searches still see the old index meanwhile.
    assert writer.is_alive()
    assert clip_videos(index, "convoy") == ["v1"]
    release.set()
    rebuilding.join(30)
    writer.join(30)
    assert clip_videos(index, "convoy") == ["v2", "v3"]
    index.close()


def test_an_unreachable_database_is_a_transient_index_error(pg_url: str) -> None:
    info = psycopg.conninfo.conninfo_to_dict(pg_url)
    info["dbname"] = "pgsearch_no_such_database"
    index = PgSearchIndex(psycopg.conninfo.make_conninfo(**{k: str(v) for k, v in info.items()}),
                          wait=1.0)
    with pytest.raises(SearchIndexError) as raised:
        index.search("convoy")
    assert raised.value.transient
    with pytest.raises(SearchIndexError):
        index.add_transcript(transcript("v1"), "https://example.org/1.mp4", [])
    index.close()


def test_a_common_word_is_ranked_from_candidates_and_counted_up_to_a_thousand(
    pg_url: str,
) -> None:
    # 1,100 segments say "flood", most of them "water" too; the shortest says "flood" twice.
    texts = [f"Flood {'water ' * (n % 7)}report." for n in range(1_099)]
    texts.insert(700, "Flood flood.")
    index = indexed(pg_url, texts)
    page = index.search_page("flood", limit=3)
    assert (page.total, page.total_exact) == (1_000, False)
    best = page.results[0]
    assert isinstance(best, Clip) and best.start < 7_000.0 < best.end
    # More matches than the candidates, fewer than a thousand: counted exactly.
    water = index.search_page("water", limit=3)
    assert (water.total, water.total_exact) == (942, True)
    report = index.search_page('"water report"', limit=3)
    assert (report.total, report.total_exact) == (942, True)
    few = index.search_page('"water water water water water water report"', limit=3)
    assert (few.total, few.total_exact) == (157, True)
    index.close()


def test_a_rebuild_leaves_the_planner_statistics_of_what_it_wrote(pg_url: str) -> None:
    # Until the tables are analysed the planner thinks them empty and picks plans that cost a
    # hundred times more (seen: a common word's search at 100k segments, 150 ms against 8).
    def analysed_rows() -> int:
        with psycopg.connect(pg_url) as conn:
            row = conn.execute("SELECT reltuples FROM pg_class WHERE relname = 'search_match'"
                               ).fetchone()
        assert row is not None
        return int(row[0])

    index = PgSearchIndex(pg_url)
    index.rebuild(lambda fresh: [fresh.add_transcript(transcript(f"v{n}"),
                                                      f"https://example.org/{n}.mp4", [])
                                 for n in range(5)])
    assert analysed_rows() == index.doc_count() > 0
    index.close()


def flood_index(url: str) -> PgSearchIndex:
    """1,100 segments saying "flood", most "water" too and "report" ("water report": 942),
    and the planner's statistics of them."""
    index = indexed(url, [f"Flood {'water ' * (n % 7)}report." for n in range(1_100)])
    index.after_bulk_load()
    return index


def test_the_statistics_bound_a_querys_rows_by_its_common_words(pg_url: str) -> None:
    index = flood_index(pg_url)
    stats = LexemeStats()
    with psycopg.connect(pg_url, row_factory=dict_row) as conn, conn.cursor() as cur:
        stats.refresh(cur)
    assert stats.phrase_index
    assert stats.listed("water") and stats.listed("flood") and not stats.listed("convoy")
    # A phrase: no more than its rarer word; an AND: the clauses' shares multiplied; a word
    # the statistics do not list: none.
    assert stats.common_rows(parse_query('"water report"')) == pytest.approx(942, rel=0.05)
    assert stats.common_rows(parse_query("water flood")) == pytest.approx(
        1_100 * (942 / 1_100) * 1.0, rel=0.05)  # "flood" is in every row
    assert stats.common_rows(parse_query('"water convoy"')) == 0
    assert stats.common_rows(parse_query("water convoy")) == 0
    index.close()


def answers(page: SearchPage) -> list[tuple[str, float, float, str]]:
    return [(type(r).__name__, r.score, getattr(r, "start", 0.0), getattr(r, "text", ""))
            for r in page.results]


def test_a_common_phrase_read_by_the_phrase_index_answers_as_by_the_gin_index(
    pg_url: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    index = flood_index(pg_url)
    taken: list[str] = []
    real = pgsearch_search._ordered_rows

    def ordered_rows(*args: Any) -> list[dict[str, Any]] | None:
        taken.append(args[3]["q"])
        return real(*args)

    monkeypatch.setattr(pgsearch_search, "_ordered_rows", ordered_rows)
    # Counted up to 500: the phrase index hands out fewer rows than match, so the order it
    # hands them out in counts.
    monkeypatch.setattr(pgsearch_search, "COUNT_UP_TO", 500)
    queries = ('"water water water water water water report"', '"water report"',
               '"flood water" report')

    def pages() -> list[SearchPage]:
        return [index.search_page(q, limit=5, offset=o) for q in queries for o in (0, 5)]

    monkeypatch.setattr(pgsearch_search, "ORDERED_FROM", 1e12)
    by_gin = pages()
    assert not taken
    monkeypatch.setattr(pgsearch_search, "ORDERED_FROM", 100)
    # A fresh index reads the statistics afresh (the phrase index is there).
    index = PgSearchIndex(pg_url)
    by_phrase_index = pages()
    assert len(taken) == len(by_gin)
    for gin, ordered in zip(by_gin, by_phrase_index, strict=True):
        assert (ordered.total, ordered.total_exact) == (gin.total, gin.total_exact)
        assert answers(ordered) == answers(gin)
    assert [(p.total, p.total_exact) for p in by_gin] == [(157, True)] * 2 + [(500, False)] * 4
    index.close()


def test_without_the_phrase_index_phrases_are_answered_and_upgrade_builds_it(
    pg_empty: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    upgrade(pg_empty)
    with psycopg.connect(pg_empty, autocommit=True) as conn:
        conn.execute(f"DROP INDEX {PHRASE_INDEX}")
    monkeypatch.setattr(pgsearch_search, "ORDERED_FROM", 100)
    index = flood_index(pg_empty)
    page = index.search_page('"water report"', limit=3)
    assert (page.total, page.total_exact) == (942, True)
    index.close()
    assert ensure_phrase_index(pg_empty) == "created"
    assert ensure_phrase_index(pg_empty) == "present"
    stats = LexemeStats()
    with psycopg.connect(pg_empty, row_factory=dict_row) as conn, conn.cursor() as cur:
        stats.refresh(cur)
    assert stats.phrase_index
    index = PgSearchIndex(pg_empty)
    assert index.search_page('"water report"', limit=3).total == 942
    index.close()


def test_a_phrase_search_after_the_rum_extension_is_dropped_asks_the_gin_index(
    pg_empty: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    upgrade(pg_empty)
    monkeypatch.setattr(pgsearch_search, "ORDERED_FROM", 100)
    answered: list[bool] = []
    real = pgsearch_search._ordered_rows

    def ordered_rows(*args: Any) -> list[dict[str, Any]] | None:
        rows = real(*args)
        answered.append(rows is not None)
        return rows

    monkeypatch.setattr(pgsearch_search, "_ordered_rows", ordered_rows)
    index = flood_index(pg_empty)
    before = index.search_page('"water report"', limit=3)
    assert answered == [True]
    # The index believes the phrase index is there until it reads the statistics again.
    with psycopg.connect(pg_empty, autocommit=True) as conn:
        conn.execute("DROP EXTENSION rum CASCADE")
    after = index.search_page('"water report"', limit=3)
    assert answered == [True, False]
    assert (after.total, after.total_exact) == (before.total, before.total_exact) == (942, True)
    assert answers(after) == answers(before)
    # Read again at once: the next phrase goes to the GIN index without trying.
    assert index.search_page('"flood water"', limit=3).total == 942
    assert answered == [True, False]
    index.close()
    assert ensure_phrase_index(pg_empty) == "created"


def test_a_search_in_another_thread_during_a_batch_sees_only_what_was_committed(
    pg_url: str,
) -> None:
    index = indexed(pg_url, ["The harbour is calm."])
    seen: list[list[str]] = []
    with index.batch():
        index.add_transcript(transcript("v2"), "https://example.org/2.mp4", [])
        assert clip_videos(index, "harbour") == ["v1", "v2"]  # the batch's own thread
        other = threading.Thread(target=lambda: seen.append(clip_videos(index, "harbour")))
        other.start()
        other.join(timeout=30)
    assert seen == [["v1"]]  # its own connection: the batch was not committed yet
    assert clip_videos(index, "harbour") == ["v1", "v2"]
    index.close()
