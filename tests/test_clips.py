"""Clip export as a user does it: the cut file, its captions, its sidecar, and `verify`."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.apiserver import running, server_settings
from tests.conftest import MANIFEST, Ingested, cli_env
from tests.siteserver import Site
from worker.clips import media_facts
from worker.storage.datadir import DataDir
from worker.storage.files import file_sha256

BRIEFING = [sys.executable, "-m", "api"]
START, END = 5.3, 15.7  # across the 2nd and 3rd sentences of briefing-a
SENTENCE = MANIFEST["briefing-a.mp4"]["sentences"][5]  # "... relief workers can now reach ..."


def run(args: list[str], data_dir: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*BRIEFING, *args], capture_output=True, text=True, timeout=300,
                          env=cli_env(data_dir, **env), check=False)


@pytest.fixture(scope="module")
def data_dir(ingested: Ingested, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the session's ingested data dir (exports are recorded in it)."""
    copy = tmp_path_factory.mktemp("clips") / "data"
    shutil.copytree(ingested.ctx.data.root, copy, ignore=shutil.ignore_patterns("jobs.sqlite3*"))
    return copy


@pytest.fixture(scope="module")
def video_a(ingested: Ingested, site: Site) -> str:
    record = ingested.ctx.data.source(site.url("media/briefing-a.mp4"))
    assert record is not None and record.video_id
    return record.video_id


