"""Transcription progress that moves while a batch is decoded, not only between batches.

faster-whisper's batched pipeline hands over a batch's segments only once the whole batch
(eight 30 s chunks of audio) is decoded, so progress taken from segments alone sits still for
seconds, then jumps (to 68 % on a four-minute video).  Between real reports, :class:`Pace`
estimates how far decoding has got from the speed this process has measured so far (audio
seconds per second), never past the end of the audio being decoded, never backwards.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from types import TracebackType

__all__ = ["DEFAULT_SPEED", "Pace"]

# Audio seconds per second assumed before this process has measured its own: low on
# purpose (an estimate that lags catches up at the next real report; one that runs ahead
# would have to stop and wait at the end of the window).
DEFAULT_SPEED = 5.0
TICK = 0.2  # seconds between estimates
_HEADROOM = 0.98  # an estimate stops short of the end of the audio being decoded

log = logging.getLogger(__name__)

_measured: dict[str, float] = {}  # model name → audio seconds per second, this process


class Pace:
    """Reports progress to *report* (a fraction of *duration*) from real segment ends and,
    between them, from the estimate.  Estimates come from a helper thread; one call at a
    time reaches *report*."""

    def __init__(self, report: Callable[[float], None], duration: float, model: str) -> None:
        self._report = report
        self._duration = max(duration, 1e-6)
        self._model = model
        self._speed = _measured.get(model, DEFAULT_SPEED)
        self._lock = threading.Lock()
        self._shown = 0.0
        self._since = (0.0, time.monotonic())  # (audio seconds done, when)
        self._until = 0.0  # end of the audio being decoded, in seconds
        self._started = time.monotonic()
        self._stop = threading.Event()
        self._ticker = threading.Thread(target=self._tick, name="briefing-pace", daemon=True)

    def __enter__(self) -> Pace:
        self._ticker.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stop.set()
        self._ticker.join()
        elapsed = time.monotonic() - self._started
        if kind is None and elapsed > 0.5:
            _measured[self._model] = self._duration / elapsed

    def decoding(self, start: float, end: float) -> None:
        """The audio from *start* to *end* seconds is being decoded now."""
        with self._lock:
            self._until = end
            self._since = (max(start, self._since[0]), time.monotonic())

    def done_until(self, seconds: float) -> None:
        """Audio is transcribed up to *seconds* (a segment's end): a real report."""
        with self._lock:
            self._since = (seconds, time.monotonic())
            self._emit(seconds / self._duration)

    def _emit(self, fraction: float) -> None:
        fraction = min(1.0, fraction)
        if fraction > self._shown:
            self._shown = fraction
            self._report(fraction)

    def _tick(self) -> None:
        while not self._stop.wait(TICK):
            with self._lock:
                done, when = self._since
                guess = done + self._speed * (time.monotonic() - when)
                ceiling = done + (self._until - done) * _HEADROOM
                try:
                    self._emit(min(guess, ceiling) / self._duration)
                except Exception:
                    # A consumer failing on an estimate must not end the transcription (nor
                    # pass unseen): log it and stop estimating; real reports go on.
                    log.exception("progress estimate not reported")
                    return
