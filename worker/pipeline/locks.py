"""Locks that keep two runners from doing one thing twice: one interface, two kinds.

Every step takes the same named locks (:data:`INDEX_LOCK`, :func:`url_lock`,
:func:`video_lock`) through :class:`Locks`:

* :class:`FileLocks` (inline runners: ``briefing ingest``, ``briefing serve`` without a
  broker): ``flock`` on files in the data dir, which the kernel releases when the holder dies.
* :class:`BrokerLocks` (queue workers): Redis keys on the broker, the one thing every worker
  machine reaches (a file lock on a network share holds only where the file system honours
  it).  A lock has a short lease that a thread keeps renewing while its holder works, so the
  lock of a worker that was killed expires within one lease.
* :class:`worker.storage.pg.locks.PgLocks` (inline runners sharing a database,
  BRIEFING_DATABASE_URL, without a broker): PostgreSQL advisory locks, which the server
  drops when the holder's session ends (kept apart so embedded runs never load psycopg).
* :class:`LockChain` holds several kinds in turn: a queue worker takes the broker's lock and
  then the data dir's, so it also excludes an inline run on the same data dir.
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

import redis
from redis.exceptions import LockError
from redis.lock import Lock

from worker.errors import BriefingError, LockBusyError
from worker.storage.datadir import url_key
from worker.storage.files import file_lock

__all__ = ["INDEX_LOCK", "BrokerLocks", "FileLocks", "LockChain", "Locks", "url_lock",
           "video_lock"]

log = logging.getLogger(__name__)

# Renewed every third of it: a stalled holder would need to miss three renewals in a row.
DEFAULT_LEASE = 10.0
_PREFIX = "briefing:lock:"

# Whoever writes the index holds this (Whoosh's own lock covers one machine only).
INDEX_LOCK = "index-writer"


def url_lock(url: str) -> str:
    """The lock of downloading one URL."""
    return f"url:{url_key(url)}"


def video_lock(video_id: str) -> str:
    """The lock of transcribing one video (its bytes, whatever URL served them)."""
    return f"video:{video_id}"


class Locks(Protocol):
    """Named exclusive locks shared by every runner that may do the same work."""

    def hold(self, name: str, *, wait: float = math.inf) -> AbstractContextManager[None]:
        """Hold lock *name* for the block; raise :class:`LockBusyError` if it stays taken
        for *wait* seconds."""
        ...


class FileLocks:
    """Locks as files under one folder of the data dir (one machine)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def hold(self, name: str, *, wait: float = math.inf) -> AbstractContextManager[None]:
        """See :class:`Locks`."""
        return file_lock(self.folder / f"{name.replace(':', '-')}.lock", wait=wait)


class LockChain:
    """Several kinds of lock taken in turn (and released in reverse)."""

    def __init__(self, chain: Sequence[Locks]) -> None:
        self.chain = tuple(chain)

    @contextlib.contextmanager
    def hold(self, name: str, *, wait: float = math.inf) -> Iterator[None]:
        """See :class:`Locks`; *wait* applies to each kind."""
        with contextlib.ExitStack() as held:
            for locks in self.chain:
                held.enter_context(locks.hold(name, wait=wait))
            yield


class BrokerLocks:
    """Named locks in the Redis database of the broker."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client

    @classmethod
    def from_url(cls, broker_url: str) -> BrokerLocks:
        """Locks on the Redis broker at *broker_url* (``redis://``, ``rediss://``, ``unix://``)."""
        if urlsplit(broker_url).scheme not in ("redis", "rediss", "unix"):
            raise BriefingError(f"the queue needs a Redis broker (redis://...), not "
                                f"{urlsplit(broker_url).scheme}://")
        return cls(redis.Redis.from_url(broker_url, socket_connect_timeout=5,
                                        socket_timeout=15, health_check_interval=30))

    @contextlib.contextmanager
    def hold(self, name: str, *, wait: float = math.inf,
             lease: float = DEFAULT_LEASE) -> Iterator[None]:
        """See :class:`Locks`; the lease is renewed every third of *lease* while held."""
        lock = self.client.lock(_PREFIX + name, timeout=lease, sleep=0.1,
                                blocking=wait > 0,
                                blocking_timeout=wait if 0 < wait < math.inf else None,
                                thread_local=False)
        if not lock.acquire():
            left = self.client.pttl(_PREFIX + name)
            raise LockBusyError(f"{name} is locked by another worker",
                       retry_after=max(0.0, float(left)) / 1000 if left else 0.0)
        stop = threading.Event()
        renewer = threading.Thread(target=_renew, args=(lock, name, lease, stop),
                                   name=f"lease {name}", daemon=True)
        renewer.start()
        try:
            yield
        finally:
            stop.set()
            renewer.join()
            try:
                lock.release()
            except LockError:
                # The lease ran out (the process stalled for a whole lease): someone else
                # may hold it now, and releasing theirs would be wrong.
                log.warning("lock %s had expired before it was released", name)
            except redis.exceptions.RedisError as exc:
                # The broker is down: the lease lapses by itself.  Raising here would replace
                # the block's own outcome (finished work, or the exception it is raising).
                log.warning("could not release lock %s (%s); its lease will lapse", name, exc)

    def close(self) -> None:
        """Drop the connection."""
        self.client.close()


def _renew(lock: Lock, name: str, lease: float, stop: threading.Event) -> None:
    while not stop.wait(lease / 3):
        try:
            lock.reacquire()
        except LockError:
            log.warning("lost lock %s: its lease expired before it was renewed", name)
            return
        except redis.exceptions.RedisError as exc:
            # The broker is down or restarting: keep working and try again next time.  If the
            # lease lapses meanwhile another worker may start the same step; the on-disk
            # checks and atomic writes make that duplicate work, never a wrong result.
            log.warning("could not renew lock %s: %s", name, exc)
