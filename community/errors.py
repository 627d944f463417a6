"""Domain errors. The web layer maps each kind to one HTTP status in one place."""

from community.i18n import translated


class DomainError(Exception):
    """Base class; ``code`` is the stable machine-readable error name (never translated).

    ``str(exc)`` is the English message; ``exc.message`` is the same in the reader's
    language when the web app has installed its translator (see ``community/i18n.py``).
    """

    code = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.english = message

    @property
    def message(self) -> str:
        return translated(self.english)


class InvalidInput(DomainError):
    code = "invalid_input"


class NotFound(DomainError):
    code = "not_found"


class Forbidden(DomainError):
    code = "forbidden"


class Unauthorized(DomainError):
    code = "unauthorized"


class Conflict(DomainError):
    code = "conflict"


class TooLarge(InvalidInput):
    code = "too_large"


class RateLimited(DomainError):
    code = "rate_limited"
