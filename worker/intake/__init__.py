"""Getting articles and videos in: fetching with every hop checked, and parsing articles.

The public names are re-exported here; the modules below are the implementation
(``articles`` parses, ``html``/``markdown`` read one format each, ``links`` finds
and vets video links, ``fetch`` downloads, ``netguard`` decides what we may contact).
"""

from __future__ import annotations

from worker.intake.articles import article_id_for, parse_article
from worker.intake.fetch import (
    Downloaded,
    FetchLimits,
    ProgressFn,
    copy_local,
    download,
    fetch_text,
)
from worker.intake.netguard import (
    ALLOWED_SCHEMES,
    PUBLIC_PORTS,
    Target,
    check_url,
    host_header,
    is_public_address,
    parse_allowlist,
)
from worker.intake.reading import is_url, read_article

__all__ = [
    "ALLOWED_SCHEMES",
    "PUBLIC_PORTS",
    "Downloaded",
    "FetchLimits",
    "ProgressFn",
    "Target",
    "article_id_for",
    "check_url",
    "copy_local",
    "download",
    "fetch_text",
    "host_header",
    "is_public_address",
    "is_url",
    "parse_allowlist",
    "parse_article",
    "read_article",
]
