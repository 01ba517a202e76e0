"""Hostile URLs and hostile servers: refused before connecting, cut at the limits."""

from __future__ import annotations

import contextlib
import gzip
import socket
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import MEDIA
from tests.siteserver import Site, redirect_to
from worker.errors import BlockedAddressError, FetchError, TooLargeError
from worker.intake.articles import parse_article
from worker.intake.fetch import FetchLimits, download, fetch_text
from worker.intake.netguard import check_url

LOOPBACK_ONLY = FetchLimits(max_bytes=5_000_000, connect_timeout=3, read_timeout=3,
                            deadline=10, private_allowlist=("127.0.0.1/32",))


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Site]:
    (tmp_path / "v.mp4").write_bytes((MEDIA / "briefing-b.mp4").read_bytes())
    site = Site(tmp_path).start()
    yield site
    site.stop()


@pytest.mark.parametrize("target", [
    "http://127.0.0.2:{port}/v.mp4",      # loopback, but not the allowlisted address
    "http://169.254.169.254/latest/meta-data/",
    "http://10.0.0.1/v.mp4",
    "http://[::1]:{port}/v.mp4",
    "file:///etc/passwd",
    "gopher://127.0.0.1:6379/_INFO",
])
def test_every_redirect_hop_is_checked(server: Site, tmp_path: Path, target: str) -> None:
    port = server.base.rsplit(":", 1)[1]
    server.routes["/hop"] = redirect_to(target.format(port=port))
    with pytest.raises(BlockedAddressError):
        download(server.url("hop"), tmp_path / "tmp", LOOPBACK_ONLY)
    assert server.hits == ["/hop"]


def test_connection_goes_to_the_checked_address(server: Site, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """DNS rebinding: the name resolves to an allowed address once, then elsewhere."""
    real = socket.getaddrinfo
    answers = iter(["127.0.0.1"])

    def rebinding(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "rebind.test":
            address = next(answers, "10.255.255.1")  # later lookups point inside
            return real(address, port, *args, **kwargs)
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    port = server.base.rsplit(":", 1)[1]
    got = download(f"http://rebind.test:{port}/v.mp4", tmp_path / "tmp", LOOPBACK_ONLY)
    assert got.size == (MEDIA / "briefing-b.mp4").stat().st_size
    assert server.hits == ["/v.mp4"]


def test_public_hosts_on_service_ports_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    real = socket.getaddrinfo

    def public(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        return real("93.184.216.34", port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", public)
    for port in (22, 25, 5432, 6379, 11211):
        with pytest.raises(BlockedAddressError, match="not a web port"):
            check_url(f"http://news.example:{port}/x.mp4", allow_private=False)
    assert check_url("https://news.example/x.mp4", allow_private=False).address == "93.184.216.34"


def test_base_href_pointing_inside_leads_nowhere(server: Site, tmp_path: Path) -> None:
    html = ('<html><head><base href="http://169.254.169.254/"></head><body>'
            '<a href="clip.mp4">clip</a></body></html>')
    article = parse_article(html, "https://news.example/story.html", "html")
    for url in article.video_urls:
        with pytest.raises(BlockedAddressError):
            check_url(url, allow_private=False)


def test_trickling_server_is_cut_at_the_overall_deadline(server: Site, tmp_path: Path) -> None:
    def trickle(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Length", "1000000")
        h.end_headers()
        h.wfile.write((MEDIA / "briefing-b.mp4").read_bytes()[:64])
        try:
            for _ in range(60):
                time.sleep(0.5)
                h.wfile.write(b"\0")
                h.wfile.flush()
        except OSError:
            pass

    server.routes["/slow.mp4"] = trickle
    limits = FetchLimits(max_bytes=5_000_000, connect_timeout=3, read_timeout=2, deadline=3,
                         private_allowlist=("127.0.0.1/32",))
    started = time.monotonic()
    with pytest.raises(FetchError, match="took longer than 3 s"):
        download(server.url("slow.mp4"), tmp_path / "tmp", limits)
    assert time.monotonic() - started < 8
    assert list((tmp_path / "tmp").iterdir()) == []


def test_short_body_against_content_length_removes_temp(server: Site, tmp_path: Path) -> None:
    def liar(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Length", "500000")
        h.send_header("Connection", "close")
        h.end_headers()
        h.wfile.write((MEDIA / "briefing-b.mp4").read_bytes()[:20000])
        h.close_connection = True

    server.routes["/short.mp4"] = liar
    with pytest.raises(FetchError):
        download(server.url("short.mp4"), tmp_path / "tmp", LOOPBACK_ONLY)
    assert list((tmp_path / "tmp").iterdir()) == []


def test_gzip_bomb_article_is_stopped_at_the_cap(server: Site) -> None:
    bomb = gzip.compress(b"<p>" + b"a" * 200_000_000, compresslevel=9)

    def handler(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "text/html")
        h.send_header("Content-Encoding", "gzip")
        h.send_header("Content-Length", str(len(bomb)))
        h.end_headers()
        with contextlib.suppress(OSError):
            h.wfile.write(bomb)

    server.routes["/bomb.html"] = handler
    limits = FetchLimits(max_bytes=2_000_000, connect_timeout=3, read_timeout=5, deadline=20,
                         private_allowlist=("127.0.0.1/32",))
    with pytest.raises(TooLargeError):
        fetch_text(server.url("bomb.html"), limits)


def test_gzip_bomb_video_is_not_inflated(server: Site, tmp_path: Path) -> None:
    bomb = gzip.compress(b"\0" * 50_000_000)

    def handler(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Encoding", "gzip")
        h.send_header("Content-Length", str(len(bomb)))
        h.end_headers()
        h.wfile.write(bomb)

    server.routes["/bomb.mp4"] = handler
    with pytest.raises(FetchError, match="not a video"):
        download(server.url("bomb.mp4"), tmp_path / "tmp", LOOPBACK_ONLY)
    assert list((tmp_path / "tmp").iterdir()) == []


def test_thousands_of_links_are_capped_and_deduplicated() -> None:
    links = "".join(f'<a href="/v{n % 3000}.mp4">v</a>' for n in range(20_000))
    started = time.monotonic()
    article = parse_article(f"<html><body>{links}</body></html>",
                            "https://news.example/a.html", "html")
    assert len(article.video_urls) == 100
    assert len(set(article.video_urls)) == 100
    assert time.monotonic() - started < 20  # bounded work, generous for a loaded machine
