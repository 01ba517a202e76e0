"""records: articles, video sources and metadata, transcripts, removals, exports

Revision ID: 0001
Revises: None
"""

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# The same records as the data dir's JSON files (worker.storage.datadir), one table each.
# Documents whose shape belongs to indexer/ (articles, transcripts, takedowns) are kept whole,
# the JSON the files hold; what the store looks things up by is a column of its own.  Articles
# and takedowns are outside text, which may hold U+0000: jsonb refuses that character, json
# keeps the document as written, so they are json; transcripts (the model's words) are jsonb.
_TABLES = """
CREATE TABLE records_articles (
    id      text PRIMARY KEY,
    url     text NOT NULL,
    doc     json NOT NULL,
    stored  double precision NOT NULL            -- last saved (the file's mtime, embedded)
);

CREATE TABLE records_sources (
    url       text PRIMARY KEY,
    url_key   text NOT NULL,                     -- worker.storage.datadir.url_key: listing order
    state     text NOT NULL,
    video_id  text NOT NULL DEFAULT '',
    error     text NOT NULL DEFAULT '',
    articles  text[] NOT NULL DEFAULT '{}',
    attempts  integer NOT NULL DEFAULT 0,
    updated   double precision NOT NULL,
    runner    text NOT NULL DEFAULT ''
);
CREATE INDEX records_sources_video_id ON records_sources (video_id) WHERE video_id <> '';
CREATE INDEX records_sources_articles ON records_sources USING gin (articles);
CREATE INDEX records_sources_url_key ON records_sources (url_key);

CREATE TABLE records_videos (
    video_id   text PRIMARY KEY,
    sha256     text NOT NULL,
    size       bigint NOT NULL,
    container  text NOT NULL,
    urls       text[] NOT NULL,
    fetched    jsonb NOT NULL DEFAULT '{}',
    stored     double precision NOT NULL         -- last written (meta.json's mtime, embedded)
);
CREATE INDEX records_videos_urls ON records_videos USING gin (urls);

CREATE TABLE records_transcripts (
    video_id  text PRIMARY KEY,
    doc       jsonb NOT NULL,
    saved     double precision NOT NULL
);

CREATE TABLE records_transcript_versions (
    video_id  text NOT NULL,
    number    integer NOT NULL,
    replaced  double precision NOT NULL,
    doc       jsonb NOT NULL,
    PRIMARY KEY (video_id, number)
);

CREATE TABLE records_pending (
    kind     text NOT NULL,
    item_id  text NOT NULL,
    PRIMARY KEY (kind, item_id)
);

CREATE TABLE records_removals (
    id         text PRIMARY KEY,
    requested  double precision NOT NULL,
    completed  double precision,                 -- NULL: under way, its items are hidden
    doc        json NOT NULL
);
CREATE INDEX records_removals_pending ON records_removals (requested, id)
    WHERE completed IS NULL;

CREATE TABLE records_exports (
    video_id  text NOT NULL,
    path      text NOT NULL,
    sha256    text NOT NULL,
    created   double precision NOT NULL,
    PRIMARY KEY (video_id, path)
);
"""


def upgrade() -> None:
    """Create the record tables."""
    # One statement per call: the driver prepares each, and a prepared statement holds one.
    for statement in _TABLES.split(";\n"):
        if statement.strip():
            op.execute(statement)
