"""The system of record, the same behaviour on both backends: the data dir's JSON files and
PostgreSQL (worker.storage.pg.records); plus the database's entry points (schema upgrade,
an old schema refused, /healthz with the database down)."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from indexer.domain import Article, Segment, Transcript, Word
from tests.conftest import Ingested, cli_env, make_context
from tests.pg import create_database, drop_database
from tests.siteserver import Site
from worker.errors import NotFoundError, StoreUnavailableError
from worker.intake.articles import article_id_for
from worker.pipeline import ModelProvider, ingest
from worker.pipeline.takedown import take_down
from worker.settings import Settings
from worker.storage.catalog import ListFilters, list_articles, list_videos
from worker.storage.datadir import DataDir, Removal
from worker.storage.interfaces import Records, Runs
from worker.storage.pg.migrate import HEAD, current_revision
from worker.storage.pg.pool import close_pools
from worker.storage.pg.records import PgRecords
from worker.storage.pg.runs import PgRuns
from worker.storage.runs import FileRuns
from worker.storage.states import VideoState
from worker.storage.stores import database_problem, open_records
from worker.storage.watches import WatchStore

BRIEFING = [sys.executable, "-m", "api"]
VIDEO_URL = "https://example.org/media/briefing.mp4"
MIRROR_URL = "https://mirror.example.net/briefing.mp4"
# A port nobody listens on: the database "cannot be reached".
UNREACHABLE = "postgresql://postgres@127.0.0.1:9/briefing"


@pytest.fixture(params=["embedded", "postgres"])
def records(request: pytest.FixtureRequest, tmp_path: Path) -> Records:
    if request.param == "embedded":
        return DataDir(tmp_path)
    url: str = request.getfixturevalue("pg_url")
    return PgRecords(url, tmp_path / "media", tmp_path / "scratch")


def _article(url: str, title: str, published: str = "2026-11-20", source: str = "Daily",
             video_urls: tuple[str, ...] = (VIDEO_URL,)) -> Article:
    return Article(id=article_id_for(url), url=url, title=title, text=f"{title}. Body text.",
                   source=source, published=published, video_urls=video_urls)


def _transcript(video_id: str, text: str, model: str = "tiny.en") -> Transcript:
    words = tuple(Word(w, i * 0.5, i * 0.5 + 0.4, 0.9) for i, w in enumerate(text.split()))
    return Transcript(video_id=video_id, language="en", duration=12.5, model=model,
                      model_version="1", segments=(Segment(0, 0.0, 3.2, text, words),),
                      options={"beam_size": 5})


def _download(records: Records, payload: bytes, name: str = "dl.part") -> tuple[Path, str]:
    temp = records.tmp / name
    temp.parent.mkdir(parents=True, exist_ok=True)
    temp.write_bytes(payload)
    return temp, hashlib.sha256(payload).hexdigest()


def _stored_video(records: Records, payload: bytes = b"\x00\x00\x00\x18ftypmp42 video bytes",
                  url: str = VIDEO_URL) -> str:
    temp, sha = _download(records, payload)
    meta = records.adopt_video(temp, sha, len(payload), "mp4", url)
    records.update_source(url, state=VideoState.DONE, video_id=meta.video_id)
    return meta.video_id


def test_articles_are_saved_loaded_listed_and_resaved_once(records: Records) -> None:
    first = _article("https://news.example/a", "Relief arrives")
    second = _article("https://news.example/b", "Bridge reopens", published="2026-11-21")
    records.save_article(first)
    records.save_article(second)
    records.save_article(first)  # a redelivered task writes it again
    assert records.load_article(first.id) == first
    assert records.load_article(article_id_for("https://news.example/none")) is None
    assert sorted(a.id for a in records.articles()) == sorted([first.id, second.id])
    assert [a.id for a in records.articles()] == sorted([first.id, second.id])
    assert abs(records.article_stored(first.id) - time.time()) < 60


def test_outside_text_is_stored_exactly_as_given(records: Records) -> None:
    # U+0000, other controls and a lone surrogate-free astral character: what a hostile page
    # may hold; the record gives back what was saved (PostgreSQL's jsonb would refuse U+0000).
    odd = "nul \x00 bell \x07 rtl \u202e emoji \U0001f600 quote \" backslash \\"
    article = Article(id=article_id_for("https://news.example/odd"),
                      url="https://news.example/odd", title=odd, text=odd, source=odd)
    records.save_article(article)
    assert records.load_article(article.id) == article
    removal = Removal("r1", "article", article.id, odd, 1.0, (article.id,), ())
    records.record_removal(removal)
    assert records.removals() == [removal]


def test_a_source_is_updated_field_by_field_and_links_each_article_once(
        records: Records) -> None:
    assert records.source(VIDEO_URL) is None
    records.update_source(VIDEO_URL, state=VideoState.DOWNLOADING, add_article="a1")
    records.update_source(VIDEO_URL, add_article="a2")
    done = records.update_source(VIDEO_URL, state=VideoState.FAILED, error="HTTP 404",
                                 attempts=2, add_article="a1", runner="run-1")
    assert done.articles == ("a1", "a2")
    stored = records.source(VIDEO_URL)
    assert stored == done
    assert (stored.state, stored.error, stored.attempts, stored.runner) == (
        VideoState.FAILED, "HTTP 404", 2, "run-1")
    assert [s.url for s in records.sources()] == [VIDEO_URL]


def test_concurrent_source_updates_lose_no_article(records: Records) -> None:
    threads = [threading.Thread(target=records.update_source, args=(VIDEO_URL,),
                                kwargs={"add_article": f"article-{n}"}) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stored = records.source(VIDEO_URL)
    assert stored is not None
    assert sorted(stored.articles) == sorted(f"article-{n}" for n in range(8))


def test_adopting_a_download_renames_it_into_place_and_known_bytes_are_dropped(
        records: Records) -> None:
    payload = b"\x00\x00\x00\x18ftypmp42 the same bytes twice"
    temp, sha = _download(records, payload)
    meta = records.adopt_video(temp, sha, len(payload), "mp4", VIDEO_URL)
    assert meta.video_id == sha[:16]
    assert not temp.exists()
    stored = records.video_file(meta.video_id)
    assert stored == records.video_dir(meta.video_id) / "video.mp4"
    assert stored.read_bytes() == payload
    # The same bytes served by a second URL: the copy is dropped, the URL remembered.
    again, _ = _download(records, payload, "dl2.part")
    merged = records.adopt_video(again, sha, len(payload), "mp4", MIRROR_URL)
    assert not again.exists()
    assert merged.urls == (VIDEO_URL, MIRROR_URL)
    assert merged.fetched[VIDEO_URL] == meta.fetched[VIDEO_URL]
    assert records.video_meta(meta.video_id) == merged
    assert records.video_url(meta.video_id) == VIDEO_URL
    assert records.video_ids() == [meta.video_id]
    assert records.video_stored(meta.video_id) >= meta.fetched[VIDEO_URL]
    assert [p.name for p in records.video_dir(meta.video_id).glob("*.mp4")] == ["video.mp4"]


def test_transcripts_are_replaced_keeping_each_old_one_as_a_version(
        records: Records) -> None:
    video_id = _stored_video(records)
    assert not records.has_transcript(video_id)
    assert records.replace_transcript(_transcript(video_id, "first words")) is None
    assert records.transcript_number(video_id) == 1
    first = records.load_transcript(video_id)
    assert first == _transcript(video_id, "first words")
    kept = records.replace_transcript(_transcript(video_id, "second words", model="base"))
    assert kept is not None and (kept.number, kept.transcript) == (1, first)
    records.replace_transcript(_transcript(video_id, "third words", model="small"))
    assert records.transcript_number(video_id) == 3
    versions = records.transcript_versions(video_id)
    assert [(v.number, v.transcript.segments[0].text) for v in versions] == [
        (1, "first words"), (2, "second words")]
    current = records.load_transcript(video_id)
    assert current is not None and current.model == "small"
    assert [t.video_id for t in records.transcripts()] == [video_id]
    assert records.has_transcript(video_id)


def test_a_transcript_is_not_replaced_once_a_takedown_of_its_video_is_recorded(
        records: Records) -> None:
    video_id = _stored_video(records)
    records.save_transcript(_transcript(video_id, "before the takedown"))
    records.record_removal(Removal("r1", "video", video_id, "legal", time.time(), (),
                                   (video_id,)))
    assert not records.standing(video_id)
    with pytest.raises(NotFoundError):
        records.replace_transcript(_transcript(video_id, "after"))
    current = records.load_transcript(video_id)
    assert current is not None and current.segments[0].text == "before the takedown"


def test_pending_index_writes_are_marked_listed_and_cleared(records: Records) -> None:
    records.mark_pending("video", "00000000000000bb")
    records.mark_pending("article", "00000000000000aa")
    records.mark_pending("video", "00000000000000bb")
    assert records.pending() == [("article", "00000000000000aa"), ("video", "00000000000000bb")]
    records.clear_pending("video", "00000000000000bb")
    records.clear_pending("video", "00000000000000bb")
    assert records.pending() == [("article", "00000000000000aa")]


def test_an_unfinished_takedown_hides_its_items_until_it_is_completed(
        records: Records) -> None:
    removal = Removal("r1", "article", "aaaaaaaaaaaaaaaa", "asked", 100.0,
                      ("aaaaaaaaaaaaaaaa",), ("bbbbbbbbbbbbbbbb",),
                      article_urls=("https://news.example/a",), by="cli")
    older = Removal("r0", "video", "cccccccccccccccc", "old", 50.0, (), ("cccccccccccccccc",),
                    completed=60.0)
    records.record_removal(removal)
    records.record_removal(older)
    hidden = records.hidden()
    assert hidden.article_ids == {"aaaaaaaaaaaaaaaa"}
    assert hidden.video_ids == {"bbbbbbbbbbbbbbbb"}
    assert hidden.article_urls == {"https://news.example/a"}
    assert records.pending_removals() == [removal]
    done = Removal(**{**removal.__dict__, "completed": 101.0})
    records.record_removal(done)
    records.record_removal(done)  # idempotent
    assert records.hidden().video_ids == frozenset()
    assert records.pending_removals() == []
    assert records.removals() == [older, done]


def test_linking_articles_are_oldest_first_and_leave_out_those_being_taken_down(
        records: Records) -> None:
    video_id = _stored_video(records)
    late = _article("https://news.example/late", "Late", published="2026-11-22")
    early = _article("https://news.example/early", "Early", published="2026-11-01",
                     video_urls=(MIRROR_URL,))
    gone = _article("https://news.example/gone", "Gone", published="2026-10-01")
    for article in (late, early, gone):
        records.save_article(article)
    records.update_source(VIDEO_URL, add_article=late.id)
    records.update_source(VIDEO_URL, add_article=gone.id)
    # A second URL that served the same bytes, recorded before its video id was known.
    temp, sha = _download(records, b"\x00\x00\x00\x18ftypmp42 video bytes", "m.part")
    records.adopt_video(temp, sha, 30, "mp4", MIRROR_URL)
    records.update_source(MIRROR_URL, add_article=early.id)
    records.update_source("https://other.example/v.mp4", video_id="ffffffffffffffff",
                          add_article="1111111111111111")
    assert [a.title for a in records.linking_articles(video_id)] == ["Gone", "Early", "Late"]
    records.record_removal(Removal("r1", "article", gone.id, "asked", 1.0, (gone.id,), ()))
    assert [a.title for a in records.linking_articles(video_id)] == ["Early", "Late"]
    assert [r.url for r in records.article_refs_for_video(video_id)] == sorted(
        [early.url, late.url])


def test_exports_are_recorded_once_per_path_and_deleted_with_their_video(
        records: Records, tmp_path: Path) -> None:
    video_id = _stored_video(records)
    clip = tmp_path / "out" / "clip.mp4"
    clip.parent.mkdir()
    clip.write_bytes(b"clip bytes")
    for suffix in (".json", ".srt", ".vtt"):
        clip.with_suffix(suffix).write_text("beside")
    changed = tmp_path / "out" / "changed.mp4"
    changed.write_bytes(b"ours at first")
    sha = hashlib.sha256(b"clip bytes").hexdigest()
    records.record_export(video_id, clip, sha)
    records.record_export(video_id, clip, sha)
    records.record_export(video_id, changed, hashlib.sha256(b"ours at first").hexdigest())
    changed.write_bytes(b"the user's own file now")
    assert sorted(e.path for e in records.exports(video_id)) == sorted(
        [str(clip.resolve()), str(changed.resolve())])
    records.delete_video(video_id)
    assert not clip.exists() and not clip.with_suffix(".srt").exists()
    assert not clip.with_suffix(".json").exists()
    assert changed.read_bytes() == b"the user's own file now"
    assert records.exports(video_id) == []


def test_deleting_a_video_removes_media_records_and_the_urls_that_served_it(
        records: Records) -> None:
    video_id = _stored_video(records)
    records.replace_transcript(_transcript(video_id, "one"))
    records.replace_transcript(_transcript(video_id, "two"))
    cut = records.clips_dir(video_id) / "0-3.mp4"
    cut.parent.mkdir(parents=True)
    cut.write_bytes(b"cut")
    records.update_source("https://elsewhere.example/keep.mp4", state=VideoState.QUEUED)
    records.delete_video(video_id)
    assert records.video_meta(video_id) is None
    assert records.video_file(video_id) is None
    assert records.load_transcript(video_id) is None
    assert records.transcript_versions(video_id) == []
    assert records.source(VIDEO_URL) is None
    assert [s.url for s in records.sources()] == ["https://elsewhere.example/keep.mp4"]
    assert not records.video_dir(video_id).exists()
    assert not records.clips_dir(video_id).exists()
    assert records.video_ids() == []
    records.delete_video(video_id)  # a takedown run again finds nothing left to do


def test_deleting_an_article_drops_it_from_the_urls_it_linked(records: Records) -> None:
    article = _article("https://news.example/a", "Relief arrives")
    records.save_article(article)
    records.update_source(VIDEO_URL, add_article=article.id)
    records.update_source(VIDEO_URL, add_article="2222222222222222")
    records.delete_article(article.id)
    assert records.load_article(article.id) is None
    source = records.source(VIDEO_URL)
    assert source is not None and source.articles == ("2222222222222222",)


def test_a_lock_is_held_by_one_thread_at_a_time(records: Records) -> None:
    events: list[str] = []
    start = threading.Barrier(3)

    def hold(name: str) -> None:
        start.wait()
        with records.lock("catalog"):
            events.append(f"{name} in")
            time.sleep(0.2)
            events.append(f"{name} out")

    threads = [threading.Thread(target=hold, args=(n,)) for n in ("a", "b", "c")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(events) == 6
    for first in range(0, 6, 2):
        assert events[first].endswith(" in")
        assert events[first + 1] == events[first].replace(" in", " out")


def _runs(records: Records) -> Runs:
    # The runs of the same backend as the records (nobody is running: states show as stored).
    if isinstance(records, PgRecords):
        return PgRuns(records.url, records.root / "scratch")
    return FileRuns(records.root)


def test_listings_show_stored_videos_and_articles(records: Records) -> None:
    runs = _runs(records)
    video_id = _stored_video(records)
    records.save_transcript(_transcript(video_id, "relief workers arrived"))
    article = _article("https://news.example/a", "Relief arrives", source="Daily")
    records.save_article(article)
    records.update_source(VIDEO_URL, add_article=article.id)
    videos = list_videos(records, ListFilters(), runs=runs)
    assert videos.total == 1
    (entry,) = videos.items
    assert (entry.video_id, entry.title, entry.state, entry.language, entry.duration) == (
        video_id, "Relief arrives", VideoState.DONE, "en", 12.5)
    articles = list_articles(records, ListFilters(source="daily"), runs=runs)
    assert [(a.id, a.video_ids, a.languages) for a in articles.items] == [
        (article.id, (video_id,), ("en",))]
    assert list_videos(records, ListFilters(language="fr"), runs=runs).total == 0


# -- PostgreSQL only ---------------------------------------------------------------------------


def test_on_postgres_the_data_dir_holds_only_media(pg_url: str, tmp_path: Path) -> None:
    media = tmp_path / "media"
    records = PgRecords(pg_url, media, tmp_path / "scratch")
    video_id = _stored_video(records)
    records.save_article(_article("https://news.example/a", "A"))
    records.save_transcript(_transcript(video_id, "words"))
    records.mark_pending("video", video_id)
    found = sorted(str(p.relative_to(media)) for p in media.rglob("*"))
    assert found == ["videos", f"videos/{video_id}", f"videos/{video_id}/video.mp4"]


def test_a_lock_excludes_another_process(pg_url: str, tmp_path: Path) -> None:
    records = PgRecords(pg_url, tmp_path / "media", tmp_path / "scratch")
    script = ("import sys, time; from pathlib import Path\n"
              "from worker.storage.pg.records import PgRecords\n"
              "r = PgRecords(sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]))\n"
              "print('waiting', flush=True)\n"
              "t = time.monotonic()\n"
              "with r.lock('catalog'):\n"
              "    print(round(time.monotonic() - t, 2), flush=True)\n")
    with records.lock("catalog"):
        child = subprocess.Popen([sys.executable, "-c", script, pg_url, str(tmp_path / "m2"),
                                  str(tmp_path / "s2")], stdout=subprocess.PIPE, text=True)
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "waiting"
        time.sleep(1.0)
        assert child.poll() is None  # still waiting for the lock
    out, _ = child.communicate(timeout=60)
    assert child.returncode == 0
    assert float(out) >= 0.9


def test_db_upgrade_brings_an_empty_database_to_the_current_schema(
        pg_empty: str, tmp_path: Path) -> None:
    proc = subprocess.run([*BRIEFING, "db", "upgrade"], capture_output=True, text=True,
                          timeout=120, env=cli_env(tmp_path, BRIEFING_DATABASE_URL=pg_empty))
    assert proc.returncode == 0, proc.stderr
    assert f"schema none → {HEAD}" in proc.stdout
    assert "phrase index: created" in proc.stdout  # built by the upgrade (rum is there)
    assert current_revision(pg_empty) == HEAD
    again = subprocess.run([*BRIEFING, "db", "upgrade", "--json"], capture_output=True,
                           text=True, timeout=120,
                           env=cli_env(tmp_path, BRIEFING_DATABASE_URL=pg_empty))
    assert again.returncode == 0, again.stderr
    assert '"before": "' + HEAD in again.stdout
    assert '"phrase_index": "present"' in again.stdout
    records = open_records(Settings(data_dir=tmp_path, database_url=pg_empty))
    records.save_article(_article("https://news.example/a", "A"))
    assert [a.title for a in records.articles()] == ["A"]


def test_db_upgrade_without_a_database_says_so_in_one_line(tmp_path: Path) -> None:
    proc = subprocess.run([*BRIEFING, "db", "upgrade"], capture_output=True, text=True,
                          timeout=120, env=cli_env(tmp_path))
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        "error: no database to upgrade: set BRIEFING_DATABASE_URL "
        "(e.g. postgresql://briefing@db/briefing)"]


@pytest.fixture
def old_schema(tmp_path: Path) -> Iterator[str]:
    """A database left at the first schema revision by an older briefing."""
    from alembic import command
    from alembic.config import Config

    import worker.storage.pg.migrate as migrate

    name, url = create_database("pgrecords_old")
    config = Config()
    config.set_main_option("script_location", str(Path(migrate.__file__).parent / "migrations"))
    config.attributes["conninfo"] = url
    command.upgrade(config, "0001")
    yield url
    drop_database(name)


@pytest.mark.parametrize("args", [["status"], ["list", "videos"], ["serve", "--port", "0"]])
def test_an_old_schema_is_refused_with_one_line(old_schema: str, tmp_path: Path,
                                                args: list[str]) -> None:
    proc = subprocess.run([*BRIEFING, *args], capture_output=True, text=True, timeout=120,
                          env=cli_env(tmp_path, BRIEFING_DATABASE_URL=old_schema))
    assert proc.returncode == 1
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith("error: database postgresql://postgres@127.0.0.1:5432/pgrecords_old")
    assert line.endswith(f"is at schema 0001, this briefing needs {HEAD}: run "
                         "`briefing db upgrade`")
    assert current_revision(old_schema) == "0001"  # refused, never upgraded behind one's back


def test_the_database_check_names_an_unreachable_database(pg_url: str) -> None:
    assert database_problem(Settings(database_url=pg_url)) is None
    assert database_problem(Settings()) is None
    try:
        problem = database_problem(Settings(database_url=UNREACHABLE), timeout=1.0)
        assert problem is not None
        assert problem.startswith("database postgresql://postgres@127.0.0.1:9/briefing")
        with pytest.raises(StoreUnavailableError):
            open_records(Settings(database_url=UNREACHABLE))
    finally:
        close_pools()  # the unreachable database's pool would keep trying in the background


def test_healthz_is_503_when_the_database_does_not_answer(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from api.http import create_app

    try:
        app = create_app(Settings(data_dir=tmp_path, database_url=UNREACHABLE))
        with TestClient(app) as client:
            response = client.get("/healthz")
    finally:
        close_pools()
    assert response.status_code == 503
    assert response.json() == {"error": "database_unavailable",
                               "detail": "the database does not answer (see the server log)"}


def test_the_pipeline_on_postgres_records_ends_as_on_the_data_dir(
        pg_url: str, tmp_path: Path, site: Site, models: ModelProvider,
        ingested: Ingested) -> None:
    # The job store, locks and index stay embedded here, outside the media root: only the
    # records differ from the `ingested` fixture's, and everything must end the same.
    side = tmp_path / "side"
    media = tmp_path / "media"
    data = PgRecords(pg_url, media, tmp_path / "scratch")
    ctx = replace(make_context(side, models), data=data,
                  watches=WatchStore(side / "watches.sqlite3"))
    try:
        for name in ("article-a.html", "article-b.html", "article-a.html"):
            ingest(site.url(name), ctx)
        embedded = ingested.ctx.data
        assert sorted(a.id for a in data.articles()) == sorted(
            a.id for a in embedded.articles())
        assert data.video_ids() == embedded.video_ids()
        assert sorted((s.url, s.state, s.video_id, s.articles) for s in data.sources()) == sorted(
            (s.url, s.state, s.video_id, s.articles) for s in embedded.sources())
        for video_id in data.video_ids():
            ours, theirs = data.load_transcript(video_id), embedded.load_transcript(video_id)
            assert (ours is None) == (theirs is None)  # a video without speech has none
            if ours is not None and theirs is not None:
                assert [s.text for s in ours.segments] == [s.text for s in theirs.segments]
            assert data.article_refs_for_video(video_id) == embedded.article_refs_for_video(
                video_id)
            assert data.video_file(video_id) is not None
        assert data.pending() == []
        assert sum(1 for _ in data.transcripts()) == sum(1 for _ in embedded.transcripts()) > 0
        found = ctx.index.search('"relief workers"', kind="clip")
        assert found and found[0].video_id in data.video_ids()
        # A takedown of a video on these records: files, rows and index entries go.
        video_id = found[0].video_id
        removal = take_down(ctx, "video", video_id, "test", "cli")
        assert removal.completed is not None
        assert data.video_meta(video_id) is None and not data.video_dir(video_id).exists()
        assert data.removals() == [removal] and data.hidden().video_ids == frozenset()
        assert all(r.video_id != video_id for r in ctx.index.search('"relief workers"'))
        # Media only under the media root: no SQLite file, no index, no JSON record.
        assert not [p for p in media.rglob("*")
                    if p.suffix in (".json", ".sqlite3") or p.name in ("index", "CURRENT")]
    finally:
        ctx.index.close()
