"""kombu's Redis transport, with the one change a worker needs to outlive its broker.

When Redis goes away, kombu closes the connection (its ``client`` becomes None, or the
channel loses its connection) while there is still work for the old channel: acknowledging
a task that finished during the outage, restoring the unacknowledged messages as the channel
closes, publishing on a channel that a reconnection closed.  kombu 5.7's Redis
channel then builds connection parameters from the closed connection and raises
``AttributeError: 'NoneType' object has no attribute 'hostname'``, which no handler expects:
the worker stopped with "Unrecoverable error" (issue 16; a kombu report of the same error on
closing a channel: celery/kombu#582).  Here that case raises Redis's own ConnectionError
instead, which kombu and Celery handle as the outage it is (the message stays unacknowledged
in Redis and is handed out again).  :func:`install` makes ``redis://`` use this transport.
"""

from __future__ import annotations

from typing import Any

import redis
from kombu.transport import TRANSPORT_ALIASES
from kombu.transport import redis as kombu_redis

__all__ = ["Channel", "Transport", "install"]


class Channel(kombu_redis.Channel):
    """A Redis channel that says "connection closed" once its connection is."""

    def _connparams(self, asynchronous: bool = False) -> dict[str, Any]:
        if self.connection is None or self.connection.client is None:
            raise redis.exceptions.ConnectionError("the connection to the broker was closed")
        params: dict[str, Any] = super()._connparams(asynchronous=asynchronous)  # type: ignore[no-untyped-call]
        return params


class Transport(kombu_redis.Transport):
    """kombu's Redis transport with :class:`Channel`."""

    Channel = Channel


def install() -> None:
    """Make ``redis://`` and ``rediss://`` URLs use :class:`Transport` in this process."""
    for scheme in ("redis", "rediss"):
        TRANSPORT_ALIASES[scheme] = f"{__name__}:Transport"
