"""Search-quality benchmark: does a search find the moment a name, phrase or number was said?

Run from the repository root (needs festival with festvox-us-slt-hts and ffmpeg the first time,
to synthesise the briefings into ``benchmarks/cache/``)::

    python -m benchmarks.search_quality                      # tiny.en: baseline vs ours
    python -m benchmarks.search_quality --models tiny.en,base --json results.json
    python -m benchmarks.search_quality --backend postgres   # + the PostgreSQL index

It builds ten spoken briefings (80 sentences; one with a 40 s silence, one under pink noise)
with the true time of every spoken word, and 13 articles linking them; ingests the articles
through the real pipeline (article parsing, ffmpeg, faster-whisper, Whoosh); runs the queries
of :mod:`benchmarks.corpus`; and prints, for each configuration side by side:

* recall@5 — share of the answerable queries whose top five results (clips and articles, as
  ``briefing search`` ranks them) hold a clip of the right video covering the moment the
  query's words are said (first word's start to last word's end, 0.25 s tolerance);
* lead — how long before the first spoken query word such a clip starts (median, worst);
* false clips — clips in the top five that overlap no moment saying the query, and among them
  those lying on the long silence; plus the words transcribed inside that silence;
* transcription speed (audio seconds per second of transcription).

With ``--backend postgres`` our search also runs on the PostgreSQL index
(:mod:`indexer.pgsearch`, in a scratch database), filled from the same transcripts, one row
beside the Whoosh one.

The baseline is bare faster-whisper with its default options (no VAD, no word timestamps,
conditioned on previous text) and a search returning whole segments that contain every query
word.  Other code (issue 6's benchmarks) calls :func:`evaluate` with its own :class:`Config`.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import re
import shutil
import statistics
import sys
import tempfile
import time
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from whoosh import index as windex

from benchmarks.corpus import (
    ARTICLES,
    HARD_ARTICLES,
    HARD_QUERIES,
    HARD_VIDEOS,
    QUERIES,
    VIDEOS,
    Query,
)
from benchmarks.pgdb import scratch_database
from benchmarks.synth import BuiltCorpus, SynthError, build_corpus
from indexer.domain import Clip
from indexer.generations import _new_generation, _write_current
from indexer.index import SearchIndex
from indexer.pgsearch import PgSearchIndex
from indexer.phonesearch import PhoneticTuning
from indexer.schema import build_schema
from worker.intake.fetch import FetchLimits
from worker.pipeline import Context, FileLocks, ModelProvider, NullProgress, ingest
from worker.pipeline.maintenance import reindex
from worker.speech.transcribe import PRIME_OFF, PRIME_PROMPT, TranscribeOptions
from worker.storage.datadir import DataDir
from worker.storage.jobs import JobStore
from worker.storage.states import VideoState

CACHE_DIR = Path(__file__).resolve().parent / "cache"
TOP_K = 5
TOLERANCE = 0.25  # seconds a clip may miss the spoken words by, either side
SILENCE_OVERLAP = 0.5  # a clip this far into the long silence points at silence


@dataclass(frozen=True)
class Config:
    """One way of transcribing and searching, to be measured."""

    name: str
    model: str = "tiny.en"
    # "ours": the real pipeline and SearchIndex.search.  "baseline": faster-whisper's
    # default options and a search for whole segments holding every query word.
    kind: str = "ours"
    options: TranscribeOptions = field(default_factory=TranscribeOptions)
    search: dict[str, Any] = field(default_factory=dict)  # extra SearchIndex.search kwargs
    # The index's fields: "current" (the phone index), "spelling keys" (an index made
    # before it), "both"; the same transcripts either way.
    index: str = "current"
    compute_type: str = "int8"
    cpu_threads: int = 0
    # Where our search runs: "whoosh" (the data dir's index) or "postgres" (the same
    # records in the PostgreSQL index of the run's scratch database).
    backend: str = "whoosh"


@dataclass(frozen=True)
class Moment:
    """Where a query's words are said."""

    video: str
    start: float
    end: float


@dataclass(frozen=True)
class FoundClip:
    """A clip in a query's results, reduced to what the metrics need."""

    video: str
    start: float
    end: float
    match: str = "exact"
    text: str = ""


@dataclass
class QueryOutcome:
    """How one query fared."""

    query: str
    kind: str
    answerable: bool
    hit: bool
    lead: float | None
    clips: int
    false_clips: int
    silence_clips: int
    match: str = ""
    top: list[str] = field(default_factory=list)


