"""the search index: segments and articles with tsvector, phone keys, vocabulary

Revision ID: 0004
Revises: 0003
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Placeholder: filled in by the change that adds these tables."""
    op.execute("SELECT 1")
