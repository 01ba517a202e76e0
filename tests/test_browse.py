"""Browsing what is stored: GET /videos, GET /articles, `briefing list`, paginated."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.apiserver import running, server_settings
from tests.conftest import Ingested, cli_env
from tests.siteserver import Site

BRIEFING = [sys.executable, "-m", "api"]


@pytest.fixture(scope="module")
def data_dir(ingested: Ingested) -> Path:
    return ingested.ctx.data.root


@pytest.fixture(scope="module")
def api(data_dir: Path) -> Iterator[httpx.Client]:
    with running(server_settings(data_dir)) as base, httpx.Client(base_url=base,
                                                                  timeout=60) as client:
        yield client


def test_videos_page_through_newest_first(api: httpx.Client) -> None:
    whole = api.get("/videos", params={"limit": 100}).json()
    assert whole["total"] == len(whole["items"]) >= 3
    stored = [v["stored"] for v in whole["items"]]
    assert stored == sorted(stored, reverse=True)
    seen = []
    offset: int | None = 0
    while offset is not None:
        page = api.get("/videos", params={"limit": 2, "offset": offset}).json()
        assert page["total"] == whole["total"] and len(page["items"]) <= 2
        seen += [v["video_id"] for v in page["items"]]
        offset = page["next_offset"]
    assert seen == [v["video_id"] for v in whole["items"]]


def test_video_entries_say_what_a_home_page_shows(api: httpx.Client, site: Site) -> None:
    items = api.get("/videos", params={"limit": 100}).json()["items"]
    done = [v for v in items if v["state"] == "done"]
    titles = {v["title"] for v in done}
    assert "Harbour reopens as the storm clean-up goes on" in titles
    shared = next(v for v in done if len(v["articles"]) == 2)
    assert shared["duration"] == pytest.approx(32.0, abs=0.5)
    assert shared["language"] == "en" and shared["model"] == "tiny.en"
    assert shared["published"] == "2026-11-21"  # the newest linking article's date
    failed = [v for v in items if v["state"] == "failed"]
    assert failed and all(v["error"] for v in failed)


def test_video_filters(api: httpx.Client) -> None:
    def ids(**params: str) -> set[str]:
        body = api.get("/videos", params={"limit": 100, **params}).json()
        return {v["video_id"] for v in body["items"]}

    everything = ids()
    done = ids(state="done")
    assert done and done < everything
    assert ids(source="OTHER GAZETTE") < done  # any case; only the shared video
    assert ids(published_from="2026-11-21") == ids(source="other gazette")
    assert ids(published_to="2026-11-19") == set()
    assert ids(language="en") == done
    assert api.get("/videos", params={"published_from": "21-11-2026"}).status_code == 422


def test_articles_page_and_filter(api: httpx.Client, site: Site) -> None:
    first = api.get("/articles", params={"limit": 1}).json()
    assert first["total"] >= 2 and first["next_offset"] == 1
    # Newest published first: article B (2026-11-21) before article A (2026-11-20).
    assert first["items"][0]["url"] == site.url("article-b.html")
    second = api.get("/articles", params={"limit": 1, "offset": 1}).json()
    assert second["items"][0]["id"] != first["items"][0]["id"]
    gazette = api.get("/articles", params={"source": "other gazette"}).json()
    assert [a["url"] for a in gazette["items"]] == [site.url("article-b.html")]
    assert len(gazette["items"][0]["video_ids"]) == 1


def test_cli_lists_the_same_as_the_api(api: httpx.Client, data_dir: Path) -> None:
    for kind, key in (("videos", "video_id"), ("articles", "id")):
        proc = subprocess.run([*BRIEFING, "list", kind, "--json", "-n", "2", "--offset", "1"],
                              capture_output=True, text=True, env=cli_env(data_dir),
                              timeout=120, check=False)
        assert proc.returncode == 0, proc.stderr
        listed = json.loads(proc.stdout)
        served = api.get(f"/{kind}", params={"limit": 2, "offset": 1}).json()
        assert listed["total"] == served["total"]
        assert [i[key] for i in listed["items"]] == [i[key] for i in served["items"]]
    table = subprocess.run([*BRIEFING, "list", "articles"], capture_output=True, text=True,
                           env=cli_env(data_dir), timeout=120, check=False)
    assert "Convoy reaches the city" in table.stdout and "of " in table.stdout


def test_jobs_listing(api: httpx.Client) -> None:
    assert api.get("/jobs", params={"active": True}).json() == []
    assert isinstance(api.get("/jobs").json(), list)


def test_bad_filters_are_one_clear_error(api: httpx.Client, data_dir: Path) -> None:
    bogus = api.get("/videos", params={"state": "finished"})
    assert bogus.status_code == 422 and bogus.json()["error"] == "invalid_parameters"
    assert "state" in bogus.json()["detail"]
    for args, said in ((["--from", "yesterday"], "dates like 2026-11-20, not 'yesterday'"),
                       (["--to", "2026-13-40"], "not '2026-13-40'"),
                       (["--state", "finished"], "finished")):
        proc = subprocess.run([*BRIEFING, "list", "videos", *args], capture_output=True,
                              text=True, env=cli_env(data_dir), timeout=120, check=False)
        assert proc.returncode != 0 and said in proc.stderr, (args, proc.stderr)
        assert "Traceback" not in proc.stderr and proc.stdout == ""
