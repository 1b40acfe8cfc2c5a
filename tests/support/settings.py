"""Settings several tests share."""

from __future__ import annotations

from tlsscope.settings import Settings

# The receivers check DKIM on live mail; the tests that are not about DKIM must not ask the
# system's resolver (there is no network here, and lookups would only add time-outs).
OFFLINE = Settings(dkim_verify="never")
