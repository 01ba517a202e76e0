"""records: articles, video sources and metadata, transcripts, removals, exports

Revision ID: 0001
Revises: None
"""

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Placeholder: filled in by the change that adds these tables."""
    op.execute("SELECT 1")
