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
    """Tables of indexer.pgsearch: one row per searchable document (an article's own text,
    or a transcript segment), and the phone keys' vocabulary.

    ``tsv`` holds lexemes analysed by ``indexer.normalize`` in Python (stems, a name's whole
    form at its word's position; an article's title weighted A before its text), so the
    ``simple`` configuration is never asked to analyse anything: queries are written as
    tsquery literals of the same lexemes.
    """
    op.execute("""
        CREATE TABLE search_docs (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            kind text NOT NULL CHECK (kind IN ('article', 'segment')),
            article_id text,
            video_id text,
            segment_id integer,
            title text NOT NULL DEFAULT '',
            body text NOT NULL DEFAULT '',
            tsv tsvector NOT NULL,
            source text NOT NULL DEFAULT '',
            sources text[] NOT NULL DEFAULT '{}',
            published text[] NOT NULL DEFAULT '{}',
            language text,
            url text NOT NULL DEFAULT '',
            start_s double precision,
            end_s double precision,
            words jsonb,
            links jsonb,
            phones text,
            percents text,
            phone_keys text[]
        )
    """)
    op.execute("CREATE UNIQUE INDEX search_docs_article ON search_docs (article_id)"
               " WHERE kind = 'article'")
    op.execute("CREATE INDEX search_docs_video ON search_docs (video_id)"
               " WHERE kind = 'segment'")
    op.execute("CREATE INDEX search_docs_tsv ON search_docs USING gin (tsv)")
    op.execute("CREATE INDEX search_docs_phone_keys ON search_docs USING gin (phone_keys)"
               " WHERE kind = 'segment'")
    op.execute("CREATE INDEX search_docs_sources ON search_docs USING gin (sources)")
    # Every phone key ever indexed, read once per process and then by what was added since
    # (``id``): the phonetic pass compares the query's keys with them in Python.
    op.execute("""
        CREATE TABLE search_terms (
            id bigint GENERATED ALWAYS AS IDENTITY,
            field text NOT NULL,
            term text NOT NULL,
            PRIMARY KEY (field, term)
        )
    """)
    op.execute("CREATE INDEX search_terms_id ON search_terms (id)")


def downgrade() -> None:
    """Drop the search tables."""
    op.execute("DROP TABLE IF EXISTS search_terms")
    op.execute("DROP TABLE IF EXISTS search_docs")
