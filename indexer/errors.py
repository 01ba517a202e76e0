"""The root of briefing's error tree, and the index's own errors."""


class BriefingError(Exception):
    """Base for every error briefing reports to a user as one clear line."""


class SearchIndexError(BriefingError):
    """The index could not be opened, written or searched."""


class QueryError(BriefingError):
    """A search query that cannot be understood."""


class BrokenIndexError(SearchIndexError):
    """The index on disk is damaged; it must be rebuilt from the stored transcripts."""
