"""The page's timeline chart and watches panel in a real browser (headless Debian chromium)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Browser, Playwright, sync_playwright

from tests.apiserver import running, server_settings
from tests.conftest import Ingested, make_context
from tests.test_web import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, Watched
from worker.intake.fetch import FetchLimits
from worker.pipeline import ModelProvider
from worker.pipeline.steps import watch_step
from worker.watching.saved import add_watch


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    driver: Playwright
    with sync_playwright() as driver:
        chromium = driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def base(ingested: Ingested, models: ModelProvider,
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    # A copy of the ingested data dir with a watch that found "closed" in both briefings.
    root = tmp_path_factory.mktemp("watched") / "data"
    shutil.copytree(ingested.ctx.data.root, root, ignore=shutil.ignore_patterns("locks"))
    ctx = make_context(root, models)
    add_watch(ctx.watch_store(), FetchLimits(), "closures", "closed")
    for video_id in sorted({v.video_id for v in ingested.report_a.videos if v.video_id}):
        watch_step(ctx, video_id=video_id)
    with running(server_settings(root)) as url:
        yield url


@pytest.fixture
def watched(browser: Browser) -> Iterator[Watched]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    yield Watched(context.new_page())
    context.close()


def test_the_timeline_chart_renders_and_a_bar_click_filters_to_its_interval(
        watched: Watched, base: str) -> None:
    page = watched.page
    page.goto(f"{base}/?q=closed")
    page.wait_for_selector("#timeline-chart svg .bar")
    bars = page.locator("#timeline-chart svg .bar")
    # "closed": both briefings on 2026-11-20 (article A), briefing-a again on the 21st (B).
    assert bars.count() == 2
    assert [bars.nth(i).locator("title").text_content() for i in range(2)] == [
        "2026-11-20: 2 clips said it, 0 articles wrote it",
        "2026-11-21: 1 clip said it, 0 articles wrote it"]
    # Drawn: the taller bar is twice the height of the other, both inside the chart.
    heights = [float(bars.nth(i).locator("rect.said").get_attribute("height") or 0)
               for i in range(2)]
    assert heights[0] == pytest.approx(2 * heights[1]) and heights[1] > 0
    box = page.locator("#timeline-chart svg").bounding_box()
    assert box is not None and box["width"] > 300 and box["height"] > 40
    assert "3 clips said it,  0 articles wrote it, per day" in page.inner_text("#timeline")
    page.wait_for_selector(".clip")
    assert page.locator(".clip").count() == 2
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "web-timeline.png"))

    bars.nth(1).click()
    page.wait_for_function("() => document.querySelectorAll('.clip').length === 1")
    query = parse_qs(urlsplit(page.url).query)
    assert query["published_from"] == query["published_to"] == ["2026-11-21"]
    assert "Convoy reaches the city" in page.inner_text("#results")
    page.wait_for_selector("#timeline-chart .bar.selected")
    assert page.locator("#timeline-chart .bar").nth(1).get_attribute("class") == "bar selected"
    # The chosen bar again lifts the narrowing.
    page.locator("#timeline-chart .bar.selected").click()
    page.wait_for_function("() => document.querySelectorAll('.clip').length === 2")
    assert "published_from" not in urlsplit(page.url).query
    assert all(url.startswith(f"{base}/") or url.startswith("data:")
               for url in watched.requests), watched.requests
    assert watched.errors == []


def test_the_page_lists_watches_with_unseen_hits_and_opens_one_at_its_clip(
        watched: Watched, base: str) -> None:
    page = watched.page
    page.goto(f"{base}/")
    page.wait_for_selector("#watches:not([hidden])")
    assert page.inner_text("#watches-unseen") == "2"
    page.click("#watches summary")
    assert "closures" in page.inner_text("#watch-list") and "2 new" in page.inner_text(
        "#watch-list")
    first = page.locator(".watch-hits .open-hit").first
    said = first.inner_text()
    assert "closed" in said
    first.click()
    page.wait_for_function(
        "() => { const v = document.getElementById('player'); return v.currentTime > 0; }",
        timeout=15_000)
    parts = urlsplit(page.url)
    assert parse_qs(parts.query)["q"] == ["closed"]
    assert parts.fragment.startswith("clip=")
    page.wait_for_selector(".clip.active")
    # Opening a hit marks it seen, then the panel reloads its counts (a fetch of its own).
    page.wait_for_function(
        "() => document.getElementById('watches-unseen').textContent === '1'", timeout=15_000)
    # Seen stays seen for this reader.
    page.reload()
    page.wait_for_selector("#watches:not([hidden])")
    assert page.inner_text("#watches-unseen") == "1"
    assert watched.errors == []


def test_the_panel_shows_an_article_hit_without_a_highlight_by_its_title_as_text(
        browser: Browser, tmp_path_factory: pytest.TempPathFactory) -> None:
    from worker.storage.datadir import DataDir
    from worker.storage.watches import HitKind, Match, WatchStore

    root = tmp_path_factory.mktemp("titled") / "data"
    store = WatchStore(DataDir(root).watches_db)
    watch = store.add("q-and-a", "floods")
    # Outside text: a title that reads like escaped HTML is shown as written.
    title = "Q&amp;A: <mark>floods</mark> & more"
    store.record("a:0123456789abcdef", [(watch, [Match(
        kind=HitKind.ARTICLE, article_id="0123456789abcdef", url="https://news.example/qa",
        title=title, highlight="")])])
    context = browser.new_context()
    try:
        page = context.new_page()
        with running(server_settings(root)) as url:
            page.goto(f"{url}/")
            page.wait_for_selector("#watches:not([hidden])")
            page.click("#watches summary")
            shown = page.locator(".watch-hits .open-hit").first
            assert shown.inner_text() == f"article{title}"
            assert shown.locator("mark").count() == 0
    finally:
        context.close()
