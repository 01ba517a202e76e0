"""The OpenAPI schema is the contract: what it allows is answered, what it refuses is a 422.

HEAD is answered wherever GET is; dates are ``YYYY-MM-DD`` and nothing else (a number used to
be read as a Unix time); an empty query is refused by the schema, not only by the parser; and
schemathesis, driven by the schema alone, finds no answer the schema does not describe.
"""

from __future__ import annotations

import hashlib
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import positive_data_acceptance

from indexer.domain import Segment, Transcript, Word
from indexer.index import SearchIndex
from tests.apiserver import running, server_settings
from tests.conftest import MEDIA
from worker.storage.datadir import DataDir

TOKEN = "contract-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@dataclass
class Server:
    """A running server over a small data dir: one video with its transcript, one job."""

    client: httpx.Client
    base: str
    video_id: str
    job_id: str


def _stock(root: Path) -> str:
    """Store one video and its transcript (no model needed); return the video id."""
    data = DataDir(root)
    source = MEDIA / "briefing-b.mp4"
    part = data.tmp / "stock.part"
    shutil.copy(source, part)
    sha = hashlib.sha256(source.read_bytes()).hexdigest()
    meta = data.adopt_video(part, sha, source.stat().st_size, "mp4",
                            "https://news.example/briefing-b.mp4")
    words = (Word("harbour", 0.5, 1.0), Word("reopens", 1.0, 1.6))
    transcript = Transcript(video_id=meta.video_id, language="en", duration=2.0,
                            model="tiny.en", model_version="test",
                            segments=(Segment(0, 0.5, 1.6, "harbour reopens", words),))
    data.save_transcript(transcript)
    index = SearchIndex(data.index_root)
    index.add_transcript(transcript, "https://news.example/briefing-b.mp4", [])
    index.close()
    return meta.video_id


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("contract") / "data"
    video_id = _stock(root)
    # Private networks off: whatever URL schemathesis posts, the worker can fetch nothing.
    settings_ = server_settings(root, api_token=TOKEN, allow_private_networks=False)
    with running(settings_) as base, httpx.Client(base_url=base, timeout=60) as client:
        html = "<html><title>Harbour</title><body><p>The harbour reopens.</p></body></html>"
        posted = client.post("/articles", headers=AUTH,
                             json={"url": "https://news.example/harbour", "html": html})
        assert posted.status_code == 202, posted.text
        job_id = posted.json()["job_id"]
        deadline = time.monotonic() + 60
        while client.get(f"/jobs/{job_id}").json()["state"] not in ("done", "failed"):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        yield Server(client, base, video_id, job_id)


# -- HEAD --------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [
    "/", "/healthz", "/search?q=harbour", "/search?q=", "/videos/{video}",
    "/videos/{video}/transcript", "/videos/{video}/transcript?format=srt", "/jobs/{job}",
    "/jobs/0000", "/videos/0000000000000000", "/openapi.json", "/static/app.js",
])
def test_head_is_answered_wherever_get_is(server: Server, path: str) -> None:
    url = path.format(video=server.video_id, job=server.job_id)
    got = server.client.get(url)
    head = server.client.head(url)
    assert head.status_code == got.status_code, (head.status_code, head.text)
    assert head.content == b""
    skip = {"date"}
    assert {k: v for k, v in head.headers.items() if k not in skip} == {
        k: v for k, v in got.headers.items() if k not in skip}


def test_head_on_a_write_only_path_is_still_405(server: Server) -> None:
    # /articles is read too now (GET lists the articles); this path is write-only.
    response = server.client.head(f"/jobs/{server.job_id}/resume")
    assert response.status_code == 405
    assert "POST" in response.headers.get("allow", "")


def test_a_path_of_two_routers_allows_both_methods(server: Server) -> None:
    response = server.client.put("/articles")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"


# -- dates and the query -----------------------------------------------------------------------


@pytest.mark.parametrize("value", ["-7.4e-88", "0", "1763596800", "1763596800.5",
                                   "2026-11-20T00:00:00", "20261120", "2026-11-20 ",
                                   "2026-W47", "+2026-11-20"])
@pytest.mark.parametrize("name", ["published_from", "published_to"])
def test_dates_are_calendar_dates_only(server: Server, name: str, value: str) -> None:
    response = server.client.get("/search", params={"q": "harbour", name: value})
    assert response.status_code == 422, response.text
    body = response.json()
    assert set(body) == {"error", "detail"} and body["error"] == "invalid_parameters"
    assert name in body["detail"]


def test_a_calendar_date_is_accepted(server: Server) -> None:
    response = server.client.get("/search", params={"q": "harbour",
                                                    "published_from": "2026-11-20",
                                                    "published_to": "2026-11-21"})
    assert response.status_code == 200, response.text


def test_schema_and_behaviour_agree_on_the_empty_query(server: Server) -> None:
    spec = server.client.get("/openapi.json").json()
    [q] = [p for p in spec["paths"]["/search"]["get"]["parameters"] if p["name"] == "q"]
    assert q["schema"].get("minLength") == 1
    response = server.client.get("/search", params={"q": ""})
    assert response.status_code == 422, response.text
    assert response.json()["error"] == "invalid_parameters"


def test_dates_are_declared_as_dates(server: Server) -> None:
    spec = server.client.get("/openapi.json").json()
    for parameter in spec["paths"]["/search"]["get"]["parameters"]:
        if parameter["name"].startswith("published_"):
            options = parameter["schema"].get("anyOf", [parameter["schema"]])
            assert {"type": "string", "format": "date"} in options, parameter


# -- schemathesis over the whole schema --------------------------------------------------------


@pytest.fixture(scope="module")
def api_schema(server: Server) -> Any:
    return schemathesis.openapi.from_url(f"{server.base}/openapi.json")


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=25, deadline=5000, derandomize=True,
          suppress_health_check=list(HealthCheck))
def test_every_answer_is_one_the_schema_describes(case: Any) -> None:
    """Status codes, content types, headers and bodies as declared; no 5xx; bad input 4xx."""
    # Not "schema-valid data is accepted": a search query's grammar and an article URL's host
    # are beyond JSON Schema, and their rejections are the documented 400 and 422.
    case.call_and_validate(headers=AUTH, excluded_checks=[positive_data_acceptance])
