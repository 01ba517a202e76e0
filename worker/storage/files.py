"""Our own files: written whole or not at all, and locked across processes of one machine."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import math
import os
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from worker.errors import LockBusyError

__all__ = ["copy_hashed", "file_lock", "file_sha256", "read_json", "replacing", "write_json_atomic",
           "write_text_atomic"]

# How often a lock with a finite wait is tried again.
_POLL = 0.05
# Bytes read at a time when hashing or copying a file.
_CHUNK = 1 << 20


def write_json_atomic(path: Path, data: Any) -> None:
    """Write *data* as JSON to *path* so that readers never see a partial file."""
    write_text_atomic(path, json.dumps(data, ensure_ascii=False, separators=(",", ":")))


def write_text_atomic(path: Path, text: str) -> None:
    """Write *text* to *path* via a temporary file and a rename (our own files only)."""
    with replacing(path) as fh:
        fh.write(text.encode("utf-8"))


@contextlib.contextmanager
def replacing(path: Path, *, mode: int | None = None) -> Iterator[BinaryIO]:
    """A new file to write the block's bytes to, beside *path* under a temporary name; when
    the block ends it is flushed, synced and renamed to *path*, when it raises it is removed,
    so *path* only ever holds a whole file (our own regular files only).

    The file is readable by its owner alone (``mkstemp``'s 0600) unless *mode* says more.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        if mode is not None:
            os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def copy_hashed(sources: Iterable[Path], out: BinaryIO) -> str:
    """Copy the files *sources*, one after the other, to *out*; the SHA-256 of what was
    copied, as hex."""
    digest = hashlib.sha256()
    for source in sources:
        with open(source, "rb") as src:
            while chunk := src.read(_CHUNK):
                digest.update(chunk)
                out.write(chunk)
    return digest.hexdigest()


def file_sha256(path: Path) -> str:
    """The SHA-256 of the file at *path*, as hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def read_json(path: Path) -> Any:
    """The JSON value stored at *path*."""
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


@contextlib.contextmanager
def file_lock(path: Path, *, wait: float = math.inf) -> Iterator[None]:
    """Hold an exclusive lock on *path* for the block, across processes of this machine.

    The kernel drops the lock when its holder dies, so a killed process never leaves it
    taken.  Raises :class:`LockBusyError` when it stays taken for *wait* seconds.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+b") as fh:
        if wait == math.inf:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        else:
            give_up = time.monotonic() + wait
            while True:
                try:
                    fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= give_up:
                        raise LockBusyError(f"{path.stem} is locked by another process",
                                            retry_after=1.0) from None
                    time.sleep(_POLL)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
