"""End to end through the real pipeline: real HTTP, real ffmpeg, real tiny.en, real Whoosh."""

from __future__ import annotations

from pathlib import Path

import pytest

from indexer.compaction import MERGE_FAN
from indexer.domain import ArticleHit, Clip
from tests.conftest import MANIFEST, MEDIA, Ingested, make_context
from tests.siteserver import Site
from worker.pipeline import ModelProvider, ingest, reindex
from worker.storage.states import VideoState

SPOKEN = [
    (name, index, sentence)
    for name in ("briefing-a.mp4", "briefing-b.mp4")
    for index, sentence in enumerate(MANIFEST[name]["sentences"])
]


def _clips(results: list[Clip | ArticleHit]) -> list[Clip]:
    return [r for r in results if isinstance(r, Clip)]


@pytest.mark.parametrize(("name", "index", "sentence"), SPOKEN,
                         ids=[f"{n}-{i}" for n, i, _ in SPOKEN])
def test_spoken_phrase_returns_a_clip_overlapping_its_sentence(
    ingested: Ingested, site: Site, name: str, index: int, sentence: dict[str, object]
) -> None:
    start, end = float(sentence["start"]), float(sentence["end"])  # type: ignore[arg-type]
    results = ingested.ctx.index.search(f'"{sentence["phrase"]}"', limit=5)
    clips = [c for c in _clips(results) if c.video_url.endswith(name.split("?")[0])
             or name in c.video_url]
    assert clips, f"no clip of {name} for {sentence['phrase']!r}: {results}"
    clip = clips[0]
    assert clip.start < end and clip.end > start, (clip, sentence)
    # Word-exact start: the clip begins near the phrase, not at the start of the video.
    assert start - 1.2 <= clip.start <= end
    assert clip.end - clip.start < 12
    assert "<mark>" in clip.highlight


def test_each_broken_video_fails_with_its_own_reason_and_nothing_else_is_lost(
    ingested: Ingested, site: Site
) -> None:
    by_name = {v.url.rsplit("/", 1)[-1].split("?")[0]: v for v in ingested.report_a.videos}
    assert by_name["briefing-a.mp4"].state == VideoState.DONE
    assert by_name["briefing-b.mp4"].state == VideoState.DONE
    expected = {
        "noaudio.mp4": "no audio track",
        "truncated.mp4": "truncated",
        "notvideo.mp4": "not a video (it is an HTML page",
        "missing.mp4": "HTTP 404",
    }
    for name, reason in expected.items():
        outcome = by_name[name]
        assert outcome.state == VideoState.FAILED, outcome
        assert reason in outcome.error
        record = ingested.ctx.data.source(outcome.url)
        assert record is not None and record.state == VideoState.FAILED and reason in record.error
    # The article's own text is still searchable.
    hits = ingested.ctx.index.search("gale coastal towns")
    assert any(isinstance(h, ArticleHit) and h.url == site.url("article-a.html") for h in hits)
    # No download leftovers.
    assert list(ingested.ctx.data.tmp.glob("*.part")) == []


def test_article_metadata_and_boilerplate(ingested: Ingested) -> None:
    article = ingested.report_a.article
    assert article.title == "Harbour reopens as the storm clean-up goes on"
    assert article.author == "Jane Reporter"
    assert article.source == "Example News"
    assert article.published == "2026-11-20"
    assert "Cookie settings" not in article.text and "Sport" not in article.text
    # og:video, <source> and the <a href> all name one URL: listed once.
    assert sum(u.endswith("/media/briefing-a.mp4") for u in article.video_urls) == 1
    assert any(u.endswith("/media/briefing-b.mp4?download=1") for u in article.video_urls)


def test_video_linked_by_two_articles_is_transcribed_once_and_knows_both(
    ingested: Ingested, site: Site
) -> None:
    outcomes = {v.url: v for v in ingested.report_b.videos}
    same_url = outcomes[site.url("media/briefing-a.mp4")]
    mirror = outcomes[site.url("mirror/report-copy.mp4")]
    assert same_url.reused and mirror.reused  # neither was transcribed again
    assert same_url.video_id == mirror.video_id
    assert len(list(ingested.ctx.data.transcripts())) == 2  # briefing-a and briefing-b
    clip = _clips(ingested.ctx.index.search('"relief workers"'))[0]
    titles = {a.title for a in clip.articles}
    assert titles == {"Harbour reopens as the storm clean-up goes on", "Convoy reaches the city"}


