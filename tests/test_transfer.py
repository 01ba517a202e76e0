"""``briefing transfer``: an embedded data dir moved into PostgreSQL ends as it was there (every
record, job, watch and hit, what is hidden), searches answer the same, and a transfer
killed part way and run again ends as an uninterrupted one."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest

from indexer.domain import Clip
from tests.conftest import MANIFEST, Ingested, cli_env
from tests.fleet import BRIEFING, REPO
from tests.pg import create_database, drop_database
from worker.settings import Settings
from worker.storage.datadir import DataDir, Hidden, Removal
from worker.storage.interfaces import Records
from worker.storage.jobs import JobStore
from worker.storage.pg.jobs import PgJobStore
from worker.storage.pg.migrate import upgrade
from worker.storage.pg.records import PgRecords
from worker.storage.pg.runs import PgRuns
from worker.storage.pg.watches import PgWatchStore
from worker.storage.stores import open_search_index
from worker.storage.transfer import paired_stores, transfer
from worker.storage.watches import WatchStore
from worker.watching.domain import HitKind, Match

PHRASE_A = MANIFEST["briefing-a.mp4"]["sentences"][2]["phrase"]  # "old bridge"
PHRASE_B = MANIFEST["briefing-b.mp4"]["sentences"][3]["phrase"]  # "higher ground"
# Words, phrases, an AND, a word in both videos, and sound-alikes of words heard
# ("Londen", "meddisin": spelled as nobody transcribes them).
QUERIES = ["storm damage", f'"{PHRASE_A}"', f'"{PHRASE_B}"', "river", "water supply",
           "convoy trucks", "Londen", "meddisin", "closed"]


def _copy_sqlite(source: Path, dest: Path) -> None:
    # The session fixture holds its stores open: copied through SQLite's backup API, never
    # by touching its -wal/-shm files.
    with sqlite3.connect(source) as src, sqlite3.connect(dest) as out:
        src.backup(out)
    src.close()
    out.close()


@pytest.fixture
def archive(ingested: Ingested, tmp_path: Path) -> Path:
    """A copy of the ingested data dir with a re-transcription, an exported clip, watches
    with hits (one delivered, one failed) and a takedown under way (its video hidden)."""
    root = ingested.ctx.data.root
    copy = tmp_path / "data"
    shutil.copytree(root, copy, ignore=shutil.ignore_patterns(
        "jobs.sqlite3*", "watches.sqlite3*", "locks", "index-writer.lock"))
    (copy / "locks").mkdir(exist_ok=True)
    _copy_sqlite(root / "jobs.sqlite3", copy / "jobs.sqlite3")
    data = DataDir(copy)
    video_a = data.source(ingested.report_a.videos[0].url).video_id  # type: ignore[union-attr]
    others = [v for v in data.video_ids() if v != video_a and data.has_transcript(v)]
    assert others, "the fixture has a second transcribed video"
    video_b = others[0]
    transcript = data.load_transcript(video_a)
    assert transcript is not None
    data.replace_transcript(transcript)  # version 1 kept, the same words current
    data.record_export(video_a, tmp_path / "exported" / "clip.mp4", "0" * 64)
    watches = WatchStore(copy / "watches.sqlite3")
    hooked = watches.add("storms", "storm", webhook_url="http://127.0.0.1:9/hook")
    plain = watches.add("bridges", "bridge")
    watches.record(f"v:{video_a}", [
        (hooked, [Match(kind=HitKind.CLIP, video_id=video_a, start=4.2, end=7.9,
                        text="storm damage", articles=(("http://x/a", "A"),)),
                  Match(kind=HitKind.CLIP, video_id=video_a, start=27.6, end=30.7)]),
        (plain, [Match(kind=HitKind.CLIP, video_id=video_a, start=8.4, end=12.7)])])
    first, second = (h.id for h in watches.hits(hooked))
    watches.delivered(second, 200)
    watches.attempt_failed(first, "refused", retry_at=None, status=0)
    data.record_removal(Removal(id="r1", kind="video", target=video_b, reason="test",
                                requested=time.time(), article_ids=(),
                                video_ids=(video_b,), by="cli"))
    return copy


def _settings(data_dir: Path, url: str | None = None) -> Settings:
    return Settings(data_dir=data_dir, database_url=url)


def _target(url: str, media: Path) -> PgRecords:
    return PgRecords(url, media, media / "tmp")


def _records(data: Records) -> dict[str, Any]:
    """Everything the records hold, times included."""
    return {
        "articles": [(a, data.article_stored(a.id)) for a in data.articles()],
        "sources": list(data.sources()),
        "videos": [(data.video_meta(v), data.video_stored(v), data.transcript_versions(v),
                    data.transcript_number(v), data.exports(v), data.video_url(v),
                    data.article_refs_for_video(v)) for v in data.video_ids()],
        "transcripts": list(data.transcripts()),
        "removals": data.removals(),
        "hidden": data.hidden(),
    }


def _clips(settings: Settings, hidden_from: Records, query: str) -> list[tuple[Any, ...]]:
    hidden = hidden_from.hidden()
    index = open_search_index(settings)
    try:
        page = index.search_page(query, limit=50, kind="clip", hidden_videos=hidden.video_ids,
                                 hidden_articles=hidden.article_ids,
                                 hidden_links=hidden.article_urls)
    finally:
        index.close()
    return [(r.video_id, round(r.start, 2), round(r.end, 2), r.match,
             tuple(a.url for a in r.articles)) for r in page.results if isinstance(r, Clip)]


def _run_transfer(archive: Path, url: str) -> Any:
    source = DataDir(archive)
    target = _target(url, archive)
    index = open_search_index(_settings(archive, url))
    try:
        jobs, watches = paired_stores(source, target)
        return transfer(source, target, index, jobs=jobs, watches=watches)
    finally:
        index.close()


def test_a_transfer_copies_everything_and_searches_answer_the_same(archive: Path,
                                                                   pg_url: str) -> None:
    source = DataDir(archive)
    report = _run_transfer(archive, pg_url)
    counts = report.to_json()
    assert counts["articles"]["copied"] == len(list(source.articles())) == 2
    assert counts["sources"]["copied"] == len(list(source.sources()))
    assert counts["videos"]["copied"] == len(source.video_ids())
    assert counts["transcripts"]["copied"] == len(list(source.transcripts())) >= 2
    assert counts["removals"]["copied"] == 1 and counts["exports"]["copied"] == 1
    # At least the fixture's two ingests (tests that run before may have re-ingested).
    assert counts["jobs"]["copied"] == len(list(JobStore(source.jobs_db).stored_jobs())) >= 2
    assert counts["watches"]["copied"] == 2
    assert counts["media"]["total"] == 0  # media stays in the data dir
    # Written to the index: each article, each transcribed video.
    assert counts["index"]["copied"] == (counts["articles"]["copied"]
                                         + counts["transcripts"]["copied"])

    target = _target(pg_url, archive)
    assert _records(target) == _records(source)
    assert (list(PgJobStore(pg_url, PgRuns(pg_url, target.tmp)).stored_jobs())
            == list(JobStore(source.jobs_db).stored_jobs()))
    watches = WatchStore(source.watches_db).stored_watches()
    assert PgWatchStore(pg_url).stored_watches() == watches
    assert sum(len(w.hits) for w in watches) == 3
    assert any(w.watch.secret for w in watches)
    # Hits recorded after the transfer get new ids, past the copied ones.
    store = PgWatchStore(pg_url)
    video_a = watches[0].hits[0].hit.video_id
    fresh = store.record(f"v:{video_a}", [(store.find("bridges"), [
        Match(kind=HitKind.CLIP, video_id=video_a, start=8.4, end=12.7),
        Match(kind=HitKind.CLIP, video_id=video_a, start=0.8, end=3.6)])])
    assert [h.id for h in fresh.new] == [max(s.hit.id for w in watches for s in w.hits) + 1]

    (hidden_video,) = source.hidden().video_ids
    assert target.hidden().video_ids == {hidden_video}
    embedded, database = _settings(archive), _settings(archive, pg_url)
    for query in QUERIES:
        on_pg = _clips(database, target, query)
        assert on_pg == _clips(embedded, source, query), query
        assert hidden_video not in {clip[0] for clip in on_pg}
    assert _clips(database, target, "Londen"), "the sound-alike pass found nothing"
    assert not _clips(database, target, f'"{PHRASE_B}"')  # only in the hidden video


def _cli(archive: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*BRIEFING, "transfer", *args], capture_output=True, text=True,
                          timeout=300, env=cli_env(archive), cwd=REPO, check=False)


def _dump(url: str) -> dict[str, list[Any]]:
    """Every row of every table but the search index's generated ids."""
    tables: dict[str, list[Any]] = {}
    with psycopg.connect(url) as conn:
        names = [r[0] for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")]
        for name in names:
            rows = conn.execute(f"SELECT to_jsonb(t) AS j FROM {name} t").fetchall()
            cleaned = []
            for (row,) in rows:
                if name in ("search_docs", "search_terms"):
                    row.pop("id", None)
                cleaned.append(json.dumps(row, sort_keys=True))
            tables[name] = sorted(cleaned)
    return tables


@pytest.mark.parametrize("kill_after", ["articles", "index"])
def test_a_transfer_killed_part_way_and_run_again_ends_as_an_uninterrupted_one(
        archive: Path, pg_url: str, kill_after: str) -> None:
    whole = _cli(archive, "--to", pg_url, "--json")
    assert whole.returncode == 0, whole.stderr
    expected = _dump(pg_url)
    assert expected["records_pending"] == []  # everything indexed

    name, url = create_database("pgtransfer_resume")
    try:
        upgrade(url)
        # Killed right after the first item of a kind it reports: an article (the records
        # half copied) or an index entry (every record in, the index begun).
        # So that it cannot finish before the kill, the test holds up what comes next:
        # the sources' table, or the index writes of every video.
        blocker = psycopg.connect(url)
        if kill_after == "articles":
            blocker.execute("LOCK TABLE records_sources IN SHARE MODE")
        else:
            for video_id in DataDir(archive).video_ids():
                blocker.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 12))",
                                (f"search:{video_id}",))
        proc = subprocess.Popen([*BRIEFING, "transfer", "--to", url, "--verbose"],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                env=cli_env(archive), cwd=REPO, start_new_session=True)
        assert proc.stdout is not None
        lines = []
        try:
            for line in proc.stdout:
                lines.append(line)
                if line.startswith(f"{kill_after} "):
                    break
        finally:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            blocker.rollback()
            blocker.close()
        assert lines[-1].startswith(f"{kill_after} ") and proc.returncode == -signal.SIGKILL
        partial = _dump(url)
        assert partial != expected and partial["records_articles"]
        # Takedowns went first: what the data dir hides is hidden half-way through too.
        assert _target(url, archive).hidden() == DataDir(archive).hidden() != Hidden()
        if kill_after == "index":
            assert partial["records_pending"], "nothing was left for the index"
        again = _cli(archive, "--to", url, "--json")
        assert again.returncode == 0, again.stderr
        counts = json.loads(again.stdout)["counts"]
        assert counts["removals"] == {"copied": 0, "unchanged": 1, "total": 1}
        assert counts["articles"]["unchanged"] >= 1
        assert _dump(url) == expected
        # A finished transfer run again changes nothing, and says so.
        once_more = _cli(archive, "--to", url)
        assert once_more.returncode == 0, once_more.stderr
        assert "nothing to change" in once_more.stdout
        assert _dump(url) == expected
        done = json.loads(_cli(archive, "--to", url, "--json").stdout)
        assert done["changed"] is False
        assert all(c["copied"] == 0 for c in done["counts"].values())
    finally:
        drop_database(name)


