"""``briefing serve``: the HTTP API and the search page, run with uvicorn."""

from __future__ import annotations

import ipaddress
from typing import Annotated

import typer

from api.cli.common import clear_errors, err, fail, load_settings, shown

__all__ = ["is_loopback", "serve"]


def is_loopback(host: str) -> bool:
    """True when *host* only listens on this machine (127.0.0.0/8, ::1, localhost)."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


def serve(
    host: Annotated[str, typer.Option(metavar="HOST", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, metavar="PORT",
                                            help="Port to listen on.")] = 8000,
    insecure: Annotated[bool, typer.Option(
        "--insecure", help="Listen beyond this machine without BRIEFING_API_TOKEN.")] = False,
) -> None:
    """Serve the HTTP API and the search page."""
    import uvicorn

    from api.http import create_app

    settings = load_settings()
    if not is_loopback(host) and settings.api_token is None and not insecure:
        raise fail(f"refusing to listen on {host} without BRIEFING_API_TOKEN: anyone who can "
                   "reach it could make this server fetch URLs; set a token or pass --insecure")
    if not is_loopback(host) and settings.api_token is None:
        err.print(shown(f"warning: listening on {host} with open write endpoints (--insecure)"),
                  highlight=False)
    with clear_errors():
        web = create_app(settings)
    uvicorn.run(web, host=host, port=port, server_header=False, proxy_headers=False,
                timeout_graceful_shutdown=15, log_level="info")
