"""The queue: Celery on a Redis broker, running the pipeline's steps as tasks.

The names here are the submitting side's (cheap to import: no Celery app, no model);
``briefing worker`` imports :mod:`worker.queue.run`, which brings in the app and the tasks.
"""

from worker.queue.config import QUEUES, QueuePolicy, broker_problem, celery_config, submit_ingest

__all__ = ["QUEUES", "QueuePolicy", "broker_problem", "celery_config", "submit_ingest"]
