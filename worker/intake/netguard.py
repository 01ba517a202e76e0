"""Which addresses we may contact, checked after DNS resolution and pinned for the connection.

Checking a name and then letting the HTTP client resolve it again would leave a DNS-rebinding
window; instead we resolve once, check every address, and connect to the checked address with
the original host name in the Host header and TLS SNI.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from worker.errors import BlockedAddressError, FetchError

ALLOWED_SCHEMES = ("http", "https")
# Ports a public news or video host plausibly serves on; anything else (6379, 22, 5432...)
# is refused, so a link cannot be used to talk to some other service.
PUBLIC_PORTS = frozenset({80, 443, 8080, 8443})
_CGNAT = ipaddress.ip_network("100.64.0.0/10")


@dataclass(frozen=True)
class Target:
    """A URL split into what we connect to and what we tell the server."""

    url: str  # the URL as given
    connect_url: str  # same URL with the host replaced by the checked address
    host: str  # original host name, for Host and SNI
    address: str


def is_public_address(text: str) -> bool:
    """True when *text* is an IP address on the public internet."""
    ip = ipaddress.ip_address(text.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if isinstance(ip, ipaddress.IPv4Address) and ip in _CGNAT:
        return False
    return bool(ip.is_global) and not ip.is_multicast


def _resolve(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise FetchError(f"cannot resolve host {host!r}: {exc}", transient=True) from exc
    seen: list[str] = []
    for info in infos:
        addr = str(info[4][0])
        if addr not in seen:
            seen.append(addr)
    return seen


def parse_allowlist(text: str) -> tuple[str, ...]:
    """Validate a comma-separated list of networks (CIDR) or addresses; ValueError if bad."""
    items = [item.strip() for item in text.split(",") if item.strip()]
    return tuple(str(ipaddress.ip_network(item, strict=False)) for item in items)


def _allowlisted(address: str, allowlist: tuple[str, ...]) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    return any(ip in ipaddress.ip_network(net) for net in allowlist)


def check_url(url: str, *, allow_private: bool, allowlist: tuple[str, ...] = ()) -> Target:
    """Validate *url* and pick the address to connect to, or raise.

    Refuses schemes other than http(s), user names in URLs, and (unless *allow_private*)
    any host that resolves to a non-public address outside *allowlist*, or a public host on
    an unusual port.
    """
    parts = urlsplit(url)
    if parts.scheme.lower() not in ALLOWED_SCHEMES:
        raise BlockedAddressError(f"refused URL scheme {parts.scheme or '(none)'!r}: {url}")
    if parts.username is not None or parts.password is not None:
        raise BlockedAddressError(f"refused URL with user name or password: {url}")
    host = parts.hostname
    if not host:
        raise BlockedAddressError(f"URL has no host: {url}")
    try:
        port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    except ValueError as exc:
        raise BlockedAddressError(f"URL has an invalid port: {url}") from exc
    addresses = _resolve(host, port)
    if not allow_private:
        bad = [a for a in addresses
               if not is_public_address(a) and not _allowlisted(a, allowlist)]
        if bad:
            raise BlockedAddressError(
                f"refused {host}: it resolves to a non-public address ({bad[0]}); "
                "set BRIEFING_ALLOW_PRIVATE_NETWORKS=1 to allow local addresses"
            )
        public = [a for a in addresses if not _allowlisted(a, allowlist)]
        if public and port not in PUBLIC_PORTS:
            raise BlockedAddressError(f"refused {host}: port {port} is not a web port")
    address = addresses[0]
    literal = f"[{address}]" if ":" in address else address
    netloc = f"{literal}:{port}"
    connect_url = urlunsplit((parts.scheme.lower(), netloc, parts.path or "/", parts.query, ""))
    return Target(url=url, connect_url=connect_url, host=host, address=address)


def host_header(url: str) -> str:
    """The Host header value for *url* (host plus a non-default port)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    default = 443 if parts.scheme.lower() == "https" else 80
    return host if parts.port in (None, default) else f"{host}:{parts.port}"
