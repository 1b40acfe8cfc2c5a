"""The exception tree. Each exception carries the context needed to say what went wrong.

    TlsscopeError
     ├── ConfigError            a setting is missing or invalid (names the key and the value)
     ├── StoreUnavailable       the store cannot take an input now: make the sender retry
     ├── MissingExtra           a feature needs an optional dependency (names the extra)
     └── InputError             one input cannot be read (names the code and the place)
          ├── DecompressError   truncated or corrupt gzip/zip data
          ├── SizeLimitError    the decompressed or raw size passes the configured cap
          └── ReportError       a JSON report is invalid (bad JSON, missing or bad members)

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
