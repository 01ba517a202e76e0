"""The root of briefing's error tree, and the index's own errors (the whole tree is drawn in
:mod:`worker.errors`)."""


class BriefingError(Exception):
    """Base for every error briefing reports to a user as one clear line.

    ``transient`` says whether trying again later could help; a subclass sets it for all its
    instances, and an instance may override it (a fetch that failed on a time-out).
    """

    transient: bool = False


class SearchIndexError(BriefingError):
    """The index could not be opened, written or searched.

    The index is derived from the stored records, so a lock or a full disk is the machine's
    passing problem, never the video's: worth trying again.
    """

    transient = True


class QueryError(BriefingError):
    """A search query that cannot be understood."""

    transient = False


class BrokenIndexError(SearchIndexError):
    """The index on disk is damaged; it must be rebuilt from the stored transcripts."""
