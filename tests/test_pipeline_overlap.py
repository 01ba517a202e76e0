"""Inline ingest downloads the next videos while it transcribes one: real HTTP, real model.

Overlap is shown by order, never by timing: the first video's transcription waits (in its
progress callback) until the second video's request has reached the fixture server. Done
one after another, that request would never come and the test would fail.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from indexer.domain import Clip
from tests.conftest import MEDIA, make_context
from tests.siteserver import Handler, Site
from worker.pipeline import ModelProvider, NullProgress, ingest
from worker.storage.states import VideoState

GATE_SECONDS = 30.0  # only ever waited in full when the download did not overlap
BODY = (MEDIA / "briefing-a.mp4").read_bytes()[:1024]  # a real MP4 head: passes the sniffing


def _cut_off(h: BaseHTTPRequestHandler) -> None:
    """Announce 100 kB, send 20 kB, hang up: the client sees the connection fail mid-body."""
    h.send_response(200)
    h.send_header("Content-Type", "video/mp4")
    h.send_header("Content-Length", "100000")
    h.end_headers()
    h.wfile.write(BODY + bytes(20_000 - len(BODY)))
    h.wfile.flush()
    h.close_connection = True


def _trickle(h: BaseHTTPRequestHandler) -> None:
    """Announce 400 kB and send it 1 kB every 20 ms (8 s in all) unless the client leaves."""
    h.send_response(200)
    h.send_header("Content-Type", "video/mp4")
    h.send_header("Content-Length", "400000")
    h.end_headers()
    try:
        h.wfile.write(BODY)
        for _ in range(399_000 // 1000):
            time.sleep(0.02)
            h.wfile.write(bytes(1000))
            h.wfile.flush()
    except (BrokenPipeError, ConnectionResetError):
        pass
    h.close_connection = True


@pytest.fixture
def routes(site: Site) -> Iterator[dict[str, Handler]]:
    """The shared fixture site's scripted routes; those a test adds are removed after it."""
    before = set(site.routes)
    yield site.routes
    for path in set(site.routes) - before:
        del site.routes[path]


def _article(site: Site, name: str, links: list[str]) -> str:
    body = "".join(f'<p><a href="{link}">video {i}</a></p>' for i, link in enumerate(links))
    (site.root / name).write_text(f"<html><head><title>Morning briefings</title></head><body>"
                                  f"<h1>Morning briefings</h1>{body}</body></html>")
    return site.url(name)


class _Gate(NullProgress):
    """Records every state change (from either thread); holds the first video's
    transcription until *wanted* has been requested from the site (then calls *then*)."""

    def __init__(self, site: Site, first: str, wanted: str,
                 then: type[BaseException] | None = None) -> None:
        self.site, self.first, self.wanted, self.then = site, first, wanted, then
        self.events: list[tuple[str, str, str]] = []  # (url, state, thread name)
        self.overlapped: bool | None = None
        self.downloaded_bytes: dict[str, int] = {}

    def state(self, url: str, state: str, *, video_id: str = "", error: str = "") -> None:
        self.events.append((url, state, threading.current_thread().name))

    def downloaded(self, url: str, done: int, total: int | None) -> None:
        self.downloaded_bytes[url] = done

    def phase(self, url: str, text: str) -> None:
        pass

    def transcribed(self, url: str, fraction: float) -> None:
        # Estimates between a batch's reports come from a helper thread (worker.speech.pace):
        # the gate holds (and stops) the transcription itself, on the thread that runs it.
        if threading.current_thread() is not threading.main_thread():
            return
        if url != self.first or self.overlapped is not None:
            return
        path = self.wanted.removeprefix(self.site.base)
        deadline = time.monotonic() + GATE_SECONDS
        while path not in self.site.hits or not self.downloaded_bytes.get(self.wanted):
            if time.monotonic() > deadline:
                self.overlapped = False
                return
            time.sleep(0.01)
        self.overlapped = True
        if self.then is not None:
            raise self.then


def _leftovers(tmp: Path) -> list[str]:
    return sorted(p.name for p in tmp.iterdir() if p.suffix != ".lock")


