"""The data dir: the system of record (articles, video sources, videos, transcripts).

Every JSON file is written to a temporary name, flushed and renamed, so a crash leaves either
the old file or the new one, never a half-written one that is later trusted.  The index under
``index/`` is derived from these files and can always be rebuilt.

Layout::

    articles/<article_id>.json        the parsed article
    sources/<url_key>.json            one video URL: state, error, video id, linking articles
    videos/<video_id>/video.<ext>     the downloaded media (video_id: sha256 prefix of bytes)
    videos/<video_id>/meta.json       sha256, size, container, the URLs that served it
    videos/<video_id>/transcript.json the transcript
    videos/<video_id>/versions/<n>.json transcripts it replaced (re-transcription), oldest first
    removals/<removal_id>.json        takedowns: what, when, why (the audit log)
    removals/pending/<removal_id>.json  takedowns not completed yet: their items are hidden
    exports/<video_id>.json           clips exported from a video (removed with it)
    index/                            the Whoosh index (derived)
    tmp/                              downloads and decoded audio in progress
    locks/                            lock files of the processes sharing the data dir
    jobs.sqlite3                      the job store (worker.storage.jobs)
    watches.sqlite3                   watches, their hits and webhooks (worker.storage.watches)
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from indexer.domain import Article, ArticleRef, Transcript
from worker.containers import CONTAINERS
from worker.errors import NotFoundError
from worker.storage.files import file_lock, file_sha256, read_json, write_json_atomic
from worker.storage.states import VideoState

__all__ = [
    "DataDir",
    "ExportRecord",
    "Hidden",
    "Removal",
    "SourceRecord",
    "TranscriptVersion",
    "VideoMeta",
    "article_refs",
    "index_root",
    "is_item_id",
    "media_file",
    "place_download",
    "stored_media",
    "url_key",
    "video_id_for",
]


def url_key(url: str) -> str:
    """Stable file-name-safe key of a video URL."""
    return hashlib.sha1(url.encode("utf-8")).hexdigest()[:20]


_ITEM_ID = re.compile(r"[0-9a-f]{16}")


def is_item_id(value: str) -> bool:
    """Whether *value* has the shape of an article or video id (16 hex digits): only such
    a value may name a folder or file of the data dir."""
    return _ITEM_ID.fullmatch(value) is not None


def video_id_for(sha256: str) -> str:
    """A video's id: the start of its content hash, so identical bytes share one id."""
    return sha256[:16]


def index_root(data_dir: Path) -> Path:
    """Where the search index of the data dir at *data_dir* lives."""
    return data_dir / "index"


@dataclass(frozen=True)
class SourceRecord:
    """What we know about one video URL."""

    url: str
    state: VideoState = VideoState.QUEUED
    video_id: str = ""
    error: str = ""
    articles: tuple[str, ...] = ()
    attempts: int = 0
    updated: float = field(default_factory=time.time)
    runner: str = ""  # the run (worker.storage.runs) that last changed its state

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SourceRecord:
        """Inverse of ``asdict``."""
        values = dict(data)
        values["articles"] = tuple(values.get("articles", ()))
        values["state"] = VideoState(values.get("state", VideoState.QUEUED))
        return cls(**values)


@dataclass(frozen=True)
class VideoMeta:
    """A stored video file and the URLs that served its bytes."""

    video_id: str
    sha256: str
    size: int
    container: str
    urls: tuple[str, ...]
    # When each URL first served these bytes (Unix time); empty in records made before it
    # was kept.
    fetched: dict[str, float] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> VideoMeta:
        """Inverse of ``asdict``."""
        values = dict(data)
        values["urls"] = tuple(values.get("urls", ()))
        values["fetched"] = {str(k): float(v) for k, v in values.get("fetched", {}).items()}
        return cls(**values)


@dataclass(frozen=True)
class TranscriptVersion:
    """A transcript that a re-transcription replaced, kept beside the current one."""

    number: int  # 1 for the first transcript a video had
    replaced: float  # when it stopped being the current one (Unix time)
    transcript: Transcript


@dataclass(frozen=True)
class Removal:
    """A takedown: what was asked, why, what it removes, and whether it is finished.

    Recorded before anything is deleted, so that searches and listings hide the items at
    once and a run that finds it unfinished (the remover crashed) completes it.
    """

    id: str
    kind: str  # "article" or "video": what was asked to be removed
    target: str  # the id asked for
    reason: str
    requested: float
    article_ids: tuple[str, ...]
    video_ids: tuple[str, ...]
    kept_videos: tuple[str, ...] = ()  # linked by an article that stays
    by: str = ""  # who asked: "cli", "http"
    completed: float | None = None
    # The URLs of article_ids: the index names linking articles by URL (empty in records
    # made before they were kept).
    article_urls: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Removal:
        """Inverse of ``asdict``."""
        values = dict(data)
        for name in ("article_ids", "video_ids", "kept_videos", "article_urls"):
            values[name] = tuple(values.get(name, ()))
        return cls(**values)


