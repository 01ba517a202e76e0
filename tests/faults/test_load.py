"""Load: 50 concurrent searches against `briefing serve` while another process indexes."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from tests.conftest import MANIFEST, Ingested, cli_env

CLIENTS = 50
SEARCHES_PER_CLIENT = 2

INDEXER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from indexer.domain import Article
    from worker.storage.datadir import DataDir
    from worker.pipeline import Context, FileLocks, ModelProvider, open_index
    from worker.pipeline.steps import index_video, tidy_index
    from worker.intake.fetch import FetchLimits
    from worker.storage.jobs import JobStore
    data = DataDir(Path(sys.argv[1]))
    index = open_index(data)
    ctx = Context(data=data, index=index, jobs=JobStore(data.jobs_db),
                  locks=FileLocks(data.locks), models=ModelProvider("tiny.en"),
                  video_limits=FetchLimits(), article_limits=FetchLimits())
    video_ids = [t.video_id for t in data.transcripts()]
    n = 0
    deadline = time.monotonic() + float(sys.argv[2])
    while time.monotonic() < deadline:
        # What a worker does: re-index a video (delete + add in one commit) and add articles.
        index_video(ctx, video_ids[n % len(video_ids)])
        index.add_article(Article(f"load{n}", f"https://e.org/load/{n}", f"Load {n}",
                                  "a quiet report about nothing in particular"))
        tidy_index(index)  # the merges a worker runs after its commits
        n += 1
    print(n, flush=True)
""")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_concurrent_searches_while_indexing_are_all_answered_and_consistent(
    tmp_path: Path, ingested: Ingested
) -> None:
    data_dir = tmp_path / "data"
    shutil.copytree(ingested.ctx.data.root, data_dir)
    port = _free_port()
    env = cli_env(data_dir)
    server = subprocess.Popen([sys.executable, "-m", "api", "serve", "--port", str(port)],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              start_new_session=True)
    writer = None
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=5).status_code in (200, 503):
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "briefing serve did not start"
            time.sleep(0.2)
        writer = subprocess.Popen([sys.executable, "-c", INDEXER, str(data_dir), "30"],
                                  env=env, stdout=subprocess.PIPE, text=True)
        sentences = MANIFEST["briefing-a.mp4"]["sentences"]
        phrases = [(s["phrase"], s["start"], s["end"]) for s in sentences]

        def client(n: int) -> list[tuple[int, float, bool]]:
            out = []
            with httpx.Client(base_url=base, timeout=300) as http:
                for k in range(SEARCHES_PER_CLIENT):
                    phrase, start, end = phrases[(n + k) % len(phrases)]
                    began = time.perf_counter()
                    response = http.get("/search", params={"q": f'"{phrase}"', "type": "clip"})
                    took = time.perf_counter() - began
                    ok = response.status_code == 200 and any(
                        r["start"] < end and r["end"] > start
                        and r["video_url"].endswith("briefing-a.mp4")
                        for r in response.json()["results"])
                    out.append((response.status_code, took, ok))
            return out

        with ThreadPoolExecutor(CLIENTS) as pool:
            answers = [a for batch in pool.map(client, range(CLIENTS)) for a in batch]
        writer_out, _ = writer.communicate(timeout=60)
    finally:
        if writer is not None and writer.poll() is None:
            writer.kill()
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=30)
    assert len(answers) == CLIENTS * SEARCHES_PER_CLIENT
    assert [status for status, _, _ in answers if status != 200] == []
    assert all(ok for _, _, ok in answers), "an answer lost the spoken sentence"
    assert int(writer_out.strip()) > 0, "the indexer never committed during the load"
    latencies = sorted(took for _, took, _ in answers)
    p95 = latencies[int(0.95 * (len(latencies) - 1))]
    print(f"\n{len(answers)} searches, 50 clients, while indexing: "
          f"p50 {latencies[len(latencies) // 2] * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms")
