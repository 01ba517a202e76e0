"""A crash in the middle of an index commit, and a damaged index on disk."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import httpx
import pytest

from indexer.compaction import MERGE_FAN
from indexer.domain import Article, ArticleHit
from indexer.errors import BrokenIndexError
from indexer.index import SearchIndex
from tests.apiserver import running, server_settings
from tests.conftest import Ingested
from worker.pipeline import open_index
from worker.storage.datadir import DataDir

WRITER = textwrap.dedent("""
    import sys
    from pathlib import Path
    from indexer.domain import Article
    from indexer.index import SearchIndex
    index = SearchIndex(Path(sys.argv[1]))
    n = int(sys.argv[2])
    while True:
        # Big documents make each commit (and its merges) take a while.
        text = " ".join(f"word{(n * 7 + k) % 5000} storm" for k in range(4000))
        index.add_article(Article(f"a{n}", f"https://e.org/{n}", f"Report {n}", text))
        print(n, flush=True)
        n += 1
        index.compact()  # kills land in merges too
""")


# Where each writer dies: after how many of its commits (None: the one that makes a merge due,
# so the kill lands in that merge), then how far into what follows, as a fraction of the time
# its last commit took (its first: since it started).  Counted in commits rather than seconds,
# so that a loaded machine gets the writers as far (past MERGE_FAN commits in all) and the
# kills still land mid-commit and mid-merge.
KILLS = ((3, 0.0), (2, 0.5), (None, 0.1), (3, 0.8), (None, 0.3))
# A writer that stops printing is killed after this long, failing the test instead of hanging it.
WRITER_DEADLINE = 300.0


def test_sigkill_during_commits_never_leaves_a_broken_or_partial_index(tmp_path: Path) -> None:
    root = tmp_path / "index"
    SearchIndex(root).close()
    next_id = probes = segments = 0
    for commits, fraction in KILLS:
        # The writer compacts after each commit; once MERGE_FAN segments are there it merges.
        wait = max(1, MERGE_FAN - segments) if commits is None else commits
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(root), str(next_id)],
                                stdout=subprocess.PIPE, text=True, cwd=Path.cwd())
        assert proc.stdout is not None
        watchdog = threading.Timer(WRITER_DEADLINE, proc.kill)
        watchdog.start()
        seen: list[str] = []
        last = time.monotonic()
        while len(seen) < wait:
            line = proc.stdout.readline()
            assert line, f"the writer died after {len(seen)} of {wait} commits"
            seen.append(line)
            now = time.monotonic()
            took, last = now - last, now
        time.sleep(fraction * took)
        proc.send_signal(signal.SIGKILL)
        watchdog.cancel()
        out, _ = proc.communicate()
        printed = [int(line) for line in [*seen, *out.split()]]
        index = SearchIndex(root)  # opens: no BrokenIndexError
        hits = index.search("storm", limit=1000)
        # Every commit reported done is there; at most the one in flight besides.
        assert next_id + len(printed) <= len(hits) <= next_id + len(printed) + 1
        assert all(isinstance(h, ArticleHit) and h.title == f"Report {h.url.rsplit('/', 1)[1]}"
                   for h in hits)
        assert index.doc_count() == len(hits) + probes
        # The dead writer's lock is gone: writing works at once.
        index.add_article(Article("probe", "https://e.org/probe", "probe", "probe"))
        probes = 1
        next_id = len(hits)
        segments = index.segment_count()
        index.close()
    # The writers got far enough for merges to run (and be killed) too.
    assert next_id >= MERGE_FAN


def test_damaged_index_is_rebuilt_from_the_records_and_swapped_in(tmp_path: Path) -> None:
    data = DataDir(tmp_path / "data")
    for n in range(5):
        article = Article(f"a{n}", f"https://e.org/{n}", f"Harbour report {n}",
                          f"the harbour reopened on day {n}", "Example")
        data.save_article(article)
    index = open_index(data)
    with index.batch():
        for article in data.articles():
            index.add_article(article)
    before = {h.url for h in index.search("harbour")}  # type: ignore[union-attr]
    index.close()
    generation = (data.index_root / (data.index_root / "CURRENT").read_text().strip())
    for segment_file in generation.glob("*.seg"):
        segment_file.write_bytes(b"\0" * 10)  # a crash or a full disk mangled it
    with pytest.raises(BrokenIndexError):
        SearchIndex(data.index_root)
    rebuilt = open_index(data)
    assert {h.url for h in rebuilt.search("harbour")} == before  # type: ignore[union-attr]
    assert not generation.exists()
    assert (data.index_root / "CURRENT").read_text().strip() != generation.name
    assert os.listdir(data.index_root).count("CURRENT") == 1


def test_api_answers_503_while_a_damaged_index_is_rebuilt_then_the_same_results(
    tmp_path: Path, ingested: Ingested
) -> None:
    data_dir = tmp_path / "data"
    shutil.copytree(ingested.ctx.data.root, data_dir)
    query = {"q": '"relief workers"'}
    with running(server_settings(data_dir)) as base:
        before = httpx.get(f"{base}/search", params=query, timeout=30).json()["results"]
    assert before
    index_root = data_dir / "index"
    generation = index_root / (index_root / "CURRENT").read_text().strip()
    for segment_file in generation.glob("*.seg"):
        segment_file.write_bytes(b"\0" * 10)
    statuses: list[int] = []
    with running(server_settings(data_dir)) as base:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            response = httpx.get(f"{base}/search", params=query, timeout=30)
            statuses.append(response.status_code)
            if response.status_code == 200:
                break
            assert response.status_code == 503, response.text
            assert response.json()["error"] == "index_unavailable"
            assert "Traceback" not in response.text
            time.sleep(0.2)
        after = response.json()["results"]
    assert statuses[0] == 503 and statuses[-1] == 200
    assert [(r["video_id"], r["start"], r["end"]) for r in after] == [
        (r["video_id"], r["start"], r["end"]) for r in before]
    assert not generation.exists()
