"""Moving an archive: an embedded data dir's records, jobs and watches copied into PostgreSQL
(``briefing transfer``), and its search index built there.

Resumable without any bookkeeping of its own: every item is copied by an import method of
the target store that keeps the item as it was (ids, times, secrets, hit ids) and writes only
when the stored row differs, so a run after an interruption skips what is in already, and a
run over a finished transfer changes nothing and says so.  What the search index must learn
is marked pending in the database in the same transaction as the record it follows
(:meth:`worker.storage.pg.records.PgRecords.import_article` and friends); the index step
writes each pending item and clears its mark, one item per transaction, so an interruption
there too leaves only what is still to do.

Order matters for what a half-done transfer shows: takedown records go first, so an item
hidden in the data dir is never visible in the database, not even for a moment.

Media files stay where they are (the data dir becomes the fleet's media folder) unless a
media folder of its own is given: then each video file is copied there under a temporary
name, its sha256 checked against the record, and renamed into place.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

from worker.errors import BriefingError
from worker.storage.datadir import DataDir
from worker.storage.files import copy_hashed, replacing

if TYPE_CHECKING:
    from indexer.backend import SearchBackend
    from worker.storage.jobs import JobStore
    from worker.storage.pg.jobs import PgJobStore
    from worker.storage.pg.records import PgRecords
    from worker.storage.pg.watches import PgWatchStore
    from worker.storage.watches import WatchStore

__all__ = ["Kind", "Tally", "TransferError", "TransferReport", "transfer"]


class TransferError(BriefingError):
    """The archive cannot be copied as it is (a media file differs from its record)."""


class Kind(StrEnum):
    """What a transfer copies, in the order it copies them."""

    REMOVALS = "removals"
    ARTICLES = "articles"
    SOURCES = "sources"
    VIDEOS = "videos"
    MEDIA = "media"
    TRANSCRIPTS = "transcripts"
    EXPORTS = "exports"
    JOBS = "jobs"
    WATCHES = "watches"
    INDEX = "index"


@dataclass(frozen=True)
class Tally:
    """Of one kind: how many items were written, and how many were there already."""

    kind: Kind
    copied: int = 0
    unchanged: int = 0

    @property
    def total(self) -> int:
        """Items of this kind seen."""
        return self.copied + self.unchanged


@dataclass(frozen=True)
class TransferReport:
    """What a transfer did, kind by kind (``index``: items written to the search index)."""

    tallies: tuple[Tally, ...]

    @property
    def changed(self) -> bool:
        """Whether anything was written."""
        return any(t.copied for t in self.tallies)

    def to_json(self) -> dict[str, dict[str, int]]:
        """The counts as ``--json`` prints them."""
        return {str(t.kind): {"copied": t.copied, "unchanged": t.unchanged, "total": t.total}
                for t in self.tallies}


# Called once per item: its kind, its id, and whether it was written (False: there already).
Progress = Callable[[Kind, str, bool], None]


@dataclass
class _Counter:
    copied: int = 0
    unchanged: int = 0


def paired_stores(source: DataDir, target: PgRecords,
                  ) -> tuple[tuple[JobStore, PgJobStore] | None,
                             tuple[WatchStore, PgWatchStore] | None]:
    """*source*'s job and watch stores, each beside its twin in *target*'s database (what
    :func:`transfer` takes as *jobs* and *watches*); None for a store the data dir does not
    have: opening an SQLite store creates its file."""
    from worker.storage.jobs import JobStore
    from worker.storage.pg.jobs import PgJobStore
    from worker.storage.pg.runs import PgRuns
    from worker.storage.pg.watches import PgWatchStore
    from worker.storage.watches import WatchStore

    url = target.url
    jobs = ((JobStore(source.jobs_db), PgJobStore(url, PgRuns(url, target.tmp)))
            if source.jobs_db.is_file() else None)
    watches = ((WatchStore(source.watches_db), PgWatchStore(url))
               if source.watches_db.is_file() else None)
    return jobs, watches


def transfer(source: DataDir, target: PgRecords, index: SearchBackend, *,
             jobs: tuple[JobStore, PgJobStore] | None = None,
             watches: tuple[WatchStore, PgWatchStore] | None = None,
             progress: Progress | None = None) -> TransferReport:
    """Copy *source*'s records into *target* (jobs and watches from and to the stores
    paired in *jobs* and *watches*, when the data dir has them), then write what is
    pending to *index*; returns the counts.

    Media is copied only when *target*'s media root is not *source*'s own folder.  Safe to
    run again at any point: see the module's docstring.  The data dir should be idle
    meanwhile (no runner writing it): an item changed during the run is copied by the next.
    """
    counts: dict[Kind, _Counter] = {kind: _Counter() for kind in Kind}

    def done(kind: Kind, item: str, wrote: bool) -> None:
        counter = counts[kind]
        if wrote:
            counter.copied += 1
        else:
            counter.unchanged += 1
        if progress is not None:
            progress(kind, item, wrote)

    for removal in source.removals():
        done(Kind.REMOVALS, removal.id, target.import_removal(removal))
    for article in source.articles():
        done(Kind.ARTICLES, article.id,
             target.import_article(article, source.article_stored(article.id)))
    for record in source.sources():
        done(Kind.SOURCES, record.url, target.import_source(record))
    copy_media = target.root.resolve() != source.root.resolve()
    for video_id in source.video_ids():
        meta = source.video_meta(video_id)
        if meta is None:  # deleted while we walked
            continue
        if copy_media:
            found = source.video_file(video_id)
            if found is not None:
                done(Kind.MEDIA, video_id,
                     _copy_media(found, target.video_dir(video_id) / found.name,
                                 meta.sha256, meta.size))
        done(Kind.VIDEOS, video_id, target.import_video(meta, source.video_stored(video_id)))
    for transcript in source.transcripts():
        video_id = transcript.video_id
        done(Kind.TRANSCRIPTS, video_id,
             target.import_transcript(transcript, source.transcript_saved(video_id),
                                      source.transcript_versions(video_id)))
    for video_id in source.video_ids():
        for export in source.exports(video_id):
            done(Kind.EXPORTS, export.path, target.import_export(video_id, export))
    if jobs is not None:
        for stored in jobs[0].stored_jobs():
            done(Kind.JOBS, stored.job.id, jobs[1].import_job(stored))
    if watches is not None:
        for stored_watch in watches[0].stored_watches():
            done(Kind.WATCHES, stored_watch.watch.name, watches[1].import_watch(stored_watch))
    _write_index(target, index, done)
    index.after_bulk_load()
    return TransferReport(tuple(Tally(kind, c.copied, c.unchanged)
                                for kind, c in counts.items()))


def _write_index(target: PgRecords, index: SearchBackend,
                 done: Callable[[Kind, str, bool], None]) -> None:
    """Write every item marked pending to the index, clearing each mark once its own
    transaction is committed (an item gone meanwhile just loses its mark)."""
    for kind, item_id in target.pending():
        wrote = False
        if kind == "article":
            article = target.load_article(item_id)
            if article is not None:
                index.add_article(article)
                wrote = True
        else:
            transcript = target.load_transcript(item_id)
            if transcript is not None:  # a video not transcribed has nothing to index
                index.add_transcript(transcript, target.video_url(item_id),
                                     target.article_refs_for_video(item_id))
                wrote = True
        target.clear_pending(kind, item_id)
        if wrote:
            done(Kind.INDEX, f"{kind} {item_id}", True)


def _copy_media(found: Path, final: Path, sha256: str, size: int) -> bool:
    """Copy a video file to *final* unless a whole copy is there (only whole, checked
    copies are ever renamed to that name, so its size tells); True when it copied."""
    if final.is_file() and final.stat().st_size == size:
        return False
    with replacing(final) as out:
        got = copy_hashed([found], out)
        if got != sha256:
            raise TransferError(f"{found} does not hold the bytes its record names "
                                f"(sha256 {got}, recorded {sha256})")
    return True
