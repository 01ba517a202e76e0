"""The provenance sidecar of an exported clip (``clip.mp4`` → ``clip.json``) and its check.

The sidecar says where the clip came from and what it says, so an editor can check a quote
without trusting whoever handed the clip over: every URL that served the original and when,
the SHA-256 of the original and of the clip, the articles that link the video, the clip's
bounds in the original, the words heard there with their timings and probabilities, and the
model, options and software that heard them.  :func:`verify_clip` checks the hashes and
that the original we store still says those words at those times.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from indexer.domain import ArticleRef, Transcript, Word
from worker.clips.captions import words_in
from worker.errors import VerificationError
from worker.storage.datadir import VideoMeta, is_item_id
from worker.storage.files import file_sha256
from worker.storage.interfaces import Records

__all__ = ["FORMAT", "Check", "build_sidecar", "iso_time", "verify_clip"]

FORMAT = "briefing-clip/1"
# Word times are stored to the millisecond and compared with this slack.
_TIME_SLACK = 0.011


def iso_time(seconds: float) -> str:
    """Unix time as an ISO 8601 UTC timestamp."""
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds").replace(
        "+00:00", "Z")


def _word_json(word: Word) -> dict[str, Any]:
    return {"word": word.word, "start": round(word.start, 3), "end": round(word.end, 3),
            "probability": round(word.probability, 4)}


def _text(words: list[Word]) -> str:
    return "".join(w.word for w in words).strip()


def build_sidecar(*, meta: VideoMeta, original_duration: float, transcript: Transcript,
                  transcript_version: int, articles: list[ArticleRef], start: float,
                  end: float, clip_file: Path, clip_sha256: str, clip_duration: float,
                  captions: dict[str, str], cut: str, software: dict[str, str],
                  exported: float, fallback_fetched: float) -> dict[str, Any]:
    """The sidecar's JSON for a clip cut from *meta*'s video between *start* and *end*."""
    words = words_in(transcript, start, end)
    return {
        "format": FORMAT,
        "exported": iso_time(exported),
        "clip": {"file": clip_file.name, "sha256": clip_sha256,
                 "size": clip_file.stat().st_size, "duration": round(clip_duration, 3),
                 "cut": cut, "captions": captions},
        "original": {
            "video_id": meta.video_id, "sha256": meta.sha256, "size": meta.size,
            "container": meta.container, "duration": round(original_duration, 3),
            # Records made before fetch times were kept give the file's own time instead.
            "sources": [{"url": url, "fetched": iso_time(meta.fetched.get(url,
                                                                           fallback_fetched))}
                        for url in meta.urls],
        },
        "start": round(start, 3),
        "end": round(end, 3),
        "articles": [{"url": a.url, "title": a.title, "source": a.source,
                      "published": a.published} for a in articles],
        "text": _text(words),
        "words": [_word_json(w) for w in words],
        "transcript": {"version": transcript_version, "model": transcript.model,
                       "model_version": transcript.model_version,
                       "language": transcript.language, "options": transcript.options},
        "software": software,
    }


@dataclass(frozen=True)
class Check:
    """One thing ``verify`` looked at, and what it found."""

    name: str
    ok: bool
    detail: str


def _read_sidecar(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise VerificationError(f"cannot read the sidecar {path}: {exc}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise VerificationError(f"{path} is not a briefing clip sidecar ({FORMAT})")
    try:
        for key in ("clip", "original", "words", "start", "end"):
            data[key]  # a KeyError names the missing field
        str(data["clip"]["sha256"])
        video_id = data["original"]["video_id"]
        float(data["start"]), float(data["end"])
    except (KeyError, TypeError, ValueError) as exc:
        raise VerificationError(f"the sidecar {path} lacks {exc}") from None
    # The id names a folder of the data dir: nothing else may reach a path.
    if not (isinstance(video_id, str) and is_item_id(video_id)):
        raise VerificationError(f"the sidecar {path} names no video id (16 hex digits)")
    if not isinstance(data["words"], list):
        raise VerificationError(f"the sidecar {path} has no list of words")
    return data


def _same_words(stored: list[Word], claimed: list[dict[str, Any]]) -> bool:
    if len(stored) != len(claimed):
        return False
    for word, item in zip(stored, claimed, strict=True):
        try:
            if (word.word.strip() != str(item["word"]).strip()
                    or abs(word.start - float(item["start"])) > _TIME_SLACK
                    or abs(word.end - float(item["end"])) > _TIME_SLACK):
                return False
        except (KeyError, TypeError, ValueError):
            return False
    return True


def verify_clip(clip: Path, sidecar: Path, data: Records) -> list[Check]:
    """Check *clip* against its *sidecar* and the originals stored in *data*.

    Three checks: the clip's bytes hash to the sidecar's SHA-256; the stored original
    still hashes to the sidecar's; its transcript (the current one or a kept version) has
    the sidecar's words at the sidecar's times.  Raises :class:`VerificationError` for a
    sidecar that cannot be read at all.
    """
    claimed = _read_sidecar(sidecar)
    checks = []
    try:
        got = file_sha256(clip)
        same = got == claimed["clip"]["sha256"]
        checks.append(Check("clip", same, "the clip's SHA-256 matches the sidecar" if same else
                            f"the clip's SHA-256 is {got}, the sidecar says "
                            f"{claimed['clip']['sha256']}: the clip was changed"))
    except OSError as exc:
        checks.append(Check("clip", False, f"cannot read the clip: {exc.strerror}"))
    video_id = str(claimed["original"]["video_id"])
    hidden = data.hidden().video_ids
    meta = data.video_meta(video_id) if video_id not in hidden else None
    media = data.video_file(video_id) if meta is not None else None
    if meta is None or media is None:
        checks.append(Check("original", False, f"the original video {video_id} is no longer "
                            "stored here (taken down, or another data dir)"))
        checks.append(Check("words", False, "no stored transcript to compare with"))
        return checks
    original_sha = file_sha256(media)
    same = original_sha == claimed["original"].get("sha256")
    checks.append(Check("original", same, "the stored original's SHA-256 matches the sidecar"
                        if same else "the stored original does not hash to the sidecar's "
                        "SHA-256"))
    start, end = float(claimed["start"]), float(claimed["end"])
    candidates: list[tuple[str, Transcript]] = []
    current = data.load_transcript(video_id)
    if current is not None:
        candidates.append(("current transcript", current))
    candidates += [(f"transcript version {v.number}", v.transcript)
                   for v in reversed(data.transcript_versions(video_id))]
    for label, transcript in candidates:
        stored = words_in(transcript, start, end)
        if _same_words(stored, list(claimed["words"])):
            # The quote a reader takes from the sidecar must be those words, too.
            if claimed.get("text") != _text(stored):
                checks.append(Check("words", False, "the sidecar's text is not what its words "
                                    f"say; the {label} says: {_text(stored)}"))
                break
            checks.append(Check("words", True, f"the {label} ({transcript.model}) has the "
                                f"sidecar's {len(claimed['words'])} words at "
                                f"{start:.2f}–{end:.2f} s"))
            break
    else:
        checks.append(Check("words", False, "no stored transcript of the original has the "
                            f"sidecar's words at {start:.2f}–{end:.2f} s"))
    return checks
