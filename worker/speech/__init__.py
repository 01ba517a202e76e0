"""Speech: ffmpeg decoding, the Whisper models, transcription, priming and subtitles."""

from worker.speech.media import AudioFile, decoded_audio, ffmpeg_binary, probe_duration
from worker.speech.models import DEFAULT_CPU_THREADS, LoadedModel, load_model, resolve_model
from worker.speech.priming import primed_options, priming_terms
from worker.speech.subtitles import FORMATS, render
from worker.speech.transcribe import TranscribeOptions, transcribe_windows

__all__ = [
    "DEFAULT_CPU_THREADS",
    "FORMATS",
    "AudioFile",
    "LoadedModel",
    "TranscribeOptions",
    "decoded_audio",
    "ffmpeg_binary",
    "load_model",
    "primed_options",
    "priming_terms",
    "probe_duration",
    "render",
    "resolve_model",
    "transcribe_windows",
]
