"""tlsscope: receive, read, store and explain SMTP TLS Reporting (RFC 8460) reports."""

__version__ = "0.1.0"
