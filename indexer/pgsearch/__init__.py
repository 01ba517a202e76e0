"""The search index on PostgreSQL, behind the same interface as the Whoosh one.

``PgSearchIndex(url_or_pool)`` writes and searches the tables of migration 0004 (applied by
``worker.storage.pg.migrate``); everything it analyses, parses and ranks is computed by the
rest of :mod:`indexer`, so both backends answer alike.
"""

from __future__ import annotations

from indexer.pgsearch.index import PgSearchIndex

__all__ = ["PgSearchIndex"]
