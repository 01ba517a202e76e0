"""Fields from outside are capped when an article is parsed, so no page can bloat every answer.

A 1 MB ``og:site_name`` once made a 2 MB search response per hit and a 25 s page render.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.apiserver import running, server_settings
from worker.intake.articles import parse_article
from worker.intake.fields import FIELD_LIMITS
from worker.intake.links import MAX_VIDEO_URL_CHARS

MEGABYTE = 1_000_000
STORY = "https://news.example/2026/11/22/flood"


def huge_page(videos: bool = True) -> str:
    """An article whose every metadata field is a megabyte long (and one huge video link)."""
    big = "Ω" * MEGABYTE
    # A link of 8000 characters that percent-encoding turns into 96,000.
    links = f'<a href="/v/{"😀" * 8000}.mp4">footage</a> <a href="/ok.mp4">ok</a>'
    return (
        "<!doctype html><html><head>"
        f"<title>{big}</title>"
        f'<meta property="og:title" content="Flood {big}">'
        f'<meta property="og:site_name" content="Gazette {big}">'
        f'<meta name="author" content="Reporter {big}">'
        f'<meta property="article:published_time" content="2026-11-22{big}">'
        "</head><body><article><h1>Flood</h1>"
        "<p>The river burst its banks near the weir overnight.</p>"
        f"<p>{links if videos else ''}</p>"
        "</article></body></html>"
    )


def test_every_field_of_a_parsed_article_is_capped() -> None:
    article = parse_article(huge_page(), STORY, "html")
    assert article.title.startswith("Flood ΩΩΩ")
    assert len(article.title) <= FIELD_LIMITS.title
    assert article.source.startswith("Gazette ΩΩΩ")
    assert len(article.source) <= FIELD_LIMITS.source
    assert article.author.startswith("Reporter ΩΩΩ")
    assert len(article.author) <= FIELD_LIMITS.author
    assert article.published == "2026-11-22"
    # The over-long link is dropped, not cut (a cut URL names another resource).
    assert article.video_urls == ("https://news.example/ok.mp4",)
    assert all(len(url) <= MAX_VIDEO_URL_CHARS for url in article.video_urls)


def test_markdown_front_matter_is_capped_the_same_way() -> None:
    big = "x" * MEGABYTE
    text = f"---\ntitle: T {big}\nauthor: A {big}\nsource: S {big}\n---\nBody.\n"
    article = parse_article(text, "https://news.example/a.md", "markdown")
    assert len(article.title) <= FIELD_LIMITS.title
    assert len(article.author) <= FIELD_LIMITS.author
    assert len(article.source) <= FIELD_LIMITS.source
    assert article.author.startswith("A xxx") and article.source.startswith("S xxx")


def test_an_article_url_past_the_cap_is_refused() -> None:
    with pytest.raises(ValueError, match="too long"):
        parse_article("<p>x</p>", STORY + "?" + "a" * FIELD_LIMITS.url, "html")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    settings = server_settings(tmp_path_factory.mktemp("caps") / "data",
                               allow_private_networks=False)
    with running(settings) as base, httpx.Client(base_url=base, timeout=60) as client:
        yield client


def wait_for_job(client: httpx.Client, job_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    while True:
        job: dict[str, Any] = client.get(f"/jobs/{job_id}").json()
        if job["state"] in ("done", "failed"):
            return job
        assert time.monotonic() < deadline, job
        time.sleep(0.1)


def test_a_megabyte_site_name_is_stored_and_returned_capped(server: httpx.Client) -> None:
    posted = server.post("/articles", json={"url": STORY, "html": huge_page(videos=False)})
    assert posted.status_code == 202, posted.text
    job = wait_for_job(server, posted.json()["job_id"])
    assert len(job["title"]) <= FIELD_LIMITS.title
    found = server.get("/search", params={"q": "river weir"})
    assert found.status_code == 200, found.text
    body = found.json()
    assert body["total"] == 1
    assert len(found.content) < 20_000, f"{len(found.content)} bytes for one hit"
    [info] = body["articles"]
    assert info["source"].startswith("Gazette ΩΩΩ")
    assert len(info["source"]) <= FIELD_LIMITS.source
    assert len(info["title"]) <= FIELD_LIMITS.title
    assert info["published"] == "2026-11-22"
