"""The numbers every runner applies the same way: retries, and waits for each other's locks.

Plain values with no heavy imports: the queue's submitters read them too.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from worker.settings import Settings

__all__ = ["RETRY_BACKOFF_MAX", "LockWaits", "RetryPolicy"]

RETRY_BACKOFF_MAX = 600.0  # no retry waits longer than this


@dataclass(frozen=True)
class RetryPolicy:
    """How often a step is tried again, the same for every runner."""

    max_retries: int = 5  # transient failures retried before the video is failed
    retry_backoff: float = 15.0  # first retry's delay ceiling, doubled each time
    max_deliveries: int = 3  # tries whose runner died (killed, out of memory) before failing

    @classmethod
    def from_settings(cls, settings: Settings) -> RetryPolicy:
        """The policy configured by ``BRIEFING_MAX_RETRIES`` and its kin."""
        return cls(max_retries=settings.max_retries, retry_backoff=settings.retry_backoff,
                   max_deliveries=settings.max_deliveries)

    def delay(self, failures: int, rng: random.Random | None = None) -> float:
        """Seconds before retry number *failures* + 1: exponential, with "equal jitter".

        Half the delay is fixed and half random, so retries of many steps that failed
        together (a server restarting) spread out instead of arriving in waves.
        """
        ceiling = min(RETRY_BACKOFF_MAX, self.retry_backoff * 2.0 ** max(0, failures))
        return ceiling / 2 + (rng or random).uniform(0, ceiling / 2)

    @property
    def longest_delay(self) -> float:
        """The longest delay :meth:`delay` can choose."""
        if self.max_retries == 0:
            return 0.0
        return min(RETRY_BACKOFF_MAX, self.retry_backoff * 2.0 ** (self.max_retries - 1))


@dataclass(frozen=True)
class LockWaits:
    """How long a step waits for a lock another runner holds before giving way.

    An inline runner has nothing better to do than wait (then finds the work done); a queue
    worker puts a step back on the queue rather than hold a process idle.
    """

    url: float = math.inf  # downloading one URL
    video: float = math.inf  # transcribing one video
    index: float = math.inf  # writing the index
