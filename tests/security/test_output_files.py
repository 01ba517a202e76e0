"""`briefing transcribe -o PATH` writes into what the user named, and never replaces it.

Devices, FIFOs and `-` are written to directly; only regular files (or new paths) get the
temp-and-rename, with the mode a plain open() would give. The real /dev/null is never used:
a private character device with its numbers stands in for it.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.conftest import MEDIA, cli_env
from tests.fleet import BRIEFING, REPO

SOURCE = str(MEDIA / "briefing-b.mp4")
SPOKEN = "sandbags"


def transcribe(args: list[str], data_dir: Path, *, umask: int | None = None,
               cwd: Path = REPO, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """``briefing transcribe SOURCE ARGS`` in *cwd*, optionally under *umask*."""
    command = [*BRIEFING, "transcribe", SOURCE, *args]
    if umask is not None:
        # Set in the child before it runs the command (os.umask in a shell-less wrapper).
        command = [sys.executable, "-c", f"import os, runpy, sys; os.umask({umask:#o}); "
                   "sys.argv = ['api', *sys.argv[1:]]; runpy.run_module('api', "
                   "run_name='__main__')", "transcribe", SOURCE, *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                          env=cli_env(data_dir, PYTHONPATH=str(REPO)), cwd=cwd)


def test_output_to_a_fifo_is_written_into_it(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received: list[bytes] = []

    def read() -> None:
        with open(fifo, "rb") as fh:
            received.append(fh.read())

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    proc = transcribe(["-o", str(fifo)], tmp_path / "data")
    reader.join(timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert stat.S_ISFIFO(fifo.lstat().st_mode)
    assert received and SPOKEN in received[0].decode().lower()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "pipe"]


@pytest.mark.skipif(os.geteuid() != 0, reason="creating a device node needs root")
def test_output_to_a_character_device_leaves_the_device(tmp_path: Path) -> None:
    null = tmp_path / "null"
    # A private copy of /dev/null (major 1, minor 3): the real one is never touched.
    os.mknod(null, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    null.chmod(0o666)  # mknod applied our umask
    proc = transcribe(["-o", str(null)], tmp_path / "data")
    assert proc.returncode == 0, proc.stderr
    after = null.lstat()
    assert stat.S_ISCHR(after.st_mode)
    assert os.major(after.st_rdev) == 1 and os.minor(after.st_rdev) == 3
    assert stat.S_IMODE(after.st_mode) == 0o666
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "null"]


def test_output_dash_is_stdout(tmp_path: Path) -> None:
    # Run in tmp_path: a file named "-" would land there, not in the repository.
    proc = transcribe(["-o", "-", "-f", "srt"], tmp_path / "data", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("1\n00:00:")
    assert SPOKEN in proc.stdout.lower()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]


def test_a_new_output_file_honours_the_umask(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    proc = transcribe(["-o", str(target)], tmp_path / "data", umask=0o022)
    assert proc.returncode == 0, proc.stderr
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    assert SPOKEN in target.read_text().lower()
    loose = tmp_path / "loose.txt"
    proc = transcribe(["-o", str(loose)], tmp_path / "data", umask=0o002)
    assert proc.returncode == 0, proc.stderr
    assert stat.S_IMODE(loose.stat().st_mode) == 0o664


def test_a_replaced_output_file_keeps_its_mode(tmp_path: Path) -> None:
    target = tmp_path / "private.txt"
    target.write_text("old")
    target.chmod(0o640)
    proc = transcribe(["-o", str(target)], tmp_path / "data", umask=0o022)
    assert proc.returncode == 0, proc.stderr
    assert SPOKEN in target.read_text().lower()
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "private.txt"]


def test_output_into_a_missing_folder_is_one_line_and_creates_nothing(tmp_path: Path) -> None:
    target = tmp_path / "absent" / "deeper" / "out.txt"
    proc = transcribe(["-o", str(target)], tmp_path / "data")
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert lines == [f"error: no such folder: {target.parent}"], proc.stderr
    assert not (tmp_path / "absent").exists()
