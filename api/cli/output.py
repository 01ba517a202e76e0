"""Writing to a path the user named (``-o PATH``): into it, never replacing what it is.

Our own files are written with a temp file and a rename (worker.storage.files); a user's path
may be a device, a FIFO or ``-`` for stdout, which a rename would replace by a regular file.
"""

from __future__ import annotations

import errno
import os
import secrets
import stat
import sys
from pathlib import Path

__all__ = ["check_output_path", "write_output"]


def _target(path: Path) -> Path:
    # A symlink names the file it points to: a rename onto the link would replace the link.
    return Path(os.path.realpath(path)) if path.is_symlink() else path


def _is_stdout(path: Path) -> bool:
    return str(path) == "-"


def check_output_path(path: Path) -> None:
    """Raise the OSError that writing to *path* would meet for want of its folder.

    Called before long work, so that a typo in ``-o`` is reported at once, not after the
    transcription.
    """
    if _is_stdout(path):
        return
    target = _target(path)
    if target.is_dir():
        raise IsADirectoryError(errno.EISDIR, "is a folder", str(path))
    if not target.exists() and not target.parent.is_dir():
        raise FileNotFoundError(errno.ENOENT, "no such folder", str(target.parent))


def write_output(path: Path, text: str) -> None:
    """Write *text* to the path a user named: ``-`` is stdout, devices and FIFOs are written
    into, regular files are replaced whole (temp file and rename) keeping their mode, and a
    new file gets the mode a plain open() would give (0o666 less the umask).
    """
    if _is_stdout(path):
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    check_output_path(path)
    target = _target(path)
    try:
        mode = target.stat().st_mode
    except FileNotFoundError:
        mode = None
    if mode is not None and not stat.S_ISREG(mode):
        # A device, a FIFO (this blocks until a reader opens it, as a shell's `>` does).
        with open(target, "w", encoding="utf-8") as fh:
            fh.write(text)
        return
    _replace(target, text, None if mode is None else stat.S_IMODE(mode))


def _replace(target: Path, text: str, keep_mode: int | None) -> None:
    """Write a sibling temp file and rename it onto *target*, so readers see old or new."""
    while True:
        tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
        try:
            # 0o666 and the kernel applies the umask: the mode open() gives a new file.
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
            break
        except FileExistsError:
            continue
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            if keep_mode is not None:
                os.fchmod(fh.fileno(), keep_mode)
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
