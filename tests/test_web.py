"""The search page in a real browser: headless Debian chromium driven by Playwright."""

from __future__ import annotations

import hashlib
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

from indexer.domain import Article, ArticleRef, Segment, Transcript, Word
from indexer.index import SearchIndex
from tests.apiserver import running, server_settings
from tests.conftest import MANIFEST, MEDIA, Ingested
from worker.intake.articles import article_id_for
from worker.storage.datadir import DataDir

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
SENTENCE = MANIFEST["briefing-a.mp4"]["sentences"][5]  # "... relief workers can now reach ..."
QUERY = f'"{SENTENCE["phrase"]}"'

HOSTILE_TITLE = "<img src=x onerror=alert(1)>"
HOSTILE_SPEECH = "<script>alert(2)</script> hostile words spoken aloud"
HOSTILE_LINE = '"><img src=y onerror=alert(4)> a second line'
HOSTILE_SOURCE = "<script>alert(9)</script> Gazette"
HOSTILE_TEXT = '"><img src=z onerror=alert(8)> the hostile words of the article'
STORY_URL = "https://evil.example/story"


# -- browser and servers -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield chromium
    chromium.close()


@pytest.fixture(scope="module")
def base(ingested: Ingested) -> Iterator[str]:
    with running(server_settings(ingested.ctx.data.root)) as url:
        yield url


class Watched:
    """A page and what it did behind our back: requests, script errors, dialogs."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        page.on("request", lambda request: self.requests.append(request.url))
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.on("dialog", self._dialog)

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()


@pytest.fixture
def watched(browser: Browser) -> Iterator[Watched]:
    context = browser.new_context(viewport={"width": 1280, "height": 900},
                                  permissions=["clipboard-read", "clipboard-write"])
    yield Watched(context.new_page())
    context.close()


def search(page: Page, base: str, query: str) -> None:
    page.goto(f"{base}/")
    page.fill("#q", query)
    page.press("#q", "Enter")


def video_state(page: Page) -> dict[str, Any]:
    state: dict[str, Any] = page.evaluate(
        "() => { const v = document.getElementById('player');"
        " return {time: v.currentTime, paused: v.paused, src: v.currentSrc}; }")
    return state


def first_clip(page: Page) -> tuple[str, float, float]:
    page.wait_for_selector(".clip .play")
    item = page.locator(".clip").first
    return (str(item.get_attribute("data-video-id")), float(item.get_attribute("data-start") or 0),
            float(item.get_attribute("data-end") or 0))


# -- playing a clip ----------------------------------------------------------------------------


def test_clicking_a_clip_plays_the_video_from_the_clip(watched: Watched, base: str) -> None:
    page = watched.page
    search(page, base, QUERY)
    video_id, start, end = first_clip(page)
    assert SENTENCE["start"] - 1.2 <= start <= SENTENCE["end"] <= end + 1.0
    page.locator(".clip .play").first.click()
    page.wait_for_function(
        "start => { const v = document.getElementById('player');"
        " return !v.paused && v.currentTime >= start; }", arg=start, timeout=15_000)
    state = video_state(page)
    assert start <= state["time"] <= end, state
    assert state["paused"] is False
    assert state["src"] == f"{base}/videos/{video_id}/media"
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "web-clip-playing.png"))
    # Results are grouped under the article they come from, with its source and date.
    group = page.locator(".group").first
    assert group.locator(".title").inner_text() in (
        "Harbour reopens as the storm clean-up goes on", "Convoy reaches the city")
    assert re.search(r"(Example News|Other Gazette) · 2026-11-2[01]",
                     group.locator(".meta").inner_text())
    assert page.locator(".clip mark").first.inner_text().lower() == "relief"
    assert re.fullmatch(r"\d\d:\d\d\.\d–\d\d:\d\d\.\d",
                        page.locator(".clip .range").first.inner_text())
    # Everything came from this server: no CDN, no origin site, no script errors.
    assert watched.requests and all(url.startswith(f"{base}/") or url.startswith("data:")
                                    for url in watched.requests), watched.requests
    assert watched.errors == []


def test_the_clip_stops_at_its_end(watched: Watched, base: str) -> None:
    page = watched.page
    search(page, base, QUERY)
    _, start, end = first_clip(page)
    page.locator(".clip .play").first.click()
    page.wait_for_function(
        "end => { const v = document.getElementById('player');"
        " return v.paused && v.currentTime >= end - 0.05; }",
        arg=end, timeout=int((end - start + 10) * 1000))
    stopped = video_state(page)["time"]
    assert end - 0.05 <= stopped <= end + 0.4
    page.wait_for_timeout(600)
    after = video_state(page)
    assert after["paused"] is True and after["time"] == stopped


def test_transcript_follows_playback_and_lines_seek(watched: Watched, base: str) -> None:
    page = watched.page
    search(page, base, QUERY)
    video_id, _, _ = first_clip(page)
    segments = httpx.get(f"{base}/videos/{video_id}/transcript").json()["segments"]
    page.locator(".clip .play").first.click()
    page.click("#transcript-toggle")
    page.wait_for_function("n => document.querySelectorAll('#transcript .segment').length === n",
                           arg=len(segments))
    texts = page.locator("#transcript .segment .words").all_inner_texts()
    assert texts == [s["text"].strip() for s in segments]
    page.wait_for_selector("#transcript .segment.current")
    playing = video_state(page)["time"]
    current = int(page.locator("#transcript .segment.current").get_attribute("data-index") or -1)
    assert segments[current]["start"] <= playing + 0.1
    assert current == len(segments) - 1 or playing < segments[current + 1]["start"] + 0.5
    assert page.locator("#transcript .segment.current").count() == 1
    # Clicking a line seeks there and plays on.
    target = len(segments) - 1
    page.locator("#transcript .segment .line").nth(target).click()
    page.wait_for_function(
        "t => { const v = document.getElementById('player');"
        " return !v.paused && v.currentTime >= t && v.currentTime < t + 2; }",
        arg=segments[target]["start"])
    page.wait_for_selector(f"#transcript .segment.current[data-index='{target}']")


def _in_view(page: Page, selector: str) -> dict[str, Any]:
    """Where *selector* sits against the transcript list's visible box and the window."""
    where: dict[str, Any] = page.evaluate(
        """s => { const item = document.querySelector(s).getBoundingClientRect();
                  const list = document.getElementById('transcript');
                  const box = list.getBoundingClientRect();
                  return {inList: item.top >= box.top - 1 && item.bottom <= box.bottom + 1,
                          inWindow: item.top >= 0 && item.bottom <= window.innerHeight,
                          tooLong: box.top + list.scrollHeight > window.innerHeight}; }""",
        selector)
    return where