@dataclass
class Metrics:
    """The figures of one configuration."""

    config: str
    model: str
    answerable: int
    found: int
    recall_at_5: float
    lead_median: float | None
    lead_worst: float | None
    clips: int
    false_clips: int
    silence_clips: int
    silence_words: int
    audio_seconds: float
    transcribe_seconds: float
    speed: float  # audio seconds per transcription second
    outcomes: list[QueryOutcome] = field(default_factory=list)


# -- truth ---------------------------------------------------------------------------------


def _canon(token: str) -> str:
    folded = unicodedata.normalize("NFKD", token.lower())
    return "".join(c for c in folded if c.isalnum())


def moments(query: Query, corpus: BuiltCorpus) -> list[Moment]:
    """Every place in the corpus where all of the query's ``says`` sequences are spoken."""
    if not query.says:
        return []
    groups = [[_canon(t) for t in says.split()] for says in query.says]
    found: list[Moment] = []
    for slug, video in corpus.videos.items():
        for sentence in video.sentences:
            names = [_canon(t.text) for t in sentence.tokens]
            spans = []
            for group in groups:
                at = next((i for i in range(len(names) - len(group) + 1)
                           if names[i : i + len(group)] == group), None)
                if at is None:
                    break
                spans.append((sentence.tokens[at].start, sentence.tokens[at + len(group) - 1].end))
            else:
                found.append(Moment(slug, min(s for s, _ in spans), max(e for _, e in spans)))
    return found


def _overlap(a0: float, a1: float, b0: float, b1: float) -> float:
    return max(0.0, min(a1, b1) - max(a0, b0))


def judge(query: Query, clips: Sequence[FoundClip], corpus: BuiltCorpus) -> QueryOutcome:
    """Score one query's top results against the truth."""
    truth = moments(query, corpus)
    if query.says and not truth:
        raise ValueError(f"query {query.text!r}: {query.says} is never spoken")
    best: tuple[float, FoundClip] | None = None
    false = silence = 0
    for clip in clips:
        covering = [m for m in truth if m.video == clip.video
                    and clip.start <= m.start + TOLERANCE and clip.end >= m.end - TOLERANCE]
        for m in covering:
            lead = m.start - clip.start
            if best is None or abs(lead - 0.5) < abs(best[0] - 0.5):
                best = (lead, clip)
        if not any(m.video == clip.video and _overlap(clip.start, clip.end, m.start, m.end) > 0
                   for m in truth):
            false += 1
        video = corpus.videos[clip.video]
        if any(_overlap(clip.start, clip.end, a, b) >= SILENCE_OVERLAP for a, b in video.silences):
            silence += 1
    return QueryOutcome(
        query=query.text, kind=query.kind, answerable=bool(truth), hit=best is not None,
        lead=round(best[0], 3) if best else None, clips=len(clips), false_clips=false,
        silence_clips=silence, match=best[1].match if best else "",
        top=[f"{c.video}@{c.start:.1f}-{c.end:.1f}[{c.match}] {c.text[:60]}" for c in clips],
    )


def _magnitude(value: float) -> float:
    return abs(value)


def summarise(config: Config, outcomes: list[QueryOutcome], silence_words: int,
              audio_seconds: float, transcribe_seconds: float) -> Metrics:
    """Aggregate per-query outcomes into the reported figures."""
    answerable = [o for o in outcomes if o.answerable]
    leads: list[float] = [o.lead for o in answerable if o.lead is not None]
    worst = max(leads, key=_magnitude) if leads else None
    found = sum(o.hit for o in answerable)
    return Metrics(
        config=config.name,
        model=config.model,
        answerable=len(answerable),
        found=found,
        recall_at_5=round(found / len(answerable), 4) if answerable else 0.0,
        lead_median=round(statistics.median(leads), 2) if leads else None,
        lead_worst=round(worst, 2) if worst is not None else None,
        clips=sum(o.clips for o in outcomes),
        false_clips=sum(o.false_clips for o in outcomes),
        silence_clips=sum(o.silence_clips for o in outcomes),
        silence_words=silence_words,
        audio_seconds=round(audio_seconds, 1),
        transcribe_seconds=round(transcribe_seconds, 1),
        speed=round(audio_seconds / transcribe_seconds, 1) if transcribe_seconds else 0.0,
        outcomes=outcomes,
    )


# -- running our pipeline -------------------------------------------------------------------


