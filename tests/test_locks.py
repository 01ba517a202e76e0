"""The inline runners' locks: two `briefing ingest` on one data dir never do one thing twice.

The tests of the Locks interface run against the data dir's file locks and PostgreSQL's
advisory locks alike.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from indexer.domain import Clip
from indexer.index import SearchIndex
from tests.conftest import MANIFEST, cli_env
from tests.fleet import BRIEFING, REPO, segment_ids
from tests.siteserver import Site
from worker.errors import LockBusyError
from worker.pipeline import FileLocks, LockChain
from worker.pipeline.locks import Locks
from worker.storage.datadir import DataDir
from worker.storage.pg.locks import PgLocks

HOLDER = """
import sys, time
from pathlib import Path
from worker.pipeline import FileLocks
from worker.storage.pg.locks import PgLocks
where = sys.argv[2]
locks = FileLocks(Path(where)) if sys.argv[1] == "file" else PgLocks(where)
with locks.hold("video:abc"):
    print("held", flush=True)
    time.sleep(60)
"""


class LockKind:
    """One kind of Locks: how to open it and where a holder process points it."""

    def __init__(self, name: str, where: str, make: Callable[[], Locks]) -> None:
        self.name, self.where, self.make = name, where, make


@pytest.fixture(params=["file", "postgres"])
def kind(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LockKind]:
    if request.param == "file":
        folder = tmp_path / "locks"
        yield LockKind("file", str(folder), lambda: FileLocks(folder))
        return
    url: str = request.getfixturevalue("pg_url")
    opened: list[PgLocks] = []

    def make() -> Locks:
        opened.append(PgLocks(url))
        return opened[-1]

    yield LockKind("postgres", url, make)
    for locks in opened:
        locks.close()


def test_a_held_lock_makes_others_wait_then_give_way(kind: LockKind) -> None:
    locks = kind.make()
    with locks.hold("url:x"):
        started = time.monotonic()
        with pytest.raises(LockBusyError, match="locked by another process"), \
                locks.hold("url:x", wait=0.3):
            pass
        assert time.monotonic() - started >= 0.3
        with locks.hold("url:y", wait=0):  # another name is free
            pass
    released = threading.Event()

    def take_later() -> None:
        with locks.hold("url:x"):
            time.sleep(0.3)
        released.set()

    thread = threading.Thread(target=take_later)
    thread.start()
    time.sleep(0.1)
    with locks.hold("url:x", wait=5):  # waits for the thread, then holds it
        assert released.is_set()
    thread.join()


def test_a_dead_holders_lock_is_free_at_once(kind: LockKind) -> None:
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, kind.name, kind.where],
                            stdout=subprocess.PIPE, text=True, cwd=REPO)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    locks = kind.make()
    with pytest.raises(LockBusyError) as busy, locks.hold("video:abc", wait=0.2):
        pass
    assert busy.value.retry_after > 0
    proc.kill()
    proc.wait()
    # Free within moments (a database server notices the closed socket just after).
    with locks.hold("video:abc", wait=2):
        pass


def test_a_postgres_lock_whose_session_died_is_let_go_quietly(pg_url: str) -> None:
    locks = PgLocks(pg_url)
    try:
        with locks.hold("index-writer"), psycopg.connect(pg_url, autocommit=True) as conn:
            (holder,) = [row[0] for row in conn.execute(
                "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 1 "
                "AND granted AND objid = (hashtextextended(%s, 0) & 4294967295)::oid",
                ("briefing:lock:index-writer",))]
            conn.execute("SELECT pg_terminate_backend(%s)", (holder,))
        # The block's end did not raise; the lock went with the session.
        with locks.hold("index-writer", wait=2):
            pass
    finally:
        locks.close()


def test_a_lock_chain_holds_every_kind_and_releases_all(tmp_path: Path,
                                                        kind: LockKind) -> None:
    first, second = kind.make(), FileLocks(tmp_path / "b")
    chain = LockChain([first, second])
    with second.hold("index-writer"):
        with pytest.raises(LockBusyError), chain.hold("index-writer", wait=0.1):
            pass
        with first.hold("index-writer", wait=0):  # the chain let go of the first kind
            pass
    with chain.hold("index-writer", wait=0):
        pass


def test_two_concurrent_ingests_of_one_article_transcribe_each_video_once(
        tmp_path: Path, site: Site) -> None:
    data_dir = tmp_path / "data"
    env = cli_env(data_dir)
    article = site.url("article-b.html")  # a video and a mirror of its bytes
    procs = [subprocess.Popen([*BRIEFING, "ingest", article, "--json"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env, cwd=REPO)
             for _ in range(2)]
    reports = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        (report,) = json.loads(out)  # a list of one report per article
        reports.append(report)
    videos = [v for report in reports for v in report["videos"]]
    assert len(videos) == 4 and all(v["state"] == "done" for v in videos)
    (video_id,) = {v["video_id"] for v in videos}
    # Of the four (two URLs, two runs), exactly one transcribed; the rest found it done.
    assert sorted(v["reused"] for v in videos) == [False, True, True, True]

    data = DataDir(data_dir)
    transcript = data.load_transcript(video_id)
    assert transcript is not None
    # A consistent index: each segment once, the article once, the clip found once.
    assert segment_ids(data_dir, video_id) == sorted(
        f"s:{video_id}:{n}" for n in range(len(transcript.segments)))
    index = SearchIndex(data.index_root)
    assert index.doc_count() == len(transcript.segments) + 1
    phrase = MANIFEST["briefing-a.mp4"]["sentences"][0]["phrase"]
    clips = [r for r in index.search(f'"{phrase}"') if isinstance(r, Clip)]
    assert len(clips) == 1
    assert {a.title for a in clips[0].articles} == {"Convoy reaches the city"}
    # Both runs are jobs, listed by `briefing jobs`.
    listed = subprocess.run([*BRIEFING, "jobs", "--json"], capture_output=True, text=True,
                            env=env, cwd=REPO, timeout=60)
    assert listed.returncode == 0, listed.stderr
    assert [j["state"] for j in json.loads(listed.stdout)] == ["done", "done"]
