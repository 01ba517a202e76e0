"""The system of record on PostgreSQL (BRIEFING_DATABASE_URL): what the data dir's JSON files
hold, in the tables of migration 0001, shared by every machine of a fleet.

Media (video files, clips cut by the API) stays under the media root, BRIEFING_DATA_DIR on
the shared volume: each file is written once under a temporary name and renamed into place.
Every write is an upsert, so a redelivered task writes the same rows again harmlessly; a call
that changes several rows does so in one transaction.  :meth:`PgRecords.lock` is a
PostgreSQL advisory lock, held by a session of its own, so it excludes every machine.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import psycopg
from psycopg.types.json import Json, Jsonb
from psycopg_pool import PoolTimeout

from indexer.domain import Article, ArticleRef, Transcript
from worker.errors import NotFoundError
from worker.storage.datadir import (
    ExportRecord,
    Hidden,
    Removal,
    SourceRecord,
    TranscriptVersion,
    VideoMeta,
    article_refs,
    place_download,
    stored_media,
    url_key,
    video_id_for,
)
from worker.storage.files import file_sha256, replacing
from worker.storage.pg.migrate import require_current
from worker.storage.pg.pool import (
    Conn,
    close_lock_pools,
    connection,
    lock_pool_for,
    pool_for,
    unavailable,
)
from worker.storage.states import VideoState

__all__ = ["PgRecords", "close_lock_pools"]

# Rows read per query when walking every article or transcript: the walk never holds a
# pooled connection while its caller works on an item.
_ARTICLE_BATCH = 500
_TRANSCRIPT_BATCH = 50

# Advisory locks share one key space per database with the other stores' locks.
_LOCK_PREFIX = "briefing-records:"

_SOURCE_COLUMNS = "url, state, video_id, error, articles, attempts, updated, runner"


class PgRecords:
    """The records of a fleet in PostgreSQL; media files under *media_root*."""

    def __init__(self, url: str, media_root: Path, scratch: Path, *,
                 pool_size: int = 4, check_schema: bool = False) -> None:
        self.url = url
        self.root = media_root
        self._scratch = scratch
        # Set when the caller could not check the schema yet (the database was down when
        # the process started): the first query checks it instead.
        self._unchecked = check_schema
        (media_root / "videos").mkdir(parents=True, exist_ok=True)
        scratch.mkdir(parents=True, exist_ok=True)
        pool_for(url, size=pool_size)  # the first call of a process sets the pool's size

    @property
    def tmp(self) -> Path:
        """Scratch space for downloads in progress (BRIEFING_SCRATCH_DIR, or the data
        dir's ``tmp``)."""
        return self._scratch

    @contextlib.contextmanager
    def lock(self, name: str) -> Iterator[None]:
        """An exclusive lock across every process of the fleet (a session-level advisory
        lock); the database drops it if the holder's connection dies."""
        with _advisory_lock(self.url, _LOCK_PREFIX + name):
            yield

    # -- articles --------------------------------------------------------------------------

    def save_article(self, article: Article) -> None:
        """Store (or replace) an article."""
        with self._transaction() as conn:
            conn.execute(
                "INSERT INTO records_articles (id, url, doc, stored) VALUES (%s, %s, %s, %s)"
                " ON CONFLICT (id) DO UPDATE SET url = EXCLUDED.url, doc = EXCLUDED.doc,"
                " stored = EXCLUDED.stored",
                (article.id, article.url, Json(article.to_json()), time.time()))

    def load_article(self, article_id: str) -> Article | None:
        """The stored article, or None."""
        row = self._one("SELECT doc FROM records_articles WHERE id = %s", (article_id,))
        return Article.from_json(row["doc"]) if row else None

    def articles(self) -> Iterator[Article]:
        """Every stored article, by id."""
        for doc in self._walk("records_articles", "id", "doc", _ARTICLE_BATCH):
            yield Article.from_json(doc)

    def article_stored(self, article_id: str) -> float:
        """When the article was last saved (Unix time)."""
        row = self._one("SELECT stored FROM records_articles WHERE id = %s", (article_id,))
        if row is None:
            raise FileNotFoundError(f"article {article_id} is not stored")
        return float(row["stored"])

    def delete_article(self, article_id: str) -> None:
        """Delete a stored article and drop it from the video URLs it linked."""
        with self._transaction() as conn:
            conn.execute("UPDATE records_sources SET articles = array_remove(articles, %s)"
                         " WHERE articles @> ARRAY[%s]::text[]", (article_id, article_id))
            conn.execute("DELETE FROM records_articles WHERE id = %s", (article_id,))

    # -- sources (video URLs) --------------------------------------------------------------

    def source(self, url: str) -> SourceRecord | None:
        """The record of a video URL, or None when never seen."""
        row = self._one(f"SELECT {_SOURCE_COLUMNS} FROM records_sources WHERE url = %s",
                        (url,))
        return _source(row) if row else None

    def sources(self) -> Iterator[SourceRecord]:
        """Every video URL record (in the data dir's order: by URL key)."""
        with self._connection() as conn:
            rows = conn.execute(f"SELECT {_SOURCE_COLUMNS} FROM records_sources"
                                " ORDER BY url_key COLLATE \"C\", url COLLATE \"C\"").fetchall()
        for row in rows:
            yield _source(row)

    def update_source(self, url: str, **changes: Any) -> SourceRecord:
        """Read-modify-write a source record in one transaction; ``add_article`` appends a
        link."""
        with self._transaction() as conn:
            # The row lock covers an existing record; the advisory lock two first writers.
            conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                         (f"{_LOCK_PREFIX}source:{url}",))
            row = conn.execute(f"SELECT {_SOURCE_COLUMNS} FROM records_sources WHERE url = %s"
                               " FOR UPDATE", (url,)).fetchone()
            current = _source(row) if row else SourceRecord(url=url)
            article = changes.pop("add_article", None)
            if article and article not in current.articles:
                changes["articles"] = (*current.articles, article)
            updated = replace(current, updated=time.time(), **changes)
            conn.execute(
                f"INSERT INTO records_sources (url_key, {_SOURCE_COLUMNS})"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (url) DO UPDATE SET"
                " state = EXCLUDED.state, video_id = EXCLUDED.video_id,"
                " error = EXCLUDED.error, articles = EXCLUDED.articles,"
                " attempts = EXCLUDED.attempts, updated = EXCLUDED.updated,"
                " runner = EXCLUDED.runner",
                (url_key(url), updated.url, str(updated.state), updated.video_id,
                 updated.error, list(updated.articles), updated.attempts, updated.updated,
                 updated.runner))
            return updated

    # -- videos and transcripts ------------------------------------------------------------

    def video_ids(self) -> list[str]:
        """The ids of every stored video, sorted."""
        with self._connection() as conn:
            rows = conn.execute("SELECT video_id FROM records_videos"
                                " ORDER BY video_id COLLATE \"C\"").fetchall()
        return [str(row["video_id"]) for row in rows]

    def video_dir(self, video_id: str) -> Path:
        """The folder of one video's media (under the media root)."""
        return self.root / "videos" / video_id

    def video_meta(self, video_id: str) -> VideoMeta | None:
        """Stored facts of a video, or None."""
        row = self._one("SELECT video_id, sha256, size, container, urls, fetched"
                        " FROM records_videos WHERE video_id = %s", (video_id,))
        return _meta(row) if row else None

    def video_stored(self, video_id: str) -> float:
        """When the video's metadata was last written (Unix time)."""
        row = self._one("SELECT stored FROM records_videos WHERE video_id = %s", (video_id,))
        if row is None:
            raise FileNotFoundError(f"video {video_id} is not stored")
        return float(row["stored"])

    def video_file(self, video_id: str) -> Path | None:
        """The stored media file of a video, or None."""
        return stored_media(self.video_dir(video_id), self.video_meta(video_id))

    def video_url(self, video_id: str) -> str:
        """The URL a clip of this video links to: the first URL that served it."""
        meta = self.video_meta(video_id)
        return meta.urls[0] if meta and meta.urls else ""

    def adopt_video(self, temp: Path, sha256: str, size: int, container: str,
                    url: str) -> VideoMeta:
        """Move a finished download into place (or drop it when the bytes are known)."""
        video_id = video_id_for(sha256)
        with self.lock(f"video-{video_id}"):
            now = time.time()
            meta = place_download(temp, self.video_dir(video_id), self.video_meta(video_id),
                                  sha256=sha256, size=size, container=container, url=url,
                                  now=now, move=_move_into_place)
            with self._transaction() as conn:
                conn.execute(
                    "INSERT INTO records_videos (video_id, sha256, size, container, urls,"
                    " fetched, stored) VALUES (%s, %s, %s, %s, %s, %s, %s)"
                    " ON CONFLICT (video_id) DO UPDATE SET sha256 = EXCLUDED.sha256,"
                    " size = EXCLUDED.size, container = EXCLUDED.container,"
                    " urls = EXCLUDED.urls, fetched = EXCLUDED.fetched,"
                    " stored = EXCLUDED.stored",
                    (video_id, sha256, size, container, list(meta.urls), Jsonb(meta.fetched), now))
            return meta

    def save_transcript(self, transcript: Transcript) -> None:
        """Store a transcript: the system of record for the index."""
        with self._transaction() as conn:
            _put_transcript(conn, transcript)

    def load_transcript(self, video_id: str) -> Transcript | None:
        """The stored transcript of a video, or None."""
        row = self._one("SELECT doc FROM records_transcripts WHERE video_id = %s", (video_id,))
        return Transcript.from_json(row["doc"]) if row else None

    def has_transcript(self, video_id: str) -> bool:
        """Whether a transcript of the video is stored."""
        return self._one("SELECT 1 AS found FROM records_transcripts WHERE video_id = %s",
                         (video_id,)) is not None

    def transcripts(self) -> Iterator[Transcript]:
        """Every stored transcript, by video id."""
        for doc in self._walk("records_transcripts", "video_id", "doc", _TRANSCRIPT_BATCH):
            yield Transcript.from_json(doc)

    def linking_articles(self, video_id: str) -> list[Article]:
        """Every stored article that links a URL serving *video_id*, oldest first; those of
        a takedown in progress are left out."""
        hidden = self.hidden().article_ids
        with self._connection() as conn:
            rows = conn.execute(
                "SELECT a.doc FROM records_articles a WHERE a.id IN ("
                " SELECT unnest(s.articles) FROM records_sources s"
                " WHERE s.video_id = %(v)s OR s.url = ANY(COALESCE("
                "  (SELECT urls FROM records_videos WHERE video_id = %(v)s), '{}'::text[])))",
                {"v": video_id}).fetchall()
        articles = [Article.from_json(row["doc"]) for row in rows]
        return sorted((a for a in articles if a.id not in hidden),
                      key=lambda a: (a.published, a.id))

    def article_refs_for_video(self, video_id: str) -> list[ArticleRef]:
        """:meth:`linking_articles` as the index and the API show them, by URL."""
        return article_refs(self.linking_articles(video_id))

    def transcript_versions(self, video_id: str) -> list[TranscriptVersion]:
        """The transcripts a video had before its current one, oldest first."""
        with self._connection() as conn:
            rows = conn.execute("SELECT number, replaced, doc FROM records_transcript_versions"
                                " WHERE video_id = %s ORDER BY number", (video_id,)).fetchall()
        return [TranscriptVersion(int(row["number"]), float(row["replaced"]),
                                  Transcript.from_json(row["doc"])) for row in rows]

    def transcript_number(self, video_id: str) -> int:
        """The version number of the current transcript: 1 until a re-transcription."""
        row = self._one("SELECT count(*) AS n FROM records_transcript_versions"
                        " WHERE video_id = %s", (video_id,))
        return 1 + int(row["n"] if row else 0)

    def replace_transcript(self, transcript: Transcript) -> TranscriptVersion | None:
        """Make *transcript* the video's current one, keeping the one it replaces as a
        version, in one transaction."""
        video_id = transcript.video_id
        with self.video_files(video_id):
            # A takedown recorded or carried out while the new transcript was made wins:
            # writing now would bring the video back.
            if not self.standing(video_id):
                raise NotFoundError(f"video {video_id} was taken down meanwhile")
            with self._transaction() as conn:
                row = conn.execute("SELECT doc FROM records_transcripts WHERE video_id = %s"
                                   " FOR UPDATE", (video_id,)).fetchone()
                kept = None
                if row is not None:
                    found = conn.execute(
                        "SELECT count(*) AS n FROM records_transcript_versions"
                        " WHERE video_id = %s", (video_id,)).fetchone()
                    number = 1 + int(found["n"] if found else 0)
                    kept = TranscriptVersion(number, time.time(),
                                             Transcript.from_json(row["doc"]))
                    conn.execute(
                        "INSERT INTO records_transcript_versions (video_id, number, replaced,"
                        " doc) VALUES (%s, %s, %s, %s) ON CONFLICT (video_id, number)"
                        " DO UPDATE SET replaced = EXCLUDED.replaced, doc = EXCLUDED.doc",
                        (video_id, number, kept.replaced, Jsonb(row["doc"])))
                _put_transcript(conn, transcript)
            return kept

    @contextlib.contextmanager
    def video_files(self, video_id: str) -> Iterator[None]:
        """Held while a video's files change: its transcript replaced, a clip of it
        exported, its files deleted by a takedown."""
        with self.lock(f"files-{video_id}"):
            yield

    def standing(self, video_id: str) -> bool:
        """Whether the video is stored and no takedown of it is under way."""
        return self.video_meta(video_id) is not None and video_id not in self.hidden().video_ids

    def delete_video(self, video_id: str) -> None:
        """Delete a video's media, cut clips, exported clip files (those that still hold the
        bytes we wrote), then its rows: transcript, versions, exports, the records of the
        URLs that served it and its metadata, in one transaction."""
        with self.video_files(video_id):
            for export in self.exports(video_id):
                _delete_export(Path(export.path), export.sha256)
            self.drop_cut_clips(video_id)
            folder = self.video_dir(video_id)
            for child in sorted(folder.glob("*")):
                if child.is_dir():
                    shutil.rmtree(child, ignore_errors=True)
                else:
                    child.unlink(missing_ok=True)
            # The rows go last, together: they are how the files above were found.
            with self._transaction() as conn:
                conn.execute(
                    "DELETE FROM records_sources WHERE video_id = %(v)s OR url = ANY(COALESCE("
                    " (SELECT urls FROM records_videos WHERE video_id = %(v)s), '{}'::text[]))",
                    {"v": video_id})
                for table in ("records_transcripts", "records_transcript_versions",
                              "records_exports", "records_videos"):
                    conn.execute(f"DELETE FROM {table} WHERE video_id = %s", (video_id,))
        with contextlib.suppress(OSError):
            self.video_dir(video_id).rmdir()

    # -- index writes not yet committed ----------------------------------------------------

    def mark_pending(self, kind: str, item_id: str) -> None:
        """Note that the index is about to get *kind* ("article" or "video") *item_id*."""
        with self._transaction() as conn:
            conn.execute("INSERT INTO records_pending (kind, item_id) VALUES (%s, %s)"
                         " ON CONFLICT DO NOTHING", (kind, item_id))

    def clear_pending(self, kind: str, item_id: str) -> None:
        """The index has *kind* *item_id* now."""
        with self._transaction() as conn:
            conn.execute("DELETE FROM records_pending WHERE kind = %s AND item_id = %s",
                         (kind, item_id))

    def pending(self) -> list[tuple[str, str]]:
        """Index writes that were begun and never finished, as (kind, id)."""
        with self._connection() as conn:
            rows = conn.execute("SELECT kind, item_id FROM records_pending ORDER BY"
                                " kind COLLATE \"C\", item_id COLLATE \"C\"").fetchall()
        return [(str(row["kind"]), str(row["item_id"])) for row in rows]

    # -- exported clips --------------------------------------------------------------------

    def record_export(self, video_id: str, path: Path, sha256: str) -> None:
        """Note a clip file exported from *video_id*, so a takedown can remove it."""
        with self._transaction() as conn:
            conn.execute(
                "INSERT INTO records_exports (video_id, path, sha256, created)"
                " VALUES (%s, %s, %s, %s) ON CONFLICT (video_id, path) DO UPDATE SET"
                " sha256 = EXCLUDED.sha256, created = EXCLUDED.created",
                (video_id, str(path.resolve()), sha256, time.time()))

    def exports(self, video_id: str) -> list[ExportRecord]:
        """Clip files exported from *video_id*, oldest first."""
        with self._connection() as conn:
            rows = conn.execute("SELECT path, sha256, created FROM records_exports"
                                " WHERE video_id = %s ORDER BY created, path",
                                (video_id,)).fetchall()
        return [ExportRecord(str(row["path"]), str(row["sha256"]), float(row["created"]))
                for row in rows]

    def clips_dir(self, video_id: str) -> Path:
        """Where the HTTP API keeps the clips it cut from a video (a cache)."""
        return self.root / "clips" / video_id

    def drop_cut_clips(self, video_id: str) -> None:
        """Empty the HTTP API's cache of clips cut from *video_id*."""
        shutil.rmtree(self.clips_dir(video_id), ignore_errors=True)

    # -- takedowns -------------------------------------------------------------------------

    def record_removal(self, removal: Removal) -> None:
        """Store a takedown record: the intent before any deletion, the completion after.
        One row: it is pending (its items hidden) until its completion is written."""
        with self._transaction() as conn:
            conn.execute(
                "INSERT INTO records_removals (id, requested, completed, doc)"
                " VALUES (%s, %s, %s, %s) ON CONFLICT (id) DO UPDATE SET"
                " requested = EXCLUDED.requested, completed = EXCLUDED.completed,"
                " doc = EXCLUDED.doc",
                (removal.id, removal.requested, removal.completed, Json(asdict(removal))))

    def removals(self) -> list[Removal]:
        """Every takedown record, the audit log: oldest first."""
        return self._removals("")

    def pending_removals(self) -> list[Removal]:
        """Takedowns recorded and not completed (their remover may have crashed)."""
        return self._removals(" WHERE completed IS NULL")

    def hidden(self) -> Hidden:
        """What searches and listings must leave out: the items of unfinished takedowns."""
        return Hidden.of(self.pending_removals())

    # -- an archive moved in (briefing transfer) -------------------------------------------
    # Each writes one record as the data dir held it, its times included, and only when the
    # row differs: True when it wrote.  So a transfer run again (after an interruption, or
    # over a finished one) rewrites nothing it already copied, and says what it changed.
    # A write also marks what the search index must learn of it as pending (in the same
    # transaction, so an interruption never loses the mark): the article itself, and every
    # video whose clips name the articles it links.

    def import_article(self, article: Article, stored: float) -> bool:
        """Store *article* as last saved at *stored*, unless it is so already."""
        with self._transaction() as conn:
            wrote = conn.execute(
                "INSERT INTO records_articles AS t (id, url, doc, stored)"
                " VALUES (%s, %s, %s, %s) ON CONFLICT (id) DO UPDATE SET url = EXCLUDED.url,"
                " doc = EXCLUDED.doc, stored = EXCLUDED.stored"
                " WHERE (t.url, t.doc::text, t.stored)"
                " IS DISTINCT FROM (EXCLUDED.url, EXCLUDED.doc::text, EXCLUDED.stored)",
                (article.id, article.url, Json(article.to_json()), stored)).rowcount > 0
            if wrote:
                conn.execute(_MARK, ("article", article.id))
                _mark_linking(conn, [article.id])
            return wrote

    def import_source(self, record: SourceRecord) -> bool:
        """Store a video URL's record as it is (its ``updated`` time included)."""
        with self._transaction() as conn:
            wrote = conn.execute(
                f"INSERT INTO records_sources AS t (url_key, {_SOURCE_COLUMNS})"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (url) DO UPDATE SET"
                " state = EXCLUDED.state, video_id = EXCLUDED.video_id,"
                " error = EXCLUDED.error, articles = EXCLUDED.articles,"
                " attempts = EXCLUDED.attempts, updated = EXCLUDED.updated,"
                " runner = EXCLUDED.runner WHERE (t.state, t.video_id, t.error, t.articles,"
                " t.attempts, t.updated, t.runner) IS DISTINCT FROM (EXCLUDED.state,"
                " EXCLUDED.video_id, EXCLUDED.error, EXCLUDED.articles, EXCLUDED.attempts,"
                " EXCLUDED.updated, EXCLUDED.runner)",
                (url_key(record.url), record.url, str(record.state), record.video_id,
                 record.error, list(record.articles), record.attempts, record.updated,
                 record.runner)).rowcount > 0
            if wrote:
                conn.execute(
                    "INSERT INTO records_pending (kind, item_id)"
                    " SELECT 'video', video_id FROM records_videos WHERE urls @> ARRAY[%s]"
                    " UNION SELECT 'video', %s WHERE %s <> '' ON CONFLICT DO NOTHING",
                    (record.url, record.video_id, record.video_id))
            return wrote

    def import_video(self, meta: VideoMeta, stored: float) -> bool:
        """Store a video's metadata as written at *stored*, without touching its media
        file (which stays where the media root has it)."""
        with self._transaction() as conn:
            wrote = conn.execute(
                "INSERT INTO records_videos AS t (video_id, sha256, size, container, urls,"
                " fetched, stored) VALUES (%s, %s, %s, %s, %s, %s, %s)"
                " ON CONFLICT (video_id) DO UPDATE SET sha256 = EXCLUDED.sha256,"
                " size = EXCLUDED.size, container = EXCLUDED.container, urls = EXCLUDED.urls,"
                " fetched = EXCLUDED.fetched, stored = EXCLUDED.stored"
                " WHERE (t.sha256, t.size, t.container, t.urls, t.fetched, t.stored)"
                " IS DISTINCT FROM (EXCLUDED.sha256, EXCLUDED.size, EXCLUDED.container,"
                " EXCLUDED.urls, EXCLUDED.fetched, EXCLUDED.stored)",
                (meta.video_id, meta.sha256, meta.size, meta.container, list(meta.urls),
                 Jsonb(meta.fetched), stored)).rowcount > 0
            if wrote:
                conn.execute(_MARK, ("video", meta.video_id))
            return wrote

    def import_transcript(self, transcript: Transcript, saved: float,
                          versions: list[TranscriptVersion]) -> bool:
        """Store a video's current transcript (saved at *saved*) and the versions it
        replaced, numbers and times kept, in one transaction."""
        wrote = False
        with self._transaction() as conn:
            for version in versions:
                found = conn.execute(
                    "INSERT INTO records_transcript_versions AS t (video_id, number, replaced,"
                    " doc) VALUES (%s, %s, %s, %s) ON CONFLICT (video_id, number) DO UPDATE"
                    " SET replaced = EXCLUDED.replaced, doc = EXCLUDED.doc"
                    " WHERE (t.replaced, t.doc) IS DISTINCT FROM (EXCLUDED.replaced,"
                    " EXCLUDED.doc)",
                    (transcript.video_id, version.number, version.replaced,
                     Jsonb(version.transcript.to_json())))
                wrote = found.rowcount > 0 or wrote
            found = conn.execute(
                "INSERT INTO records_transcripts AS t (video_id, doc, saved)"
                " VALUES (%s, %s, %s) ON CONFLICT (video_id) DO UPDATE SET doc = EXCLUDED.doc,"
                " saved = EXCLUDED.saved"
                " WHERE (t.doc, t.saved) IS DISTINCT FROM (EXCLUDED.doc, EXCLUDED.saved)",
                (transcript.video_id, Jsonb(transcript.to_json()), saved))
            if found.rowcount > 0:
                conn.execute(_MARK, ("video", transcript.video_id))
            return found.rowcount > 0 or wrote

    def import_export(self, video_id: str, record: ExportRecord) -> bool:
        """Note an exported clip file as recorded (its path and time kept)."""
        with self._transaction() as conn:
            return conn.execute(
                "INSERT INTO records_exports AS t (video_id, path, sha256, created)"
                " VALUES (%s, %s, %s, %s) ON CONFLICT (video_id, path) DO UPDATE SET"
                " sha256 = EXCLUDED.sha256, created = EXCLUDED.created WHERE (t.sha256,"
                " t.created) IS DISTINCT FROM (EXCLUDED.sha256, EXCLUDED.created)",
                (video_id, record.path, record.sha256, record.created)).rowcount > 0

    def import_removal(self, removal: Removal) -> bool:
        """Store a takedown record as it is: a pending one keeps its items hidden."""
        with self._transaction() as conn:
            wrote = conn.execute(
                "INSERT INTO records_removals AS t (id, requested, completed, doc)"
                " VALUES (%s, %s, %s, %s) ON CONFLICT (id) DO UPDATE SET"
                " requested = EXCLUDED.requested, completed = EXCLUDED.completed,"
                " doc = EXCLUDED.doc WHERE (t.requested, t.completed, t.doc::text)"
                " IS DISTINCT FROM (EXCLUDED.requested, EXCLUDED.completed,"
                " EXCLUDED.doc::text)",
                (removal.id, removal.requested, removal.completed,
                 Json(asdict(removal)))).rowcount > 0
            if wrote:
                # Whether its articles are hidden changes the clips naming them.
                for video_id in removal.video_ids:
                    conn.execute(_MARK, ("video", video_id))
                _mark_linking(conn, list(removal.article_ids))
            return wrote

    # -- helpers ---------------------------------------------------------------------------

    @contextlib.contextmanager
    def _connection(self) -> Iterator[Conn]:
        if self._unchecked:
            require_current(self.url)
            self._unchecked = False
        with connection(self.url) as conn:
            yield conn

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[Conn]:
        with self._connection() as conn, conn.transaction():
            yield conn

    def _removals(self, where: str) -> list[Removal]:
        with self._connection() as conn:
            rows = conn.execute(f"SELECT doc FROM records_removals{where}"
                                " ORDER BY requested, id COLLATE \"C\"").fetchall()
        return [Removal.from_json(row["doc"]) for row in rows]

    def _one(self, query: str, params: tuple[Any, ...]) -> dict[str, Any] | None:
        with self._connection() as conn:
            row: dict[str, Any] | None = conn.execute(query, params).fetchone()
            return row

    def _walk(self, table: str, key: str, column: str, batch: int) -> Iterator[Any]:
        # Keyset pages, each its own short query: the caller may take long over each item.
        # The keys are hex ids, ordered alike by every collation: the primary key's index
        # serves the order.
        last = ""
        while True:
            with self._connection() as conn:
                rows = conn.execute(
                    f"SELECT {key} AS k, {column} AS v FROM {table}"
                    f" WHERE {key} > %s ORDER BY {key} LIMIT %s", (last, batch)).fetchall()
            if not rows:
                return
            for row in rows:
                yield row["v"]
            last = str(rows[-1]["k"])


