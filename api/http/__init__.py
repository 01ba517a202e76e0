"""The HTTP front door: the JSON API, the search page, and the guards in front of both.

``app`` (the factory and its middleware), ``errors`` (our error tree as status codes),
``ingest``, ``search`` and ``videos`` (the routes), ``schemas`` (the OpenAPI contract),
``services`` (what the routes share), ``ranges`` (seekable media) and ``inline_worker`` (jobs
run in-process when there is no broker). The page's static files are in ``web/``.
"""

from api.http.app import create_app

__all__ = ["create_app"]
