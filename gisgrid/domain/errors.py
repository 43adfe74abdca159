"""Errors a user can cause. Each carries a message template and its parameters, so the
command line prints it as one line and the web app can translate it before showing it."""


class GisgridError(Exception):
    """Base of every error a user can cause; never a bug."""

    exit_code = 2
    http_status = 400

    def __init__(self, template: str, **params):
        self.template = template
        self.params = params
        super().__init__(template.format(**params) if params else template)

    @property
    def message(self) -> str:
        return str(self)


class RulebookError(GisgridError):
    """A rulebook file is malformed, or no rulebook is in force for a month."""


class LayerError(GisgridError):
    """A grid or road layer cannot be read or is unusable (CRS, encoding, geometry, fields)."""


class FindingError(GisgridError):
    """A finding cannot be accepted (unknown rule, bad time, too far from any road ...)."""

    http_status = 422


class SampleError(GisgridError):
    """A month's sample cannot be drawn as asked."""


class NotFound(GisgridError):
    """Something asked for by code or month does not exist."""

    http_status = 404


class Forbidden(GisgridError):
    """The user's role or ownership does not allow this."""

    http_status = 403


class Gone(GisgridError):
    """The object was deleted; it is kept, but nothing more can be done to it."""

    http_status = 410


class Conflict(GisgridError):
    """The request contradicts what is already stored."""

    http_status = 409


class LoginRefused(GisgridError):
    """A wrong user name or password: one message for both, so that it does not tell which."""

    http_status = 401


class PasswordRefused(GisgridError):
    """A new password is refused: the current one is wrong, or the new one too short or not repeated."""

    http_status = 422


class TooManyAttempts(GisgridError):
    """Logins refused for a while after too many failures (the throttle)."""

    http_status = 429


class Busy(GisgridError):
    """Another change held the database longer than a write waits (SQLite has one write lock,
    which a large import holds while it writes); nothing was written, so sending again is safe."""

    http_status = 503


class RequestError(GisgridError):
    """A request's body cannot be read: not JSON, not an object, or nested too deeply."""
