"""The Whoosh index: schema, writing, search and clips.  Imports nothing of ours.

The names other rooms use are in ``__all__``.  The domain types and errors load with the
package; the index itself loads on first use (see ``_LAZY``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from indexer.domain import (
    Article,
    ArticleHit,
    ArticleRef,
    Clip,
    SearchPage,
    SearchResult,
    Segment,
    Transcript,
    Word,
)
from indexer.errors import BriefingError, BrokenIndexError, QueryError, SearchIndexError

if TYPE_CHECKING:
    from indexer.generations import has_index
    from indexer.index import SearchIndex, rebuild_index
    from indexer.normalize import stem

__all__ = [
    "Article",
    "ArticleHit",
    "ArticleRef",
    "BriefingError",
    "BrokenIndexError",
    "Clip",
    "QueryError",
    "SearchIndex",
    "SearchIndexError",
    "SearchPage",
    "SearchResult",
    "Segment",
    "Transcript",
    "Word",
    "has_index",
    "rebuild_index",
    "stem",
]

# These import Whoosh and RapidFuzz (a few hundred milliseconds), which the transcribing
# worker and most CLI commands never need, yet they import the domain types from here.
_LAZY = {
    "SearchIndex": "indexer.index",
    "rebuild_index": "indexer.index",
    "has_index": "indexer.generations",
    "stem": "indexer.normalize",
}


def __getattr__(name: str) -> Any:
    """Load a Whoosh-backed name of ``__all__`` on first use (PEP 562)."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    """The package's names, the not yet loaded ones included."""
    return sorted({*globals(), *__all__})