class _Timer(NullProgress):
    """Adds up the time each video spends transcribing."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._since: float | None = None

    def state(self, url: str, state: VideoState, *, video_id: str = "",
              error: str = "") -> None:
        """Start the clock on TRANSCRIBING, stop it on INDEXING."""
        if state is VideoState.TRANSCRIBING:
            self._since = time.perf_counter()
        elif state is VideoState.INDEXING and self._since is not None:
            self.seconds += time.perf_counter() - self._since
            self._since = None


def _slug(video_url: str) -> str:
    return video_url.rsplit("/", 1)[-1].removesuffix(".mp4")


def _silence_words_ours(data: DataDir, corpus: BuiltCorpus, ids: dict[str, str]) -> int:
    count = 0
    for slug, video_id in ids.items():
        transcript = data.load_transcript(video_id)
        if transcript is None:
            continue
        spans = corpus.videos[slug].silences
        for seg in transcript.segments:
            for w in seg.words:
                mid = (w.start + w.end) / 2
                count += any(a <= mid <= b for a, b in spans)
    return count


def _ingest_all(corpus: BuiltCorpus, ctx: Context) -> dict[str, str]:
    """Ingest every article; return the video id of each slug."""
    ids: dict[str, str] = {}
    for path in corpus.articles.values():
        report = ingest(str(path), ctx)
        for outcome in report.videos:
            if outcome.state != "done":
                raise RuntimeError(f"{outcome.url}: {outcome.error}")
            ids[_slug(outcome.url)] = outcome.video_id
    return ids


def _context(data_dir: Path, models: ModelProvider, options: TranscribeOptions,
             progress: _Timer) -> Context:
    data = DataDir(data_dir)
    limits = FetchLimits(max_bytes=1024**3, connect_timeout=5, read_timeout=10, deadline=60,
                         allow_private=True)
    return Context(data=data, index=SearchIndex(data.index_root), jobs=JobStore(data.jobs_db),
                   locks=FileLocks(data.locks), models=models,
                   video_limits=limits, article_limits=limits, options=options,
                   ffmpeg_timeout=120, progress=progress)


def _clips_ours(index: SearchIndex | PgSearchIndex, query: Query,
                search: dict[str, Any]) -> list[FoundClip]:
    results = index.search(query.text, limit=TOP_K, **search)[:TOP_K]
    return [FoundClip(_slug(r.video_url), r.start, r.end, r.match, r.text)
            for r in results if isinstance(r, Clip)]


# -- the baseline -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _BareSegment:
    video: str
    start: float
    end: float
    text: str
    words: tuple[str, ...]


def _plain_words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", unicodedata.normalize("NFKD", text.lower()))


def _baseline_segments(corpus: BuiltCorpus, models: ModelProvider,
                       timer: _Timer) -> list[_BareSegment]:
    model = models.get().model
    out: list[_BareSegment] = []
    for slug, video in corpus.videos.items():
        started = time.perf_counter()
        segments, _ = model.transcribe(str(video.path))  # faster-whisper's defaults
        for seg in segments:
            out.append(_BareSegment(slug, float(seg.start), float(seg.end), seg.text.strip(),
                                    tuple(_plain_words(seg.text))))
        timer.seconds += time.perf_counter() - started
    return out


def _clips_baseline(segments: Sequence[_BareSegment], query: Query) -> list[FoundClip]:
    wanted = set(_plain_words(query.text))
    scored = []
    for seg in segments:
        if wanted and wanted <= set(seg.words):
            share = sum(w in wanted for w in seg.words) / len(seg.words)
            scored.append((share, seg))
    scored.sort(key=lambda pair: -pair[0])
    return [FoundClip(s.video, s.start, s.end, "exact", s.text) for _, s in scored[:TOP_K]]


def _silence_words_baseline(segments: Sequence[_BareSegment], corpus: BuiltCorpus) -> int:
    count = 0
    for seg in segments:
        for a, b in corpus.videos[seg.video].silences:
            if _overlap(seg.start, seg.end, a, b) > (seg.end - seg.start) / 2:
                count += len(seg.words)
    return count


# -- evaluating ------------------------------------------------------------------------------


@dataclass
class Session:
    """Models and ingested data dirs shared by the configurations of one run."""

    corpus: BuiltCorpus
    workdir: Path
    models: dict[tuple[str, str, int], ModelProvider] = field(default_factory=dict)
    ingested: dict[Any, tuple[Context, dict[str, str], float]] = field(default_factory=dict)
    baselines: dict[str, tuple[list[_BareSegment], float]] = field(default_factory=dict)
    # The scratch database of --backend postgres, and its index of each transcription.
    database_url: str | None = None
    pg_indexes: dict[str, PgSearchIndex] = field(default_factory=dict)

    def pg_index(self, key: str, ctx: Context) -> PgSearchIndex:
        """The PostgreSQL index holding *ctx*'s records (built on first use)."""
        if key not in self.pg_indexes:
            if self.database_url is None:
                raise RuntimeError("a postgres configuration needs --backend postgres")
            index = PgSearchIndex(self.database_url)
            index.rebuild(lambda fresh: _fill_from(ctx, fresh))
            self.pg_indexes[key] = index
        return self.pg_indexes[key]

    def provider(self, config: Config) -> ModelProvider:
        """The (loaded) model of *config*, shared between configurations."""
        key = (config.model, config.compute_type, config.cpu_threads)
        if key not in self.models:
            provider = ModelProvider(config.model, config.compute_type, config.cpu_threads,
                                     cache_dir=self.corpus.root.parent / "models")
            provider.get()
            self.models[key] = provider
        return self.models[key]


