"""A real HTTP server on 127.0.0.1 serving fixture articles and MP4s, plus scripted faults."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

Handler = Callable[[BaseHTTPRequestHandler], None]

_TYPES = {".html": "text/html; charset=utf-8", ".mp4": "video/mp4", ".md": "text/markdown",
          ".txt": "text/plain; charset=utf-8"}


def redirect_to(location: str) -> Handler:
    """A route that answers 302 with *location*."""
    def handler(h: BaseHTTPRequestHandler) -> None:
        h.send_response(302)
        h.send_header("Location", location)
        h.send_header("Content-Length", "0")
        h.end_headers()
    return handler


@dataclass
class Site:
    """Files under *root* served at ``base``; ``routes`` override paths with handlers."""

    root: Path
    routes: dict[str, Handler] = field(default_factory=dict)
    hits: list[str] = field(default_factory=list)
    base: str = ""
    _server: ThreadingHTTPServer | None = None

    def url(self, path: str) -> str:
        """Absolute URL of *path* on this server."""
        return f"{self.base}/{path.lstrip('/')}"

    def start(self) -> Site:
        """Start serving in a daemon thread."""
        site = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                path = urlsplit(self.path).path
                site.hits.append(self.path)
                if path in site.routes:
                    site.routes[path](self)
                    return
                target = (site.root / path.lstrip("/")).resolve()
                if not target.is_file() or site.root.resolve() not in target.parents:
                    self.send_error(404)
                    return
                body = target.read_bytes()
                self.send_response(200)
                kind = _TYPES.get(target.suffix, "application/octet-stream")
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
