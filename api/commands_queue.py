"""Queue commands (``briefing worker``, ``briefing jobs``): registered on the CLI app."""
