"""jobs, deliveries and runs

Revision ID: 0002
Revises: 0001
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# Times are Unix seconds (double precision) as in the embedded store, so a Job reads the same
# from either.  A job's videos and deliveries go with it (ON DELETE CASCADE).
_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id text PRIMARY KEY,
    seq bigint GENERATED ALWAYS AS IDENTITY,
    source text NOT NULL,
    state text NOT NULL,
    article_id text NOT NULL DEFAULT '',
    title text NOT NULL DEFAULT '',
    error text NOT NULL DEFAULT '',
    created double precision NOT NULL,
    updated double precision NOT NULL,
    runner text NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS jobs_created ON jobs (created DESC, seq DESC);
CREATE INDEX IF NOT EXISTS jobs_article ON jobs (article_id);

CREATE TABLE IF NOT EXISTS job_videos (
    job_id text NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    url text NOT NULL,
    position integer NOT NULL,
    state text NOT NULL,
    progress double precision NOT NULL DEFAULT 0,
    attempts integer NOT NULL DEFAULT 0,
    error text NOT NULL DEFAULT '',
    video_id text NOT NULL DEFAULT '',
    started double precision,
    finished double precision,
    PRIMARY KEY (job_id, url)
);
CREATE INDEX IF NOT EXISTS job_videos_video ON job_videos (video_id);

CREATE TABLE IF NOT EXISTS job_deliveries (
    job_id text NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    url text NOT NULL,
    step text NOT NULL,
    started integer NOT NULL DEFAULT 0,
    ended integer NOT NULL DEFAULT 0,
    crashes integer NOT NULL DEFAULT 0,
    failures integer NOT NULL DEFAULT 0,
    retry_pending boolean NOT NULL DEFAULT false,
    began double precision,
    seconds double precision NOT NULL DEFAULT 0,
    PRIMARY KEY (job_id, url, step)
);

-- A run is alive while its process holds the advisory lock (namespace, lock_key) on a session of
-- its own (worker.storage.pg.runs); the row says whose it is.
CREATE TABLE IF NOT EXISTS runs (
    id text PRIMARY KEY,
    lock_key integer GENERATED ALWAYS AS IDENTITY UNIQUE,
    host text NOT NULL,
    pid integer NOT NULL,
    started double precision NOT NULL
);
"""


def upgrade() -> None:
    """Create the job store's and the runs' tables."""
    op.execute(_SCHEMA)

