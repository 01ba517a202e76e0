"""Long audio is decoded to a file and transcribed in windows cut at quiet moments."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import MANIFEST, MEDIA
from worker.errors import MediaError
from worker.pipeline import ModelProvider
from worker.speech.media import SAMPLE_RATE, AudioFile, decoded_audio
from worker.speech.transcribe import transcribe_windows


def _pcm(path: Path, audio: np.ndarray) -> AudioFile:
    path.write_bytes((audio * 32767).astype(np.int16).tobytes())
    return AudioFile(path)


def test_windows_cover_the_audio_exactly_and_cut_in_the_quiet(tmp_path: Path) -> None:
    t = np.arange(10 * SAMPLE_RATE) / SAMPLE_RATE
    audio = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    gaps = [(1.6, 1.8), (3.3, 3.5), (5.0, 5.2), (6.6, 6.8), (8.4, 8.6)]
    for start, end in gaps:
        audio[int(start * SAMPLE_RATE):int(end * SAMPLE_RATE)] = 0.0
    pcm = _pcm(tmp_path / "a.s16le", audio)

    windows = list(pcm.windows(seconds=2.0))

    joined = np.concatenate([w for _, w in windows])
    assert len(joined) == len(audio)
    assert np.allclose(joined, audio, atol=1e-4)
    offsets = [offset for offset, _ in windows]
    assert offsets[0] == 0.0
    assert all(len(w) <= 2 * SAMPLE_RATE for _, w in windows[:-1])
    for cut in offsets[1:]:
        assert any(start <= cut <= end for start, end in gaps), f"cut at {cut} s in the tone"


def test_decoded_audio_is_removed_and_errors_stay_media_errors(tmp_path: Path) -> None:
    with decoded_audio(MEDIA / "briefing-b.mp4", tmp_path) as pcm:
        assert pcm.duration == pytest.approx(MANIFEST["briefing-b.mp4"]["duration"], abs=0.1)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(MediaError, match="no audio track"), \
            decoded_audio(MEDIA / "noaudio.mp4", tmp_path):
        pass
    assert list(tmp_path.iterdir()) == []


def test_words_of_later_windows_keep_their_time_in_the_video(models: ModelProvider,
                                                             tmp_path: Path) -> None:
    sentences = MANIFEST["briefing-a.mp4"]["sentences"]
    with decoded_audio(MEDIA / "briefing-a.mp4", tmp_path) as pcm:
        windows = list(pcm.windows(seconds=10.0))
        transcript = transcribe_windows(iter(windows), pcm.duration, models.get(), "w")
    assert len(windows) >= 3
    assert transcript.duration == pytest.approx(32.0, abs=0.1)
    words = [w for seg in transcript.segments for w in seg.words]
    assert [w.start for w in words] == sorted(w.start for w in words)
    for sentence in sentences[1:]:
        first = sentence["phrase"].split()[0]
        said = [w.start for w in words if re.sub(r"\W", "", w.word.lower()) == first]
        assert any(sentence["start"] - 0.5 <= s <= sentence["end"] for s in said), \
            f"{first!r} not heard between {sentence['start']} and {sentence['end']}: {said}"