def evaluate(config: Config, session: Session,
             queries: Iterable[Query] = QUERIES) -> Metrics:
    """Transcribe (or reuse a transcription made with the same settings), search, score."""
    corpus = session.corpus
    queries = list(queries)
    if config.kind == "baseline":
        key = f"{config.model}/{config.compute_type}/{config.cpu_threads}"
        if key not in session.baselines:
            timer = _Timer()
            segments = _baseline_segments(corpus, session.provider(config), timer)
            session.baselines[key] = (segments, timer.seconds)
        segments, seconds = session.baselines[key]
        outcomes = [judge(q, _clips_baseline(segments, q), corpus) for q in queries]
        return summarise(config, outcomes, _silence_words_baseline(segments, corpus),
                         corpus.audio_seconds, seconds)
    key = json.dumps([config.model, config.compute_type, config.cpu_threads,
                      asdict(config.options)], sort_keys=True)
    if key not in session.ingested:
        session.ingested[key] = _ingested(config, session, key)
    ctx, ids, seconds = session.ingested[key]
    if config.index != "current":
        if (key, config.index) not in session.ingested:
            session.ingested[(key, config.index)] = _ingested(config, session, key)
            _fill_index(session.ingested[(key, config.index)][0], config.index)
        ctx, ids, seconds = session.ingested[(key, config.index)]
    index: SearchIndex | PgSearchIndex = ctx.index
    if config.backend == "postgres":
        index = session.pg_index(key, ctx)
    outcomes = [judge(q, _clips_ours(index, q, config.search), corpus) for q in queries]
    return summarise(config, outcomes, _silence_words_ours(ctx.data, corpus, ids),
                     corpus.audio_seconds, seconds)


def _ingested(config: Config, session: Session,
              key: str) -> tuple[Context, dict[str, str], float]:
    """A data dir holding the corpus ingested with *config*'s transcription settings.

    Transcripts are kept under the cache (``transcripts-<hash>``), keyed by the corpus and
    those settings: a later run (another search, an ablation) copies them and rebuilds the
    index with the current code (as ``briefing reindex`` does) instead of transcribing again.
    """
    corpus = session.corpus
    digest = hashlib.sha256(f"{corpus.root.name}|{key}".encode()).hexdigest()[:12]
    kept = corpus.root.parent / f"transcripts-{digest}"
    data_dir = Path(tempfile.mkdtemp(prefix="data-", dir=session.workdir))
    timer = _Timer()
    if (kept / "ids.json").is_file():
        shutil.copytree(kept / "data", data_dir, dirs_exist_ok=True)
        saved = json.loads((kept / "ids.json").read_text(encoding="utf-8"))
        ctx = _context(data_dir, session.provider(config), config.options, timer)
        reindex(ctx.data)
        return ctx, saved["ids"], float(saved["seconds"])
    ctx = _context(data_dir, session.provider(config), config.options, timer)
    ids = _ingest_all(corpus, ctx)
    staging = Path(tempfile.mkdtemp(prefix=".transcripts-", dir=corpus.root.parent))
    shutil.copytree(data_dir, staging / "data", ignore=shutil.ignore_patterns("index*", "*.lock"),
                    dirs_exist_ok=True)
    (staging / "ids.json").write_text(json.dumps({"ids": ids, "seconds": timer.seconds}),
                                      encoding="utf-8")
    shutil.rmtree(kept, ignore_errors=True)
    staging.rename(kept)
    return ctx, ids, timer.seconds


