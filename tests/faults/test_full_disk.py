"""A full disk: the video that meets it fails with its reason, the others go on, and an index
write it broke is repaired by the next run. The data dir is a small tmpfs of its own."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import MEDIA, cli_env
from tests.fleet import QUICK, cli
from tests.siteserver import Site

PAGE = 4096


@contextlib.contextmanager
def _tmpfs(mount: Path, size: str) -> Iterator[Path]:
    """A small file system at *mount* (tmpfs; needs root, as CI and our machines run)."""
    mount.mkdir(parents=True, exist_ok=True)
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {made.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 4 MB file system for the data dir."""
    with _tmpfs(tmp_path / "disk", "4m") as mount:
        yield mount


def _fill(disk: Path, leave_pages: int) -> Path:
    """Fill *disk* but for *leave_pages* pages; returns the filler file."""
    stat = os.statvfs(disk)
    filler = disk / "filler"
    size = stat.f_bavail * stat.f_frsize - leave_pages * PAGE
    with open(filler, "wb") as fh:
        fh.truncate(0)
        fh.write(b"\0" * max(0, size))
    return filler


def test_the_video_that_meets_a_full_disk_fails_and_the_next_is_done(
        small_disk: Path, site: Site) -> None:
    folder = site.root / "full"
    folder.mkdir(exist_ok=True)
    head = (MEDIA / "briefing-a.mp4").read_bytes()[:4096]  # sniffs as an MP4
    (folder / "huge.mp4").write_bytes(head + bytes(8 * 1024**2))  # twice the whole disk
    shutil.copy(MEDIA / "briefing-b.mp4", folder / "small.mp4")
    (folder / "page.html").write_text(
        '<html><head><title>Full disk</title></head><body><article><p>Watch '
        '<a href="huge.mp4">first</a> and <a href="small.mp4">second</a></p></article>'
        "</body></html>")
    env = cli_env(small_disk / "data", **QUICK)

    ingest = cli(["ingest", site.url("full/page.html"), "--json"], env)

    assert ingest.returncode == 0, ingest.stderr  # the article was read
    (report,) = json.loads(ingest.stdout)
    huge, small = report["videos"]
    assert huge["state"] == "failed" and "No space left on device" in huge["error"]
    assert small["state"] == "done"
    status = json.loads(cli(["status", "--json"], env).stdout)
    assert status["videos"] == {"done": 1, "failed": 1}  # nothing "downloading" forever
    assert [p for p in (small_disk / "data" / "tmp").rglob("*") if p.is_file()] == []
    found = json.loads(cli(["search", "sandbags", "--json"], env).stdout)["results"]
    assert [r["video_url"] for r in found if r["type"] == "clip"] == [
        site.url("full/small.mp4")]


def test_an_index_write_that_failed_for_space_is_repaired_by_the_next_run(
        tmp_path: Path, site: Site) -> None:
    data_dir = tmp_path / "data"
    with _tmpfs(data_dir / "index", "1m") as index_disk:  # only the index runs out of room
        _index_write_fails_then_is_repaired(data_dir, index_disk, site)


def _index_write_fails_then_is_repaired(data_dir: Path, index_disk: Path, site: Site) -> None:
    env = cli_env(data_dir, **QUICK)
    first = cli(["ingest", site.url("no-video.html")], env)
    assert first.returncode == 0, first.stderr
    (site.root / "later.html").write_text(
        "<html><head><title>Lighthouse keeper retires</title></head><body><article>"
        "<p>The lighthouse keeper of the northern cape retired after forty years.</p>"
        "</article></body></html>")
    filler = _fill(index_disk, leave_pages=0)

    failed = cli(["ingest", site.url("later.html")], env)

    assert failed.returncode == 1
    assert "No space left on device" in failed.stderr
    assert "Traceback" not in failed.stderr
    stored = list((data_dir / "articles").glob("*.json"))
    assert len(stored) == 2  # saved...
    assert json.loads(cli(["search", "lighthouse", "--json"], env).stdout)["results"] == []

    filler.unlink()  # the operator makes room; the next run of anything repairs the index
    again = cli(["ingest", site.url("no-video.html")], env)
    assert again.returncode == 0, again.stderr
    found = json.loads(cli(["search", "lighthouse", "--json"], env).stdout)["results"]
    assert [r["url"] for r in found] == [site.url("later.html")]
