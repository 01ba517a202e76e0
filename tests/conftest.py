"""Shared fixtures: a real HTTP site on 127.0.0.1, the real model, an ingested data dir."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from indexer.index import SearchIndex
from tests.siteserver import Site
from worker.intake.fetch import FetchLimits
from worker.pipeline import Context, FileLocks, IngestReport, ModelProvider, RetryPolicy, ingest
from worker.storage.datadir import DataDir
from worker.storage.jobs import JobStore

# The queue fixtures (Redis, worker fleets), the PostgreSQL ones and both search backends,
# for every module.
pytest_plugins = ["tests.fleet", "tests.pg", "tests.search_backends"]

FIXTURES = Path(__file__).parent / "fixtures"
MEDIA = FIXTURES / "media"
MANIFEST: dict[str, Any] = json.loads((MEDIA / "manifest.json").read_text())["files"]

ARTICLE_A = """<!doctype html>
<html><head>
<title>Storm aftermath | Example News</title>
<meta property="og:title" content="Harbour reopens as the storm clean-up goes on">
<meta name="author" content="Jane Reporter">
<meta property="og:site_name" content="Example News">
<meta property="article:published_time" content="2026-11-20T08:00:00Z">
<meta property="og:video" content="/media/briefing-a.mp4">
</head><body>
<nav><a href="/">Home</a> <a href="/world">World</a> <a href="/sport">Sport</a></nav>
<header>Example News — subscribe today</header>
<article>
<h1>Harbour reopens as the storm clean-up goes on</h1>
<p>Officials gave their morning update on the coastal towns hit by last week's gale.</p>
<video controls><source src="media/briefing-a.mp4" type="video/mp4"></video>
<p>Later, the regional authority held a <a href="/media/briefing-b.mp4?download=1">press
briefing on the flooding</a>.</p>
<p>Archive: <a href="/media/noaudio.mp4">silent footage</a>,
<a href="/media/truncated.mp4">interrupted stream</a>,
<a href="/media/notvideo.mp4">removed clip</a>,
<a href="/media/missing.mp4">older clip</a>.</p>
</article>
<footer>Copyright Example News. Cookie settings. Newsletter.</footer>
</body></html>
"""

ARTICLE_B = """<!doctype html>
<html><head>
<title>Convoy reaches the city</title>
<meta property="og:site_name" content="Other Gazette">
<meta name="date" content="2026-11-21">
</head><body><main>
<h1>Convoy reaches the city</h1>
<p>Aid agencies welcomed the news from the coast, reported in this video:
<a href="/media/briefing-a.mp4">watch the situation report</a>.</p>
<p>A mirror of the same report: <a href="/mirror/report-copy.mp4">mirror</a>.</p>
</main></body></html>
"""

ARTICLE_NO_VIDEO = """<html><head><title>Quiet day at the observatory</title></head>
<body><article><p>Astronomers at the observatory catalogued a comet with a green tail.</p>
</article></body></html>
"""


def build_site(root: Path) -> None:
    """Lay out the fixture site: articles at the top, MP4s under media/ and mirror/."""
    (root / "media").mkdir(parents=True)
    (root / "mirror").mkdir()
    for item in MEDIA.glob("*.mp4"):
        shutil.copy(item, root / "media" / item.name)
    shutil.copy(MEDIA / "briefing-a.mp4", root / "mirror" / "report-copy.mp4")
    (root / "article-a.html").write_text(ARTICLE_A)
    (root / "article-b.html").write_text(ARTICLE_B)
    (root / "no-video.html").write_text(ARTICLE_NO_VIDEO)


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    root = tmp_path_factory.mktemp("site")
    build_site(root)
    server = Site(root).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def models() -> ModelProvider:
    provider = ModelProvider("tiny.en")
    provider.get()
    return provider


# Retries come quickly in tests (the queue tests' QUICK settings); the policy is the shipped one.
QUICK_RETRY = RetryPolicy(max_retries=3, retry_backoff=0.5)


def make_context(data_dir: Path, models: ModelProvider, *, allow_private: bool = True,
                 max_video_bytes: int = 2 * 1024**3) -> Context:
    """A pipeline context over *data_dir* with test-friendly limits."""
    data = DataDir(data_dir)
    limits = FetchLimits(max_bytes=max_video_bytes, connect_timeout=5, read_timeout=10,
                         deadline=60, allow_private=allow_private)
    return Context(
        data=data,
        index=SearchIndex(data.index_root),
        jobs=JobStore(data.jobs_db),
        locks=FileLocks(data.locks),
        models=models,
        video_limits=limits,
        article_limits=FetchLimits(max_bytes=1024**2, connect_timeout=5, read_timeout=10,
                                   deadline=30, allow_private=allow_private),
        ffmpeg_timeout=60,
        retry=QUICK_RETRY,
    )


@dataclass
class Ingested:
    """A data dir with article A (good and bad videos) and article B (shared video)."""

    ctx: Context
    report_a: IngestReport
    report_b: IngestReport


@pytest.fixture(scope="session")
def ingested(tmp_path_factory: pytest.TempPathFactory, site: Site,
             models: ModelProvider) -> Ingested:
    ctx = make_context(tmp_path_factory.mktemp("data"), models)
    report_a = ingest(site.url("article-a.html"), ctx)
    report_b = ingest(site.url("article-b.html"), ctx)
    return Ingested(ctx, report_a, report_b)


def cli_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """Environment for running the ``briefing`` command against *data_dir*."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRIEFING_")}
    env.update({"BRIEFING_DATA_DIR": str(data_dir), "BRIEFING_ALLOW_PRIVATE_NETWORKS": "1",
                "COLUMNS": "200"})
    env.update(extra)
    return env
