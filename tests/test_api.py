"""The HTTP API over real HTTP: a uvicorn server on 127.0.0.1 in front of a real index."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate as validate_openapi
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from api.http.inline_worker import InlineWorker
from indexer.domain import ArticleHit, Clip
from tests.apiserver import running, server_settings
from tests.conftest import MANIFEST, MEDIA, Ingested, cli_env, make_context
from tests.siteserver import Site
from worker.errors import WorkerBusyError
from worker.pipeline import ModelProvider
from worker.storage.jobs import JobStore
from worker.storage.states import JobState

TOKEN = "s3cret-token-for-tests"
# The fields of a search result, in order, as the domain (and so the CLI's --json) has them.
CLIP_KEYS = list(Clip(0.0, "v", "u", 0.0, 1.0, "t", "h").to_json())
ARTICLE_KEYS = list(ArticleHit(0.0, "a", "u", "t", "s", "p", "h").to_json())


# -- servers -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def data_dir(ingested: Ingested) -> Path:
    return ingested.ctx.data.root


@pytest.fixture(scope="module")
def api(data_dir: Path) -> Iterator[httpx.Client]:
    """A read-mostly server over the session's ingested data dir."""
    with running(server_settings(data_dir)) as base, httpx.Client(base_url=base,
                                                                  timeout=60) as client:
        yield client