@dataclass(frozen=True)
class Hidden:
    """Ids a search or listing must not show: those of takedowns not yet completed."""

    video_ids: frozenset[str] = frozenset()
    article_ids: frozenset[str] = frozenset()
    article_urls: frozenset[str] = frozenset()  # of article_ids

    @classmethod
    def of(cls, pending: Iterable[Removal]) -> Hidden:
        """What the takedowns *pending* (not completed) hide."""
        removals = list(pending)
        return cls(frozenset(v for r in removals for v in r.video_ids),
                   frozenset(a for r in removals for a in r.article_ids),
                   frozenset(u for r in removals for u in r.article_urls))


def article_refs(articles: Iterable[Article]) -> list[ArticleRef]:
    """*articles* as the index and the API show them (the articles linking a video), by
    URL."""
    refs = [ArticleRef(url=a.url, title=a.title, source=a.source, published=a.published)
            for a in articles]
    return sorted(refs, key=lambda ref: ref.url)


def media_file(folder: Path, container: str) -> Path:
    """Where the media of a video in *container* lives in its *folder*."""
    return folder / f"video.{CONTAINERS[container].extension}"


def stored_media(folder: Path, meta: VideoMeta | None) -> Path | None:
    """The media file of the video of *meta* in its *folder*, or None when there is none."""
    if meta is None:
        return None
    path = media_file(folder, meta.container)
    return path if path.is_file() else None


def place_download(temp: Path, folder: Path, meta: VideoMeta | None, *, sha256: str, size: int,
                   container: str, url: str, now: float,
                   move: Callable[[Path, Path], None] = os.replace) -> VideoMeta:
    """Place a finished download at *temp* as the media file of its video in *folder* (by
    *move*), or drop it when the bytes are stored already; the video's metadata after it
    (*meta* is what is stored now), for the store to write.  Called under the video's lock.

    Bytes seen before keep their first URLs and fetch times, *url* added (fetched *now*).
    """
    folder.mkdir(parents=True, exist_ok=True)
    final = media_file(folder, container)
    if meta is not None and final.is_file():
        temp.unlink(missing_ok=True)
        urls = meta.urls if url in meta.urls else (*meta.urls, url)
        fetched = {url: now, **meta.fetched}
    else:
        move(temp, final)
        urls = (url,)
        fetched = {url: now}
    return VideoMeta(video_id_for(sha256), sha256, size, container, urls, fetched)


@dataclass(frozen=True)
class ExportRecord:
    """A clip file exported from a video, removed when the video is taken down."""

    path: str
    sha256: str
    created: float