def test_the_playing_line_stays_in_view_as_playback_moves(browser: Browser, base: str) -> None:
    # A short window, so the transcript is longer than the room it has.
    context = browser.new_context(viewport={"width": 1280, "height": 640})
    page = context.new_page()
    try:
        search(page, base, QUERY)
        video_id, start, _ = first_clip(page)
        segments = httpx.get(f"{base}/videos/{video_id}/transcript").json()["segments"]
        page.locator(".clip .show-transcript").first.click()
        page.wait_for_function("n => document.querySelectorAll('#transcript .segment').length"
                               " === n", arg=len(segments))
        # The clip is cued once the metadata is in; seeking before that would be undone.
        page.wait_for_function("s => { const v = document.getElementById('player');"
                               " return v.readyState >= 1 && Math.abs(v.currentTime - s) < 0.01; }",
                               arg=start)
        assert _in_view(page, "#transcript .segment")["tooLong"]
        for target in (len(segments) - 1, 0, len(segments) // 2, len(segments) - 2):
            page.evaluate("t => { const v = document.getElementById('player');"
                          " v.currentTime = t; v.play(); }", segments[target]["start"] + 0.05)
            selector = f"#transcript .segment.current[data-index='{target}']"
            page.wait_for_selector(selector)
            page.wait_for_timeout(100)
            where = _in_view(page, selector)
            assert where["inList"] and where["inWindow"], (target, where)
    finally:
        context.close()


def test_the_transcript_marks_the_query_words(watched: Watched, base: str) -> None:
    page = watched.page
    search(page, base, QUERY)
    page.locator(".clip .show-transcript").first.click()
    page.wait_for_selector("#transcript .segment mark")
    marked = [m.lower() for m in page.locator("#transcript mark").all_inner_texts()]
    assert {"relief", "workers"} <= set(marked)
    assert set(marked) <= {"relief", "workers", "worker"}, marked
    line = page.locator("#transcript .segment", has=page.locator("mark")).first
    words = line.locator(".words").inner_text()
    assert SENTENCE["phrase"].split()[0] in words.lower()  # the marks sit in the line's text


def test_the_player_says_which_video_and_article_it_plays(watched: Watched, base: str,
                                                         browser: Browser) -> None:
    page = watched.page
    search(page, base, QUERY)
    video_id, _, _ = first_clip(page)
    video = httpx.get(f"{base}/videos/{video_id}").json()
    clip_article = page.locator(".clip").first.locator(
        "xpath=ancestor::li[contains(@class,'group')]").locator(".title").inner_text()
    page.locator(".clip .play").first.click()
    page.wait_for_selector("#playing-video a")
    assert page.inner_text("#playing-article") == f"From {clip_article}"
    assert page.get_attribute("#playing-video a", "href") == video["urls"][0]
    assert video["urls"][0].rsplit("/", 1)[1] in page.inner_text("#playing-video")
    assert page.inner_text("#playing-clip").startswith("Clip ")
    # A shared link names them too, without a click on a result.
    reopened = browser.new_page()
    try:
        reopened.goto(page.url)
        reopened.wait_for_selector("#playing-video a")
        reopened.wait_for_function("() => document.getElementById('playing-article')"
                                   ".textContent.startsWith('From ')")
        titles = {a["title"] for a in video["articles"]}
        assert reopened.inner_text("#playing-article").removeprefix("From ") in titles
    finally:
        reopened.close()


def test_the_language_filter_narrows_clips_and_stays_in_the_address(watched: Watched,
                                                                   base: str) -> None:
    page = watched.page
    page.goto(f"{base}/")
    page.fill("#q", QUERY)
    page.locator(".filters summary").click()
    page.select_option("#type", "clip")
    page.select_option("#language", "de")
    with page.expect_request(lambda r: "/search?" in r.url) as asked:
        page.press("#q", "Enter")
    assert "language=de" in asked.value.url
    page.wait_for_function("() => document.getElementById('status').textContent"
                           ".startsWith('Nothing found')")
    assert page.locator(".clip").count() == 0
    page.select_option("#language", "en")
    page.press("#q", "Enter")
    page.wait_for_selector(".clip")
    assert "language=en" in page.url
    page.goto(f"{base}/?q=relief&type=clip&language=xx")  # a code the list does not name
    assert page.input_value("#language") == "xx"


def test_copy_link_reopens_the_page_at_the_clip(watched: Watched, base: str,
                                                browser: Browser) -> None:
    page = watched.page
    search(page, base, QUERY)
    video_id, start, end = first_clip(page)
    copy = page.locator(".clip .copy-link").first
    href = str(copy.get_attribute("href"))
    assert re.fullmatch(rf"{re.escape(base)}/\?q=%22relief\+workers%22"
                        rf"#clip={video_id},{start:.2f},{end:.2f}", href), href
    copy.click()
    page.wait_for_function("() => document.querySelector('.clip .copy-link').textContent"
                           " === 'Link copied'")
    assert page.evaluate("() => navigator.clipboard.readText()") == href

    reopened = browser.new_page()
    try:
        reopened.goto(href)
        reopened.wait_for_selector(".clip.active")
        reopened.wait_for_function(
            "start => { const v = document.getElementById('player');"
            " return v.readyState >= 1 && v.currentTime >= start - 0.01; }", arg=start)
        state = video_state(reopened)
        assert start - 0.01 <= state["time"] <= end + 0.4
        assert state["src"] == f"{base}/videos/{video_id}/media"
        assert reopened.input_value("#q") == QUERY
        active = reopened.locator(".clip.active").first
        assert float(active.get_attribute("data-start") or -1) == start
    finally:
        reopened.close()


def test_a_bad_query_shows_the_reason(watched: Watched, base: str) -> None:
    page = watched.page
    search(page, base, '"unclosed phrase')
    page.wait_for_selector("#status.error")
    assert "unbalanced quote" in page.inner_text("#status")
    assert page.locator("#results .group").count() == 0


def test_usable_at_phone_width(browser: Browser, base: str) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True,
                                  has_touch=True, device_scale_factor=2)
    page = context.new_page()
    try:
        search(page, base, QUERY)
        _, start, _ = first_clip(page)
        width = page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= 390, f"the page scrolls sideways: {width}px wide"
        for selector in ("#q", "button[type=submit]", ".clip .play", ".clip .copy-link"):
            box = page.locator(selector).first.bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390, selector
        page.locator(".clip .play").first.tap()
        page.wait_for_function(
            "start => { const v = document.getElementById('player');"
            " return !v.paused && v.currentTime >= start; }", arg=start, timeout=15_000)
        box = page.locator("#player").bounding_box()
        assert box is not None and box["width"] <= 390
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "web-phone.png"), full_page=True)
    finally:
        context.close()


