"""The PostgreSQL store (BRIEFING_DATABASE_URL): one pool per process, versioned schema."""
