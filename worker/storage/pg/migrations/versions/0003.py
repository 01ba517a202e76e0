"""watches, hits and webhook deliveries

Revision ID: 0003
Revises: 0002
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# Times are seconds since the epoch (double precision), as the domain and the SQLite store
# keep them; the PostgreSQL store takes "now" from the database's clock, one for the fleet.
_SCHEMA = """
CREATE TABLE watches (
    id text PRIMARY KEY,
    name text NOT NULL UNIQUE,
    query text NOT NULL,
    source text NOT NULL DEFAULT '',
    language text NOT NULL DEFAULT '',
    clips_only boolean NOT NULL DEFAULT false,
    webhook_url text NOT NULL DEFAULT '',
    secret text NOT NULL DEFAULT '',
    created double precision NOT NULL
);
CREATE TABLE watch_hits (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    key text NOT NULL UNIQUE,
    watch_id text NOT NULL REFERENCES watches(id) ON DELETE CASCADE,
    item text NOT NULL,
    clip text NOT NULL,
    kind text NOT NULL,
    video_id text NOT NULL DEFAULT '',
    article_id text NOT NULL DEFAULT '',
    start double precision NOT NULL DEFAULT 0,
    "end" double precision NOT NULL DEFAULT 0,
    url text NOT NULL DEFAULT '',
    title text NOT NULL DEFAULT '',
    text text NOT NULL DEFAULT '',
    highlight text NOT NULL DEFAULT '',
    match text NOT NULL DEFAULT 'exact',
    articles jsonb NOT NULL DEFAULT '[]',
    created double precision NOT NULL,
    updated double precision NOT NULL,
    retracted double precision,
    -- A hit once per watch, item and clip: a second recorder's insert meets this and yields.
    CONSTRAINT watch_hits_once UNIQUE (watch_id, item, clip)
);
-- Takedowns (withdraw) and the pending webhooks of one item look hits up by item alone.
CREATE INDEX watch_hits_item ON watch_hits (item);
-- A watch's newest hits (its page, its feed, the unseen ones after an id).
CREATE INDEX watch_hits_newest ON watch_hits (watch_id, id);
CREATE TABLE watch_deliveries (
    hit_id bigint PRIMARY KEY REFERENCES watch_hits(id) ON DELETE CASCADE,
    state text NOT NULL,
    attempts integer NOT NULL DEFAULT 0,
    next_at double precision NOT NULL,
    claimed_until double precision NOT NULL DEFAULT 0,
    error text NOT NULL DEFAULT '',
    status integer NOT NULL DEFAULT 0,
    delivered double precision
);
-- The senders' queue: only pending deliveries are ever claimed.
CREATE INDEX watch_deliveries_due ON watch_deliveries (next_at) WHERE state = 'pending';
"""


def upgrade() -> None:
    """Create the watch store's tables."""
    op.execute(_SCHEMA)
