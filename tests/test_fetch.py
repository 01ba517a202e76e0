"""Fetching against a real server on 127.0.0.1, and the address policy."""

from __future__ import annotations

from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from tests.conftest import MEDIA
from tests.siteserver import Site, redirect_to
from worker.errors import BlockedAddressError, DownloadError, FetchError, TooLargeError
from worker.intake.fetch import FetchLimits, download
from worker.intake.netguard import check_url, is_public_address

OPEN = FetchLimits(max_bytes=10_000_000, connect_timeout=5, read_timeout=5, deadline=20,
                   allow_private=True)


@pytest.fixture
def faulty(tmp_path: Path) -> Site:
    (tmp_path / "v.mp4").write_bytes((MEDIA / "briefing-b.mp4").read_bytes())
    site = Site(tmp_path).start()

    def status(code: int) -> object:
        def handler(h: BaseHTTPRequestHandler) -> None:
            h.send_error(code)
        return handler

    def endless(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "video/mp4")
        h.send_header("Connection", "close")
        h.end_headers()
        h.wfile.write((MEDIA / "briefing-b.mp4").read_bytes()[:4096])
        try:
            while True:
                h.wfile.write(b"\0" * 65536)
        except OSError:
            pass

    def lying_length(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Length", "999999999999")
        h.end_headers()

    site.routes.update({
        "/busy.mp4": status(503),
        "/gone.mp4": status(404),
        "/hop.mp4": redirect_to("/v.mp4"),
        "/loop.mp4": redirect_to("/loop.mp4"),
        "/endless.mp4": endless,
        "/lying.mp4": lying_length,
    })
    yield site  # type: ignore[misc]
    site.stop()


def test_download_follows_redirects_and_lands_complete(faulty: Site, tmp_path: Path) -> None:
    got = download(faulty.url("hop.mp4"), tmp_path / "tmp", OPEN)
    assert got.path.read_bytes() == (MEDIA / "briefing-b.mp4").read_bytes()
    assert got.container == "mp4" and got.final_url == faulty.url("v.mp4")


def test_server_errors_are_transient_and_404_is_not(faulty: Site, tmp_path: Path) -> None:
    with pytest.raises(FetchError, match="HTTP 503") as busy:
        download(faulty.url("busy.mp4"), tmp_path, OPEN)
    assert busy.value.transient
    with pytest.raises(FetchError, match="HTTP 404") as gone:
        download(faulty.url("gone.mp4"), tmp_path, OPEN)
    assert not gone.value.transient


def test_redirect_loop_stops(faulty: Site, tmp_path: Path) -> None:
    with pytest.raises(FetchError, match="too many redirects"):
        download(faulty.url("loop.mp4"), tmp_path, OPEN)


def test_endless_body_is_cut_at_the_cap_and_temp_removed(faulty: Site, tmp_path: Path) -> None:
    limits = FetchLimits(max_bytes=1_000_000, connect_timeout=5, read_timeout=5, deadline=20,
                         allow_private=True)
    with pytest.raises(TooLargeError):
        download(faulty.url("endless.mp4"), tmp_path / "tmp", limits)
    assert list((tmp_path / "tmp").iterdir()) == []


def test_declared_oversize_is_refused_before_reading(faulty: Site, tmp_path: Path) -> None:
    with pytest.raises(TooLargeError, match="999999999999 bytes"):
        download(faulty.url("lying.mp4"), tmp_path, OPEN)


def test_html_served_as_mp4_is_refused(faulty: Site, tmp_path: Path) -> None:
    (faulty.root / "page.mp4").write_bytes(b"<!DOCTYPE html><html><body>Not found</body></html>")
    with pytest.raises(DownloadError, match="not a video"):
        download(faulty.url("page.mp4"), tmp_path / "tmp", OPEN)
    assert list((tmp_path / "tmp").iterdir()) == []


def test_private_addresses_are_refused_before_connecting(faulty: Site, tmp_path: Path) -> None:
    closed = FetchLimits(allow_private=False)
    before = len(faulty.hits)
    with pytest.raises(BlockedAddressError, match="non-public"):
        download(faulty.url("v.mp4"), tmp_path, closed)
    assert faulty.hits[before:] == []


@pytest.mark.parametrize("address", [
    "127.0.0.1", "0.0.0.0", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254",
    "100.64.0.1", "::1", "fd00::1", "fe80::1", "::ffff:127.0.0.1", "224.0.0.1",
])
def test_non_public_addresses(address: str) -> None:
    assert not is_public_address(address)


@pytest.mark.parametrize("address", ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"])
def test_public_addresses(address: str) -> None:
    assert is_public_address(address)


@pytest.mark.parametrize("url", [
    "http://2130706433/x.mp4", "http://0x7f000001/x.mp4", "http://127.1/x.mp4",
    "http://[::ffff:7f00:1]/x.mp4", "http://localhost/x.mp4", "http://169.254.169.254/",
])
def test_odd_spellings_of_local_addresses_are_refused(url: str) -> None:
    with pytest.raises(BlockedAddressError):
        check_url(url, allow_private=False)


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.org/x.mp4",
                                 "gopher://example.org/", "http://user:pw@example.org/x.mp4"])
def test_other_schemes_and_userinfo_are_refused(url: str) -> None:
    with pytest.raises(BlockedAddressError):
        check_url(url, allow_private=True)