_MARK = ("INSERT INTO records_pending (kind, item_id) VALUES (%s, %s)"
         " ON CONFLICT DO NOTHING")


def _mark_linking(conn: Conn, article_ids: list[str]) -> None:
    """Mark pending every video a URL linked by one of *article_ids* served."""
    conn.execute(
        "INSERT INTO records_pending (kind, item_id)"
        " SELECT 'video', s.video_id FROM records_sources s"
        " WHERE s.articles && %(a)s::text[] AND s.video_id <> ''"
        " UNION SELECT 'video', v.video_id FROM records_videos v JOIN records_sources s"
        " ON s.url = ANY(v.urls) WHERE s.articles && %(a)s::text[]"
        " ON CONFLICT DO NOTHING", {"a": article_ids})


def _source(row: dict[str, Any]) -> SourceRecord:
    return SourceRecord(url=row["url"], state=VideoState(row["state"]),
                        video_id=row["video_id"], error=row["error"],
                        articles=tuple(row["articles"]), attempts=int(row["attempts"]),
                        updated=float(row["updated"]), runner=row["runner"])


def _meta(row: dict[str, Any]) -> VideoMeta:
    return VideoMeta(video_id=row["video_id"], sha256=row["sha256"], size=int(row["size"]),
                     container=row["container"], urls=tuple(row["urls"]),
                     fetched={str(k): float(v) for k, v in row["fetched"].items()})