def test_media_copied_to_a_media_dir_is_whole_and_checked(archive: Path, pg_url: str,
                                                          tmp_path: Path) -> None:
    media = tmp_path / "media"
    proc = _cli(archive, "--to", pg_url, "--media-dir", str(media), "--json")
    assert proc.returncode == 0, proc.stderr
    source = DataDir(archive)
    counts = json.loads(proc.stdout)["counts"]
    assert counts["media"]["copied"] == len(source.video_ids())
    target = _target(pg_url, media)
    for video_id in source.video_ids():
        found = source.video_file(video_id)
        copied = target.video_file(video_id)
        assert found is not None and copied is not None
        assert copied.read_bytes() == found.read_bytes()
    assert not [p for p in media.rglob("*.tmp")]
    # Bytes that do not match their record are refused, not copied.
    video_id = source.video_ids()[0]
    copied = target.video_file(video_id)
    assert copied is not None
    copied.unlink()
    meta = source.video_meta(video_id)
    assert meta is not None
    original = source.video_file(video_id)
    assert original is not None
    original.write_bytes(b"not the video" + b"\0" * (meta.size - 13))
    broken = _cli(archive, "--to", pg_url, "--media-dir", str(media))
    assert broken.returncode == 1
    assert "does not hold the bytes its record names" in broken.stderr
    assert not copied.exists() and not [p for p in media.rglob("*.tmp")]


def test_a_database_at_an_older_schema_is_refused_unless_upgrade_is_asked(
        archive: Path, pg_empty: str) -> None:
    refused = _cli(archive, "--to", pg_empty)
    assert refused.returncode == 1
    assert "has no briefing schema: run `briefing db upgrade`" in refused.stderr
    assert "Traceback" not in refused.stderr
    upgraded = _cli(archive, "--to", pg_empty, "--upgrade", "--json")
    assert upgraded.returncode == 0, upgraded.stderr
    assert json.loads(upgraded.stdout)["counts"]["articles"]["copied"] == 2


def test_a_missing_data_dir_is_one_error_line(tmp_path: Path, pg_url: str) -> None:
    proc = _cli(tmp_path / "nothing", "--to", pg_url)
    assert proc.returncode == 1
    assert proc.stderr.startswith("error: no data dir at")
    assert not (tmp_path / "nothing").exists()

