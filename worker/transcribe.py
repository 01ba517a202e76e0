"""faster-whisper transcription with word timings and guards against invented text."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from indexer.domain import Segment, Transcript, Word
from worker.errors import TranscriptionError
from worker.media import SAMPLE_RATE
from worker.models import LoadedModel


@dataclass(frozen=True)
class TranscribeOptions:
    """Decoding options; the defaults favour not inventing text over speed.

    We use the sequential pipeline on purpose: faster-whisper's BatchedInferencePipeline
    ignores ``condition_on_previous_text`` and ``hallucination_silence_threshold``.
    """

    beam_size: int = 5
    language: str | None = None
    vad_filter: bool = True
    # Conditioning on earlier text is what lets a repetition loop run on.
    condition_on_previous_text: bool = False
    # Skip silent stretches longer than this around a suspected hallucination.
    hallucination_silence_threshold: float | None = 2.0
    initial_prompt: str | None = None
    hotwords: str | None = None


def transcribe(
    audio: npt.NDArray[np.float32],
    model: LoadedModel,
    video_id: str,
    options: TranscribeOptions = TranscribeOptions(),
    on_progress: Callable[[float], None] | None = None,
) -> Transcript:
    """Transcribe 16 kHz mono *audio*; *on_progress* receives the share of audio done (0..1)."""
    duration = len(audio) / SAMPLE_RATE
    language = "en" if model.english_only else options.language
    try:
        segments_iter, info = model.model.transcribe(
            audio,
            language=language,
            beam_size=options.beam_size,
            word_timestamps=True,
            vad_filter=options.vad_filter,
            condition_on_previous_text=options.condition_on_previous_text,
            hallucination_silence_threshold=options.hallucination_silence_threshold,
            initial_prompt=options.initial_prompt,
            hotwords=options.hotwords,
        )
        segments: list[Segment] = []
        for raw in segments_iter:
            words = tuple(
                Word(word=w.word, start=round(float(w.start), 3), end=round(float(w.end), 3),
                     probability=round(float(w.probability), 3))
                for w in (raw.words or ())
            )
            text = raw.text.strip()
            if not text:
                continue
            segments.append(Segment(id=len(segments), start=round(float(raw.start), 3),
                                    end=round(float(raw.end), 3), text=text, words=words))
            if on_progress is not None and duration > 0:
                on_progress(min(1.0, float(raw.end) / duration))
    except Exception as exc:  # ctranslate2 and onnxruntime raise plain RuntimeErrors
        raise TranscriptionError(f"transcription of {video_id} failed: {exc}") from exc
    if on_progress is not None:
        on_progress(1.0)
    recorded: dict[str, Any] = asdict(options)
    return Transcript(
        video_id=video_id,
        language=str(info.language),
        language_probability=round(float(info.language_probability), 3),
        duration=round(duration, 3),
        model=model.name,
        model_version=model.version,
        segments=tuple(segments),
        options=recorded,
    )
