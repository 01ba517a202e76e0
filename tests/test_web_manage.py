"""The page's home (latest briefings, running jobs, adding an article) and a clip's
Download and Cite actions, in a real browser (Debian chromium driven by Playwright)."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

from tests.apiserver import running, server_settings
from tests.conftest import MANIFEST, Ingested
from tests.siteserver import Site
from worker.storage.datadir import DataDir

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
SENTENCE = MANIFEST["briefing-a.mp4"]["sentences"][5]
TOKEN = "page-token"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    driver: Playwright
    with sync_playwright() as driver:
        chromium = driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def base(ingested: Ingested, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A server with a token over a copy of the ingested data dir."""
    copy = tmp_path_factory.mktemp("web-manage") / "data"
    shutil.copytree(ingested.ctx.data.root, copy, ignore=shutil.ignore_patterns("jobs.sqlite3*"))
    with running(server_settings(copy, api_token=TOKEN)) as url:
        yield url


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900},
                                  permissions=["clipboard-read", "clipboard-write"])
    errors: list[str] = []
    opened = context.new_page()
    opened.on("pageerror", lambda error: errors.append(str(error)))
    yield opened
    context.close()
    assert errors == []


def test_home_lists_the_latest_briefings(page: Page, base: str) -> None:
    page.goto(f"{base}/")
    page.wait_for_selector("#latest .briefing")
    titles = page.locator("#latest .briefing .title").all_inner_texts()
    assert "Harbour reopens as the storm clean-up goes on" in titles
    # The video article A links alone (briefing-b): its title, source, date, length, state.
    first_done = page.locator("#latest .briefing", has_text="Harbour reopens").filter(
        has=page.locator(".state-done")).filter(has_not_text="2026-11-21").first
    meta = first_done.locator(".meta").inner_text()
    assert meta == "Example News · 2026-11-20 · 00:23.0 · done"
    failed = page.locator("#latest .briefing .state-failed")
    assert failed.count() >= 1
    assert page.locator("#jobs").inner_text() == "No jobs running."
    # A search hides the home; the home's title plays the video.
    first_done.locator(".play-video").click()
    page.wait_for_function("() => document.getElementById('player').currentSrc.includes('/media')")


def test_add_article_uses_the_token(page: Page, base: str, site: Site) -> None:
    page.goto(f"{base}/")
    page.wait_for_selector("#add-form")
    page.fill("#add-url", site.url("no-video.html"))
    page.click("#add-form button[type=submit]")
    page.wait_for_function("() => document.getElementById('add-status').textContent !== ''")
    assert "needs its API token" in page.inner_text("#add-status")
    with page.expect_request(lambda r: r.url.endswith("/articles") and r.method == "POST") as sent:
        page.fill("#add-token", TOKEN)
        page.click("#add-form button[type=submit]")
    assert sent.value.headers["authorization"] == f"Bearer {TOKEN}"
    page.wait_for_function("() => document.getElementById('add-status').textContent"
                           ".startsWith('Added')")
    assert re.search(r"job [0-9a-f]+ is queued", page.inner_text("#add-status"))


def test_a_clip_downloads_and_cites(page: Page, base: str, ingested: Ingested,
                                    site: Site) -> None:
    page.goto(f"{base}/?q={SENTENCE['phrase']}&type=clip")
    page.wait_for_selector(".clip .cite")
    clip = page.locator(".clip").first
    video_id = str(clip.get_attribute("data-video-id"))
    start, end = float(clip.get_attribute("data-start") or 0), float(
        clip.get_attribute("data-end") or 0)
    href = str(clip.locator(".download-clip").get_attribute("href"))
    assert href == f"/videos/{video_id}/clip?start={start:.2f}&end={end:.2f}"
    got = httpx.get(f"{base}{href}", timeout=120)
    assert got.status_code == 200 and got.headers["content-type"] == "video/mp4"
    clip.locator(".cite").click()
    page.wait_for_function("() => document.querySelector('.clip .cite').textContent"
                           " === 'Citation copied'")
    line = page.evaluate("() => navigator.clipboard.readText()")
    meta = DataDir(ingested.ctx.data.root).video_meta(video_id)
    assert meta is not None
    assert "\n" not in line
    assert line.startswith("“") and SENTENCE["phrase"] in line.split("”")[0]
    assert "Harbour reopens as the storm clean-up goes on, Example News, 2026-11-20" in line
    assert site.url("media/briefing-a.mp4") in line
    assert f"SHA-256 {meta.sha256}" in line
    assert re.search(r"at \d\d:\d\d\.\d–\d\d:\d\d\.\d", line)
