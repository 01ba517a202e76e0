"""The worker room: getting articles and videos in, speech, storage, the pipeline, the queue.

Sub-packages by concept: ``intake`` (articles, fetching, address guard), ``speech`` (ffmpeg,
models, transcription, priming, subtitles), ``storage`` (data dir, job store, states),
``pipeline`` (the steps every runner shares, the inline runner, locks), ``queue`` (Celery).
``settings`` and ``errors`` serve them all.  Import from the sub-packages.
"""

__all__ = ["containers", "errors", "intake", "pipeline", "queue", "settings", "speech",
           "storage"]
