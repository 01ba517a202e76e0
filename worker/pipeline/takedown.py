"""Takedowns: removing an article or a video, and every trace of it, crash-safely.

1. The removal is planned and **recorded first** (:class:`~worker.storage.datadir.Removal`,
   with the reason: the audit record).  From that moment searches and listings leave its
   items out (``DataDir.hidden``), whatever happens next.
2. The watches' hits of its items go with their webhooks, sent or not (none is sent from
   here on: the senders skip hidden items meanwhile); the jobs that name them are
   forgotten; the files go: media, transcript and its
   versions, cut and exported clips, the records of the URLs that served the video; the
   article's record and its links.
3. Under the index lock its index documents go, and the videos it leaves to other articles
   are written again with the articles that still link them (through
   :func:`worker.pipeline.steps.index_video`, the one index write); then the segments that
   still hold the deleted documents are rewritten (``SearchIndex.purge``).
4. The hits are withdrawn once more (an index step that read a transcript before it went
   may have recorded one meanwhile), and the kept videos are matched against the watches
   again: their hits no longer name the removed article (:func:`watch_step`).
5. The record is marked completed.

Every step is idempotent, so a removal interrupted anywhere (the process killed, the disk
full) is simply run again: :func:`finish_removals` does so whenever a runner starts.
"""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import replace

from indexer.errors import BriefingError
from worker.errors import NotFoundError
from worker.pipeline.context import Context
from worker.pipeline.locks import INDEX_LOCK
from worker.pipeline.steps import index_video, tidy_index, watch_step
from worker.storage.datadir import Removal, is_item_id

__all__ = ["finish_removals", "plan_removal", "take_down"]

log = logging.getLogger(__name__)


def _new_id() -> str:
    return f"{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{secrets.token_hex(4)}"


def _covering(removals: list[Removal], kind: str, target: str) -> Removal | None:
    """The last of *removals* that removes *kind* *target*, if any."""
    found = [r for r in removals
             if target in (r.video_ids if kind == "video" else r.article_ids)]
    return found[-1] if found else None


def _not_found(ctx: Context, kind: str, target: str) -> NotFoundError:
    earlier = _covering(ctx.data.removals(), kind, target)
    if earlier is not None:
        return NotFoundError(f"{kind} {target} was taken down already (record {earlier.id})")
    return NotFoundError(f"no stored {kind} {target}")


def plan_removal(ctx: Context, kind: str, target: str, reason: str, by: str) -> Removal:
    """What removing article or video *target* takes away; raises NotFoundError.

    An article takes with it each video it links that no other article (not itself being
    removed) links; a video shared with another article is kept and re-indexed without it.
    """
    data = ctx.data
    hidden = data.hidden()
    if not is_item_id(target):  # it names folders that are about to be deleted
        raise NotFoundError(f"no stored {kind} {target!r}: an id is 16 hex digits")
    if kind == "video":
        if target in hidden.video_ids or data.video_meta(target) is None:
            raise _not_found(ctx, kind, target)
        return Removal(_new_id(), kind, target, reason, time.time(), (), (target,), (), by)
    if kind != "article":
        raise ValueError(f"unknown kind {kind!r}")
    article = data.load_article(target) if target not in hidden.article_ids else None
    if article is None:
        raise _not_found(ctx, kind, target)
    video_ids: list[str] = []
    for url in article.video_urls:
        record = data.source(url)
        if record is not None and record.video_id and record.video_id not in video_ids:
            video_ids.append(record.video_id)
    gone: list[str] = []
    kept: list[str] = []
    for video_id in video_ids:
        if video_id in hidden.video_ids:
            continue
        others = [a for a in data.linking_articles(video_id)
                  if a.id != target and a.id not in hidden.article_ids]
        (kept if others else gone).append(video_id)
    return Removal(_new_id(), kind, target, reason, time.time(), (target,), tuple(gone),
                   tuple(kept), by, article_urls=(article.url,))


def _carry_out(ctx: Context, removal: Removal) -> Removal:
    data = ctx.data
    watches = ctx.watch_store()
    watches.withdraw(removal.video_ids, removal.article_ids)
    # The job store names the article (its title and URL) and the videos' URLs.
    ctx.jobs.forget(removal.article_ids, removal.video_ids)
    for video_id in removal.video_ids:
        data.delete_video(video_id)
    for article_id in removal.article_ids:
        data.delete_article(article_id)
    for video_id in removal.kept_videos:
        data.drop_cut_clips(video_id)  # their sidecars name the removed article
    with ctx.locks.hold(INDEX_LOCK, wait=ctx.waits.index), ctx.index.batch():
        for video_id in removal.video_ids:
            ctx.index.remove_video(video_id)
        for article_id in removal.article_ids:
            ctx.index.remove_article(article_id)
        for video_id in removal.kept_videos:
            if data.has_transcript(video_id):
                index_video(ctx, video_id)
    # Deleted documents keep their text in the segment files until rewritten; the kept
    # videos' old documents name the removed article.  Done before the record says
    # completed, so a crash here is finished by the next runner too.
    ctx.index.purge(removal.video_ids + removal.kept_videos, removal.article_ids)
    watches.withdraw(removal.video_ids, removal.article_ids)
    for video_id in removal.kept_videos:
        if data.has_transcript(video_id):
            # Their webhooks still pending were handed on when recorded; nothing new here.
            watch_step(ctx, video_id=video_id)
    done = replace(removal, completed=time.time())
    data.record_removal(done)
    tidy_index(ctx.index)
    return done


def take_down(ctx: Context, kind: str, target: str, reason: str, by: str) -> Removal:
    """Remove article or video *target* and every trace of it; returns the audit record.

    When an earlier takedown of *target* was recorded and stopped half way (its remover
    failed: the broker went down, the disk filled), asking again finishes that one and
    returns its record, rather than answering that nothing is stored.
    """
    if is_item_id(target):
        earlier = _covering(ctx.data.pending_removals(), kind, target)
        if earlier is not None:
            log.info("finishing the takedown %s of %s %s", earlier.id, kind, target)
            return _carry_out(ctx, earlier)
    removal = plan_removal(ctx, kind, target, reason, by)
    ctx.data.record_removal(removal)  # first: from here on, nothing shows it
    log.info("taking down %s %s (%s): %d video(s), %d kept", kind, target, reason,
             len(removal.video_ids), len(removal.kept_videos))
    return _carry_out(ctx, removal)


def finish_removals(ctx: Context) -> int:
    """Complete the takedowns an earlier run recorded and did not finish; how many.

    A removal that fails again stays pending (its items stay hidden) and is logged.
    """
    finished = 0
    for removal in ctx.data.pending_removals():
        try:
            _carry_out(ctx, removal)
        except (OSError, BriefingError) as exc:
            log.warning("could not finish the takedown %s: %s", removal.id, exc)
            continue
        finished += 1
    if finished:
        log.info("finished %d takedown(s) an earlier run left unfinished", finished)
    return finished
