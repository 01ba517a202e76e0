"""What a progress consumer sees while a video is worked on: phases, then fractions."""

from __future__ import annotations

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
