"""faster-whisper transcription with word timings and guards against invented text."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from indexer.domain import Segment, Transcript, Word
from worker.errors import TranscriptionError
from worker.speech.media import SAMPLE_RATE
from worker.speech.models import LoadedModel
from worker.speech.pace import Pace

# How the linking articles prime transcription (see worker.speech.priming).
PRIME_OFF = "off"
PRIME_HOTWORDS = "hotwords"
PRIME_PROMPT = "prompt"
PRIME_MODES = (PRIME_OFF, PRIME_HOTWORDS, PRIME_PROMPT)

_SENTENCE_END = (".", "?", "!", "…")
MAX_SENTENCE_WORDS = 40
SENTENCE_PAUSE = 1.5  # seconds of silence between two words that end a segment
# Faster than anyone speaks (a newsreader says about 3 words a second, a hurried one 5): the
# word timings of a stretch the model invented on a pause or on noise are squeezed into a
# fraction of a second (seven names in 0.7 s).
MAX_WORDS_PER_SECOND = 7.0
MIN_WORDS_FOR_RATE = 4  # "Thank you." is too short to judge by its pace


# Windows decoded together by default (see TranscribeOptions.batch_size).
DEFAULT_BATCH_SIZE = 8

@dataclass(frozen=True)
class TranscribeOptions:
    """Decoding options; the defaults favour not inventing text, then speed.

    The default is faster-whisper's batched pipeline (``batch_size`` 8), measured to keep
    the same recall and no words on silence at twice the speed; it ignores
    ``condition_on_previous_text`` and ``hallucination_silence_threshold``, which still
    guard the sequential pipeline (``batch_size`` 0).
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
    # Names and rare words of the articles linking a video, passed as hotwords (or as the
    # initial prompt); the pipeline fills them in with worker.speech.priming.primed_options.
    prime: str = PRIME_HOTWORDS
    # Decode each 30-second window as one text, without Whisper's timestamp tokens (word
    # times still come from the alignment).  A prompt makes tiny models stop early inside
    # timestamped windows and drop the last sentence; without them they keep going.
    without_timestamps: bool = True
    # Decode this many 30-second windows at once with faster-whisper's
    # BatchedInferencePipeline; 0 decodes sequentially.  The batched pipeline ignores
    # condition_on_previous_text and hallucination_silence_threshold (see above).  Chosen by
    # `python -m benchmarks.transcription --sections choices` (README, "Transcription"):
    # batch 8 doubled the speed at the same recall, with no words on the silence.
    batch_size: int = DEFAULT_BATCH_SIZE


def prompt_words_of(text: str) -> set[str]:
    """The words of a prompt, as :func:`echoes_prompt` compares them."""
    return {w for w in re.findall(r"\w+", text.casefold()) if not w.isdigit()}


def echoes_prompt(text: str, prompt_words: set[str]) -> bool:
    """True for a segment that only says words of the prompt, give or take a short word
    ("Zalingei.", "and Zaporizhzhia."): how a primed model hallucinates on the silence at
    the end of the audio or in a pause."""
    words = re.findall(r"\w+", text.casefold())
    named = [w for w in words if w in prompt_words]
    return bool(named) and all(w in prompt_words or len(w) <= 3 for w in words)


def loops(text: str) -> bool:
    """True for a stretch that mostly repeats itself ("X, X, X, X, X"): a decoding loop,
    which a long window's compression-ratio check misses once we cut it into sentences."""
    words = re.findall(r"\w+", text.casefold())
    return len(words) >= 4 and len(set(words)) <= len(words) / 2


def too_fast(segment: Segment) -> bool:
    """True for a segment of a few words said faster than anyone speaks (see
    :data:`MAX_WORDS_PER_SECOND`)."""
    # A piece without a leading space continues the word before (" 40" ",000").
    spoken = [w for i, w in enumerate(segment.words)
              if (i == 0 or w.word[:1] == " ") and any(c.isalnum() for c in w.word)]
    if len(spoken) < MIN_WORDS_FOR_RATE:
        return False
    span = segment.words[-1].end - spoken[0].start
    return span <= 0 or len(spoken) / span > MAX_WORDS_PER_SECOND


def _ends_sentence(word: str) -> bool:
    return word.strip().rstrip("\"')]”’").endswith(_SENTENCE_END)


