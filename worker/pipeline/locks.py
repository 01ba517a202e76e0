"""Locks that hold across every worker machine: Redis keys on the queue's broker.

A file lock in the shared data dir only holds where the network file system honours it; the
broker is the one thing every worker already reaches.  A lock has a short lease that a
thread keeps renewing while its holder works, so the lock of a worker that was killed
expires within one lease instead of blocking its video until someone intervenes.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator
from urllib.parse import urlsplit

import redis
from redis.exceptions import LockError
from redis.lock import Lock

from worker.errors import BriefingError

log = logging.getLogger(__name__)

# Renewed every third of it: a stalled holder would need to miss three renewals in a row.
DEFAULT_LEASE = 10.0
_PREFIX = "briefing:lock:"


class Busy(BriefingError):
    """Another worker holds the lock (it is downloading or transcribing the same video)."""

    transient = True

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after  # when the holder's lease runs out, if not renewed


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
    def hold(self, name: str, *, wait: float = 0.0,
             lease: float = DEFAULT_LEASE) -> Iterator[None]:
        """Hold lock *name* for the block; raise :class:`Busy` if it stays taken *wait* s."""
        lock = self.client.lock(_PREFIX + name, timeout=lease, sleep=0.1,
                                blocking=wait > 0, blocking_timeout=wait if wait > 0 else None,
                                thread_local=False)
        if not lock.acquire():
            left = self.client.pttl(_PREFIX + name)
            raise Busy(f"{name} is locked by another worker",
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