def test_next_videos_download_during_transcription_and_a_broken_one_loses_nothing(
    tmp_path: Path, site: Site, models: ModelProvider, routes: dict[str, Handler]
) -> None:
    routes["/overlap/cut-off.mp4"] = _cut_off
    first = site.url("media/briefing-a.mp4?case=overlap")
    mirror = site.url("mirror/report-copy.mp4?case=overlap")  # the same bytes as *first*
    broken = site.url("overlap/cut-off.mp4")
    last = site.url("media/briefing-b.mp4?case=overlap")
    article = _article(site, "overlap.html", [first, mirror, broken, last])
    ctx = make_context(tmp_path, models)
    gate = _Gate(site, first, mirror)
    ctx.progress = gate

    report = ingest(article, ctx)

    # The second video was fetched while the first was being transcribed...
    assert gate.overlapped is True
    # ...on another thread, while this one transcribed, one video at a time.
    transcribing: list[str] = []
    for url, state, _ in gate.events:
        if state == VideoState.TRANSCRIBING:
            assert not transcribing, gate.events
            transcribing.append(url)
        elif url in transcribing and state in (VideoState.INDEXING, VideoState.FAILED):
            transcribing.remove(url)
    [fetched_on] = {t for u, s, t in gate.events if u == mirror and s == VideoState.DOWNLOADING}
    assert fetched_on.startswith("briefing-download")
    assert {t for _, s, t in gate.events if s == VideoState.TRANSCRIBING} == {
        threading.current_thread().name}

    # Every video ends as it would one by one, in the article's order.
    by_url = {v.url: v for v in report.videos}
    assert [v.url for v in report.videos] == [first, mirror, broken, last]
    assert by_url[first].state == VideoState.DONE and not by_url[first].reused
    # Downloaded before the first transcript existed, and still not transcribed again.
    assert by_url[mirror].state == VideoState.DONE and by_url[mirror].reused
    assert by_url[mirror].video_id == by_url[first].video_id
    assert by_url[broken].state == VideoState.FAILED
    # A transient failure, tried again as the queue would, then failed with its reason.
    assert "failed mid-transfer" in by_url[broken].error
    assert "gave up after 3 retries" in by_url[broken].error
    record = ctx.data.source(broken)
    assert record is not None and record.state == VideoState.FAILED and record.video_id == ""
    assert by_url[last].state == VideoState.DONE
    assert len(list(ctx.data.transcripts())) == 2

    # Both spoken videos are searchable; nothing is left in the scratch dir.
    for phrase, url in (("water supply", first), ("thousands of sandbags", last)):
        clips = [c for c in ctx.index.search(f'"{phrase}"') if isinstance(c, Clip)]
        assert {c.video_url for c in clips} == {url}, phrase
    assert _leftovers(ctx.data.tmp) == []


def test_stopping_during_a_transcription_abandons_the_download_running_ahead(
    tmp_path: Path, site: Site, models: ModelProvider, routes: dict[str, Handler]
) -> None:
    routes["/overlap/trickle.mp4"] = _trickle
    first = site.url("media/briefing-b.mp4?case=stop")
    slow = site.url("overlap/trickle.mp4")
    never = site.url("media/briefing-a.mp4?case=stop")
    article = _article(site, "stop.html", [first, slow, never])
    ctx = make_context(tmp_path, models)
    # Ctrl-C while the first video is transcribed and the second is half downloaded.
    ctx.progress = gate = _Gate(site, first, slow, then=KeyboardInterrupt)

    with pytest.raises(KeyboardInterrupt):
        ingest(article, ctx)

    assert gate.overlapped is True
    # The download running ahead was given up at once (not finished, 8 s later, and
    # stored), its partial file removed, and the third video never requested.
    record = ctx.data.source(slow)
    assert record is not None and record.video_id == ""
    assert len(list((ctx.data.root / "videos").glob("*/video.mp4"))) == 1  # the first only
    assert never.removeprefix(site.base) not in site.hits
    assert _leftovers(ctx.data.tmp) == []
    assert not [t for t in threading.enumerate() if t.name.startswith("briefing-download")]
