"""HTTP fetching with every hop checked: article pages as text, videos streamed to disk."""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin

import httpx

from worker.containers import describe_head, sniff_container
from worker.errors import DownloadError, FetchError, TooLargeError
from worker.intake.netguard import check_url, host_header

MAX_REDIRECTS = 5
_CHUNK = 256 * 1024
USER_AGENT = "briefing/0.1 (+video briefing indexer)"

ProgressFn = Callable[[int, int | None], None]


@dataclass(frozen=True)
class FetchLimits:
    """Timeouts, caps and network policy for one fetch."""

    max_bytes: int = 2 * 1024**3
    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    deadline: float = 3600.0
    allow_private: bool = False
    private_allowlist: tuple[str, ...] = ()


@dataclass(frozen=True)
class Downloaded:
    """A complete download waiting under a temporary name for its final place."""

    path: Path
    sha256: str
    size: int
    container: str
    final_url: str


def _status_error(url: str, status: int) -> FetchError:
    transient = status >= 500 or status in (408, 425, 429)
    reason = httpx.codes.get_reason_phrase(status) or "error"
    return FetchError(f"HTTP {status} {reason} from {url}", transient=transient)


@contextlib.contextmanager
def _open_stream(url: str, limits: FetchLimits) -> Iterator[httpx.Response]:
    """GET *url*, following redirects by hand so every hop is checked and pinned."""
    timeout = httpx.Timeout(limits.read_timeout, connect=limits.connect_timeout)
    with httpx.Client(timeout=timeout, trust_env=False, follow_redirects=False) as client:
        current = url
        for _hop in range(MAX_REDIRECTS + 1):
            target = check_url(current, allow_private=limits.allow_private,
                               allowlist=limits.private_allowlist)
            request = client.build_request(
                "GET",
                target.connect_url,
                headers={"Host": host_header(current), "User-Agent": USER_AGENT,
                         "Accept-Encoding": "identity"},
                extensions={"sni_hostname": target.host},
            )
            try:
                response = client.send(request, stream=True)
            except httpx.TimeoutException as exc:
                raise FetchError(f"timed out connecting to {current}", transient=True) from exc
            except httpx.HTTPError as exc:
                raise FetchError(f"cannot fetch {current}: {exc}", transient=True) from exc
            try:
                if response.is_redirect:
                    location = response.headers.get("location", "")
                    if not location:
                        raise FetchError(f"redirect without a Location from {current}")
                    current = urljoin(current, location)
                    continue
                if response.status_code >= 400:
                    raise _status_error(current, response.status_code)
                response.extensions["briefing_url"] = current
                yield response
                return
            finally:
                response.close()
        raise FetchError(f"too many redirects (over {MAX_REDIRECTS}) from {url}")


def _chunks(response: httpx.Response, url: str, limits: FetchLimits,
            started: float, *, decode: bool = False) -> Iterator[bytes]:
    # Videos are read raw: a Content-Encoding on them could only be a decompression bomb.
    # No chunk size: each network read comes straight through, so the deadline is checked
    # even when a server trickles a byte at a time.
    stream = response.iter_bytes() if decode else response.iter_raw()
    try:
        for chunk in stream:
            if time.monotonic() - started > limits.deadline:
                raise FetchError(
                    f"download of {url} took longer than {limits.deadline:.0f} s", transient=True
                )
            yield chunk
    except httpx.TimeoutException as exc:
        raise FetchError(f"timed out reading from {url}", transient=True) from exc
    except httpx.HTTPError as exc:
        raise FetchError(f"connection to {url} failed mid-transfer: {exc}", transient=True) from exc


def fetch_text(url: str, limits: FetchLimits) -> tuple[str, str, str]:
    """Fetch an article page; returns (text, final URL, content type)."""
    started = time.monotonic()
    with _open_stream(url, limits) as response:
        final = str(response.extensions["briefing_url"])
        declared = response.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limits.max_bytes:
            raise TooLargeError(f"article {url} is {int(declared)} bytes, over the cap of "
                                f"{limits.max_bytes}")
        body = bytearray()
        for chunk in _chunks(response, url, limits, started, decode=True):
            body.extend(chunk)
            if len(body) > limits.max_bytes:
                raise TooLargeError(f"article {url} is over the cap of {limits.max_bytes} bytes")
        encoding = response.charset_encoding or "utf-8"
        try:
            text = bytes(body).decode(encoding, errors="replace")
        except LookupError:
            text = bytes(body).decode("utf-8", errors="replace")
        return text, final, response.headers.get("content-type", "")


def _spool(chunks: Iterator[bytes], *, tmp_dir: Path, source: str, max_bytes: int,
           total: int | None, progress: ProgressFn | None, final_url: str) -> Downloaded:
    """Write *chunks* to a temporary file in *tmp_dir*, checking type and size as they come."""
    tmp_dir.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix="download-", suffix=".part", dir=tmp_dir)
    path = Path(name)
    digest = hashlib.sha256()
    size = 0
    container: str | None = None
    head = b""
    try:
        with os.fdopen(fd, "wb") as out:
            for chunk in chunks:
                if container is None:
                    head += chunk
                    if len(head) < 12:
                        continue
                    container = sniff_container(head)
                    if container is None:
                        raise DownloadError(f"{source} is not a video ({describe_head(head)})")
                    chunk, head = head, b""
                size += len(chunk)
                if size > max_bytes:
                    raise TooLargeError(f"{source} is over the size cap of {max_bytes} bytes")
                digest.update(chunk)
                out.write(chunk)
                if progress is not None:
                    progress(size, total)
            if container is None:
                if not head:
                    raise DownloadError(f"{source} is empty")
                raise DownloadError(f"{source} is not a video ({describe_head(head)})")
            out.flush()
            os.fsync(out.fileno())
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return Downloaded(path=path, sha256=digest.hexdigest(), size=size, container=container,
                      final_url=final_url)


def download(url: str, tmp_dir: Path, limits: FetchLimits,
             progress: ProgressFn | None = None) -> Downloaded:
    """Stream the video at *url* into *tmp_dir* under a temporary name.

    The caller moves ``Downloaded.path`` to its final place; on any error nothing is left.
    """
    started = time.monotonic()
    with _open_stream(url, limits) as response:
        final = str(response.extensions["briefing_url"])
        declared = response.headers.get("content-length")
        total = int(declared) if declared and declared.isdigit() else None
        if total is not None and total > limits.max_bytes:
            raise TooLargeError(f"{url} is {total} bytes, over the size cap of "
                                f"{limits.max_bytes} bytes")
        return _spool(_chunks(response, url, limits, started), tmp_dir=tmp_dir, source=url,
                      max_bytes=limits.max_bytes, total=total, progress=progress,
                      final_url=final)


def copy_local(path: Path, tmp_dir: Path, max_bytes: int,
               progress: ProgressFn | None = None) -> Downloaded:
    """Copy a local video into *tmp_dir* with the same checks as a download."""
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed below, after the generator is drained
    except OSError as exc:
        raise DownloadError(f"cannot read {path}: {exc.strerror}") from exc
    with handle:
        total = os.fstat(handle.fileno()).st_size
        chunks = iter(lambda: handle.read(_CHUNK), b"")
        return _spool(chunks, tmp_dir=tmp_dir, source=str(path), max_bytes=max_bytes,
                      total=total, progress=progress, final_url=path.resolve().as_uri())
