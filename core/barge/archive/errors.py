"""The one error a bad layer tar raises."""

from barge.errors import InvalidParameter


class ArchiveError(InvalidParameter):
    """A layer tar is malformed, truncated or tries to escape its target.

    A 400: the input is wrong, not the daemon. The caller removes the
    half-written layer.
    """
