"""Settings read from the environment: the API token from a mounted secret file."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from worker.settings import Settings


def test_api_token_is_read_from_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = tmp_path / "api_token"
    secret.write_text("s3cret-token\n")  # as `echo ... > file` leaves it
    monkeypatch.delenv("BRIEFING_API_TOKEN", raising=False)
    monkeypatch.setenv("BRIEFING_API_TOKEN_FILE", str(secret))
    token = Settings().api_token
    assert token is not None and token.get_secret_value() == "s3cret-token"


@pytest.mark.parametrize(("content", "also_env", "message"), [
    (None, False, "cannot read BRIEFING_API_TOKEN_FILE"),
    ("\n", False, "is empty"),
    ("tok", True, "not both"),
])
def test_a_bad_token_file_is_refused_never_an_open_api(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: str | None, also_env: bool,
        message: str) -> None:
    secret = tmp_path / "api_token"
    if content is not None:
        secret.write_text(content)
    monkeypatch.setenv("BRIEFING_API_TOKEN_FILE", str(secret))
    if also_env:
        monkeypatch.setenv("BRIEFING_API_TOKEN", "other")
    else:
        monkeypatch.delenv("BRIEFING_API_TOKEN", raising=False)
    with pytest.raises(ValidationError, match=message):
        Settings()
