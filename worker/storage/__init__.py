"""Storage: the data dir (system of record), the job store, the states, atomic files."""

from worker.storage.datadir import (
    DataDir,
    SourceRecord,
    VideoMeta,
    index_root,
    url_key,
    video_id_for,
)
from worker.storage.files import file_lock, read_json, write_json_atomic, write_text_atomic
from worker.storage.jobs import Delivery, Job, JobProgress, JobStore, JobVideo
from worker.storage.states import JobState, Step, VideoState

__all__ = [
    "DataDir",
    "Delivery",
    "Job",
    "JobProgress",
    "JobState",
    "JobStore",
    "JobVideo",
    "SourceRecord",
    "Step",
    "VideoMeta",
    "VideoState",
    "file_lock",
    "index_root",
    "read_json",
    "url_key",
    "video_id_for",
    "write_json_atomic",
    "write_text_atomic",
]