def sentence_segments(segments: Sequence[Segment]) -> list[Segment]:
    """Re-cut *segments* at sentence ends, using their word timings.

    Whisper's segments are decoding windows: without timestamp tokens one covers 30 s, and
    a sentence can straddle two.  A search unit of one sentence keeps "follow up" and
    "report" together and keeps an AND query from matching words of different sentences.
    A long pause or a run of :data:`MAX_SENTENCE_WORDS` words without a full stop also cuts.
    """
    if any(not seg.words for seg in segments):
        return list(segments)  # no word timings to cut by
    words = [w for seg in segments for w in seg.words]
    out: list[Segment] = []
    current: list[Word] = []
    for i, word in enumerate(words):
        current.append(word)
        following = words[i + 1] if i + 1 < len(words) else None
        if (following is None or _ends_sentence(word.word) or len(current) >= MAX_SENTENCE_WORDS
                or following.start - word.end > SENTENCE_PAUSE):
            text = "".join(w.word for w in current).strip()
            if text:
                out.append(Segment(id=len(out), start=current[0].start, end=current[-1].end,
                                   text=text, words=tuple(current)))
            current = []
    return out


def transcribe(
    audio: npt.NDArray[np.float32],
    model: LoadedModel,
    video_id: str,
    options: TranscribeOptions = TranscribeOptions(),
    on_progress: Callable[[float], None] | None = None,
) -> Transcript:
    """Transcribe 16 kHz mono *audio*; *on_progress* receives the share of audio done (0..1)."""
    return transcribe_windows([(0.0, audio)], len(audio) / SAMPLE_RATE, model, video_id,
                              options, on_progress)


def _decode(model: LoadedModel, audio: npt.NDArray[np.float32], language: str | None,
            options: TranscribeOptions) -> tuple[Iterable[Any], Any]:
    common: dict[str, Any] = dict(
        language=language, beam_size=options.beam_size, word_timestamps=True,
        vad_filter=options.vad_filter, initial_prompt=options.initial_prompt,
        hotwords=options.hotwords, without_timestamps=options.without_timestamps)
    if options.batch_size > 0:
        from faster_whisper import BatchedInferencePipeline

        batched = BatchedInferencePipeline(model.model)
        return batched.transcribe(audio, batch_size=options.batch_size, **common)  # type: ignore[no-any-return]
    return model.model.transcribe(  # type: ignore[no-any-return]
        audio, condition_on_previous_text=options.condition_on_previous_text,
        hallucination_silence_threshold=options.hallucination_silence_threshold, **common)


def _segment(raw: Any, offset: float, number: int) -> Segment:
    """One of faster-whisper's segments, its times counted from the start of the whole."""
    words = tuple(
        Word(word=w.word, start=round(offset + float(w.start), 3),
             end=round(offset + float(w.end), 3), probability=round(float(w.probability), 3))
        for w in (raw.words or ())
    )
    return Segment(id=number, start=round(offset + float(raw.start), 3),
                   end=round(offset + float(raw.end), 3), text=raw.text.strip(), words=words)


def transcribe_windows(
    windows: Iterable[tuple[float, npt.NDArray[np.float32]]],
    duration: float,
    model: LoadedModel,
    video_id: str,
    options: TranscribeOptions = TranscribeOptions(),
    on_progress: Callable[[float], None] | None = None,
) -> Transcript:
    """Transcribe *duration* seconds of audio given as consecutive ``(offset in seconds,
    16 kHz mono samples)`` windows (:meth:`worker.media.AudioFile.windows`) into one
    transcript, its times counted from the start of the whole.

    faster-whisper computes features over all the audio it is given at once, so windows
    keep memory flat however long the video.  A language detected in the first window is
    kept for the others.
    """
    language = "en" if model.english_only else options.language
    prompt_words = prompt_words_of(f"{options.hotwords or ''} {options.initial_prompt or ''}")
    segments: list[Segment] = []
    info: Any = None
    pace = Pace(on_progress or (lambda _: None), duration, model.name)
    try:
        with pace:
            for offset, audio in windows:
                pace.decoding(offset, offset + len(audio) / SAMPLE_RATE)
                segments_iter, window_info = _decode(model, audio, language, options)
                if info is None:
                    info = window_info
                    language = str(info.language)
                for raw in segments_iter:
                    segment = _segment(raw, offset, len(segments))
                    pace.done_until(segment.end)
                    if segment.text and not echoes_prompt(segment.text, prompt_words):
                        segments.append(segment)
    except Exception as exc:  # ctranslate2 and onnxruntime raise plain RuntimeErrors
        raise TranscriptionError(f"transcription of {video_id} failed: {exc}") from exc
    if info is None:
        raise TranscriptionError(f"transcription of {video_id} failed: no audio")
    if on_progress is not None:
        on_progress(1.0)
    # A primed model may repeat a name on the silence at the end ("Khartoum, Khartoum,").
    segments = [seg for seg in sentence_segments(segments)
                if not echoes_prompt(seg.text, prompt_words) and not loops(seg.text)
                and not too_fast(seg)]
    segments = [replace(seg, id=i) for i, seg in enumerate(segments)]
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
