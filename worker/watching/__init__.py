"""Watches: saved searches matched against what is newly indexed, their hits and webhooks.

``evaluate`` matches one indexed video or article against every watch (through the
percolator of :mod:`indexer.percolate`) and records the hits; ``webhooks`` signs and sends
them, with retries; ``timeline`` counts mentions over time.  The records live in
:mod:`worker.storage.watches` (embedded) or :mod:`worker.storage.pg.watches` (PostgreSQL).
"""
