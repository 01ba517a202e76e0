"""Generations of the index: the ``CURRENT`` pointer and the atomic swap of a rebuilt one.

The index lives in a generation directory under its root; a ``CURRENT`` file names the live
generation.  A rebuild fills a fresh generation and swaps ``CURRENT`` with an atomic rename,
so readers see either the old index or the new one, never a half-built one.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from whoosh import index as windex

from indexer.schema import build_schema

_CURRENT = "CURRENT"
T = TypeVar("T")
# Times to re-read the table of contents that a concurrent commit replaced under us.
TOC_RETRIES = 5


def has_index(root: Path) -> bool:
    """Whether an index exists at *root* (its ``CURRENT`` pointer is there)."""
    return (root / _CURRENT).is_file()


def _read_current(root: Path) -> str | None:
    try:
        name = (root / _CURRENT).read_text().strip()
    except FileNotFoundError:
        return None
    return name or None


def _write_current(root: Path, name: str) -> None:
    tmp = root / f".{_CURRENT}.{os.getpid()}.tmp"
    tmp.write_text(name + "\n")
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, root / _CURRENT)


def _new_generation(root: Path) -> Path:
    stamp = time.strftime("%Y%m%d%H%M%S")
    path = root / f"gen-{stamp}-{os.getpid()}-{time.monotonic_ns() % 1_000_000}"
    path.mkdir(parents=True)
    windex.create_in(str(path), build_schema())
    return path


def _reading_toc(read: Callable[[], T]) -> T:
    """*read* (something that reads the index's table of contents), tried again when a
    concurrent commit deleted the TOC file it had just found (Whoosh lists, then opens)."""
    for attempt in range(TOC_RETRIES):
        try:
            return read()
        except FileNotFoundError:
            if attempt == TOC_RETRIES - 1:
                raise
            time.sleep(0.01 * (attempt + 1))
    raise AssertionError("unreachable")


def _swap_in_generation(root: Path, fill: Callable[[Path], object]) -> None:
    """Create a fresh generation, *fill* it, then make it the live one and drop the others.

    A *fill* that raises leaves the live generation as it was.
    """
    root.mkdir(parents=True, exist_ok=True)
    path = _new_generation(root)
    try:
        fill(path)
    except BaseException:
        shutil.rmtree(path, ignore_errors=True)
        raise
    _write_current(root, path.name)
    for child in root.iterdir():
        if child.is_dir() and child.name.startswith("gen-") and child.name != path.name:
            # Readers still holding old files keep them open; on POSIX removal is safe.
            shutil.rmtree(child, ignore_errors=True)
