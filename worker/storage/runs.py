"""Runs: the processes working on a data dir, told alive from dead, and what the dead left.

Every runner process (``briefing ingest``, ``briefing serve``, each ``briefing worker``
process) claims a run when it starts: a lock file it holds for its lifetime, and a scratch
folder of its own under ``tmp/`` for downloads in progress and decoded audio.  The kernel
drops the lock when the process dies, however it dies, so any later runner can tell a dead
run from a live one without trusting a pid (pids are reused) and sweep its scratch folder.
Records a run leaves behind (a video "transcribing", a job "running") name it, so what a
dead run was doing is shown as interrupted rather than as still going.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import logging
import os
import secrets
import shutil
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING

from worker.storage.states import VideoState

if TYPE_CHECKING:
    from worker.storage.interfaces import Runs

__all__ = ["INLINE", "FileRuns", "Run", "SweepReport", "claim_run", "interrupted", "run_alive",
           "run_id_of", "shown_state", "sweep_dead_runs"]

log = logging.getLogger(__name__)

_SCRATCH_PREFIX = "run-"
# A job's runner in the job store: "inline <run id>" (or "inline" before it starts), "queue".
INLINE = "inline"
# Temp files an older version left loose in tmp/ (before runs had scratch folders), and
# whose owner cannot be told: removed once older than any download or decode may take.
_LOOSE = ("download-*.part", "audio-*.s16le", "*.wav")
LOOSE_AGE = 6 * 3600.0


@dataclass
class Run:
    """This process's claim on a data dir: its id, its scratch folder and its held lock."""

    id: str
    scratch: Path
    lock_path: Path
    _lock: IO[bytes] = field(repr=False)

    def release(self) -> None:
        """Give the claim up: at exit (a killed process's claim is swept by the next run)."""
        if self._lock.closed:
            return
        shutil.rmtree(self.scratch, ignore_errors=True)
        self.lock_path.unlink(missing_ok=True)
        self._lock.close()


def _lock_path(root: Path, run_id: str) -> Path:
    return root / "locks" / f"{_SCRATCH_PREFIX}{run_id}.lock"


def claim_run(root: Path) -> Run:
    """Claim a new run on the data dir at *root* for this process."""
    run_id = f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"
    path = _lock_path(root, run_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Locked under a private name, then renamed: a sweeper never sees the file unlocked.
    claiming = path.with_name(f".claim-{run_id}")
    fh = open(claiming, "a+b")  # noqa: SIM115 (held open for the life of the run)
    fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    os.replace(claiming, path)
    scratch = root / "tmp" / f"{_SCRATCH_PREFIX}{run_id}"
    scratch.mkdir(parents=True, exist_ok=True)
    run = Run(run_id, scratch, path, fh)
    atexit.register(run.release)
    return run


def run_alive(root: Path, run_id: str) -> bool:
    """Whether the run *run_id* on the data dir at *root* is still going.

    A run whose lock file is gone was swept after it died; one whose lock can be taken has
    no holder left.
    """
    try:
        with open(_lock_path(root, run_id), "rb") as fh:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
            return False
    except FileNotFoundError:
        return False


def run_id_of(runner: str) -> str:
    """The run id in *runner* (a run id, or a job's ``inline <run id>``); "" for none."""
    run_id = runner.removeprefix(f"{INLINE} ").strip()
    return "" if run_id == INLINE else run_id


def interrupted(runs: Runs, runner: str) -> bool:
    """Whether the run named by *runner* (a run id, or a job's ``inline <run id>``) has
    died: what it left in progress will not move again by itself."""
    run_id = run_id_of(runner)
    return bool(run_id) and not runs.alive(run_id)


def shown_state(runs: Runs, state: VideoState, runner: str) -> VideoState:
    """A video's *state* as a user should see it: in progress under a dead run, it is
    interrupted (until a runner takes it up again)."""
    if state.settled or state is VideoState.QUEUED or not interrupted(runs, runner):
        return state
    return VideoState.INTERRUPTED


@dataclass(frozen=True)
class SweepReport:
    """What a sweep removed."""

    runs: int = 0
    files: int = 0
    bytes: int = 0


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def sweep_dead_runs(root: Path, *, loose_age: float = LOOSE_AGE) -> SweepReport:
    """Remove the scratch folders and lock files of dead runs, and stale loose temp files."""
    runs = files = size = 0
    tmp = root / "tmp"
    for scratch in sorted(tmp.glob(f"{_SCRATCH_PREFIX}*")):
        run_id = scratch.name.removeprefix(_SCRATCH_PREFIX)
        if not scratch.is_dir() or run_alive(root, run_id):
            continue
        with contextlib.suppress(OSError):
            size += _size(scratch)
        shutil.rmtree(scratch, ignore_errors=True)
        runs += 1
    for lock in sorted((root / "locks").glob(f"{_SCRATCH_PREFIX}*.lock")):
        run_id = lock.name.removeprefix(_SCRATCH_PREFIX).removesuffix(".lock")
        if not (tmp / f"{_SCRATCH_PREFIX}{run_id}").exists() and not run_alive(root, run_id):
            lock.unlink(missing_ok=True)
    cutoff = time.time() - loose_age
    for pattern in _LOOSE:
        for loose in tmp.glob(pattern):
            try:
                stat = loose.stat()
                if stat.st_mtime < cutoff:
                    loose.unlink()
                    files += 1
                    size += stat.st_size
            except FileNotFoundError:
                continue
    if runs or files:
        log.info("removed what %d dead runs and %d stale temp files left (%d bytes)",
                 runs, files, size)
    return SweepReport(runs, files, size)


class FileRuns:
    """Runs of one data dir, claimed by lock files in it (processes of one machine)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def claim(self) -> Run:
        """See :class:`worker.storage.interfaces.Runs`."""
        return claim_run(self.root)

    def alive(self, run_id: str) -> bool:
        """See :class:`worker.storage.interfaces.Runs`."""
        return run_alive(self.root, run_id)

    def sweep(self, *, loose_age: float | None = None) -> SweepReport:
        """See :func:`sweep_dead_runs`."""
        return sweep_dead_runs(self.root, loose_age=LOOSE_AGE if loose_age is None
                               else loose_age)