def _essence(results: list[Clip | ArticleHit]) -> set[tuple[object, ...]]:
    # Scores may move a little: Whoosh keeps deleted documents in its statistics until a merge.
    return {
        (r.video_id, r.start, r.end, r.text, r.articles) if isinstance(r, Clip)
        else (r.url, r.title, r.highlight)
        for r in results
    }


def test_reingest_and_reindex_change_nothing(ingested: Ingested, site: Site) -> None:
    queries = ['"water supply"', "bridge", '"press conference"', "gale"]
    before = [_essence(ingested.ctx.index.search(q)) for q in queries]
    count = ingested.ctx.index.doc_count()
    again = ingest(site.url("article-a.html"), ingested.ctx)
    assert all(v.reused for v in again.videos if v.state == VideoState.DONE)
    assert ingested.ctx.index.doc_count() == count
    assert reindex(ingested.ctx.data) == (2, 2)
    assert ingested.ctx.index.doc_count() == count
    after = [_essence(ingested.ctx.index.search(q)) for q in queries]
    assert after == before
    assert all(before)


def test_repeated_ingests_keep_the_index_merged(ingested: Ingested, site: Site) -> None:
    # Every commit adds a segment; the pipeline merges them aside after each video.
    count = ingested.ctx.index.doc_count()
    before = _essence(ingested.ctx.index.search("bridge"))
    for _ in range(2 * MERGE_FAN):
        ingest(site.url("article-b.html"), ingested.ctx)
    assert ingested.ctx.index.segment_count() < MERGE_FAN + 2
    assert ingested.ctx.index.doc_count() == count
    assert _essence(ingested.ctx.index.search("bridge")) == before


def test_article_without_videos_is_indexed(tmp_path: Path, site: Site,
                                           models: ModelProvider) -> None:
    ctx = make_context(tmp_path, models)
    report = ingest(site.url("no-video.html"), ctx)
    assert report.videos == ()
    hits = ctx.index.search("comet")
    assert [h.title for h in hits if isinstance(h, ArticleHit)] == ["Quiet day at the observatory"]


def test_oversize_video_fails_and_leaves_no_temp_file(tmp_path: Path, site: Site,
                                                      models: ModelProvider) -> None:
    ctx = make_context(tmp_path, models, max_video_bytes=50_000)
    report = ingest(site.url("article-b.html"), ctx)
    assert all(v.state == VideoState.FAILED and "size cap" in v.error for v in report.videos)
    assert list(ctx.data.tmp.iterdir()) == [] or all(
        p.suffix == ".lock" for p in ctx.data.tmp.iterdir())
    assert any(isinstance(h, ArticleHit) for h in ctx.index.search("convoy"))


def test_private_address_video_is_refused_without_the_setting(
    tmp_path: Path, site: Site, models: ModelProvider
) -> None:
    article = tmp_path / "pasted.txt"
    article.write_text(f"Morning briefing\n\nWatch it here:\n{site.url('media/briefing-a.mp4')}\n")
    ctx = make_context(tmp_path / "data", models, allow_private=False)
    hits_before = len(site.hits)
    report = ingest(str(article), ctx)
    [outcome] = report.videos
    assert outcome.state == VideoState.FAILED
    assert "non-public address (127.0.0.1)" in outcome.error
    assert site.hits[hits_before:] == []  # refused before connecting
    assert any(isinstance(h, ArticleHit) for h in ctx.index.search("morning briefing"))


def test_local_markdown_article_with_relative_video(tmp_path: Path,
                                                    models: ModelProvider) -> None:
    folder = tmp_path / "offline"
    folder.mkdir()
    (folder / "clip.mp4").write_bytes((MEDIA / "briefing-b.mp4").read_bytes())
    (folder / "story.md").write_text(
        "# Flood warning raised\n\nThe council spoke today. [Watch](clip.mp4)\n"
    )
    ctx = make_context(tmp_path / "data", models)
    report = ingest(str(folder / "story.md"), ctx)
    assert report.article.title == "Flood warning raised"
    assert [v.state for v in report.videos] == [VideoState.DONE]
    clip = _clips(ctx.index.search('"thousands of sandbags"'))[0]
    assert clip.video_url == (folder / "clip.mp4").as_uri()
