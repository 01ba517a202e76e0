"""HTTP commands (``briefing serve``): registered on the CLI app."""
