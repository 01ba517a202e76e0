"""Errors of fetching, downloading, media handling and transcription.

Each says whether trying again later could help (``transient``): the queue retries those and
fails the rest at once.
"""

from __future__ import annotations

from indexer.errors import BriefingError, QueryError, SearchIndexError

__all__ = [
    "BlockedAddressError",
    "BriefingError",
    "BrokerUnavailableError",
    "DownloadError",
    "FetchError",
    "MediaError",
    "ModelNotFoundError",
    "QueryError",
    "SearchIndexError",
    "TooLargeError",
    "TranscriptionError",
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
        self.transient = False


class TranscriptionError(BriefingError):
    """faster-whisper failed on the audio."""

    transient = False


class ModelNotFoundError(TranscriptionError):
    """The configured Whisper model is not installed and cannot be fetched."""


class BrokerUnavailableError(BriefingError):
    """The queue's broker (Redis) cannot be reached, so a job could not be queued."""

    transient = True
