"""Domain errors, each carrying the HTTP status Docker gives it.

Jobs raise these; the API turns them into ``{"message": ...}`` with the status,
and the CLI into one line on stderr. Nothing else needs to know about HTTP.
"""


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