@pytest.fixture(scope="module")
def exported(data_dir: Path, video_a: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("export") / "clip.mp4"
    proc = run(["clip", video_a, str(START), str(END), "-o", str(out)], data_dir)
    assert proc.returncode == 0, proc.stderr
    return out


def _cues(text: str) -> list[tuple[float, float]]:
    stamps = re.findall(r"(\d\d):(\d\d):(\d\d)[,.](\d\d\d) --> (\d\d):(\d\d):(\d\d)[,.](\d\d\d)",
                        text)
    return [(int(h) * 3600 + int(m) * 60 + int(s) + int(ms) / 1000,
             int(h2) * 3600 + int(m2) * 60 + int(s2) + int(ms2) / 1000)
            for h, m, s, ms, h2, m2, s2, ms2 in stamps]


def test_clip_lasts_what_was_asked_within_one_frame(exported: Path, data_dir: Path,
                                                    video_a: str) -> None:
    original = DataDir(data_dir).video_file(video_a)
    assert original is not None
    fps = media_facts(original).fps
    assert fps is not None
    facts = media_facts(exported)
    assert abs(facts.duration - (END - START)) <= 1 / fps
    assert facts.fps == fps


def test_captions_are_in_clip_time(exported: Path) -> None:
    sidecar = json.loads(exported.with_suffix(".json").read_text())
    first_word = sidecar["words"][0]
    for suffix in (".srt", ".vtt"):
        cues = _cues(exported.with_suffix(suffix).read_text())
        assert cues, suffix
        # The first cue starts when its first word is said, counted from the clip's start
        # (a word begun just before the cut starts at 0).
        assert cues[0][0] == pytest.approx(max(0.0, first_word["start"] - START), abs=0.002)
        assert 0 <= cues[0][0] < 1.0
        assert cues[-1][1] <= END - START + 0.001
    assert exported.with_suffix(".vtt").read_text().startswith("WEBVTT")


def test_sidecar_says_where_the_clip_came_from(exported: Path, data_dir: Path, video_a: str,
                                               site: Site) -> None:
    data = DataDir(data_dir)
    meta = data.video_meta(video_a)
    assert meta is not None
    sidecar: dict[str, Any] = json.loads(exported.with_suffix(".json").read_text())
    assert sidecar["clip"]["sha256"] == file_sha256(exported)
    assert sidecar["original"]["sha256"] == meta.sha256
    sources = {s["url"]: s["fetched"] for s in sidecar["original"]["sources"]}
    assert site.url("media/briefing-a.mp4") in sources
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", t) for t in sources.values())
    titles = {a["title"] for a in sidecar["articles"]}
    assert titles == {"Harbour reopens as the storm clean-up goes on", "Convoy reaches the city"}
    assert (sidecar["start"], sidecar["end"]) == (START, END)
    assert "storm damage" in sidecar["text"] and "old bridge" in sidecar["text"]
    assert all(START <= (w["start"] + w["end"]) / 2 <= END for w in sidecar["words"])
    assert all(0 < w["probability"] <= 1 for w in sidecar["words"])
    assert sidecar["transcript"]["model"] == "tiny.en"
    assert sidecar["transcript"]["options"]
    assert sidecar["software"]["ffmpeg"].startswith("ffmpeg version")


def test_verify_passes_on_the_clip_as_exported(exported: Path, data_dir: Path) -> None:
    proc = run(["verify", str(exported), "--json"], data_dir)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(proc.stdout)
    assert report["ok"] is True
    assert [c["name"] for c in report["checks"]] == ["clip", "original", "words"]


def test_verify_fails_on_a_tampered_clip(exported: Path, data_dir: Path,
                                         tmp_path: Path) -> None:
    tampered = tmp_path / "clip.mp4"
    shutil.copy(exported, tampered)
    shutil.copy(exported.with_suffix(".json"), tampered.with_suffix(".json"))
    raw = bytearray(tampered.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    tampered.write_bytes(bytes(raw))
    proc = run(["verify", str(tampered)], data_dir)
    assert proc.returncode == 1
    assert "✗ clip:" in proc.stdout and "the clip was changed" in proc.stdout
    assert "✓ original:" in proc.stdout


def test_verify_fails_when_the_sidecar_claims_other_words(exported: Path, data_dir: Path,
                                                          tmp_path: Path) -> None:
    clip = tmp_path / "clip.mp4"
    shutil.copy(exported, clip)
    sidecar = json.loads(exported.with_suffix(".json").read_text())
    sidecar["words"][0]["word"] = " bridge"
    clip.with_suffix(".json").write_text(json.dumps(sidecar))
    proc = run(["verify", str(clip), "--json"], data_dir)
    assert proc.returncode == 1
    checks = {c["name"]: c["ok"] for c in json.loads(proc.stdout)["checks"]}
    assert checks == {"clip": True, "original": True, "words": False}


def test_verify_refuses_what_is_not_a_sidecar(exported: Path, data_dir: Path,
                                              tmp_path: Path) -> None:
    other = tmp_path / "other.json"
    other.write_text('{"hello": 1}')
    proc = run(["verify", str(exported), str(other)], data_dir)
    assert proc.returncode == 1
    assert proc.stderr.startswith("error: ") and "not a briefing clip sidecar" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_clip_of_a_search_hit(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "hit.mp4"
    proc = run(["clip", "--query", f'"{SENTENCE["phrase"]}"', "--rank", "1", "-o", str(out),
                "--json"], data_dir)
    assert proc.returncode == 0, proc.stderr
    done = json.loads(proc.stdout)
    found = run(["search", f'"{SENTENCE["phrase"]}"', "--type", "clip", "--json"], data_dir)
    first = json.loads(found.stdout)["results"][0]
    assert (done["video_id"], done["start"], done["end"]) == (first["video_id"], first["start"],
                                                              first["end"])
    sidecar = json.loads(out.with_suffix(".json").read_text())
    assert SENTENCE["phrase"] in sidecar["text"]


def test_bad_bounds_are_one_error_line(data_dir: Path, video_a: str, tmp_path: Path) -> None:
    out = tmp_path / "long.mp4"
    proc = run(["clip", video_a, "1", "30", "-o", str(out)], data_dir,
               BRIEFING_MAX_CLIP_SECONDS="10")
    assert proc.returncode == 1
    assert proc.stderr.count("\n") == 1 and "over the limit of 10 s" in proc.stderr
    assert not out.exists()
    proc = run(["clip", video_a, "40", "45", "-o", str(out)], data_dir)
    assert proc.returncode == 1 and "after the video's end" in proc.stderr
    proc = run(["clip", video_a, "abc", "4", "-o", str(out)], data_dir)
    assert proc.returncode == 1 and "START and END are seconds" in proc.stderr


@pytest.fixture(scope="module")
def api(data_dir: Path) -> Iterator[httpx.Client]:
    with running(server_settings(data_dir)) as base, httpx.Client(base_url=base,
                                                                  timeout=120) as client:
        yield client


def test_http_clip_and_its_sidecar_agree(api: httpx.Client, video_a: str,
                                         tmp_path: Path) -> None:
    params = {"start": START, "end": END}
    clip = api.get(f"/videos/{video_a}/clip", params=params)
    assert clip.status_code == 200 and clip.headers["content-type"] == "video/mp4"
    assert f'filename="{video_a}-5.30-15.70.mp4"' in clip.headers["content-disposition"]
    sidecar = api.get(f"/videos/{video_a}/clip", params={**params, "format": "json"}).json()
    path = tmp_path / "clip.mp4"
    path.write_bytes(clip.content)
    assert file_sha256(path) == sidecar["clip"]["sha256"]
    assert abs(media_facts(path).duration - (END - START)) <= 0.5
    vtt = api.get(f"/videos/{video_a}/clip", params={**params, "format": "vtt"})
    assert vtt.text.startswith("WEBVTT") and _cues(vtt.text)[0][0] < 1.0


def test_http_clip_errors(api: httpx.Client, video_a: str) -> None:
    too_long = api.get(f"/videos/{video_a}/clip", params={"start": 0, "end": 5000})
    assert too_long.status_code == 400 and too_long.json()["error"] == "bad_clip"
    missing = api.get("/videos/0123456789abcdef/clip", params={"start": 0, "end": 5})
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"
    backwards = api.get(f"/videos/{video_a}/clip", params={"start": 9, "end": 3})
    assert backwards.status_code == 400


def test_clip_of_25_fps_video_is_frame_accurate(tmp_path: Path) -> None:
    """At 25 fps one frame is 40 ms: the cut must start and end on the asked frames."""
    from indexer.domain import Segment, Transcript, Word
    from worker.clips import export_clip
    from worker.speech.media import ffmpeg_binary

    source = tmp_path / "hd.mp4"
    subprocess.run([ffmpeg_binary(), "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i",
                    "testsrc2=size=320x180:rate=25:duration=32", "-i",
                    str(Path(__file__).parent / "fixtures" / "media" / "briefing-a.mp4"),
                    "-map", "0:v", "-map", "1:a", "-c:v", "libx264", "-g", "50", "-c:a", "aac",
                    "-shortest", str(source)], check=True)
    data = DataDir(tmp_path / "data")
    part = data.tmp / "hd.part"
    shutil.copy(source, part)
    meta = data.adopt_video(part, file_sha256(source), source.stat().st_size, "mp4",
                            "https://news.example/hd.mp4")
    words = tuple(Word(f" w{i}", i * 0.5, i * 0.5 + 0.4, 0.9) for i in range(60))
    data.save_transcript(Transcript(meta.video_id, "en", 32.0, "tiny.en", "test",
                                    (Segment(0, 0.0, 30.0, "words", words),)))
    for start, end in ((5.3, 15.3), (12.37, 22.41), (0.0, 7.96)):
        done = export_clip(data, meta.video_id, start, end, tmp_path / "hd-clip.mp4")
        facts = media_facts(done.clip)
        assert facts.fps == 25
        assert abs(facts.duration - (end - start)) <= 1 / 25, (start, end, facts)


def test_verify_fails_when_the_sidecar_quotes_other_text(exported: Path, data_dir: Path,
                                                         tmp_path: Path) -> None:
    """The ``text`` is what a reader quotes: the words' timings cannot vouch for another."""
    clip = tmp_path / "clip.mp4"
    shutil.copy(exported, clip)
    sidecar = json.loads(exported.with_suffix(".json").read_text())
    said = sidecar["text"]
    sidecar["text"] = said.replace("storm damage", "no damage")
    assert sidecar["text"] != said
    clip.with_suffix(".json").write_text(json.dumps(sidecar))
    proc = run(["verify", str(clip), "--json"], data_dir)
    assert proc.returncode == 1
    checks = {c["name"]: c for c in json.loads(proc.stdout)["checks"]}
    assert checks["clip"]["ok"] and checks["original"]["ok"]
    assert not checks["words"]["ok"]
    assert "text is not what its words say" in checks["words"]["detail"]
    assert said in checks["words"]["detail"]


def test_verify_refuses_a_sidecar_whose_video_id_is_a_path(exported: Path, data_dir: Path,
                                                           tmp_path: Path,
                                                           video_a: str) -> None:
    # A sidecar handed over by someone else names a folder outside the data dir that looks
    # like a stored video: it must not be taken for one.
    outside = data_dir.parent / "outside"  # videos/../../outside
    shutil.copytree(data_dir / "videos" / video_a, outside)
    clip = tmp_path / "clip.mp4"
    shutil.copy(exported, clip)
    sidecar = json.loads(exported.with_suffix(".json").read_text())
    sidecar["original"]["video_id"] = "../../outside"
    clip.with_suffix(".json").write_text(json.dumps(sidecar))
    try:
        proc = run(["verify", str(clip)], data_dir)
    finally:
        shutil.rmtree(outside)
    assert proc.returncode == 1
    assert proc.stderr.startswith("error: ") and "names no video id" in proc.stderr


def test_rm_refuses_an_id_that_is_a_path(data_dir: Path, video_a: str,
                                         tmp_path: Path) -> None:
    # ``videos/../../keep`` holds a meta.json: the takedown must not empty that folder.
    keep = data_dir.parent / "keep"
    keep.mkdir()
    shutil.copy(data_dir / "videos" / video_a / "meta.json", keep / "meta.json")
    (keep / "notes.txt").write_text("mine")
    try:
        proc = run(["rm", "video", "../../keep", "--reason", "x"], data_dir)
        assert proc.returncode == 1
        assert proc.stderr.startswith("error: ") and "16 hex digits" in proc.stderr
        assert sorted(p.name for p in keep.iterdir()) == ["meta.json", "notes.txt"]
    finally:
        shutil.rmtree(keep)


def test_retranscribe_refuses_an_unknown_video_before_queueing(data_dir: Path) -> None:
    # The broker cannot be reached: the unknown id must be what is said, not the broker.
    proc = run(["retranscribe", "0123456789abcdef"], data_dir,
               BRIEFING_BROKER_URL="redis://127.0.0.1:9/0")
    assert proc.returncode == 1
    assert "no stored video 0123456789abcdef" in proc.stderr


def test_http_clip_after_a_retranscription_has_the_new_transcript(
        data_dir: Path, video_a: str, tmp_path: Path) -> None:
    copy = tmp_path / "data"
    shutil.copytree(data_dir, copy)
    params: dict[str, float | str] = {"start": START, "end": END, "format": "json"}
    with running(server_settings(copy)) as base:
        before = httpx.get(f"{base}/videos/{video_a}/clip", params=params, timeout=120).json()
        assert before["transcript"]["version"] == 1
        proc = run(["retranscribe", video_a], copy)
        assert proc.returncode == 0, proc.stderr
        after = httpx.get(f"{base}/videos/{video_a}/clip", params=params, timeout=120).json()
    assert after["transcript"]["version"] == 2
    name = f"{video_a}-{START:.2f}-{END:.2f}"
    assert after["clip"]["file"] == f"{name}.mp4"
    assert after["clip"]["captions"] == {"srt": f"{name}.srt", "vtt": f"{name}.vtt"}
    assert after["clip"]["sha256"] == file_sha256(
        copy / "clips" / video_a / "v2" / f"{START:.2f}-{END:.2f}" / f"{name}.mp4")


def test_http_retranscribe_takes_a_model_name_not_a_path(api: httpx.Client, video_a: str,
                                                         data_dir: Path) -> None:
    model_dir = data_dir / "models"  # exists on the server's disk
    model_dir.mkdir(exist_ok=True)
    for model in (str(model_dir), "Systran/faster-whisper-tiny", "nosuch"):
        refused = api.post(f"/videos/{video_a}/retranscribe", json={"model": model})
        assert refused.status_code == 422, (model, refused.text)
        assert refused.json()["error"] == "invalid_parameters"
        assert "not a Whisper model name" in refused.json()["detail"]
    assert DataDir(data_dir).transcript_versions(video_a) == []