def _fill_from(ctx: Context, index: SearchIndex | PgSearchIndex) -> None:
    """Write *ctx*'s stored articles and transcripts into *index* (as reindexing does)."""
    for article in ctx.data.articles():
        index.add_article(article)
    for transcript in ctx.data.transcripts():
        index.add_transcript(transcript, ctx.data.video_url(transcript.video_id),
                             ctx.data.article_refs_for_video(transcript.video_id))


def _fill_index(ctx: Context, fields: str) -> None:
    """Rebuild *ctx*'s index with the fields *fields* names (see :class:`Config`)."""
    root = ctx.data.index_root
    path = _new_generation(root)
    windex.create_in(str(path), build_schema(phone_index=fields == "both", sound_keys=True))
    _write_current(root, path.name)
    index = SearchIndex(root)
    try:
        with index.batch():
            _fill_from(ctx, index)
    finally:
        index.close()


def default_configs(models: Sequence[str], ablations: bool,
                    phonetic: bool = False, postgres: bool = False) -> list[Config]:
    """Baseline and ours for each model, plus the first model's ablations when asked, and
    ours on the PostgreSQL index after ours with *postgres*."""
    configs: list[Config] = []
    for i, model in enumerate(models):
        configs.append(Config(f"baseline {model}", model, kind="baseline"))
        ours = Config(f"ours {model}", model)
        if ablations and i == 0:  # the default model's; each costs a transcription pass
            configs.extend(_ablations(ours))
        if phonetic and i == 0:
            configs.extend(phonetic_ablations(ours))
        configs.append(ours)
        if postgres:
            configs.append(on_postgres(ours))
    return configs


def on_postgres(ours: Config) -> Config:
    """*ours* searched on the PostgreSQL index (same transcripts)."""
    return replace(ours, name=f"{ours.name} on PostgreSQL", backend="postgres")


def phonetic_ablations(ours: Config) -> list[Config]:
    """*ours* searched without one part of the phonetic pass at a time, on the same
    transcripts (no transcription pass each)."""
    parts: dict[str, tuple[str, PhoneticTuning | None]] = {
        "before the phone index (spelling keys only)": ("spelling keys", PhoneticTuning()),
        "phone index and the old index's spelling sound keys together": (
            "both", PhoneticTuning(keys=True)),
        "with the spelling pass too (fuzzy spellings, run-ons, one word wrong)": (
            "current", PhoneticTuning(keys=True)),
        "no feature weights (unit substitution cost)": ("current",
                                                        PhoneticTuning(features=False)),
        "no word-probability gate": ("current", PhoneticTuning(gate=False)),
        "no cross-clause targets": ("current", PhoneticTuning(whole=False)),
        "no sound-alike pass at all": ("current", None),
    }
    return [replace(ours, name=f"{ours.name}: {label}", index=index,
                    search={"tuning": tuning} if tuning else {"sound_alike": False})
            for label, (index, tuning) in parts.items()]


def _ablations(ours: Config) -> list[Config]:
    """*ours* without one improvement at a time (or with an alternative to it)."""
    o = ours.options
    return [
        replace(ours, name=f"{ours.name}: unprimed", options=replace(o, prime=PRIME_OFF)),
        replace(ours, name=f"{ours.name}: primed by initial_prompt",
                options=replace(o, prime=PRIME_PROMPT)),
        replace(ours, name=f"{ours.name}: timestamp tokens "
                f"{'on' if o.without_timestamps else 'off'}",
                options=replace(o, without_timestamps=not o.without_timestamps)),
        replace(ours, name=f"{ours.name}: no sound-alike", search={"sound_alike": False}),
    ]


# -- reporting -------------------------------------------------------------------------------


def _fmt(value: float | None, unit: str = "") -> str:
    return "–" if value is None else f"{value:.2f}{unit}"


def table(results: Sequence[Metrics]) -> str:
    """A Markdown table of the figures, one configuration per row."""
    head = ("| configuration | recall@5 | lead median | lead worst | false clips | "
            "on silence | words in silence | speed |")
    rule = "| --- | --- | --- | --- | --- | --- | --- | --- |"
    rows = [
        f"| {m.config} | {m.recall_at_5:.1%} ({m.found}/{m.answerable}) | "
        f"{_fmt(m.lead_median, ' s')} | {_fmt(m.lead_worst, ' s')} | "
        f"{m.false_clips}/{m.clips} | {m.silence_clips} | {m.silence_words} | "
        f"{m.speed:.1f}× |"
        for m in results
    ]
    return "\n".join([head, rule, *rows])


