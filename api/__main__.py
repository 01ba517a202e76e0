"""``python -m api`` runs the ``briefing`` command."""

from api.cli import main

main()
