"""The exception tree. Each exception carries the context needed to say what went wrong.

    TlsscopeError
     ├── ConfigError            a setting is missing or invalid (names the key and the value)
     ├── StoreUnavailable       the store cannot take an input now: make the sender retry
     ├── MissingExtra           a feature needs an optional dependency (names the extra)
     ├── RequestError           what a user asked of the application (tlsscope.app) cannot be done
     │    ├── NotFound          nothing of that name within the user's scope (web: 404)
     │    ├── Forbidden         the user, or the API token, may not do this (web: 403)
     │    └── Invalid           a value given is wrong (names the field; web: 400 page, 422 API)
     └── InputError             one input cannot be read (names the code and the place)
          ├── DecompressError   truncated or corrupt gzip/zip data
          ├── SizeLimitError    the decompressed or raw size passes the configured cap
          └── ReportError       a JSON report is invalid (bad JSON, missing or bad members)

Request errors are raised by the application layer and turned into an HTTP status by the web
app and into a one-line message and an exit code by the CLI.

Input errors never escape the reader: `tlsscope.parse.read_input` turns them into findings on
the input, so one bad input never stops a batch.
"""

from __future__ import annotations


class TlsscopeError(Exception):
    """Base of every error tlsscope raises on purpose."""


class ConfigError(TlsscopeError):
    def __init__(self, key: str, value: object, reason: str) -> None:
        self.key, self.value, self.reason = key, value, reason
        super().__init__(f"setting {key!r} = {value!r}: {reason}")


class InputError(TlsscopeError):
    code = "input_error"

    def __init__(self, message: str, path: str = "", code: str | None = None) -> None:
        self.message, self.path = message, path
        if code is not None:
            self.code = code
        super().__init__(f"{path}: {message}" if path else message)


class DecompressError(InputError):
    code = "decompress_error"


class SizeLimitError(InputError):
    code = "size_limit"


class ReportError(InputError):
    code = "invalid_report"


class StoreUnavailable(TlsscopeError):
    """The store could not commit an input; receivers answer so that the sender retries."""


class MissingExtra(TlsscopeError):
    """A feature needs an optional dependency that is not installed."""

    def __init__(self, feature: str, extra: str, module: str) -> None:
        self.feature, self.extra, self.module = feature, extra, module
        super().__init__(f"{feature} needs the {extra!r} extra (Python module {module!r} is "
                         f"not installed): pip install 'tlsscope[{extra}]'")


class RequestError(TlsscopeError):
    """A request to the application cannot be done; `message` says why, for the user."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


class NotFound(RequestError):
    """Nothing of that name within the user's scope (what is outside it does not exist)."""

    def __init__(self, message: str = "not found") -> None:
        super().__init__(message)


class Forbidden(RequestError):
    """The user, or the API token, may not do this."""


class Invalid(RequestError):
    """A value given is wrong: `field` names it (a CLI option, a form field, a parameter)."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(message)
