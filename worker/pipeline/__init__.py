"""The pipeline: the steps every runner shares, the inline runner, locks and maintenance.

``steps`` holds the per-video work and its rules, ``attempts`` the retry policy around one
try, ``inline`` runs a whole job in this process; the queue (:mod:`worker.queue`) runs the
same steps as Celery tasks.
"""

from worker.pipeline.attempts import Outcome, Verdict, run_step
from worker.pipeline.context import Context, ModelProvider, NullProgress, Progress, ProgressTee
from worker.pipeline.inline import IngestReport, VideoOutcome, for_job, ingest, run_job
from worker.pipeline.locks import BrokerLocks, FileLocks, LockChain, Locks
from worker.pipeline.maintenance import open_index, reindex
from worker.pipeline.policy import LockWaits, RetryPolicy
from worker.pipeline.single import transcribe_source
from worker.pipeline.wiring import build_context

__all__ = [
    "BrokerLocks",
    "Context",
    "FileLocks",
    "IngestReport",
    "LockChain",
    "LockWaits",
    "Locks",
    "ModelProvider",
    "NullProgress",
    "Outcome",
    "Progress",
    "ProgressTee",
    "RetryPolicy",
    "Verdict",
    "VideoOutcome",
    "build_context",
    "for_job",
    "ingest",
    "open_index",
    "reindex",
    "run_job",
    "run_step",
    "transcribe_source",
]
