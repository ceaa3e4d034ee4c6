"""Domain errors. Services raise them; the API's exception handler and the HTML views turn them
into the user's language. Each carries a stable machine-readable ``code``."""


class DomainError(Exception):
    status = 400
    code = "invalid"

    def __init__(self, message, *, code=None, fields=None, status=None, extra=None):
        super().__init__(str(message))
        self.message = message
        self.code = code or self.code
        self.fields = fields or {}
        self.status = status or self.status
        self.extra = extra or {}


class ConflictError(DomainError):
    """Optimistic-lock conflicts, duplicates: HTTP 409."""

    status = 409
    code = "conflict"
