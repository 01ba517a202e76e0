"""What the pipeline, the API and the CLI ask of the system of record, whichever backs it.

Two implementations: :class:`worker.storage.datadir.DataDir` (JSON files in the data dir, the
embedded default) and :class:`worker.storage.pg.records.PgRecords` (PostgreSQL, for a fleet).
Entry points get one from :func:`worker.storage.stores.open_records`; nothing else needs to
know which.  Media (video files, cut clips) lives under :attr:`Records.root` in both.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

from indexer.domain import Article, ArticleRef, Transcript
from worker.storage.datadir import (
    ExportRecord,
    Hidden,
    Removal,
    SourceRecord,
    TranscriptVersion,
    VideoMeta,
)

__all__ = ["Records"]


class Records(Protocol):
    """Articles, video sources and metadata, transcripts and their versions, takedowns,
    exported clips, and where the media files of each video live."""

    @property
    def root(self) -> Path:
        """The media root (BRIEFING_DATA_DIR): video files and cut clips live under it."""
        ...

    @property
    def tmp(self) -> Path:
        """Scratch space for downloads in progress (outside any run's own folder)."""
        ...

    def lock(self, name: str) -> contextlib.AbstractContextManager[None]:
        """An exclusive lock named *name* across every process sharing the records."""
        ...

    # -- articles --------------------------------------------------------------------------

    def save_article(self, article: Article) -> None:
        """Store (or replace) an article."""
        ...

    def load_article(self, article_id: str) -> Article | None:
        """The stored article, or None."""
        ...

    def articles(self) -> Iterator[Article]:
        """Every stored article, by id."""
        ...

    def article_stored(self, article_id: str) -> float:
        """When the article was last saved (Unix time)."""
        ...

    def delete_article(self, article_id: str) -> None:
        """Delete a stored article and drop it from the video URLs it linked."""
        ...

    # -- sources (video URLs) --------------------------------------------------------------

    def source(self, url: str) -> SourceRecord | None:
        """The record of a video URL, or None when never seen."""
        ...

    def sources(self) -> Iterator[SourceRecord]:
        """Every video URL record."""
        ...

    def update_source(self, url: str, **changes: Any) -> SourceRecord:
        """Read-modify-write a source record atomically; ``add_article`` appends a link."""
        ...

    # -- videos and transcripts ------------------------------------------------------------

    def video_ids(self) -> list[str]:
        """The ids of every stored video (those with metadata), sorted."""
        ...

    def video_dir(self, video_id: str) -> Path:
        """The folder of one video's media."""
        ...

    def video_meta(self, video_id: str) -> VideoMeta | None:
        """Stored facts of a video, or None."""
        ...

    def video_stored(self, video_id: str) -> float:
        """When the video's metadata was last written (Unix time)."""
        ...

    def video_file(self, video_id: str) -> Path | None:
        """The stored media file of a video, or None."""
        ...

    def video_url(self, video_id: str) -> str:
        """The URL a clip of this video links to: the first URL that served it."""
        ...

    def adopt_video(self, temp: Path, sha256: str, size: int, container: str,
                    url: str) -> VideoMeta:
        """Move a finished download into place (or drop it when the bytes are known)."""
        ...

    def save_transcript(self, transcript: Transcript) -> None:
        """Store a transcript: the system of record for the index."""
        ...

    def load_transcript(self, video_id: str) -> Transcript | None:
        """The stored transcript of a video, or None."""
        ...

    def has_transcript(self, video_id: str) -> bool:
        """Whether a transcript of the video is stored."""
        ...

    def transcripts(self) -> Iterator[Transcript]:
        """Every stored transcript, by video id."""
        ...

    def linking_articles(self, video_id: str) -> list[Article]:
        """Every stored article linking a URL that serves *video_id*, oldest first, leaving
        out those of a takedown in progress."""
        ...

    def article_refs_for_video(self, video_id: str) -> list[ArticleRef]:
        """:meth:`linking_articles` as the index and the API show them, by URL."""
        ...

    def transcript_versions(self, video_id: str) -> list[TranscriptVersion]:
        """The transcripts a video had before its current one, oldest first."""
        ...

    def transcript_number(self, video_id: str) -> int:
        """The version number of the current transcript: 1 until a re-transcription."""
        ...

    def replace_transcript(self, transcript: Transcript) -> TranscriptVersion | None:
        """Make *transcript* the current one, keeping the one it replaces as a version."""
        ...

    def video_files(self, video_id: str) -> contextlib.AbstractContextManager[None]:
        """Held while a video's files change (transcript, exported clip, takedown)."""
        ...

    def standing(self, video_id: str) -> bool:
        """Whether the video is stored and no takedown of it is under way."""
        ...

    def delete_video(self, video_id: str) -> None:
        """Delete a video's media, transcript, versions, cut and exported clips, and the
        records of the URLs that served it."""
        ...

    # -- index writes not yet committed ----------------------------------------------------

    def mark_pending(self, kind: str, item_id: str) -> None:
        """Note that the index is about to get *kind* *item_id*."""
        ...

    def clear_pending(self, kind: str, item_id: str) -> None:
        """The index has *kind* *item_id* now."""
        ...

    def pending(self) -> list[tuple[str, str]]:
        """Index writes that were begun and never finished, as (kind, id)."""
        ...

    # -- exported clips --------------------------------------------------------------------

    def record_export(self, video_id: str, path: Path, sha256: str) -> None:
        """Note a clip file exported from *video_id*, so a takedown can remove it."""
        ...

    def exports(self, video_id: str) -> list[ExportRecord]:
        """Clip files exported from *video_id*."""
        ...

    def clips_dir(self, video_id: str) -> Path:
        """Where the HTTP API keeps the clips it cut from a video (a cache)."""
        ...

    def drop_cut_clips(self, video_id: str) -> None:
        """Empty the HTTP API's cache of clips cut from *video_id*."""
        ...

    # -- takedowns -------------------------------------------------------------------------

    def record_removal(self, removal: Removal) -> None:
        """Store a takedown record: the intent before any deletion, the completion after."""
        ...

    def removals(self) -> list[Removal]:
        """Every takedown record, the audit log: oldest first."""
        ...

    def pending_removals(self) -> list[Removal]:
        """Takedowns recorded and not completed."""
        ...

    def hidden(self) -> Hidden:
        """What searches and listings must leave out: the items of unfinished takedowns."""
        ...
