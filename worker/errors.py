"""briefing's errors, in one tree.

::

    BriefingError                 (indexer.errors) one clear line for the user
    ├── SearchIndexError          (indexer.errors) transient: the index is derived
    │   └── BrokenIndexError      (indexer.errors) damaged on disk: rebuilt from the records
    ├── QueryError                (indexer.errors) a search query we cannot read
    ├── FetchError                an article or video could not be fetched (transient per case)
    │   ├── BlockedAddressError   the URL points at an address we refuse to contact
    │   └── DownloadError         a video download failed or is not a video
    │       └── TooLargeError     over the size cap
    ├── MediaError                ffmpeg could not turn the file into audio (keeps its stderr)
    ├── TranscriptionError        faster-whisper failed on the audio
    │   └── ModelNotFoundError    the configured model is not installed
    ├── NotFoundError             no such stored article or video (or it is being removed)
    ├── ClipError                 a clip that cannot be cut as asked (bounds, length)
    ├── VerificationError         a clip's sidecar cannot be read or does not fit the clip
    ├── SchemaError               the database's schema is older or newer than this version
    ├── WatchError                a watch (saved search) that cannot be made as asked
    │   ├── NoSuchWatchError      no watch by that name or id
    │   └── WatchExistsError      a watch by that name exists already
    └── BusyError                 transient: someone else has it; try again later
        ├── LockBusyError         another runner holds a lock (carries when its lease ends)
        ├── WorkerBusyError       too many jobs wait for the in-process worker
        ├── BrokerUnavailableError  the queue's broker (Redis) cannot be reached
        └── StoreUnavailableError   the database cannot be reached right now

``transient`` is a class attribute (may trying again later help?) that an instance may
override.  The runners retry transient errors and fail the video at once on the rest; the
HTTP layer maps the classes to status codes, the CLI to one line and exit code 1.
"""

from __future__ import annotations

import sqlite3

from indexer.errors import BriefingError, BrokenIndexError, QueryError, SearchIndexError

__all__ = [
    "BlockedAddressError",
    "BriefingError",
    "BrokenIndexError",
    "BrokerUnavailableError",
    "BusyError",
    "ClipError",
    "DownloadError",
    "FetchError",
    "LockBusyError",
    "MediaError",
    "ModelNotFoundError",
    "NoSuchWatchError",
    "NotFoundError",
    "QueryError",
    "SchemaError",
    "SearchIndexError",
    "StoreUnavailableError",
    "TooLargeError",
    "TranscriptionError",
    "VerificationError",
    "WatchError",
    "WatchExistsError",
    "WorkerBusyError",
    "is_transient",
]


class FetchError(BriefingError):
    """An article or a video could not be fetched."""

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient


class BlockedAddressError(FetchError):
    """The URL points at an address we refuse to contact (loopback, private, ...)."""


class DownloadError(FetchError):
    """A video download failed or delivered something that is not a video."""


class TooLargeError(DownloadError):
    """A download went over the size cap."""


class MediaError(BriefingError):
    """ffmpeg could not turn the file into audio."""

    def __init__(self, message: str, stderr: str = "") -> None:
        super().__init__(message)
        self.stderr = stderr


class TranscriptionError(BriefingError):
    """faster-whisper failed on the audio."""


class ModelNotFoundError(TranscriptionError):
    """The configured Whisper model is not installed and cannot be fetched."""


class NotFoundError(BriefingError):
    """No such stored article or video, or one that is being taken down."""


class ClipError(BriefingError):
    """A clip that cannot be cut as asked: its bounds are outside the video or too long."""


class VerificationError(BriefingError):
    """A clip's provenance sidecar cannot be read, or is not one of ours."""
class WatchError(BriefingError):
    """A watch (saved search) that cannot be made as asked: a bad query, filter or webhook."""


class NoSuchWatchError(WatchError):
    """No watch has that name or id."""


class WatchExistsError(WatchError):
    """A watch by that name exists already."""


class BusyError(BriefingError):
    """Someone else holds what this needs right now; trying again later helps."""

    transient = True


class LockBusyError(BusyError):
    """Another runner holds the lock (it is downloading or transcribing the same video)."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after  # when the holder's lease runs out, if not renewed


class WorkerBusyError(BusyError):
    """Too many jobs are waiting for the in-process worker."""


class BrokerUnavailableError(BusyError):
    """The queue's broker (Redis) cannot be reached, so a job could not be queued."""


class StoreUnavailableError(BusyError):
    """The database (BRIEFING_DATABASE_URL) cannot be reached right now: restarting, out of
    connections, or the network between; the step is tried again later."""


class SchemaError(BriefingError):
    """The database's schema is not the one this version of briefing reads: older (run
    `briefing db upgrade`) or newer (upgrade briefing)."""


def is_transient(exc: BaseException) -> bool:
    """Whether trying again later could help: our errors say so themselves; a file-system
    error or a busy SQLite store is the machine's passing problem.

    Only a *busy* SQLite store counts: any other OperationalError (a disk I/O error, a
    database file deleted under an open connection) would fail again on every retry, and a
    runner waiting it out would wait for ever.
    """
    if isinstance(exc, BriefingError):
        return exc.transient
    if isinstance(exc, sqlite3.OperationalError):
        text = str(exc).lower()
        return "locked" in text or "busy" in text
    return isinstance(exc, OSError)
