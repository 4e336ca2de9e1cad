"""Domain errors, each carrying the HTTP status Docker gives it.

Jobs raise these; the API turns them into ``{"message": ...}`` with the status,
and the CLI into one line on stderr. Nothing else needs to know about HTTP.
"""

import errno
import os


class BargeError(Exception):
    """Base of every error a user may see."""

    status = 500

    @property
    def message(self) -> str:
        return str(self)


class InvalidParameter(BargeError):
    status = 400


class Unauthorized(BargeError):
    status = 401


class Forbidden(BargeError):
    status = 403


class NotFound(BargeError):
    status = 404


class Conflict(BargeError):
    status = 409


class NotModified(BargeError):
    status = 304


class Unavailable(BargeError):
    status = 503


class NotImplementedByDriver(BargeError):
    status = 501


class ImageNotFound(NotFound):
    """Message starts with 'No such image', which docker-py keys on."""

    def __init__(self, name: str):
        super().__init__(f"No such image: {name}")
        self.name = name


class DriverNotSupported(BargeError):
    """A driver cannot work on this machine; the message carries the reason.

    Auto-selection skips such a driver; a driver the user named makes the
    daemon refuse to start with this message.
    """

    def __init__(self, driver: str, reason: str):
        super().__init__(f"{driver}: not supported: {reason}")
        self.driver = driver
        self.reason = reason


class DriverLoadError(BargeError):
    """A driver package failed to import or initialise (not 'unsupported')."""


#: Go's words for the errnos of a full file system or quota, as moby's messages end.
_NO_SPACE_TEXT = {errno.ENOSPC: "no space left on device", errno.EDQUOT: "disk quota exceeded"}


class NoSpace(BargeError):
    """The data root's file system (or a quota) is full: a 500, as dockerd answers.

    The message says what failed, then the OS's words, in moby's style:
    ``failed to register layer: write /big: no space left on device``.
    """

    @classmethod
    def wrap(cls, what: str, exc: "OSError | NoSpace") -> "NoSpace":
        """``<what>: `` before ``exc``'s text; an OSError's own strerror becomes Go's lower-case words."""
        if isinstance(exc, NoSpace):
            return cls(f"{what}: {exc.message}")
        text = exc.strerror or ""
        if not text or text == os.strerror(exc.errno or 0):
            text = _NO_SPACE_TEXT.get(exc.errno or 0, text)
        where = f"{exc.filename}: " if exc.filename else ""
        return cls(f"{what}: {where}{text}")


def is_no_space(exc: BaseException) -> bool:
    """Whether ``exc`` says the disk (or a quota) is full."""
    return isinstance(exc, NoSpace) or (isinstance(exc, OSError) and exc.errno in _NO_SPACE_TEXT)


def no_space_text(err: int) -> str:
    """Go's words for ``err`` (``no space left on device``), or the OS's for another errno."""
    return _NO_SPACE_TEXT.get(err) or os.strerror(err)
