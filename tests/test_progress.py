"""What a progress consumer sees while a video is worked on: phases, then fractions."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.conftest import MEDIA, make_context
from tests.siteserver import Site
from worker.intake.fetch import FetchLimits
from worker.pipeline import ModelProvider, ingest
from worker.pipeline.single import transcribe_source
from worker.speech.transcribe import TranscribeOptions
from worker.storage.states import VideoState


@dataclass
class Recorder:
    """A Progress that keeps every report, in order."""

    events: list[tuple[str, object]] = field(default_factory=list)

    def state(self, url: str, state: VideoState, *, video_id: str = "",
              error: str = "") -> None:
        self.events.append(("state", str(state)))

    def downloaded(self, url: str, done: int, total: int | None) -> None:
        self.events.append(("downloaded", done))

    def transcribed(self, url: str, fraction: float) -> None:
        self.events.append(("transcribed", fraction))

    def phase(self, url: str, text: str) -> None:
        self.events.append(("phase", str(text)))

    def phases(self) -> list[object]:
        return [value for kind, value in self.events if kind == "phase"]

    def fractions(self) -> list[float]:
        return [float(v) for kind, v in self.events if kind == "transcribed"]  # type: ignore[arg-type]


def test_transcribe_reports_phases_in_order_then_fractions_within_the_audio(
        tmp_path: Path, models: ModelProvider) -> None:
    progress = Recorder()
    transcribe_source(str(MEDIA / "briefing-a.mp4"), tmp_dir=tmp_path,
                      limits=FetchLimits(max_bytes=10**9), models=models,
                      options=TranscribeOptions(), ffmpeg_timeout=60,
                      max_video_seconds=3600, progress=progress)
    assert progress.phases() == ["loading model", "extracting audio", "transcribing"]
    first_fraction = next(i for i, (kind, _) in enumerate(progress.events)
                          if kind == "transcribed")
    assert progress.events.index(("phase", "transcribing")) < first_fraction
    inside = [f for f in progress.fractions() if 0 < f < 1]
    assert len(set(inside)) > 1, progress.fractions()
    assert progress.fractions() == sorted(progress.fractions())
    assert progress.fractions()[-1] == 1.0


def test_ingest_reports_every_phase_of_a_video_in_order(tmp_path: Path, site: Site,
                                                        models: ModelProvider) -> None:
    ctx = make_context(tmp_path / "data", models)
    progress = Recorder()
    ctx.progress = progress
    ingest(site.url("no-video.html"), ctx)  # no video: no phase at all
    assert progress.phases() == []
    ingest(site.url("article-b.html"), ctx)
    phases = progress.phases()
    # The first video is transcribed; its mirror (the same bytes) only indexed again.
    assert phases[:4] == ["loading model", "extracting audio", "transcribing", "indexing"]
    assert phases[4:] == ["indexing"]


@dataclass
class Timed:
    """Fractions reported, with when they came."""

    reports: list[tuple[float, float]] = field(default_factory=list)

    def __call__(self, fraction: float) -> None:
        self.reports.append((time.monotonic(), fraction))


def test_progress_advances_while_a_batch_is_decoded(models: ModelProvider) -> None:
    # briefing-a.mp4 (32 s) is one batch of the batched pipeline: its segments all arrive at
    # the end of the batch, so without estimates every fraction would come at one moment.
    from worker.speech.media import extract_audio
    from worker.speech.transcribe import transcribe_windows

    audio = extract_audio(MEDIA / "briefing-a.mp4", timeout=60)
    seen = Timed()
    transcribe_windows([(0.0, audio)], 32.0, models.get(), "paced",
                       TranscribeOptions(batch_size=8), seen)
    inside = [(when, f) for when, f in seen.reports if 0 < f < 1]
    assert len(inside) >= 3, seen.reports
    assert inside[-1][0] - inside[0][0] > 0.3, seen.reports  # spread over the decoding
    fractions = [f for _, f in seen.reports]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0  # never backwards
