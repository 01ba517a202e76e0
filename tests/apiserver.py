"""The HTTP app served by a real uvicorn on 127.0.0.1, in a thread, for the API and web tests."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import uvicorn

from api.http import create_app
from worker.settings import Settings


def server_settings(data_dir: Path, **overrides: Any) -> Settings:
    """Settings for a test server: local fixture URLs allowed, no token unless given."""
    values: dict[str, Any] = {"data_dir": data_dir, "allow_private_networks": True,
                              "api_token": None, "broker_url": None, "connect_timeout": 5,
                              "read_timeout": 10, "download_deadline": 60,
                              "ffmpeg_timeout": 120}
    values.update(overrides)
    return Settings(**values)



@contextmanager
def running(settings: Settings) -> Iterator[str]:
    """Serve ``create_app(settings)`` on a free loopback port; yields the base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(create_app(settings), log_level="warning", lifespan="on",
                            timeout_graceful_shutdown=5)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()
