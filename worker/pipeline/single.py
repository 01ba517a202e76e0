"""Transcribing one video on its own (``briefing transcribe``): no records, no index."""

from __future__ import annotations

import hashlib
from pathlib import Path

from indexer.domain import Transcript
from worker.errors import FetchError
from worker.intake.fetch import FetchLimits, download
from worker.intake.reading import is_url, source_problem
from worker.pipeline.context import ModelProvider, Phase, Progress
from worker.pipeline.steps import check_duration
from worker.speech.media import decoded_audio
from worker.speech.transcribe import TranscribeOptions, transcribe_windows
from worker.storage.datadir import video_id_for
from worker.storage.states import VideoState

__all__ = ["file_video_id", "transcribe_source"]


def file_video_id(path: Path) -> str:
    """The video id of a local file (the same as if it had been downloaded)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1024 * 1024), b""):
            digest.update(chunk)
    return video_id_for(digest.hexdigest())


def transcribe_source(
    source: str,
    *,
    tmp_dir: Path,
    limits: FetchLimits,
    models: ModelProvider,
    options: TranscribeOptions,
    ffmpeg_timeout: float,
    max_video_seconds: float,
    progress: Progress,
) -> Transcript:
    """Transcribe one local file or URL without touching the data dir's records or the index."""
    downloaded: Path | None = None
    if not is_url(source):
        problem = source_problem(source)
        if problem is not None:
            raise FetchError(problem)
        media = Path(source).expanduser()
        video_id = file_video_id(media)
    else:
        got = download(source, tmp_dir, limits,
                       lambda done, total: progress.downloaded(source, done, total))
        downloaded = media = got.path
        video_id = video_id_for(got.sha256)
    try:
        progress.phase(source, Phase.LOADING_MODEL)
        model = models.get()
        progress.phase(source, Phase.EXTRACTING_AUDIO)
        # Decoded to a file and transcribed in windows: memory stays flat with length.
        with decoded_audio(media, tmp_dir, timeout=ffmpeg_timeout) as audio:
            if downloaded is not None:
                downloaded.unlink(missing_ok=True)
            # The same cap as the pipeline's, on the decoded length (a header can lie).
            check_duration(audio.duration, max_video_seconds)
            progress.state(source, VideoState.TRANSCRIBING)
            progress.phase(source, Phase.TRANSCRIBING)
            return transcribe_windows(audio.windows(), audio.duration, model, video_id,
                                      options,
                                      lambda fraction: progress.transcribed(source, fraction))
    finally:
        if downloaded is not None:
            downloaded.unlink(missing_ok=True)