def _put_transcript(conn: Conn, transcript: Transcript) -> None:
    conn.execute(
        "INSERT INTO records_transcripts (video_id, doc, saved) VALUES (%s, %s, %s)"
        " ON CONFLICT (video_id) DO UPDATE SET doc = EXCLUDED.doc, saved = EXCLUDED.saved",
        (transcript.video_id, Jsonb(transcript.to_json()), time.time()))


def _delete_export(target: Path, sha256: str) -> None:
    # Only a file that still holds the bytes we wrote: the user may have replaced it since.
    with contextlib.suppress(OSError):
        if target.is_file() and file_sha256(target) == sha256:
            for extra in (".srt", ".vtt"):
                target.with_suffix(extra).unlink(missing_ok=True)
            target.with_suffix(".json").unlink(missing_ok=True)
            target.unlink()


def _move_into_place(temp: Path, final: Path) -> None:
    """Rename *temp* to *final*; from another file system (BRIEFING_SCRATCH_DIR), copy it
    beside *final* under a temporary name first, so *final* only ever holds whole files."""
    try:
        os.replace(temp, final)
        return
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
    with replacing(final) as out, open(temp, "rb") as src:
        shutil.copyfileobj(src, out, 1 << 20)
    temp.unlink(missing_ok=True)


# -- advisory locks ------------------------------------------------------------------------

@contextlib.contextmanager
def _advisory_lock(url: str, name: str) -> Iterator[None]:
    pool = lock_pool_for(url)
    try:
        conn = pool.getconn()
    except PoolTimeout as exc:
        raise unavailable(url, exc) from exc
    try:
        conn.execute("SELECT pg_advisory_lock(hashtextextended(%s, 0))", (name,))
    except psycopg.OperationalError as exc:
        pool.putconn(conn)
        raise unavailable(url, exc) from exc
    try:
        yield
    finally:
        try:
            conn.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", (name,))
        except psycopg.Error:
            conn.close()  # a closed session holds no locks
        pool.putconn(conn)
