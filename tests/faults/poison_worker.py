"""``briefing worker`` in a process where Whisper dies by SIGKILL on audio of one length.

It stands in for a poison video: one that crashes native code (CTranslate2, a codec) or gets
its process killed for memory, every time, on whichever worker picks it up.  Nothing of
briefing is changed; the library call is wrapped in this process before the real command
starts, and the pool processes inherit the wrapper when they fork.

    FAULT_KILL_ON_AUDIO_SECONDS=31 python -m tests.faults.poison_worker worker -c 1
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

SAMPLE_RATE = 16_000


def install(seconds: float) -> None:
    """Make every transcription of *seconds* (±0.5) of audio kill its own process."""
    import faster_whisper

    # Sequential decoding and the batched pipeline alike.
    for cls in (faster_whisper.WhisperModel, faster_whisper.BatchedInferencePipeline):
        original = cls.transcribe

        def transcribe(self: Any, audio: Any, *args: Any, _original: Any = original,
                       **kwargs: Any) -> Any:
            if abs(len(audio) / SAMPLE_RATE - seconds) < 0.5:
                os.kill(os.getpid(), signal.SIGKILL)
            return _original(self, audio, *args, **kwargs)

        cls.transcribe = transcribe  # type: ignore[method-assign]


if __name__ == "__main__":
    install(float(os.environ["FAULT_KILL_ON_AUDIO_SECONDS"]))
    from api.cli import main

    sys.argv = ["briefing", *sys.argv[1:]]
    main()
