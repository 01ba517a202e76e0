"""The one settings object, read from ``BRIEFING_*`` environment variables by entry points."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from worker.intake.netguard import parse_allowlist
from worker.speech.models import DEFAULT_CPU_THREADS


class Settings(BaseSettings):
    """Every knob of briefing.  Library code never reads this: entry points pass values on."""

    model_config = SettingsConfigDict(env_prefix="BRIEFING_", extra="ignore")

    data_dir: Path = Field(Path("briefing-data"), description="Where articles, videos, "
                           "transcripts and the index live.")
    database_url: str | None = Field(None, description="PostgreSQL for a fleet, e.g. "
                                     "postgresql://briefing@db/briefing: records, jobs, "
                                     "watches and the search index live there, media stays "
                                     "in BRIEFING_DATA_DIR; unset keeps everything embedded "
                                     "in the data dir (files, SQLite, Whoosh).")
    database_pool_size: int = Field(4, ge=1, le=100, description="Connections each process "
                                    "may open to BRIEFING_DATABASE_URL for records and jobs, "
                                    "and as many again for searches.")
    scratch_dir: Path | None = Field(None, description="With a database URL: where this "
                                     "machine keeps downloads in progress and decoded audio "
                                     "(unset: tmp/ in the data dir); a local disk, since the "
                                     "data dir is then a shared volume.")
    model: str = Field("tiny.en", description="Whisper model: tiny.en (bundled), a name "
                       "faster-whisper knows, or a CTranslate2 model directory.")
    compute_type: str | None = Field(None, description="CTranslate2 compute type; unset: "
                                     "float16 on CUDA, int8 on the CPU.")
    device: str = Field("auto", pattern="^(auto|cpu|cuda)$", description="Where Whisper runs: "
                        "auto (CUDA when CTranslate2 sees a CUDA device, else the CPU), cpu "
                        "or cuda.")
    max_clip_seconds: float = Field(600.0, gt=0, description="Longest clip exported (CLI, "
                                    "HTTP), in seconds.")
    cpu_threads: int = Field(DEFAULT_CPU_THREADS, ge=0, description="CTranslate2 threads per "
                             "transcription (0: one per core for each worker process).")
    batch_size: int = Field(8, ge=0, le=64, description="30-second windows "
                            "decoded together (faster-whisper's batched pipeline); 0 decodes "
                            "them one after another.")
    beam_size: int = Field(5, ge=1, le=10, description="Beam size for decoding.")
    prime: str = Field("hotwords", pattern="^(off|hotwords|prompt)$", description="Prime "
                       "transcription with the linking articles' names: as faster-whisper "
                       "hotwords, as an initial prompt, or off.")
    language: str | None = Field(None, description="Spoken language code; detected when "
                                 "unset (English-only models always use en).")
    max_video_bytes: int = Field(2 * 1024**3, gt=0, description="Size cap per video download.")
    max_article_bytes: int = Field(10 * 1024**2, gt=0, description="Size cap per article page.")
    connect_timeout: float = Field(10.0, gt=0, description="Seconds to connect to a server.")
    read_timeout: float = Field(30.0, gt=0, description="Seconds to wait for the next bytes.")
    download_deadline: float = Field(3600.0, gt=0, description="Overall seconds per download.")
    ffmpeg_timeout: float = Field(1800.0, gt=0, description="Seconds ffmpeg may take per file.")
    allow_private_networks: bool = Field(False, description="Allow URLs on loopback/private "
                                         "addresses (tests and local use).")
    private_allowlist: str = Field("", description="Comma-separated networks (CIDR) that "
                                   "may be fetched although private, e.g. an intranet host.")

    @field_validator("private_allowlist")
    @classmethod
    def _networks(cls, value: str) -> str:
        parse_allowlist(value)  # raises ValueError with the bad entry
        return value

    broker_url: str | None = Field(None, description="Celery broker, e.g. "
                                   "redis://127.0.0.1:6379/0; unset runs jobs inline.")
    # Reliability knobs, the same for every runner (inline and queued).
    max_retries: int = Field(5, ge=0, le=20, description="Retries of a transient failure "
                             "(connection reset, 5xx, time-out) before a video fails.")
    retry_backoff: float = Field(15.0, gt=0, description="Seconds before the first retry; "
                                 "doubled for each further one (with jitter, at most 600).")
    max_deliveries: int = Field(3, ge=1, le=20, description="Deliveries of one step that may "
                                "die with their runner before the video is failed.")
    max_video_seconds: float = Field(4 * 3600.0, gt=0, description="Longest video transcribed "
                                     "(longer ones fail); bounds the queue's time limits.")
    transcribe_time_factor: float = Field(1.0, gt=0, description="Seconds a queued "
                                          "transcription may take per second of audio "
                                          "(plus two minutes).")
    visibility_timeout: int | None = Field(None, ge=1, description="Seconds before Redis hands "
                                           "an unacknowledged task to another worker; derived "
                                           "from the longest task when unset.")
    shutdown_grace: float = Field(30.0, ge=0, description="Seconds a stopping worker lets its "
                                  "running tasks finish before it puts them back on the queue.")
    webhook_retries: int = Field(5, ge=0, le=20, description="Retries of a watch's webhook "
                                 "after its first attempt fails, before it is marked failed.")
    webhook_backoff: float = Field(30.0, gt=0, description="Seconds before a webhook's first "
                                   "retry; doubled for each further one (at most an hour).")
    webhook_timeout: float = Field(10.0, gt=0, description="Seconds a webhook receiver has "
                                   "to answer.")
    webhook_poll: float = Field(5.0, gt=0, description="Seconds between looks for due webhook "
                                "retries in `briefing serve` without a broker.")
    api_token: SecretStr | None = Field(None, description="Bearer token the HTTP API's write "
                                        "endpoints require; unset leaves them open.")
    api_token_file: Path | None = Field(None, description="A file holding the API token "
                                        "(a compose or Kubernetes secret), read once at "
                                        "start; instead of BRIEFING_API_TOKEN.")
    max_body_bytes: int = Field(16 * 1024**2, gt=0, description="Largest HTTP request body "
                                "accepted; larger ones get 413 before being parsed.")

    @field_validator("database_url", mode="before")
    @classmethod
    def _blank_url_is_unset(cls, value: object) -> object:
        # BRIEFING_DATABASE_URL= (empty) in a compose file means the embedded store.
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("api_token", mode="before")
    @classmethod
    def _blank_token_is_unset(cls, value: object) -> object:
        # BRIEFING_API_TOKEN= (empty) must not become a token that anyone can send.
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _token_from_file(self) -> Settings:
        # A secret mounted as a file keeps the token out of `docker inspect` and the process
        # environment; an empty or unreadable file is an error, never an open API.
        path = self.api_token_file
        if path is None:
            return self
        if self.api_token is not None:
            raise ValueError("set BRIEFING_API_TOKEN or BRIEFING_API_TOKEN_FILE, not both")
        try:
            token = path.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
            raise ValueError(f"cannot read BRIEFING_API_TOKEN_FILE {path}: {reason}") from exc
        if not token:
            raise ValueError(f"BRIEFING_API_TOKEN_FILE {path} is empty")
        self.api_token = SecretStr(token)
        return self
