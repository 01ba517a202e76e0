"""The ``briefing`` command as a user runs it, in a subprocess."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import MANIFEST, MEDIA, Ingested, cli_env
from tests.siteserver import Site

BRIEFING = [sys.executable, "-m", "api"]


def run(args: list[str], data_dir: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*BRIEFING, *args], capture_output=True, text=True, timeout=300,
                          env=cli_env(data_dir, **env))


@pytest.fixture(scope="module")
def data_dir(ingested: Ingested) -> Path:
    return ingested.ctx.data.root


def test_search_json_has_exactly_the_documented_shape(data_dir: Path, site: Site) -> None:
    proc = run(["search", '"relief workers"', "--json", "--limit", "3"], data_dir)
    assert proc.returncode == 0, proc.stderr
    payload = json.loads(proc.stdout)
    assert payload["query"] == '"relief workers"'
    clip = payload["results"][0]
    assert list(clip) == ["type", "score", "video_id", "video_url", "start", "end", "text",
                          "highlight", "context", "link", "articles", "match", "heard",
                          "sounds_like"]
    assert (clip["match"], clip["heard"], clip["sounds_like"]) == ("exact", "", None)
    assert clip["type"] == "clip"
    assert clip["video_url"] == site.url("media/briefing-a.mp4")
    assert clip["link"] == f"{clip['video_url']}#t={clip['start']:.1f},{clip['end']:.1f}"
    assert "<mark>relief</mark> <mark>workers</mark>" in clip["highlight"].lower()
    assert {"url", "title"} == set(clip["articles"][0])


def test_search_json_article_result_shape(data_dir: Path) -> None:
    proc = run(["search", "gale", "--json"], data_dir)
    article = json.loads(proc.stdout)["results"][0]
    assert list(article) == ["type", "score", "url", "title", "source", "published", "highlight"]
    assert article["published"] == "2026-11-20"
    assert "<mark>gale</mark>" in article["highlight"]


def test_search_table_shows_time_range_and_title(data_dir: Path) -> None:
    sentence = MANIFEST["briefing-a.mp4"]["sentences"][4]
    proc = run(["search", f'"{sentence["phrase"]}"'], data_dir)
    assert proc.returncode == 0, proc.stderr
    match = re.search(r"(\d\d):(\d\d\.\d)–(\d\d):(\d\d\.\d)", proc.stdout)
    assert match, proc.stdout
    start = int(match[1]) * 60 + float(match[2])
    assert sentence["start"] - 1.2 <= start <= sentence["end"]
    assert "Harbour reopens" in proc.stdout


# As the bundled model writes it.
HOLDING = re.compile(r"The cease-?fire is holding", re.I)


def test_search_shows_the_whole_sentence_a_clip_starts_in(data_dir: Path) -> None:
    # "The ceasefire is holding, and relief workers can now reach the villages."
    clip = json.loads(run(["search", '"relief workers"', "--json"], data_dir).stdout
                      )["results"][0]
    assert "holding" not in clip["highlight"]  # the clip itself starts at the hit
    assert HOLDING.match(clip["context"])
    assert "<mark>relief</mark> <mark>workers</mark>" in clip["context"].lower()
    assert clip["context"].endswith(clip["highlight"])
    on_terminal = run(["search", '"relief workers"'], data_dir, TTY_COMPATIBLE="1",
                      NO_COLOR="1")
    assert "┃" in on_terminal.stdout  # a table on a terminal
    assert HOLDING.search(on_terminal.stdout)


def test_piped_search_prints_whole_tab_separated_lines(data_dir: Path, site: Site) -> None:
    clips = json.loads(run(["search", '"relief workers"', "--json"], data_dir).stdout
                       )["results"]
    # A narrow terminal width must not matter when stdout is a pipe.
    proc = run(["search", '"relief workers"'], data_dir, COLUMNS="40")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == len(clips)
    when, link, said, titles = lines[0].split("\t")
    assert link == clips[0]["link"] and "#t=" in link
    assert re.fullmatch(r"\d\d:\d\d\.\d–\d\d:\d\d\.\d", when)
    assert HOLDING.match(said) and "<mark>" not in said
    assert titles == "; ".join(a["title"] for a in clips[0]["articles"])
    article = run(["search", "gale", "--type", "article"], data_dir, COLUMNS="40").stdout
    what, url, excerpt, title = article.splitlines()[0].split("\t")
    assert what == "article" and url.startswith(site.url(""))
    assert "gale" in excerpt.lower() and title


def test_query_of_only_stopwords_says_so(data_dir: Path) -> None:
    proc = run(["search", "The of and"], data_dir)
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.strip() == "error: only stopwords: the, of, and; nothing to search for"
    acronym = run(["search", "WHO", "--json"], data_dir)  # capitals: a name, searched
    assert acronym.returncode == 0, acronym.stderr


@pytest.mark.parametrize("query", ['"unclosed phrase', "((( ::: ***", "x" * 2000])
def test_malformed_query_is_one_clear_line(data_dir: Path, query: str) -> None:
    proc = run(["search", query], data_dir)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")


def test_status_counts_states_and_failures(data_dir: Path) -> None:
    proc = run(["status", "--json"], data_dir)
    status = json.loads(proc.stdout)
    assert status["articles"] == 2
    assert status["videos"]["done"] == 3  # a, b and the mirror of a
    assert status["videos"]["failed"] == 4
    reasons = " ".join(f["error"] for f in status["failed"])
    assert "no audio track" in reasons and "HTTP 404" in reasons
    # briefing-a (32 s) and briefing-b (23 s), each counted once.
    expected = (MANIFEST["briefing-a.mp4"]["duration"] + MANIFEST["briefing-b.mp4"]["duration"])
    assert status["hours_transcribed"] == pytest.approx(expected / 3600, abs=0.001)


def test_ingest_exit_codes_and_per_video_lines(tmp_path: Path, site: Site) -> None:
    proc = run(["ingest", site.url("article-a.html")], tmp_path)
    assert proc.returncode == 0, proc.stderr
    # The summary (what happened to each video) is the command's output: stdout.
    assert "video " + site.url("media/noaudio.mp4") + ": the video has no audio track" in (
        proc.stdout.replace("\n", ""))
    missing = run(["ingest", str(tmp_path / "nope.html")], tmp_path)
    assert missing.returncode == 1
    assert "no such file" in missing.stderr and "Traceback" not in missing.stderr
    gone = run(["ingest", site.url("no-such-article.html")], tmp_path)
    assert gone.returncode == 1 and "HTTP 404" in gone.stderr


def test_ingest_of_a_private_url_is_refused_by_default(tmp_path: Path, site: Site) -> None:
    proc = run(["ingest", site.url("article-a.html")], tmp_path,
               BRIEFING_ALLOW_PRIVATE_NETWORKS="0")
    assert proc.returncode == 1
    assert "non-public address" in proc.stderr and "Traceback" not in proc.stderr


_SRT_TIME = r"(\d\d):(\d\d):(\d\d),(\d\d\d)"


def _seconds(parts: tuple[str, ...]) -> float:
    h, m, s, ms = (int(p) for p in parts)
    return h * 3600 + m * 60 + s + ms / 1000


def test_transcribe_writes_valid_srt(tmp_path: Path) -> None:
    out = tmp_path / "a.srt"
    proc = run(["transcribe", str(MEDIA / "briefing-a.mp4"), "--format", "srt", "-o", str(out)],
               tmp_path)
    assert proc.returncode == 0, proc.stderr
    blocks = out.read_text().strip().split("\n\n")
    previous_end = 0.0
    for number, block in enumerate(blocks, start=1):
        lines = block.split("\n")
        assert lines[0] == str(number)
        m = re.fullmatch(f"{_SRT_TIME} --> {_SRT_TIME}", lines[1])
        assert m, lines[1]
        start, end = _seconds(m.groups()[:4]), _seconds(m.groups()[4:])
        assert previous_end <= start < end <= 33
        previous_end = end
        assert 1 <= len(lines[2:]) <= 2 and all(0 < len(line) <= 42 for line in lines[2:])
    assert "water supply" in out.read_text().lower()
    assert not (tmp_path / "index").exists()  # transcribe never touches the index


def test_transcribe_vtt_and_txt_and_json(tmp_path: Path) -> None:
    vtt = run(["transcribe", str(MEDIA / "briefing-b.mp4"), "--format", "vtt"], tmp_path)
    assert vtt.stdout.startswith("WEBVTT\n\n")
    assert re.search(r"^\d\d:\d\d:\d\d\.\d\d\d --> \d\d:\d\d:\d\d\.\d\d\d$", vtt.stdout, re.M)
    txt = run(["transcribe", str(MEDIA / "briefing-b.mp4")], tmp_path)
    assert "sandbags" in txt.stdout.lower()
    raw = run(["transcribe", str(MEDIA / "briefing-b.mp4"), "-f", "json"], tmp_path)
    data = json.loads(raw.stdout)
    assert data["model"] == "tiny.en" and data["language"] == "en"
    words = [w for s in data["segments"] for w in s["words"]]
    assert words and all(w["start"] <= w["end"] for w in words)


def test_transcribe_bad_inputs_are_one_line(tmp_path: Path) -> None:
    shutil.copy(MEDIA / "noaudio.mp4", tmp_path / "silent.mp4")
    for source, reason in [(tmp_path / "silent.mp4", "has no audio track"),
                           (MEDIA / "notvideo.mp4", "is not a video"),
                           (tmp_path / "absent.mp4", "no such file")]:
        proc = run(["transcribe", str(source)], tmp_path)
        assert proc.returncode == 1
        assert reason in proc.stderr and "Traceback" not in proc.stderr


# NumPy is not among them: the phonetic pass aligns phones with it once the exact matches
# do not fill the page (and only then: an exact-only search does not load it).
HEAVY_MODULES = ("faster_whisper", "ctranslate2", "onnxruntime", "celery", "fastapi",
                 "uvicorn", "pandas", "pydantic_settings")


@pytest.mark.parametrize("as_json", [True, False])
def test_search_loads_no_transcription_queue_or_server_modules(data_dir: Path,
                                                               as_json: bool) -> None:
    # `python -X importtime` lists every module the process imported, on stderr.
    args = ["search", '"relief workers"', *(["--json"] if as_json else [])]
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "api", *args],
                          capture_output=True, text=True, timeout=300,
                          env=cli_env(data_dir))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "relief" in proc.stdout.lower()  # the search really ran and found the clip
    imported = {line.rsplit("|", 1)[-1].strip().split(".")[0]
                for line in proc.stderr.splitlines() if line.startswith("import time:")}
    assert "whoosh" in imported
    assert imported.isdisjoint(HEAVY_MODULES), sorted(imported & set(HEAVY_MODULES))


def test_search_reads_the_same_data_dir_default_as_the_settings() -> None:
    from api.cli.common import DEFAULT_DATA_DIR
    from worker.settings import Settings

    assert Settings.model_fields["data_dir"].default == DEFAULT_DATA_DIR


def test_settings_decode_as_the_library_defaults_measured_best() -> None:
    from worker.pipeline.wiring import model_provider, transcribe_options
    from worker.settings import Settings
    from worker.speech.models import DEFAULT_CPU_THREADS
    from worker.speech.transcribe import TranscribeOptions

    settings = Settings()
    assert transcribe_options(settings).batch_size == TranscribeOptions().batch_size == 8
    assert model_provider(settings).cpu_threads == DEFAULT_CPU_THREADS == 1
    tuned = Settings(batch_size=0, cpu_threads=2)
    assert transcribe_options(tuned).batch_size == 0
    assert model_provider(tuned).cpu_threads == 2


def test_a_transcribing_worker_runs_one_process_per_thread_budget() -> None:
    from worker.queue.config import INDEX, MEDIA, TRANSCRIBE
    from worker.queue.run import default_concurrency

    assert default_concurrency([TRANSCRIBE], cores=8) == 8  # one thread each (the default)
    assert default_concurrency([TRANSCRIBE], cores=8, threads=2) == 4
    assert default_concurrency([TRANSCRIBE], cores=8, threads=0) == 2
    assert default_concurrency([MEDIA], cores=8) == 8
    assert default_concurrency([INDEX], cores=8) == 1


def test_search_on_an_index_without_the_phone_index_says_to_reindex(data_dir: Path,
                                                                      tmp_path: Path) -> None:
    from whoosh import index as windex

    from indexer.generations import _new_generation, _write_current
    from indexer.index import SearchIndex
    from indexer.schema import build_schema
    from worker.storage.datadir import DataDir

    copy = tmp_path / "data"
    shutil.copytree(data_dir, copy, ignore=shutil.ignore_patterns("index", "*.lock"))
    data = DataDir(copy)
    # The index as a version before the phone index wrote it.
    path = _new_generation(data.index_root)
    windex.create_in(str(path), build_schema(phone_index=False, sound_keys=True))
    _write_current(data.index_root, path.name)
    old = SearchIndex(data.index_root)
    for transcript in data.transcripts():
        old.add_transcript(transcript, data.video_url(transcript.video_id),
                           data.article_refs_for_video(transcript.video_id))
    old.close()
    before = run(["search", "Volantirs", "--json"], copy)
    assert before.returncode == 0, before.stderr
    assert "run `briefing reindex`" in before.stderr
    # The old index still answers, by its spelling-based sound keys (no similarity to show).
    [old_clip] = [r for r in json.loads(before.stdout)["results"] if r["type"] == "clip"][:1]
    assert (old_clip["match"], old_clip["heard"], old_clip["sounds_like"]) == (
        "phonetic", "", None)
    assert run(["reindex"], copy).returncode == 0
    after = run(["search", "Volantirs", "--json"], copy)
    assert after.returncode == 0 and "reindex" not in after.stderr
    [clip] = [r for r in json.loads(after.stdout)["results"] if r["type"] == "clip"][:1]
    assert (clip["match"], clip["heard"]) == ("phonetic", "Volunteers")
    assert 0.8 < clip["sounds_like"] <= 1.0