class DataDir:
    """Typed access to the files of one data dir."""

    def __init__(self, root: Path) -> None:
        self.root = root
        for sub in ("articles", "sources", "videos", "tmp", "locks"):
            (root / sub).mkdir(parents=True, exist_ok=True)

    @property
    def index_root(self) -> Path:
        """Where the search index lives."""
        return index_root(self.root)

    @property
    def jobs_db(self) -> Path:
        """The SQLite job store."""
        return self.root / "jobs.sqlite3"

    @property
    def watches_db(self) -> Path:
        """The SQLite watch store (worker.storage.watches)."""
        return self.root / "watches.sqlite3"

    @property
    def tmp(self) -> Path:
        """Scratch space for downloads in progress (same file system as the videos)."""
        return self.root / "tmp"

    @property
    def locks(self) -> Path:
        """Where the lock files of processes sharing this data dir live."""
        return self.root / "locks"

    @contextlib.contextmanager
    def lock(self, name: str) -> Iterator[None]:
        """An exclusive lock across processes sharing this data dir (held briefly)."""
        with file_lock(self.locks / f"{name}.lock"):
            yield

    # -- articles --------------------------------------------------------------------------

    def save_article(self, article: Article) -> None:
        """Store (or replace) an article."""
        write_json_atomic(self.root / "articles" / f"{article.id}.json", article.to_json())

    def load_article(self, article_id: str) -> Article | None:
        """The stored article, or None."""
        path = self.root / "articles" / f"{article_id}.json"
        return Article.from_json(read_json(path)) if path.is_file() else None

    def articles(self) -> Iterator[Article]:
        """Every stored article."""
        for path in sorted((self.root / "articles").glob("*.json")):
            yield Article.from_json(read_json(path))

    def article_stored(self, article_id: str) -> float:
        """When the article was last saved (its file's modification time)."""
        return (self.root / "articles" / f"{article_id}.json").stat().st_mtime

    # -- sources (video URLs) --------------------------------------------------------------

    def _source_path(self, url: str) -> Path:
        return self.root / "sources" / f"{url_key(url)}.json"

    def source(self, url: str) -> SourceRecord | None:
        """The record of a video URL, or None when never seen."""
        path = self._source_path(url)
        return SourceRecord.from_json(read_json(path)) if path.is_file() else None

    def sources(self) -> Iterator[SourceRecord]:
        """Every video URL record."""
        for path in sorted((self.root / "sources").glob("*.json")):
            yield SourceRecord.from_json(read_json(path))

    def update_source(self, url: str, **changes: Any) -> SourceRecord:
        """Read-modify-write a source record under a lock; ``add_article`` appends a link."""
        with self.lock("sources"):
            current = self.source(url) or SourceRecord(url=url)
            article = changes.pop("add_article", None)
            if article and article not in current.articles:
                changes["articles"] = (*current.articles, article)
            updated = replace(current, updated=time.time(), **changes)
            write_json_atomic(self._source_path(url), asdict(updated))
            return updated

    # -- videos and transcripts ------------------------------------------------------------

    def video_dir(self, video_id: str) -> Path:
        """The folder of one video."""
        return self.root / "videos" / video_id

    def video_ids(self) -> list[str]:
        """The ids of every stored video (those with metadata), sorted."""
        return sorted(p.parent.name for p in (self.root / "videos").glob("*/meta.json"))

    def video_stored(self, video_id: str) -> float:
        """When the video's metadata was last written (its file's modification time)."""
        return (self.video_dir(video_id) / "meta.json").stat().st_mtime

    def video_meta(self, video_id: str) -> VideoMeta | None:
        """Stored facts of a video, or None."""
        path = self.video_dir(video_id) / "meta.json"
        return VideoMeta.from_json(read_json(path)) if path.is_file() else None

    def video_file(self, video_id: str) -> Path | None:
        """The stored media file of a video, or None."""
        return stored_media(self.video_dir(video_id), self.video_meta(video_id))

    def adopt_video(self, temp: Path, sha256: str, size: int, container: str,
                    url: str) -> VideoMeta:
        """Move a finished download into place (or drop it when the bytes are known)."""
        video_id = video_id_for(sha256)
        folder = self.video_dir(video_id)
        with self.lock(f"video-{video_id}"):
            meta = place_download(temp, folder, self.video_meta(video_id), sha256=sha256,
                                  size=size, container=container, url=url, now=time.time())
            write_json_atomic(folder / "meta.json", asdict(meta))
            return meta

    def save_transcript(self, transcript: Transcript) -> None:
        """Store a transcript: the system of record for the index."""
        path = self.video_dir(transcript.video_id) / "transcript.json"
        write_json_atomic(path, transcript.to_json())

    def transcript_saved(self, video_id: str) -> float:
        """When the video's transcript was last written (its file's modification time)."""
        return (self.video_dir(video_id) / "transcript.json").stat().st_mtime

    def load_transcript(self, video_id: str) -> Transcript | None:
        """The stored transcript of a video, or None."""
        path = self.video_dir(video_id) / "transcript.json"
        return Transcript.from_json(read_json(path)) if path.is_file() else None

    def transcripts(self) -> Iterator[Transcript]:
        """Every stored transcript."""
        for path in sorted((self.root / "videos").glob("*/transcript.json")):
            yield Transcript.from_json(read_json(path))

    def linking_articles(self, video_id: str) -> list[Article]:
        """Every stored article that links a URL serving *video_id*, oldest first; those of
        a takedown in progress are left out (the index, the API and a clip's sidecar must
        not name them even if the remover crashed)."""
        meta = self.video_meta(video_id)
        urls = set(meta.urls) if meta else set()
        hidden = self.hidden().article_ids
        ids: list[str] = []
        for record in self.sources():
            if record.video_id == video_id or record.url in urls:
                ids.extend(a for a in record.articles if a not in ids and a not in hidden)
        articles = [self.load_article(article_id) for article_id in ids]
        return sorted((a for a in articles if a is not None), key=lambda a: (a.published, a.id))

    def article_refs_for_video(self, video_id: str) -> list[ArticleRef]:
        """:meth:`linking_articles` as the index and the API show them, by URL."""
        return article_refs(self.linking_articles(video_id))

    # -- index writes not yet committed ------------------------------------------------------

    def _pending_path(self, kind: str, item_id: str) -> Path:
        return self.root / "pending" / f"{kind}-{item_id}"

    def mark_pending(self, kind: str, item_id: str) -> None:
        """Note that the index is about to get *kind* ("article" or "video") *item_id*.

        Cleared once its commit is done: a mark left behind (the commit failed for a full
        disk, the process was killed) is how the next run knows to write it again.
        """
        path = self._pending_path(kind, item_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()

    def clear_pending(self, kind: str, item_id: str) -> None:
        """The index has *kind* *item_id* now."""
        self._pending_path(kind, item_id).unlink(missing_ok=True)

    def pending(self) -> list[tuple[str, str]]:
        """Index writes that were begun and never finished, as (kind, id)."""
        marks = sorted((self.root / "pending").glob("*-*"))
        return [tuple(mark.name.split("-", 1)) for mark in marks]  # type: ignore[misc]

    def has_transcript(self, video_id: str) -> bool:
        """Whether a transcript of the video is stored."""
        return (self.video_dir(video_id) / "transcript.json").is_file()

    def video_url(self, video_id: str) -> str:
        """The URL a clip of this video links to: the first URL that served it."""
        meta = self.video_meta(video_id)
        return meta.urls[0] if meta and meta.urls else ""


    # -- transcript versions (re-transcription) -----------------------------------------------

    def _versions_dir(self, video_id: str) -> Path:
        return self.video_dir(video_id) / "versions"

    def transcript_versions(self, video_id: str) -> list[TranscriptVersion]:
        """The transcripts a video had before its current one, oldest first."""
        found = []
        for path in self._versions_dir(video_id).glob("*.json"):
            if path.stem.isdigit():
                data = read_json(path)
                found.append(TranscriptVersion(int(path.stem), float(data["replaced"]),
                                               Transcript.from_json(data["transcript"])))
        return sorted(found, key=lambda v: v.number)

    @contextlib.contextmanager
    def video_files(self, video_id: str) -> Iterator[None]:
        """Held while a video's files change: its transcript replaced, a clip of it exported,
        its files deleted by a takedown.  A writer checks :meth:`standing` under it, so it
        never writes for a video a takedown removed or is removing."""
        with self.lock(f"files-{video_id}"):
            yield

    def standing(self, video_id: str) -> bool:
        """Whether the video is stored and no takedown of it is under way."""
        return self.video_meta(video_id) is not None and video_id not in self.hidden().video_ids

    def transcript_number(self, video_id: str) -> int:
        """The version number of the current transcript: 1 until a re-transcription."""
        return 1 + sum(1 for p in self._versions_dir(video_id).glob("*.json")
                       if p.stem.isdigit())

    def replace_transcript(self, transcript: Transcript) -> TranscriptVersion | None:
        """Make *transcript* the video's current one, keeping the one it replaces as a version.

        The old transcript is written as a version first, then the new one replaces
        ``transcript.json`` with an atomic rename: a crash between the two leaves the old
        transcript current (and a copy of it as a version), never none.
        """
        with self.video_files(transcript.video_id):
            # A takedown recorded or carried out while the new transcript was made wins:
            # writing now would bring the video back.
            if not self.standing(transcript.video_id):
                raise NotFoundError(f"video {transcript.video_id} was taken down meanwhile")
            old = self.load_transcript(transcript.video_id)
            kept = None
            if old is not None:
                number = len(self.transcript_versions(transcript.video_id)) + 1
                kept = TranscriptVersion(number, time.time(), old)
                write_json_atomic(self._versions_dir(transcript.video_id) / f"{number}.json",
                                  {"replaced": kept.replaced, "transcript": old.to_json()})
            self.save_transcript(transcript)
            return kept

    # -- exported clips ----------------------------------------------------------------------

    def _exports_path(self, video_id: str) -> Path:
        return self.root / "exports" / f"{video_id}.json"

    def record_export(self, video_id: str, path: Path, sha256: str) -> None:
        """Note a clip file exported from *video_id*, so a takedown can remove it."""
        with self.lock("exports"):
            records = [asdict(r) for r in self.exports(video_id)
                       if r.path != str(path.resolve())]
            records.append(asdict(ExportRecord(str(path.resolve()), sha256, time.time())))
            write_json_atomic(self._exports_path(video_id), records)

    def exports(self, video_id: str) -> list[ExportRecord]:
        """Clip files exported from *video_id*."""
        path = self._exports_path(video_id)
        return [ExportRecord(**r) for r in read_json(path)] if path.is_file() else []

    def clips_dir(self, video_id: str) -> Path:
        """Where the HTTP API keeps the clips it cut from a video (a cache)."""
        return self.root / "clips" / video_id

    def drop_cut_clips(self, video_id: str) -> None:
        """Empty the HTTP API's cache of clips cut from *video_id* (their sidecars name the
        linking articles, their captions the transcript of the day)."""
        shutil.rmtree(self.clips_dir(video_id), ignore_errors=True)

    # -- takedowns ---------------------------------------------------------------------------

    def _removal_path(self, removal_id: str) -> Path:
        return self.root / "removals" / f"{removal_id}.json"

    def _pending_removal_path(self, removal_id: str) -> Path:
        return self.root / "removals" / "pending" / f"{removal_id}.json"

    def record_removal(self, removal: Removal) -> None:
        """Store a takedown record: the intent before any deletion, the completion after.

        An unfinished takedown also has a marker under ``removals/pending/``, written before
        its record and removed after the completed record, so a crash between the two
        leaves it pending (it is finished again), never lost; searches read the markers
        only, not the whole audit log.
        """
        marker = self._pending_removal_path(removal.id)
        if removal.completed is None:
            write_json_atomic(marker, asdict(removal))
            write_json_atomic(self._removal_path(removal.id), asdict(removal))
        else:
            write_json_atomic(self._removal_path(removal.id), asdict(removal))
            marker.unlink(missing_ok=True)

    def removals(self) -> list[Removal]:
        """Every takedown record, the audit log: oldest first."""
        folder = self.root / "removals"
        found = [Removal.from_json(read_json(p)) for p in folder.glob("*.json")]
        return sorted(found, key=lambda r: (r.requested, r.id))

    def pending_removals(self) -> list[Removal]:
        """Takedowns recorded and not completed (their remover may have crashed)."""
        folder = self.root / "removals" / "pending"
        found = [Removal.from_json(read_json(p)) for p in folder.glob("*.json")]
        return sorted(found, key=lambda r: (r.requested, r.id))

    def hidden(self) -> Hidden:
        """What searches and listings must leave out: the items of unfinished takedowns."""
        return Hidden.of(self.pending_removals())

    def delete_article(self, article_id: str) -> None:
        """Delete a stored article and drop it from the video URLs it linked."""
        with self.lock("sources"):
            for path in sorted((self.root / "sources").glob("*.json")):
                record = SourceRecord.from_json(read_json(path))
                if article_id in record.articles:
                    kept = tuple(a for a in record.articles if a != article_id)
                    write_json_atomic(path, asdict(replace(record, articles=kept)))
        (self.root / "articles" / f"{article_id}.json").unlink(missing_ok=True)

    def delete_video(self, video_id: str) -> None:
        """Delete a video's media, transcript, versions, cut clips, exported clip files (those
        that still hold the bytes we wrote) and the records of the URLs that served it."""
        with self.video_files(video_id):
            self._delete_video(video_id)
        with contextlib.suppress(OSError):
            self.video_dir(video_id).rmdir()

    def _delete_video(self, video_id: str) -> None:
        meta = self.video_meta(video_id)
        urls = set(meta.urls) if meta else set()
        for export in self.exports(video_id):
            target = Path(export.path)
            sidecar = target.with_suffix(".json")
            with contextlib.suppress(OSError):
                if target.is_file() and file_sha256(target) == export.sha256:
                    for extra in (".srt", ".vtt"):
                        target.with_suffix(extra).unlink(missing_ok=True)
                    sidecar.unlink(missing_ok=True)
                    target.unlink()
        self.drop_cut_clips(video_id)
        with self.lock("sources"):
            for path in sorted((self.root / "sources").glob("*.json")):
                record = SourceRecord.from_json(read_json(path))
                if record.video_id == video_id or record.url in urls:
                    path.unlink(missing_ok=True)
        # The metadata goes last: it is how the files above were found.
        folder = self.video_dir(video_id)
        for child in sorted(folder.glob("*")):
            if child.is_dir():
                shutil.rmtree(child, ignore_errors=True)
            elif child.name != "meta.json":
                child.unlink(missing_ok=True)
        (folder / "meta.json").unlink(missing_ok=True)
        self._exports_path(video_id).unlink(missing_ok=True)

