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
    index/                            the Whoosh index (derived)
    tmp/                              downloads in progress
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from indexer.domain import Article, ArticleRef, Transcript

# Source states, in pipeline order.
QUEUED = "queued"
DOWNLOADING = "downloading"
TRANSCRIBING = "transcribing"
INDEXING = "indexing"
DONE = "done"
FAILED = "failed"


def url_key(url: str) -> str:
    """Stable file-name-safe key of a video URL."""
    return hashlib.sha1(url.encode("utf-8")).hexdigest()[:20]


def video_id_for(sha256: str) -> str:
    """A video's id: the start of its content hash, so identical bytes share one id."""
    return sha256[:16]


def write_json_atomic(path: Path, data: Any) -> None:
    """Write *data* as JSON to *path* so that readers never see a partial file."""
    write_text_atomic(path, json.dumps(data, ensure_ascii=False, separators=(",", ":")))


def write_text_atomic(path: Path, text: str) -> None:
    """Write *text* to *path* via a temporary file and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _read_json(path: Path) -> Any:
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


@dataclass(frozen=True)
class SourceRecord:
    """What we know about one video URL."""

    url: str
    state: str = QUEUED
    video_id: str = ""
    error: str = ""
    articles: tuple[str, ...] = ()
    attempts: int = 0
    updated: float = field(default_factory=time.time)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SourceRecord:
        """Inverse of ``asdict``."""
        values = dict(data)
        values["articles"] = tuple(values.get("articles", ()))
        return cls(**values)


@dataclass(frozen=True)
class VideoMeta:
    """A stored video file and the URLs that served its bytes."""

    video_id: str
    sha256: str
    size: int
    container: str
    urls: tuple[str, ...]

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> VideoMeta:
        """Inverse of ``asdict``."""
        values = dict(data)
        values["urls"] = tuple(values.get("urls", ()))
        return cls(**values)


class DataDir:
    """Typed access to the files of one data dir."""

    def __init__(self, root: Path) -> None:
        self.root = root
        for sub in ("articles", "sources", "videos", "tmp"):
            (root / sub).mkdir(parents=True, exist_ok=True)

    @property
    def index_root(self) -> Path:
        """Where the search index lives."""
        return self.root / "index"

    @property
    def jobs_db(self) -> Path:
        """The SQLite job store."""
        return self.root / "jobs.sqlite3"

    @property
    def tmp(self) -> Path:
        """Scratch space for downloads in progress (same file system as the videos)."""
        return self.root / "tmp"

    @contextlib.contextmanager
    def lock(self, name: str) -> Iterator[None]:
        """An exclusive lock across processes sharing this data dir."""
        path = self.root / "tmp" / f"{name}.lock"
        with open(path, "a+b") as fh:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)

    # -- articles --------------------------------------------------------------------------

    def save_article(self, article: Article) -> None:
        """Store (or replace) an article."""
        write_json_atomic(self.root / "articles" / f"{article.id}.json", article.to_json())

    def load_article(self, article_id: str) -> Article | None:
        """The stored article, or None."""
        path = self.root / "articles" / f"{article_id}.json"
        return Article.from_json(_read_json(path)) if path.is_file() else None

    def articles(self) -> Iterator[Article]:
        """Every stored article."""
        for path in sorted((self.root / "articles").glob("*.json")):
            yield Article.from_json(_read_json(path))

    # -- sources (video URLs) --------------------------------------------------------------

    def _source_path(self, url: str) -> Path:
        return self.root / "sources" / f"{url_key(url)}.json"

    def source(self, url: str) -> SourceRecord | None:
        """The record of a video URL, or None when never seen."""
        path = self._source_path(url)
        return SourceRecord.from_json(_read_json(path)) if path.is_file() else None

    def sources(self) -> Iterator[SourceRecord]:
        """Every video URL record."""
        for path in sorted((self.root / "sources").glob("*.json")):
            yield SourceRecord.from_json(_read_json(path))

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

    def video_meta(self, video_id: str) -> VideoMeta | None:
        """Stored facts of a video, or None."""
        path = self.video_dir(video_id) / "meta.json"
        return VideoMeta.from_json(_read_json(path)) if path.is_file() else None

    def video_file(self, video_id: str) -> Path | None:
        """The stored media file of a video, or None."""
        meta = self.video_meta(video_id)
        if meta is None:
            return None
        path = self.video_dir(video_id) / f"video.{_EXT[meta.container]}"
        return path if path.is_file() else None

    def adopt_video(self, temp: Path, sha256: str, size: int, container: str,
                    url: str) -> VideoMeta:
        """Move a finished download into place (or drop it when the bytes are known)."""
        video_id = video_id_for(sha256)
        folder = self.video_dir(video_id)
        folder.mkdir(parents=True, exist_ok=True)
        with self.lock(f"video-{video_id}"):
            meta = self.video_meta(video_id)
            final = folder / f"video.{_EXT[container]}"
            if meta is not None and final.is_file():
                temp.unlink(missing_ok=True)
                urls = meta.urls if url in meta.urls else (*meta.urls, url)
            else:
                os.replace(temp, final)
                urls = (url,)
            meta = VideoMeta(video_id, sha256, size, container, urls)
            write_json_atomic(folder / "meta.json", asdict(meta))
            return meta

    def save_transcript(self, transcript: Transcript) -> None:
        """Store a transcript: the system of record for the index."""
        path = self.video_dir(transcript.video_id) / "transcript.json"
        write_json_atomic(path, transcript.to_json())

    def load_transcript(self, video_id: str) -> Transcript | None:
        """The stored transcript of a video, or None."""
        path = self.video_dir(video_id) / "transcript.json"
        return Transcript.from_json(_read_json(path)) if path.is_file() else None

    def transcripts(self) -> Iterator[Transcript]:
        """Every stored transcript."""
        for path in sorted((self.root / "videos").glob("*/transcript.json")):
            yield Transcript.from_json(_read_json(path))

    def article_refs_for_video(self, video_id: str) -> list[ArticleRef]:
        """Every stored article that links any URL serving this video."""
        meta = self.video_meta(video_id)
        urls = set(meta.urls) if meta else set()
        ids: list[str] = []
        for record in self.sources():
            if record.video_id == video_id or record.url in urls:
                ids.extend(a for a in record.articles if a not in ids)
        refs = []
        for article_id in ids:
            article = self.load_article(article_id)
            if article is not None:
                refs.append(ArticleRef(url=article.url, title=article.title,
                                       source=article.source, published=article.published))
        return sorted(refs, key=lambda ref: ref.url)

    def video_url(self, video_id: str) -> str:
        """The URL a clip of this video links to: the first URL that served it."""
        meta = self.video_meta(video_id)
        return meta.urls[0] if meta and meta.urls else ""


_EXT = {"mp4": "mp4", "matroska": "mkv"}
