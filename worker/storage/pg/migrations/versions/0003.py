"""watches, hits and webhook deliveries

Revision ID: 0003
Revises: 0002
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Placeholder: filled in by the change that adds these tables."""
    op.execute("SELECT 1")