@pytest.fixture(scope="module")
def writable(data_dir: Path, tmp_path_factory: pytest.TempPathFactory
             ) -> Iterator[httpx.Client]:
    """A server over a copy of the ingested data dir, for posting jobs."""
    copy = tmp_path_factory.mktemp("api-writable") / "data"
    shutil.copytree(data_dir, copy, ignore=shutil.ignore_patterns("jobs.sqlite3*"))
    with running(server_settings(copy)) as base, httpx.Client(base_url=base,
                                                              timeout=60) as client:
        yield client


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    """A server with a token and small body limits, over an empty data dir."""
    settings = server_settings(tmp_path_factory.mktemp("api-guarded"), api_token=TOKEN,
                               max_body_bytes=64 * 1024, max_article_bytes=4096)
    with running(settings) as base, httpx.Client(base_url=base, timeout=60) as client:
        yield client


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture(scope="module")
def brokered(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    """A server whose broker is configured but down (nothing listens on its port)."""
    url = f"redis://:hunter2-broker-password@127.0.0.1:{_closed_port()}/0"
    settings = server_settings(tmp_path_factory.mktemp("api-brokered"), broker_url=url)
    with running(settings) as base, httpx.Client(base_url=base, timeout=60) as client:
        yield client


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A private redis-server on a free port (not the shared one a queue worker may consume)."""
    port = _closed_port()
    folder = tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen(["redis-server", "--bind", "127.0.0.1", "--port", str(port),
                             "--save", "", "--appendonly", "no", "--dir", str(folder)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    deadline = time.monotonic() + 20
    while True:
        try:
            client.ping()
            break
        except redis.exceptions.ConnectionError:
            assert proc.poll() is None and time.monotonic() < deadline, "redis did not start"
            time.sleep(0.05)
    yield url
    client.close()
    proc.terminate()
    proc.wait(10)


@pytest.fixture(scope="module")
def queued(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[httpx.Client]:
    """A server whose jobs go to a real Redis broker (no worker consumes them here)."""
    settings = server_settings(tmp_path_factory.mktemp("api-queued"), broker_url=redis_url)
    with running(settings) as base, httpx.Client(base_url=base, timeout=60) as client:
        yield client


def wait_for_job(client: httpx.Client, job_id: str, timeout: float = 240) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        job: dict[str, Any] = client.get(f"/jobs/{job_id}").json()
        if job["state"] in ("done", "failed"):
            return job
        assert time.monotonic() < deadline, f"job still {job['state']}: {job}"
        time.sleep(0.2)


def assert_error(response: httpx.Response, status: int, error: str) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error", "detail"}, body
    assert body["error"] == error, body
    assert "Traceback" not in body["detail"]
    detail: str = body["detail"]
    return detail


# -- the OpenAPI schema as the contract ------------------------------------------------------


@pytest.fixture(scope="module")
def spec(api: httpx.Client) -> dict[str, Any]:
    document: dict[str, Any] = api.get("/openapi.json").json()
    return document


def conforms(spec: dict[str, Any], path: str, method: str, response: httpx.Response) -> None:
    """Validate a real response body against what the schema declares for its status."""
    pointer = "/".join(part.replace("~", "~0").replace("/", "~1") for part in
                       ["paths", path, method, "responses", str(response.status_code),
                        "content", "application/json", "schema"])
    registry: Registry[Any] = Registry().with_resource(
        "urn:openapi", Resource.from_contents(spec, default_specification=DRAFT202012))
    validator = Draft202012Validator({"$ref": f"urn:openapi#/{pointer}"}, registry=registry)
    validator.validate(response.json())


def test_openapi_is_valid_and_lists_every_endpoint(spec: dict[str, Any]) -> None:
    validate_openapi(spec)
    operations = {(path, method) for path, item in spec["paths"].items() for method in item}
    assert operations >= {
        ("/articles", "post"), ("/jobs/{job_id}", "get"), ("/search", "get"),
        ("/videos/{video_id}", "get"), ("/videos/{video_id}/transcript", "get"),
        ("/videos/{video_id}/media", "get"), ("/healthz", "get"), ("/", "get"),
    }
    schemas = spec["components"]["schemas"]
    assert list(schemas["ClipResult"]["properties"]) == CLIP_KEYS
    assert list(schemas["ArticleResult"]["properties"]) == ARTICLE_KEYS
    search_params = {p["name"] for p in spec["paths"]["/search"]["get"]["parameters"]}
    assert search_params == {"q", "limit", "offset", "type", "source", "published_from",
                             "published_to", "language"}
    transcript = spec["paths"]["/videos/{video_id}/transcript"]["get"]["responses"]["200"]
    assert set(transcript["content"]) == {"application/json", "application/x-subrip",
                                          "text/vtt", "text/plain"}


def test_write_endpoint_declares_the_token_only_when_one_is_set(
        spec: dict[str, Any], guarded: httpx.Client) -> None:
    assert "security" not in spec["paths"]["/articles"]["post"]
    guarded_spec = guarded.get("/openapi.json").json()
    assert guarded_spec["paths"]["/articles"]["post"]["security"] == [{"HTTPBearer": []}]
    assert guarded_spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"


# -- search ------------------------------------------------------------------------------------


def test_search_returns_the_same_objects_as_the_cli(api: httpx.Client, data_dir: Path,
                                                     spec: dict[str, Any]) -> None:
    query = '"relief workers"'
    response = api.get("/search", params={"q": query, "limit": 5})
    assert response.status_code == 200
    conforms(spec, "/search", "get", response)
    body = response.json()
    cli = subprocess.run([sys.executable, "-m", "api", "search", query, "--json", "--limit", "5"],
                         capture_output=True, text=True, timeout=120, env=cli_env(data_dir))
    assert cli.returncode == 0, cli.stderr
    assert body["results"] == json.loads(cli.stdout)["results"]
    assert body["query"] == query
    assert list(body["results"][0]) == CLIP_KEYS


def test_clip_times_match_the_spoken_sentence(api: httpx.Client) -> None:
    sentence = MANIFEST["briefing-a.mp4"]["sentences"][3]
    body = api.get("/search", params={"q": f'"{sentence["phrase"]}"'}).json()
    clip = body["results"][0]
    assert clip["type"] == "clip"
    assert sentence["start"] - 1.2 <= clip["start"] <= sentence["end"]
    assert clip["end"] >= sentence["end"] - 1.0
    assert "<mark>water</mark> <mark>supply</mark>" in clip["highlight"].lower()


def test_results_come_with_the_articles_they_belong_to(api: httpx.Client) -> None:
    body = api.get("/search", params={"q": '"food and medicine"'}).json()
    clip = body["results"][0]
    by_url = {a["url"]: a for a in body["articles"]}
    linked = [by_url[a["url"]] for a in clip["articles"]]
    assert {a["source"] for a in linked} == {"Example News", "Other Gazette"}
    assert {a["published"] for a in linked} == {"2026-11-20", "2026-11-21"}
    harbour = next(a for a in linked if a["source"] == "Example News")
    assert harbour["title"] == "Harbour reopens as the storm clean-up goes on"
    assert harbour["excerpt"].startswith("Officials gave their morning update")


def test_pages_follow_on_and_count_the_total(api: httpx.Client) -> None:
    # In both briefings and an article ("the", in every document, is refused as a stopword).
    everything = api.get("/search", params={"q": "morning", "limit": 100}).json()
    total = everything["total"]
    assert total >= 3 and len(everything["results"]) == total
    first = api.get("/search", params={"q": "morning", "limit": 2}).json()
    second = api.get("/search", params={"q": "morning", "limit": 2, "offset": 2}).json()
    assert first["total"] == second["total"] == total
    assert first["next_offset"] == 2 and second["offset"] == 2
    assert first["results"] + second["results"] == everything["results"][:4]
    last = api.get("/search", params={"q": "morning", "limit": 2, "offset": total - 1}).json()
    assert last["next_offset"] is None
    assert last["results"] == everything["results"][-1:]


def test_type_filter(api: httpx.Client) -> None:
    clips = api.get("/search", params={"q": "storm", "type": "clip"}).json()["results"]
    articles = api.get("/search", params={"q": "storm", "type": "article"}).json()["results"]
    assert clips and {r["type"] for r in clips} == {"clip"}
    assert articles and {r["type"] for r in articles} == {"article"}


def test_source_and_date_filters(api: httpx.Client) -> None:
    # "storm" is in Example News' article of the 20th, "convoy" in Other Gazette's of the 21st.
    def sources(q: str, **filters: str) -> list[str]:
        params = {"q": q, "type": "article", **filters}
        return [r["source"] for r in api.get("/search", params=params).json()["results"]]

    assert sources("storm") == ["Example News"] and sources("convoy") == ["Other Gazette"]
    assert sources("storm", source="other gazette") == []
    assert sources("convoy", source="other gazette") == ["Other Gazette"]
    assert sources("storm", published_from="2026-11-21") == []
    assert sources("convoy", published_from="2026-11-21") == ["Other Gazette"]
    assert sources("convoy", published_to="2026-11-20") == []
    assert sources("storm", published_to="2026-11-20") == ["Example News"]


@pytest.mark.parametrize("params", [
    {"q": "x", "type": "video"},
    {"q": "x", "limit": "0"},
    {"q": "x", "limit": "1000"},
    {"q": "x", "offset": "-1"},
    {"q": "x", "published_from": "20 November"},
    {"q": "x", "published_to": "2026-13-45"},
    {},
])
def test_invalid_parameters_are_422(api: httpx.Client, spec: dict[str, Any],
                                    params: dict[str, str]) -> None:
    response = api.get("/search", params=params)
    assert_error(response, 422, "invalid_parameters")
    conforms(spec, "/search", "get", response)


@pytest.mark.parametrize("query", ['"unclosed phrase', "((( ::: ***", "x" * 2000, "*", "~",
                                   "\x00", "a" * 10_000, '"', ":", "the", "of the and"])
def test_malformed_query_is_400_with_a_reason(api: httpx.Client, spec: dict[str, Any],
                                              query: str) -> None:
    response = api.get("/search", params={"q": query})
    detail = assert_error(response, 400, "bad_query")
    assert detail and "\n" not in detail
    conforms(spec, "/search", "get", response)


def test_query_of_only_stopwords_is_400_and_says_so(api: httpx.Client) -> None:
    response = api.get("/search", params={"q": "The of"})
    assert assert_error(response, 400, "bad_query") == (
        "only stopwords: the, of; nothing to search for")


@pytest.mark.parametrize("query", ["(", "title:[a TO", "storm*", "harbour~2", "AND OR NOT"])
def test_odd_queries_never_fail_the_server(api: httpx.Client, query: str) -> None:
    response = api.get("/search", params={"q": query})
    assert response.status_code in (200, 400), response.text
    assert set(response.json()) >= ({"results", "total"} if response.status_code == 200
                                    else {"error", "detail"})


# -- videos ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def video_a(ingested: Ingested, site: Site) -> str:
    record = ingested.ctx.data.source(site.url("media/briefing-a.mp4"))
    assert record is not None and record.video_id
    return record.video_id


def test_video_metadata_state_and_linking_articles(api: httpx.Client, video_a: str,
                                                   site: Site, spec: dict[str, Any],
                                                   ingested: Ingested) -> None:
    response = api.get(f"/videos/{video_a}")
    assert response.status_code == 200
    conforms(spec, "/videos/{video_id}", "get", response)
    video = response.json()
    assert video["state"] == "done" and video["error"] == ""
    assert video["size"] == (MEDIA / "briefing-a.mp4").stat().st_size
    assert video["media_url"] == f"/videos/{video_a}/media"
    assert set(video["urls"]) == {site.url("media/briefing-a.mp4"),
                                  site.url("mirror/report-copy.mp4")}
    assert {a["title"] for a in video["articles"]} == {
        "Harbour reopens as the storm clean-up goes on", "Convoy reaches the city"}
    transcript = ingested.ctx.data.load_transcript(video_a)
    assert transcript is not None and transcript.segments
    assert video["transcript"] == {"language": "en", "duration": transcript.duration,
                                   "model": transcript.model,
                                   "segments": len(transcript.segments)}


def test_failed_video_shows_its_error(api: httpx.Client, ingested: Ingested,
                                      site: Site) -> None:
    record = ingested.ctx.data.source(site.url("media/noaudio.mp4"))
    assert record is not None and record.video_id
    video = api.get(f"/videos/{record.video_id}").json()
    assert video["state"] == "failed"
    assert "no audio track" in video["error"]
    assert video["transcript"] is None
    assert_error(api.get(f"/videos/{record.video_id}/transcript"), 404, "not_found")


@pytest.mark.parametrize("path", [
    "/videos/0000000000000000",
    "/videos/..%2F..%2F..%2Fetc%2Fpasswd",
    "/videos/..%2F..%2F..%2Fetc%2Fpasswd/media",
    "/videos/%2e%2e/media",
    "/videos/ABCDEF0123456789",
    "/videos/0000000000000000/transcript?format=txt",
    "/videos/0000000000000000/media",
    "/jobs/no-such-job",
    "/no/such/endpoint",
])
def test_unknown_and_path_like_ids_are_404(api: httpx.Client, path: str) -> None:
    response = api.get(path)
    assert_error(response, 404, "not_found")
    assert "root:" not in response.text


@pytest.mark.parametrize(("fmt", "content_type", "starts"), [
    ("srt", "application/x-subrip; charset=utf-8", "1\n00:00:"),
    ("vtt", "text/vtt; charset=utf-8", "WEBVTT\n\n00:00:"),
    ("txt", "text/plain; charset=utf-8", "Good morning"),
    ("json", "application/json; charset=utf-8", "{"),
])
def test_transcript_formats(api: httpx.Client, video_a: str, ingested: Ingested, fmt: str,
                            content_type: str, starts: str) -> None:
    response = api.get(f"/videos/{video_a}/transcript", params={"format": fmt})
    assert response.status_code == 200
    assert response.headers["content-type"] == content_type
    assert response.headers["content-disposition"] == (
        f'attachment; filename="{video_a}.{fmt}"')
    assert response.text.startswith(starts)
    transcript = ingested.ctx.data.load_transcript(video_a)
    assert transcript is not None
    if fmt == "txt":
        assert response.text.splitlines() == [s.text.strip() for s in transcript.segments]
    if fmt == "json":
        assert response.json() == json.loads(json.dumps(transcript.to_json()))


def test_transcript_json_matches_its_declared_schema(api: httpx.Client, video_a: str,
                                                     spec: dict[str, Any]) -> None:
    response = api.get(f"/videos/{video_a}/transcript")
    conforms(spec, "/videos/{video_id}/transcript", "get", response)
    words = response.json()["segments"][0]["words"]
    assert words and {"word", "start", "end", "probability"} == set(words[0])


def test_unknown_transcript_format_is_422(api: httpx.Client, video_a: str) -> None:
    response = api.get(f"/videos/{video_a}/transcript", params={"format": "pdf"})
    assert_error(response, 422, "invalid_parameters")


# -- media and ranges --------------------------------------------------------------------------


def test_media_is_the_stored_file_even_when_the_origin_is_gone(
        api: httpx.Client, video_a: str, site: Site) -> None:
    def gone(handler: BaseHTTPRequestHandler) -> None:
        handler.send_error(410)

    original = (MEDIA / "briefing-a.mp4").read_bytes()
    site.routes["/media/briefing-a.mp4"] = gone
    site.routes["/mirror/report-copy.mp4"] = gone
    hits = len(site.hits)
    try:
        response = api.get(f"/videos/{video_a}/media")
    finally:
        del site.routes["/media/briefing-a.mp4"], site.routes["/mirror/report-copy.mp4"]
    assert response.status_code == 200
    assert response.content == original
    assert response.headers["content-type"] == "video/mp4"
    assert response.headers["accept-ranges"] == "bytes"
    assert int(response.headers["content-length"]) == len(original)
    assert len(site.hits) == hits  # the origin was not asked


@pytest.mark.parametrize(("header", "first", "last"), [
    ("bytes=100-199", 100, 199),
    ("bytes=0-0", 0, 0),
    ("bytes=-500", -500, -1),
    ("bytes=1000-", 1000, -1),
    ("bytes=5000-99999999", 5000, -1),
])
def test_range_requests_get_206_and_exactly_those_bytes(
        api: httpx.Client, video_a: str, header: str, first: int, last: int) -> None:
    original = (MEDIA / "briefing-a.mp4").read_bytes()
    size = len(original)
    start, end = first % size, last % size
    response = api.get(f"/videos/{video_a}/media", headers={"Range": header})
    assert response.status_code == 206
    assert response.headers["content-range"] == f"bytes {start}-{end}/{size}"
    assert response.headers["accept-ranges"] == "bytes"
    assert response.content == original[start:end + 1]
    assert int(response.headers["content-length"]) == end + 1 - start


def test_range_past_the_end_is_416_with_the_size(api: httpx.Client, video_a: str,
                                                 spec: dict[str, Any]) -> None:
    size = (MEDIA / "briefing-a.mp4").stat().st_size
    response = api.get(f"/videos/{video_a}/media", headers={"Range": f"bytes={size}-"})
    assert_error(response, 416, "range_not_satisfiable")
    assert response.headers["content-range"] == f"bytes */{size}"
    conforms(spec, "/videos/{video_id}/media", "get", response)


def test_several_ranges_come_as_multipart_byteranges(api: httpx.Client, video_a: str) -> None:
    original = (MEDIA / "briefing-a.mp4").read_bytes()
    size = len(original)
    response = api.get(f"/videos/{video_a}/media", headers={"Range": "bytes=0-9,20-29"})
    assert response.status_code == 206
    kind, _, boundary = response.headers["content-type"].partition("; boundary=")
    assert kind == "multipart/byteranges"
    parts = response.content.split(f"--{boundary}".encode())[1:-1]
    bodies = {}
    for part in parts:
        head, _, body = part.partition(b"\r\n\r\n")
        assert b"Content-Type: video/mp4" in head
        content_range = head.split(b"Content-Range: ")[1].split(b"\r\n")[0].decode()
        bodies[content_range] = body.removesuffix(b"\r\n")
    assert bodies == {f"bytes 0-9/{size}": original[0:10], f"bytes 20-29/{size}": original[20:30]}
    assert int(response.headers["content-length"]) == len(response.content)


def test_head_with_a_range_gives_its_headers_without_the_body(
        api: httpx.Client, video_a: str) -> None:
    size = (MEDIA / "briefing-a.mp4").stat().st_size
    response = api.head(f"/videos/{video_a}/media", headers={"Range": "bytes=10-19"})
    assert response.status_code == 206
    assert response.headers["content-range"] == f"bytes 10-19/{size}"
    assert response.headers["content-length"] == "10" and response.content == b""
    assert api.head(f"/videos/{video_a}/media", headers={"Range": f"bytes={size}-"}
                    ).status_code == 416


@pytest.mark.parametrize("headers", [
    {"Range": "items=0-9"},
    {"Range": "bytes=junk"},
    {"Range": "bytes=0-9", "If-Range": '"some-other-version"'},
])
def test_ranges_we_do_not_serve_get_the_whole_file(api: httpx.Client, video_a: str,
                                                   headers: dict[str, str]) -> None:
    response = api.get(f"/videos/{video_a}/media", headers=headers)
    assert response.status_code == 200
    assert response.content == (MEDIA / "briefing-a.mp4").read_bytes()


def test_if_range_with_the_current_etag_gets_the_range(api: httpx.Client, video_a: str) -> None:
    head = api.head(f"/videos/{video_a}/media").headers
    assert head["etag"] == f'"{api.get(f"/videos/{video_a}").json()["sha256"]}"'
    for validator in (head["etag"], head["last-modified"]):
        response = api.get(f"/videos/{video_a}/media", headers={"Range": "bytes=10-19",
                                                                "If-Range": validator})
        assert response.status_code == 206 and len(response.content) == 10


def test_head_gives_the_length_without_the_body(api: httpx.Client, video_a: str) -> None:
    response = api.head(f"/videos/{video_a}/media")
    assert response.status_code == 200
    assert response.headers["content-length"] == str((MEDIA / "briefing-a.mp4").stat().st_size)
    assert response.content == b""


# -- health ------------------------------------------------------------------------------------


def test_healthz_reports_each_part(api: httpx.Client, ingested: Ingested,
                                   spec: dict[str, Any]) -> None:
    response = api.get("/healthz")
    assert response.status_code == 200
    conforms(spec, "/healthz", "get", response)
    health = response.json()
    assert health["status"] == "ok"
    assert health["checks"]["index"] == {
        "ok": True, "detail": f"{ingested.ctx.index.doc_count()} documents"}
    assert health["checks"]["data_dir"]["ok"] is True
    assert health["checks"]["broker"] == {"ok": True,
                                          "detail": "not configured: jobs run in this process"}
    assert health["checks"]["worker"]["ok"] is True


def test_healthz_is_503_when_the_broker_is_down(brokered: httpx.Client,
                                                spec: dict[str, Any]) -> None:
    response = brokered.get("/healthz")
    assert response.status_code == 503
    conforms(spec, "/healthz", "get", response)
    health = response.json()
    assert health["status"] == "unavailable"
    assert health["checks"]["broker"]["ok"] is False
    assert health["checks"]["broker"]["detail"] == "unreachable"
    assert health["checks"]["index"]["ok"] is True
    assert "hunter2" not in response.text and "127.0.0.1" not in response.text
    assert "worker" not in health["checks"]  # the broker's workers run the jobs


def test_post_with_the_broker_down_is_503(brokered: httpx.Client) -> None:
    response = brokered.post("/articles", json={"url": "https://news.example.org/a"})
    detail = assert_error(response, 503, "broker_unavailable")
    assert "hunter2" not in detail and "127.0.0.1" not in detail


def test_with_a_broker_the_job_is_queued_not_run_here(queued: httpx.Client,
                                                       redis_url: str) -> None:
    health = queued.get("/healthz").json()
    assert health["checks"]["broker"] == {"ok": True, "detail": "reachable"}
    response = queued.post("/articles", json={"url": "https://news.example.org/a"})
    assert response.status_code == 202, response.text
    job = queued.get(response.json()["status_url"]).json()
    assert job["state"] == "queued" and job["source"] == "https://news.example.org/a"
    client = redis.Redis.from_url(redis_url)
    try:
        assert client.llen("media") == 1  # one message waits on the queue for a worker
    finally:
        client.close()


# -- ingest jobs through the in-process worker ---------------------------------------------


def test_posted_html_is_ingested_and_searchable(writable: httpx.Client, site: Site,
                                                spec: dict[str, Any]) -> None:
    html = ("<html><head><title>Observatory notes</title></head><body><article>"
            "<p>Astronomers catalogued a comet with a bright emerald tail.</p>"
            '<p><a href="/media/briefing-b.mp4">the press conference</a></p>'
            "</article></body></html>")
    url = site.url("posted/observatory.html")
    response = writable.post("/articles", json={"url": url, "html": html})
    assert response.status_code == 202, response.text
    conforms(spec, "/articles", "post", response)
    accepted = response.json()
    assert accepted["state"] == "queued"
    assert response.headers["location"] == accepted["status_url"] == f"/jobs/{accepted['job_id']}"
    job_response = writable.get(accepted["status_url"])
    conforms(spec, "/jobs/{job_id}", "get", job_response)
    job = wait_for_job(writable, accepted["job_id"])
    assert job["state"] == "done", job
    assert job["title"] == "Observatory notes"
    assert [(v["url"], v["state"]) for v in job["videos"]] == [
        (site.url("media/briefing-b.mp4"), "done")]
    # The shared index sees what the worker wrote, without reopening.
    articles = writable.get("/search", params={"q": "emerald comet"}).json()["results"]
    assert [r["title"] for r in articles] == ["Observatory notes"]
    clip = writable.get("/search", params={"q": '"press conference"', "type": "clip"}
                        ).json()["results"][0]
    assert url in {a["url"] for a in clip["articles"]}


def test_new_video_is_transcribed_by_the_inline_worker(writable: httpx.Client,
                                                        site: Site) -> None:
    html = ('<html><title>Weather desk</title><body><p>Forecast.</p>'
            '<video src="/media/speech-then-silence.mp4"></video></body></html>')
    accepted = writable.post("/articles", json={"url": site.url("posted/weather.html"),
                                                "html": html}).json()
    job = wait_for_job(writable, accepted["job_id"])
    assert job["state"] == "done", job
    video = job["videos"][0]
    assert video["state"] == "done" and video["progress"] == 1.0 and video["attempts"] == 1
    sentence = MANIFEST["speech-then-silence.mp4"]["sentences"][0]
    clip = writable.get("/search", params={"q": f'"{sentence["phrase"]}"'}).json()["results"][0]
    assert clip["video_id"] == video["video_id"]
    assert sentence["start"] - 1.2 <= clip["start"] <= sentence["end"]
    assert writable.get(f"/videos/{video['video_id']}").json()["state"] == "done"


def test_unreadable_article_fails_the_job_with_the_reason(writable: httpx.Client,
                                                          site: Site) -> None:
    accepted = writable.post("/articles", json={"url": site.url("no-such-article.html")})
    assert accepted.status_code == 202
    job = wait_for_job(writable, accepted.json()["job_id"])
    assert job["state"] == "failed"
    assert "HTTP 404" in job["error"]
    assert job["videos"] == []


@pytest.mark.parametrize("body", [
    {"url": "ftp://example.org/a"},
    {"url": "javascript:alert(1)"},
    {"url": "/relative/path"},
    {"html": "<p>no url</p>"},
    {"url": "https://example.org/a", "extra": 1},
    {"url": 42},
])
def test_invalid_ingest_requests_are_422(writable: httpx.Client, body: dict[str, Any]) -> None:
    assert_error(writable.post("/articles", json=body), 422, "invalid_parameters")


def test_broken_json_is_422_without_echoing_the_body(writable: httpx.Client) -> None:
    response = writable.post("/articles", content=b'{"url": "https://x.org/<secret-body>',
                             headers={"Content-Type": "application/json"})
    assert_error(response, 422, "invalid_parameters")
    assert "secret-body" not in response.text


# -- token and body limits ---------------------------------------------------------------------


@pytest.mark.parametrize("headers", [
    {},
    {"Authorization": "Bearer wrong-token"},
    {"Authorization": f"Basic {TOKEN}"},
    {"Authorization": TOKEN},
    {"Authorization": f"Bearer {TOKEN}x"},
])
def test_write_endpoint_needs_the_token(guarded: httpx.Client,
                                        headers: dict[str, str]) -> None:
    response = guarded.post("/articles", json={"url": "https://example.org/a"}, headers=headers)
    assert_error(response, 401, "unauthorized")
    assert response.headers["www-authenticate"] == "Bearer"


def test_token_is_checked_before_the_body_is_parsed(guarded: httpx.Client) -> None:
    response = guarded.post("/articles", content=b"{not json",
                            headers={"Content-Type": "application/json"})
    assert_error(response, 401, "unauthorized")


def test_the_right_token_is_accepted_and_reads_stay_open(guarded: httpx.Client,
                                                         site: Site) -> None:
    response = guarded.post("/articles", json={"url": site.url("no-such-article.html")},
                            headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 202, response.text
    job_id = response.json()["job_id"]
    assert guarded.get(f"/jobs/{job_id}").status_code == 200
    assert guarded.get("/search", params={"q": "anything"}).status_code == 200


def test_oversized_body_is_413_before_parsing(guarded: httpx.Client) -> None:
    # Not even JSON: a 413 proves nothing tried to parse it.
    response = guarded.post("/articles", content=b"x" * (64 * 1024 + 1),
                            headers={"Content-Type": "application/json"})
    assert_error(response, 413, "body_too_large")


def test_a_body_up_to_a_mebibyte_over_is_read_so_its_413_always_arrives(
        guarded: httpx.Client) -> None:
    # Closing with the body unread would reset the connection, losing the 413 now and then
    # (1 in 200 posts of 1 MiB here, more on a loaded machine).
    for _ in range(20):
        response = guarded.post("/articles", content=b"x" * 1024**2,
                                headers={"Content-Type": "application/json"})
        assert_error(response, 413, "body_too_large")


def test_a_body_far_over_the_limit_gets_its_413_before_it_is_sent(
        guarded: httpx.Client) -> None:
    port = httpx.URL(str(guarded.base_url)).port
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"POST /articles HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     b"Content-Type: application/json\r\nContent-Length: 104857600\r\n\r\n"
                     + b"x" * 1024)
        answer = b""  # the 99.9 MiB more it announced are never sent
        while chunk := sock.recv(4096):  # to the close the 413 asks for
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 413 "), answer
    assert b'"error":"body_too_large"' in answer


def test_oversized_chunked_body_is_413(guarded: httpx.Client) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(100):
            yield b"y" * 1024

    response = guarded.post("/articles", content=chunks(),
                            headers={"Content-Type": "application/json",
                                     "Authorization": f"Bearer {TOKEN}"})
    assert "content-length" not in response.request.headers
    assert_error(response, 413, "body_too_large")


def test_small_chunked_body_still_works(guarded: httpx.Client, site: Site) -> None:
    payload = json.dumps({"url": site.url("no-such-article.html")}).encode()

    def chunks() -> Iterator[bytes]:
        yield payload[:10]
        yield payload[10:]

    response = guarded.post("/articles", content=chunks(),
                            headers={"Content-Type": "application/json",
                                     "Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 202, response.text


def test_posted_html_over_the_article_cap_is_413(guarded: httpx.Client) -> None:
    response = guarded.post("/articles", json={"url": "https://example.org/a",
                                               "html": "<p>" + "z" * 5000 + "</p>"},
                            headers={"Authorization": f"Bearer {TOKEN}"})
    detail = assert_error(response, 413, "body_too_large")
    assert "4096" in detail


# -- framework errors and headers --------------------------------------------------------------


def test_wrong_method_is_json_405(api: httpx.Client) -> None:
    assert_error(api.delete("/search"), 405, "method_not_allowed")


def test_every_response_carries_the_security_headers(api: httpx.Client) -> None:
    for response in (api.get("/"), api.get("/search", params={"q": "harbour"}),
                     api.get("/nope")):
        assert response.headers["x-content-type-options"] == "nosniff"
        policy = response.headers["content-security-policy"]
        assert "default-src 'self'" in policy and "script-src 'self'" in policy


# -- the in-process worker itself --------------------------------------------------------------


def test_worker_refuses_jobs_past_its_queue_and_fails_waiting_jobs_on_stop(
        tmp_path: Path, models: ModelProvider) -> None:
    ctx = make_context(tmp_path, models)
    jobs = JobStore(ctx.data.jobs_db)
    worker = InlineWorker(ctx, jobs, max_pending=1)  # not started: jobs wait
    waiting = worker.submit("https://example.org/first")
    with pytest.raises(WorkerBusyError):
        worker.submit("https://example.org/second")
    refused = jobs.recent()[0]
    assert refused.source == "https://example.org/second"
    assert refused.state == JobState.FAILED and refused.error == "too many jobs waiting"
    worker.stop()
    job = jobs.get(waiting)
    assert job is not None and job.state == JobState.FAILED
    assert job.error == "the server stopped before this job started"


# -- briefing serve ----------------------------------------------------------------------------


def serve(args: list[str], data_dir: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "api", "serve", *args], capture_output=True,
                          text=True, timeout=60, env=cli_env(data_dir, **env))


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.10", "news.example.org"])
def test_serve_refuses_to_listen_beyond_loopback_without_a_token(tmp_path: Path,
                                                                  host: str) -> None:
    proc = serve(["--host", host, "--port", str(_closed_port())], tmp_path)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: refusing to listen on {host}")
    assert "BRIEFING_API_TOKEN" in lines[0] and "--insecure" in lines[0]


def test_serve_goes_ahead_with_a_token_or_insecure(tmp_path: Path) -> None:
    # 192.0.2.10 is a documentation address: the check passes, then binding fails here.
    args = ["--host", "192.0.2.10", "--port", str(_closed_port())]
    with_token = serve(args, tmp_path, BRIEFING_API_TOKEN="t0ken")
    insecure = serve([*args, "--insecure"], tmp_path)
    for proc in (with_token, insecure):
        assert "refusing" not in proc.stderr
        assert "192.0.2.10" in proc.stderr and proc.returncode != 0  # uvicorn could not bind
    assert "warning: listening on 192.0.2.10 with open write endpoints" in insecure.stderr
    assert "warning" not in with_token.stderr


def test_serve_on_loopback_serves_the_api_and_the_page(data_dir: Path) -> None:
    port = _closed_port()
    proc = subprocess.Popen([sys.executable, "-m", "api", "serve", "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=cli_env(data_dir))
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.communicate()[1]
                assert time.monotonic() < deadline, "briefing serve did not come up"
                time.sleep(0.2)
        assert health.status_code == 200 and health.json()["status"] == "ok"
        page = httpx.get(f"http://127.0.0.1:{port}/")
        assert page.headers["content-type"].startswith("text/html")
        assert '<video id="player"' in page.text and 'src="/static/app.js"' in page.text
        assert httpx.get(f"http://127.0.0.1:{port}/static/app.js").status_code == 200
    finally:
        proc.terminate()
        _, stderr = proc.communicate(timeout=30)
    # uvicorn shuts down cleanly on SIGTERM, then exits by that signal.
    assert "Application shutdown complete" in stderr
    assert proc.returncode in (0, -15)


def test_serve_takes_its_token_from_a_secret_file(tmp_path: Path) -> None:
    secret = tmp_path / "api_token"
    secret.write_text("t0ken\n")
    args = ["--host", "192.0.2.10", "--port", str(_closed_port())]
    proc = serve(args, tmp_path / "data", BRIEFING_API_TOKEN_FILE=str(secret))
    assert "refusing" not in proc.stderr and "warning" not in proc.stderr
    assert "192.0.2.10" in proc.stderr and proc.returncode != 0  # uvicorn could not bind
