"""Clips that leave briefing as evidence: cut from the stored original, captioned in clip
time, and described by a provenance sidecar that ``briefing verify`` checks.

``cut`` runs ffmpeg, ``captions`` shifts a transcript's words to clip time, ``provenance``
writes and checks the sidecar, ``export`` puts them together.
"""

from worker.clips.cut import CutMode, MediaFacts, cut_clip, media_facts
from worker.clips.export import ExportedClip, export_clip, sidecar_path
from worker.clips.provenance import Check, verify_clip

__all__ = [
    "Check",
    "CutMode",
    "ExportedClip",
    "MediaFacts",
    "cut_clip",
    "export_clip",
    "media_facts",
    "sidecar_path",
    "verify_clip",
]