# -- hostile content renders as text ---------------------------------------------------------


@pytest.fixture(scope="module")
def hostile_base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A data dir holding what a hostile site could feed us: markup in every field."""
    data = DataDir(tmp_path_factory.mktemp("hostile") / "data")
    source = MEDIA / "briefing-b.mp4"
    part = data.tmp / "hostile.part"
    shutil.copy(source, part)
    sha = hashlib.sha256(source.read_bytes()).hexdigest()
    meta = data.adopt_video(part, sha, source.stat().st_size, "mp4", "javascript:alert(3)")
    words = tuple(Word(w, 0.5 + i * 0.5, 1.0 + i * 0.5)
                  for i, w in enumerate(HOSTILE_SPEECH.split(" ")))
    transcript = Transcript(
        video_id=meta.video_id, language="en", duration=8.0, model="tiny.en",
        model_version="test", segments=(
            Segment(0, 0.5, 1.0 + len(words) * 0.5, HOSTILE_SPEECH, words),
            Segment(1, 5.0, 7.0, HOSTILE_LINE)))
    data.save_transcript(transcript)
    story = Article(id=article_id_for(STORY_URL), url=STORY_URL, title=HOSTILE_TITLE,
                    text=HOSTILE_TEXT, source=HOSTILE_SOURCE, published="2026-11-22")
    data.save_article(story)
    index = SearchIndex(data.index_root)
    index.add_transcript(transcript, "javascript:alert(3)", [
        ArticleRef(url=STORY_URL, title=HOSTILE_TITLE),
        ArticleRef(url="javascript:alert(5)", title=HOSTILE_TITLE)])
    index.add_article(Article(id="0" * 16, url="javascript:alert(6)", title=HOSTILE_TITLE,
                              text=f"{HOSTILE_TEXT} <script>alert(7)</script>",
                              source=HOSTILE_SOURCE))
    index.close()
    with running(server_settings(data.root)) as url:
        yield url


def test_markup_from_articles_and_transcripts_renders_inert(watched: Watched,
                                                            hostile_base: str) -> None:
    page = watched.page
    search(page, hostile_base, "hostile words")
    page.wait_for_selector(".clip .play")
    assert page.locator(".group").count() == 2
    assert page.evaluate("() => document.querySelectorAll('#results img, #results script,"
                         " #results iframe, [onerror]').length") == 0
    assert page.evaluate(
        "() => [...document.querySelectorAll('a[href]')].filter(a => !/^https?:/.test(a.href))"
        ".map(a => a.href)") == []
    titles = page.locator(".group .title").all_inner_texts()
    assert titles == [HOSTILE_TITLE, HOSTILE_TITLE]
    # The javascript: article shows its title as plain text, not as a link.
    assert page.locator(".group .title a").count() == 1
    assert page.locator(".group .title a").get_attribute("href") == STORY_URL
    said = page.locator(".clip .said").first.inner_text()
    assert "<script>alert(2)</script>" in said
    assert page.locator(".clip .said mark").all_inner_texts() == ["hostile", "words"]
    metas = page.locator(".group .meta").all_inner_texts()
    assert all(HOSTILE_SOURCE in meta for meta in metas)
    snippets = page.locator(".group .snippet").all_inner_texts()
    assert any(s.startswith('"><img src=z onerror=alert(8)>') for s in snippets), snippets
    assert any("<script>alert(7)</script>" in s for s in snippets), snippets
    assert "javascript:" not in page.evaluate("() => document.body.innerHTML")

    page.locator(".clip .show-transcript").first.click()
    page.wait_for_function("() => document.querySelectorAll('#transcript .segment').length"
                           " === 2")
    lines = page.locator("#transcript .segment .words").all_inner_texts()
    assert lines == [HOSTILE_SPEECH, HOSTILE_LINE]
    assert page.evaluate("() => document.querySelectorAll('img, script:not([src])').length") == 0
    assert watched.dialogs == [] and watched.errors == []


def test_a_clip_found_by_sound_says_what_was_heard(watched: Watched, base: str) -> None:
    page = watched.page
    # Nobody said "Volantirs"; the fixture briefing says "Volunteers".
    search(page, base, "Volantirs")
    page.wait_for_selector("#results .clip .sounds-like")
    label = page.inner_text("#results .clip .sounds-like")
    assert label.startswith("Sounds like (") and "heard “Volunteers”" in label
