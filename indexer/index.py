"""The search index: one Whoosh index of article and transcript-segment documents.

The index lives in a generation directory under its root; a ``CURRENT`` file names the live
generation.  A rebuild fills a fresh generation and swaps ``CURRENT`` with an atomic rename,
so readers see either the old index or the new one, never a half-built one.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

from whoosh import index as windex
from whoosh import query as wq
from whoosh.collectors import FilterCollector, TopCollector
from whoosh.index import LockError
from whoosh.searching import Searcher
from whoosh.writing import IndexWriter

from indexer.clips import (
    clip_for_segment,
    highlight_fragment,
    merge_overlapping,
    sound_alike_clip,
)
from indexer.domain import (
    Article,
    ArticleHit,
    ArticleRef,
    Clip,
    SearchPage,
    SearchResult,
    Transcript,
    Word,
)
from indexer.errors import BrokenIndexError, QueryError, SearchIndexError
from indexer.phonetic import sounds_text
from indexer.query import (
    SEARCH_FIELDS,
    SOUNDS_FIELD,
    ParsedQuery,
    expand,
    parse_query,
    sound_alike_query,
    to_whoosh,
)
from indexer.schema import KIND_ARTICLE, KIND_SEGMENT, build_schema
from indexer.vocabulary import Vocabulary, expand_multiterms

_CURRENT = "CURRENT"
T = TypeVar("T")
WRITE_LOCK_TIMEOUT = 120.0
# Filter document sets kept per searcher (one per distinct filter combination).
DOCSET_CACHE = 32
# Merging.  Whoosh merges by re-adding every posting in Python, so a merge inside a commit
# (its default policy, MERGE_SMALL) stalls that commit, and every writer waiting for the lock,
# for seconds.  Our commits never merge: each adds one small segment, and `compact()` folds
# segments together aside, holding the write lock only to swap the merged segment in.
# Segments are tiered by size (MERGE_TIER_DOCS, then MERGE_FAN times more per tier).
MERGE_TIER_DOCS = 250
MERGE_FAN = 8
# Times to re-read the table of contents that a concurrent commit replaced under us.
TOC_RETRIES = 5
# Segments past which a commit runs the merges itself (compact() keeps an index of 100,000
# documents at about 8; a writer that never calls it reaches this).
MERGE_BACKSTOP = 4 * MERGE_FAN
# The side directory, inside the generation, where a merge writes its segment.
MERGE_DIR_PREFIX = "merging-"
# Memory for the writer's posting pool before it spills sorted runs to disk (Whoosh: 128).
BULK_LIMIT_MB = 256


def _read_current(root: Path) -> str | None:
    try:
        name = (root / _CURRENT).read_text().strip()
    except FileNotFoundError:
        return None
    return name or None


def _write_current(root: Path, name: str) -> None:
    tmp = root / f".{_CURRENT}.{os.getpid()}.tmp"
    tmp.write_text(name + "\n")
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, root / _CURRENT)


def _new_generation(root: Path) -> Path:
    stamp = time.strftime("%Y%m%d%H%M%S")
    path = root / f"gen-{stamp}-{os.getpid()}-{time.monotonic_ns() % 1_000_000}"
    path.mkdir(parents=True)
    windex.create_in(str(path), build_schema())
    return path


def _reading_toc(read: Callable[[], T]) -> T:
    """*read* (something that reads the index's table of contents), tried again when a
    concurrent commit deleted the TOC file it had just found (Whoosh lists, then opens)."""
    for attempt in range(TOC_RETRIES):
        try:
            return read()
        except FileNotFoundError:
            if attempt == TOC_RETRIES - 1:
                raise
            time.sleep(0.01 * (attempt + 1))
    raise AssertionError("unreachable")


def merge_plan(segments: Sequence[Any]) -> list[Any]:
    """The segments to fold into one next, or [] when the index is tidy enough.

    Tiers by size, each MERGE_FAN times the last (a video's commit is tier 0): once MERGE_FAN
    segments share a tier, they are merged into one of the next tier.  An index of N documents
    thus keeps at most about MERGE_FAN segments per tier (a few dozen at 100,000), and each
    document is copied about log(N) / log(MERGE_FAN) times in its life.
    """
    tiers: dict[int, list[Any]] = {}
    for seg in segments:
        live = max(1, seg.doc_count())
        tier = 0
        while live > MERGE_TIER_DOCS * MERGE_FAN ** tier:
            tier += 1
        tiers.setdefault(tier, []).append(seg)
    for tier in sorted(tiers):
        if len(tiers[tier]) >= MERGE_FAN:
            return sorted(tiers[tier], key=lambda seg: seg.doc_count())[:MERGE_FAN]
    # Segments that lost most of their documents to re-indexing are worth rewriting alone.
    sparse = [seg for seg in segments if seg.doc_count_all() >= MERGE_TIER_DOCS
              and seg.deleted_count() > seg.doc_count_all() // 2]
    return sparse[:1]


class _EveryMatch(TopCollector):  # type: ignore[misc]
    """Whoosh's top-N collector that also keeps every matching document number.

    Without block-quality skipping it sees every match anyway; keeping them spares the
    sound-alike pass an ``AndNot`` of the exact query, which Whoosh would re-check (phrases
    and all) at every sound-alike candidate.
    """

    def prepare(self, top_searcher: Any, q: Any, context: Any) -> None:
        super().prepare(top_searcher, q, context)
        self.matched: set[int] = set()

    def _collect(self, global_docnum: int, score: float) -> Any:
        self.matched.add(global_docnum)
        return super()._collect(global_docnum, score)


class _StaleMerge(Exception):
    """The segments merged aside changed (a video was re-indexed) before the swap."""


def segment_doc_id(video_id: str, segment_id: int) -> str:
    """The unique id of one transcript segment's document."""
    return f"s:{video_id}:{segment_id}"


class SearchIndex:
    """Writes and searches the index under *root* (created on first use)."""

    def __init__(self, root: Path, *, _generation: Path | None = None) -> None:
        self.root = root
        self._pinned = _generation
        self._batch: IndexWriter | None = None
        self._searcher: Searcher | None = None
        # Document sets of filters (kinds, sources, dates) for the current searcher: a Whoosh
        # filter query is otherwise expanded over every matching document on each search
        # (100,000 segments for "clips only": most of a search's time).
        self._docsets: OrderedDict[str, set[int]] = OrderedDict()
        # The terms of the sound-alike fields, read on the first such search of a searcher.
        self._vocabulary: Vocabulary | None = None
        self._opened_gen: str | None = None
        self._ix = self._open()

    # -- opening ---------------------------------------------------------------------------

    def _generation_path(self) -> Path:
        if self._pinned is not None:
            return self._pinned
        self.root.mkdir(parents=True, exist_ok=True)
        name = _read_current(self.root)
        if name is None or not (self.root / name).is_dir():
            path = _new_generation(self.root)
            _write_current(self.root, path.name)
            return path
        return self.root / name

    def _open(self) -> Any:
        path = self._generation_path()
        try:
            ix = windex.open_dir(str(path))
            # Opening a reader opens every segment's files: a missing or truncated one
            # shows up here rather than in the middle of a search.
            with ix.reader() as reader:
                reader.doc_count()
        except Exception as exc:  # Whoosh raises many types for a damaged directory
            raise BrokenIndexError(
                f"the search index at {path} cannot be opened ({exc}); run `briefing reindex`"
            ) from exc
        self._opened_gen = path.name
        return ix

    def _fresh(self) -> None:
        """Reopen when a rebuild swapped generations since we opened."""
        if self._pinned is None and _read_current(self.root) != self._opened_gen:
            self.close()
            self._ix = self._open()

    def close(self) -> None:
        """Release the searcher and the index files."""
        if self._searcher is not None:
            self._searcher.close()
            self._searcher = None
        self._ix.close()

    # -- writing ---------------------------------------------------------------------------

    def _writer(self) -> IndexWriter:
        # A rebuild (pinned to its fresh generation) writes everything in one writer: more
        # pool memory means fewer sorted runs spilled to disk and merged back.
        limitmb = BULK_LIMIT_MB if self._pinned is not None else 128
        try:
            return self._ix.writer(timeout=WRITE_LOCK_TIMEOUT, delay=0.05, limitmb=limitmb)
        except LockError as exc:
            raise SearchIndexError(
                f"the search index is locked by another writer for over {WRITE_LOCK_TIMEOUT:.0f} s"
            ) from exc

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Group many adds into one commit (cancelled if the block raises)."""
        if self._batch is not None:
            yield
            return
        self._fresh()
        writer = self._writer()
        self._batch = writer
        try:
            yield
        except BaseException:
            writer.cancel()
            raise
        else:
            # A rebuild's generation starts empty and gets one segment; a live index gets a
            # new small segment per commit, merged later by compact().
            try:
                writer.commit(merge=False)
            except BaseException:
                # Release the write lock (a long-lived worker would otherwise hold it until
                # it exits); the commit's own error is the one to report.
                with contextlib.suppress(Exception):
                    writer.cancel()
                raise
        finally:
            self._batch = None

    def _write(self, fill: Callable[[IndexWriter], None]) -> None:
        if self._batch is not None:
            fill(self._batch)
            return
        with self.batch():
            assert self._batch is not None
            fill(self._batch)
        if len(_reading_toc(self._ix._segments)) > MERGE_BACKSTOP:
            # A writer that never calls compact() would slow every search down commit by
            # commit; past the backstop its own commits pay for the merges.
            while self.compact():
                pass

    def add_article(self, article: Article) -> None:
        """Index (or re-index) an article's own text."""

        def fill(writer: IndexWriter) -> None:
            writer.update_document(
                id=f"a:{article.id}",
                kind=KIND_ARTICLE,
                article_id=article.id,
                title=article.title,
                text=article.text,
                source=_keyword(article.source),
                published=article.published,
                url=article.url,
            )

        self._write(fill)

    def add_transcript(
        self, transcript: Transcript, video_url: str, articles: Sequence[ArticleRef]
    ) -> None:
        """Index every segment of a transcript, replacing what the video had before."""
        links = [[a.url, a.title] for a in articles]
        sources = ",".join(sorted({_keyword(a.source) for a in articles if a.source}))
        dates = ",".join(sorted({a.published for a in articles if a.published}))

        def fill(writer: IndexWriter) -> None:
            writer.delete_by_term("video_id", transcript.video_id)
            for seg in transcript.segments:
                writer.add_document(
                    id=segment_doc_id(transcript.video_id, seg.id),
                    kind=KIND_SEGMENT,
                    video_id=transcript.video_id,
                    text=seg.text,
                    sounds=sounds_text(seg.words, seg.text),
                    language=transcript.language,
                    url=video_url,
                    start=round(seg.start, 2),
                    end=round(seg.end, 2),
                    words=[[w.word, round(w.start, 2), round(w.end, 2)] for w in seg.words],
                    articles=links,
                    source=sources,
                    published=dates,
                )

        self._write(fill)

    def compact(self) -> int:
        """Merge small segments aside, then swap the result in; the number of documents moved.

        Call it after a commit, outside any lock of your own: it holds the index's write lock
        only for the swap (milliseconds), so other writers' commits never wait for a merge.
        Runs one merge at a time per index (0 when another process is merging); a merge whose
        segments changed meanwhile is dropped and left for the next call.
        """
        if self._batch is not None:
            return 0  # the batch's own commit comes first
        self._fresh()
        path = self._generation_path()
        merge_lock = self._ix.storage.lock("MERGELOCK")
        if not merge_lock.acquire(blocking=False):
            return 0
        try:
            for stale in path.glob(MERGE_DIR_PREFIX + "*"):
                shutil.rmtree(stale, ignore_errors=True)  # left by a killed merge
            return self._merge_aside(path)
        finally:
            merge_lock.release()

    def _merge_aside(self, path: Path) -> int:
        from whoosh.reading import SegmentReader

        chosen = merge_plan(_reading_toc(self._ix._segments))
        if not chosen:
            return 0
        before = {seg.segid: seg.deleted_count() for seg in chosen}
        side = Path(tempfile.mkdtemp(prefix=MERGE_DIR_PREFIX, dir=path))
        try:
            side_ix = windex.create_in(str(side), self._ix.schema, indexname=self._ix.indexname)
            writer = side_ix.writer(limitmb=BULK_LIMIT_MB)
            try:
                for seg in chosen:
                    reader = SegmentReader(self._ix.storage, self._ix.schema, seg)
                    try:
                        writer.add_reader(reader)  # live documents only
                    finally:
                        reader.close()
                writer.commit(merge=False)
            except BaseException:
                writer.cancel()
                raise
            merged: list[Any] = list(side_ix._segments())
            moved = int(sum(seg.doc_count() for seg in merged))
            side_ix.close()

            def swap(_writer: IndexWriter, segments: list[Any]) -> list[Any]:
                current = {seg.segid: seg for seg in segments}
                if any(segid not in current or current[segid].deleted_count() != deleted
                       for segid, deleted in before.items()):
                    raise _StaleMerge
                prefix = f"{self._ix.indexname}_"
                for seg in merged:
                    for file in side.glob(f"{prefix}{seg.segid}*"):
                        os.replace(file, path / file.name)
                return [seg for seg in segments if seg.segid not in before] + merged

            main = self._writer()
            try:
                main.commit(mergetype=swap)
            except _StaleMerge:
                main.cancel()
                return 0
            except BaseException:
                with contextlib.suppress(Exception):
                    main.cancel()
                raise
            return moved
        finally:
            shutil.rmtree(side, ignore_errors=True)

    def segment_count(self) -> int:
        """Number of Whoosh segments in the live generation (each search visits them all)."""
        self._fresh()
        return len(self._ix._segments())

    def remove_video(self, video_id: str) -> None:
        """Drop every segment document of a video."""
        self._write(lambda writer: writer.delete_by_term("video_id", video_id))

    # -- reading ---------------------------------------------------------------------------

    def _get_searcher(self) -> Searcher:
        self._fresh()
        previous = self._searcher
        if previous is None:
            self._searcher = _reading_toc(self._ix.searcher)
        else:
            self._searcher = _reading_toc(previous.refresh)
        if self._searcher is not previous:
            self._docsets.clear()  # document numbers change with the segments
            self._vocabulary = None
        return self._searcher

    def _docset(self, searcher: Searcher, query: wq.Query | None) -> set[int] | None:
        """The document numbers matching *query* in *searcher*, kept while it is current."""
        if query is None:
            return None
        key = repr(query)
        found = self._docsets.get(key)
        if found is None:
            found = set(searcher.docs_for_query(query))  # Whoosh takes a set, not a frozenset
            self._docsets[key] = found
            if len(self._docsets) > DOCSET_CACHE:
                self._docsets.popitem(last=False)
        else:
            self._docsets.move_to_end(key)
        return found

    def doc_count(self) -> int:
        """Number of live documents (articles plus segments)."""
        return int(self._get_searcher().doc_count())

    def search(self, text: str, *, limit: int = 10, **filters: Any) -> list[SearchResult]:
        """Clips and articles matching *text*, ranked together, best first.

        Takes the filters of :meth:`search_page`.  Raises
        :class:`~indexer.errors.QueryError` for a query that cannot be understood.
        """
        return self.search_page(text, limit=limit, **filters).results

    def search_page(
        self,
        text: str,
        *,
        limit: int = 10,
        offset: int = 0,
        kind: str | None = None,
        source: str | None = None,
        published_from: str | None = None,
        published_to: str | None = None,
        language: str | None = None,
        sound_alike: bool = True,
    ) -> SearchPage:
        """One page of results with the number of matching documents.

        *kind* is "clip" or "article"; *source* matches a linking article's source (any
        case); dates are ISO ``YYYY-MM-DD`` and inclusive; *language* applies to clips.
        With *sound_alike*, transcript segments where a name is only said alike ("Karkiv"
        for "Kharkiv") follow the exact matches, their clips marked "phonetic" or "fuzzy".
        """
        parsed = parse_query(text)
        searcher = self._get_searcher()
        wanted = offset + limit
        wanted_docs = _filter_query(kind, source, published_from, published_to, language)
        try:
            restrict = self._docset(searcher, wanted_docs)
            if restrict is not None and not restrict:
                # Whoosh reads an empty filter as no filter at all.
                return SearchPage(results=[], total=0)
            reader = searcher.reader()
            parsed = expand(parsed, lambda term: any((field, term) in reader
                                                     for field in SEARCH_FIELDS))
            exact = to_whoosh(parsed)
            # Every match is scored (no block skipping), so one pass gives the page, the
            # total and the documents the sound-alike pass must leave out.
            top = _EveryMatch(limit=max(wanted * 3, 30), usequality=False)
            searcher.search_with_collector(
                exact, top if restrict is None else FilterCollector(top, allow=restrict))
            hits = top.results()
            total = len(top.matched)
        except Exception as exc:
            raise SearchIndexError(f"search failed: {exc}") from exc
        clips, articles, dropped = _results(hits, parsed)
        total -= dropped
        # Sound-alike clips rank below every exact match, so they only matter once the exact
        # ones no longer fill the page (and are only counted from then on): a common word
        # never pays for the sound-alike pass on its first pages.
        if (sound_alike and kind != "article"
                and len(merge_overlapping(clips)) + len(articles) < wanted):
            try:
                if self._vocabulary is None:
                    self._vocabulary = Vocabulary(searcher.reader())
                articles_only = self._docset(searcher, wq.Term("kind", KIND_ARTICLE))
                loose = _sound_alike_hits(searcher, self._vocabulary, parsed, restrict,
                                          top.matched.union(articles_only or ()),
                                          max(wanted * 3, 30))
            except Exception as exc:
                raise SearchIndexError(f"search failed: {exc}") from exc
            # Those of a video whose linking article prints the query's words come first.
            backing = {a.url for a in articles}
            floor = min((float(h.score) for h in hits), default=1.0)
            best = max((float(h.score) for h in loose), default=1.0) or 1.0
            alike, _, dropped = _results(
                loose, parsed,
                lambda hit, doc: float(hit.score) / best * floor * (
                    0.9 if any(url in backing for url, _ in doc.get("articles", [])) else 0.5))
            clips += alike
            total += len(loose) - dropped
        merged = merge_overlapping(clips)
        results: list[SearchResult] = [*merged, *articles]
        results.sort(key=lambda r: r.score, reverse=True)
        # Overlapping clips that merged no longer count separately.
        total -= len(clips) - len(merged)
        return SearchPage(results=results[offset:wanted], total=max(total, 0))


def _results(hits: Any, parsed: ParsedQuery,
             loose_score: Callable[[Any, dict[str, Any]], float] | None = None,
             ) -> tuple[list[Clip], list[ArticleHit], int]:
    """Clips and articles of Whoosh *hits*, and how many hits gave neither.

    With *loose_score* the hits are sound-alike ones: scored by it, their clips built by
    :func:`sound_alike_clip`.
    """
    clips: list[Clip] = []
    articles: list[ArticleHit] = []
    dropped = 0
    for hit in hits:
        doc = hit.fields()
        score = round(float(hit.score) if loose_score is None else loose_score(hit, doc), 3)
        if doc["kind"] == KIND_ARTICLE:
            articles.append(
                ArticleHit(
                    score=score,
                    article_id=doc["article_id"],
                    url=doc.get("url", ""),
                    title=doc.get("title", ""),
                    source=doc.get("source", ""),
                    published=doc.get("published", ""),
                    highlight=highlight_fragment(doc.get("text", ""), parsed),
                )
            )
            continue
        segment = {
            "score": score,
            "video_id": doc["video_id"],
            "video_url": doc.get("url", ""),
            "seg_start": float(doc["start"]),
            "seg_end": float(doc["end"]),
            "seg_text": doc.get("text", ""),
            "words": [Word(w, float(s), float(e)) for w, s, e in doc.get("words", [])],
            "query": parsed,
        }
        found = (clip_for_segment(**segment) if loose_score is None
                 else sound_alike_clip(**segment))
        if found is None:
            dropped += 1  # the words were all there, only in another order: no sound-alike
            continue
        refs = tuple(ArticleRef(url=u, title=t) for u, t in doc.get("articles", []))
        clips.append(Clip(found.score, found.video_id, found.video_url, found.start, found.end,
                          found.text, found.highlight, refs, found.match))
    return clips, articles, dropped


def _sound_alike_hits(searcher: Searcher, vocabulary: Vocabulary, parsed: ParsedQuery,
                      restrict: set[int] | None, excluded: set[int], limit: int) -> list[Any]:
    """Segments answering *parsed* only by sound-alike names: not in *excluded* (the exact
    matches and the articles)."""
    if SOUNDS_FIELD not in searcher.schema:
        return []
    loose = sound_alike_query(parsed)
    if loose is None:
        return []
    loose = expand_multiterms(loose, vocabulary)
    return list(searcher.search(loose, limit=limit, filter=restrict, mask=excluded or None))


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _keyword(value: str) -> str:
    # Commas separate keyword values, so they cannot appear inside one.
    return value.replace(",", " ").strip()


def _filter_query(kind: str | None, source: str | None, published_from: str | None,
                  published_to: str | None, language: str | None) -> wq.Query | None:
    parts: list[wq.Query] = []
    if kind is not None:
        kinds = {"clip": KIND_SEGMENT, "article": KIND_ARTICLE}
        if kind not in kinds:
            raise QueryError(f"unknown result type {kind!r}: use clip or article")
        parts.append(wq.Term("kind", kinds[kind]))
    if source:
        parts.append(wq.Term("source", _keyword(source).lower()))
    for value in (published_from, published_to):
        if value and not _ISO_DATE.fullmatch(value):
            raise QueryError(f"dates must look like 2026-11-20, not {value!r}")
    if published_from or published_to:
        parts.append(wq.TermRange("published", published_from or None, published_to or None))
    if language:
        parts.append(wq.Term("language", language.lower()))
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else wq.And(parts)


def rebuild_index(root: Path, fill: Callable[[SearchIndex], object]) -> None:
    """Build a new generation with *fill*, then make it the live one atomically."""
    root.mkdir(parents=True, exist_ok=True)
    path = _new_generation(root)
    try:
        fresh = SearchIndex(root, _generation=path)
        try:
            with fresh.batch():
                fill(fresh)
        finally:
            fresh.close()
    except BaseException:
        shutil.rmtree(path, ignore_errors=True)
        raise
    _write_current(root, path.name)
    for child in root.iterdir():
        if child.is_dir() and child.name.startswith("gen-") and child.name != path.name:
            # Readers still holding old files keep them open; on POSIX removal is safe.
            shutil.rmtree(child, ignore_errors=True)