def same_top(results: Sequence[Metrics]) -> list[str]:
    """For each configuration run on both backends, how many queries got the same top five
    clips (video, bounds, match) from each."""
    by_name = {m.config: m for m in results}
    lines = []
    for m in results:
        whoosh = by_name.get(m.config.removesuffix(" on PostgreSQL"))
        if whoosh is None or whoosh is m:
            continue
        same = sum(a.top == b.top for a, b in zip(whoosh.outcomes, m.outcomes, strict=True))
        lines.append(f"\n{m.config}: the same top five clips as on Whoosh for {same} of "
                     f"{len(m.outcomes)} queries")
    return lines


def misses(metrics: Metrics) -> str:
    """The queries a configuration missed or answered with false clips, for reading."""
    lines = [f"## {metrics.config}"]
    for o in metrics.outcomes:
        if (o.answerable and not o.hit) or o.false_clips:
            flag = "MISS" if o.answerable and not o.hit else "FALSE"
            lines.append(f"  {flag} {o.query!r}: " + " | ".join(o.top))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--models", default="tiny.en",
                        help="comma-separated models (BRIEFING_MODEL values), e.g. tiny.en,base")
    parser.add_argument("--ablations", action="store_true",
                        help="also measure ours without each improvement")
    parser.add_argument("--phonetic-ablations", action="store_true",
                        help="also measure ours without each part of the phonetic pass "
                        "(same transcripts)")
    parser.add_argument("--misses", action="store_true", help="list missed and false queries")
    parser.add_argument("--json", type=Path, help="write every figure to this file")
    parser.add_argument("--cache", type=Path, default=CACHE_DIR,
                        help="where synthesised briefings are kept")
    parser.add_argument("--backend", choices=("whoosh", "postgres"), default="whoosh",
                        help="postgres: also run our search on the PostgreSQL index, beside "
                        "Whoosh (a scratch database through BRIEFING_BENCH_PG_URL, dropped "
                        "after)")
    parser.add_argument("--split", choices=("current", "hard", "both"), default="current",
                        help="the corpus: the current one, the harder split (other voices, "
                        "faster, telephone band, reverb, more regions), or both")
    args = parser.parse_args(argv)
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    splits = ["current", "hard"] if args.split == "both" else [args.split]
    for split in splits:
        videos, articles, queries = ((VIDEOS, ARTICLES, QUERIES) if split == "current"
                                     else (HARD_VIDEOS, HARD_ARTICLES, HARD_QUERIES))
        try:
            corpus = build_corpus(args.cache, videos=videos, articles=articles)
        except SynthError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        if split == "current":
            configs = default_configs(models, args.ablations, args.phonetic_ablations,
                                      postgres=args.backend == "postgres")
        else:
            # Old and new search side by side on the same transcripts.
            ours = Config(f"ours {models[0]}", models[0])
            configs = [Config(f"baseline {models[0]}", models[0], kind="baseline"),
                       replace(ours, name=f"{ours.name}: before the phone index",
                               index="spelling keys"),
                       ours]
            if args.backend == "postgres":
                configs.append(on_postgres(ours))
        results: list[Metrics] = []
        with contextlib.ExitStack() as stack:
            tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="search-quality-"))
            session = Session(corpus, Path(tmp))
            if args.backend == "postgres":
                session.database_url = stack.enter_context(
                    scratch_database("pgsearch_bench_quality"))
            for config in configs:
                print(f"measuring {config.name} ({split}) ...", file=sys.stderr, flush=True)
                results.append(evaluate(config, session, queries))
            for ctx, _, _ in session.ingested.values():
                ctx.index.close()
            for pg in session.pg_indexes.values():
                pg.close()
        print(f"\n## {split} corpus: {len(corpus.videos)} videos, {corpus.audio_seconds:.0f} s "
              f"of speech, {len([q for q in queries if q.says])} answerable and "
              f"{len([q for q in queries if not q.says])} unanswerable queries\n")
        print(table(results))
        for line in same_top(results):
            print(line)
        if args.misses:
            for m in results:
                print("\n" + misses(m))
        if args.json:
            path = args.json if split == "current" else args.json.with_suffix(f".{split}.json")
            path.write_text(json.dumps([asdict(m) for m in results], indent=1),
                            encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
