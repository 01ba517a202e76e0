"""Bidirectional controls from outside stay inside their own string on the page.

A site name ending in U+202E (RIGHT-TO-LEFT OVERRIDE) once reversed the date beside it:
"Gazette · 2026-11-22" rendered as "Gazette 22-11-6202 ·".  Checked in headless Chromium.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from indexer.domain import Article, ArticleRef, Segment, Transcript, Word
from indexer.index import SearchIndex
from tests.apiserver import running, server_settings
from tests.conftest import MEDIA
from tests.test_web import CHROMIUM, CHROMIUM_ARGS
from worker.intake.articles import article_id_for
from worker.storage.datadir import DataDir

RLO = "\u202e"
RLI = "\u2067"
STORY = "https://news.example/story"
OTHER = "https://other.example/copy"
DATE = "2026-11-22"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as driver:
        chromium = driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A data dir where every outside string carries an unclosed bidi control."""
    data = DataDir(tmp_path_factory.mktemp("bidi") / "data")
    source = MEDIA / "briefing-b.mp4"
    part = data.tmp / "bidi.part"
    shutil.copy(source, part)
    sha = hashlib.sha256(source.read_bytes()).hexdigest()
    meta = data.adopt_video(part, sha, source.stat().st_size, "mp4", "https://news.example/v.mp4")
    speech = f"flood gates {RLO}opened at noon"
    words = tuple(Word(w, 0.5 + i * 0.5, 1.0 + i * 0.5) for i, w in enumerate(speech.split()))
    transcript = Transcript(video_id=meta.video_id, language="en", duration=8.0,
                            model="tiny.en", model_version="test",
                            segments=(Segment(0, 0.5, 4.0, speech, words),))
    data.save_transcript(transcript)
    story = Article(id=article_id_for(STORY), url=STORY, title=f"Flood gates {RLO}open",
                    text=f"The flood gates {RLI}opened at noon.", source=f"Gazette {RLO}",
                    published=DATE)
    data.save_article(story)
    data.save_article(Article(id=article_id_for(OTHER), url=OTHER, title=f"Copy {RLO}desk",
                              text="", source="Other", published="2026-11-23"))
    index = SearchIndex(data.index_root)
    index.add_transcript(transcript, "https://news.example/v.mp4", [
        ArticleRef(url=STORY, title=story.title, source=story.source, published=DATE),
        ArticleRef(url=OTHER, title=f"Copy {RLO}desk")])
    index.add_article(story)
    index.close()
    with running(server_settings(data.root)) as url:
        yield url


@pytest.fixture
def page(browser: Browser, base: str) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(f"{base}/?q=flood+gates")
    page.wait_for_selector(".clip .play")
    yield page
    context.close()


# Left edges of each character of `needle` inside the first element matching `selector`.
CHARACTER_LEFTS = """([selector, needle]) => {
  const root = document.querySelector(selector);
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const at = node.data.indexOf(needle);
    if (at < 0) continue;
    const range = document.createRange();
    return [...needle].map((_, i) => {
      range.setStart(node, at + i);
      range.setEnd(node, at + i + 1);
      return range.getBoundingClientRect().left;
    });
  }
  return null;
}"""


def test_a_site_name_with_rlo_leaves_the_date_beside_it_in_order(page: Page) -> None:
    meta = page.locator(".group .meta").first
    assert meta.inner_text().replace(RLO, "") == f"Gazette  · {DATE}"
    lefts = page.evaluate(CHARACTER_LEFTS, [".group .meta", DATE])
    assert lefts is not None, "the date is not on the page"
    assert lefts == sorted(lefts), f"the date renders reversed: {lefts}"
    # The separator still stands between the source and the date.
    dot = page.evaluate(CHARACTER_LEFTS, [".group .meta", "·"])
    assert dot is not None and dot[0] < lefts[0]


# Every text node under the results whose text holds a bidi control, and whether it sits in
# a <bdi>.  Not "any isolating ancestor": Chromium isolates every block (<p>, <li>), which
# protects a string only while nothing else shares its block, as the date shared the meta line.
UNISOLATED = r"""() => {
  const controls = /[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]/;
  const walker = document.createTreeWalker(document.getElementById("results"),
                                           NodeFilter.SHOW_TEXT);
  const bad = [];
  let seen = 0;
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    if (!controls.test(node.data)) continue;
    seen += 1;
    const bdi = node.parentElement.closest("bdi");
    const isolated = bdi !== null && getComputedStyle(bdi).unicodeBidi === "isolate";
    if (!isolated) bad.push(`${node.parentElement.className}: ${node.data}`);
  }
  return {seen, bad};
}"""


def test_every_outside_string_is_isolated(page: Page) -> None:
    found = page.evaluate(UNISOLATED)
    # The title, the source, the snippet, the spoken words, the other article's title.
    assert found["seen"] >= 5, found
    assert found["bad"] == [], found["bad"]


def test_the_status_line_isolates_the_query(browser: Browser, base: str) -> None:
    page = browser.new_page()
    try:
        page.goto(f"{base}/?q=flood+gates+{RLO}")
        page.wait_for_selector(".clip .play")
        text = page.inner_text("#status")
        assert text.startswith("Results 1–")
        lefts = page.evaluate(CHARACTER_LEFTS, ["#status", "Results"])
        assert lefts is not None and lefts == sorted(lefts), lefts
        assert page.evaluate("() => document.querySelector('#status bdi') !== null")
    finally:
        page.close()
