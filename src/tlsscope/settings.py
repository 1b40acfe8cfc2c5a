"""One typed `Settings`, read from a TOML file and `TLSSCOPE_*` environment variables.

Order of precedence (later wins): defaults, the TOML file, the environment. The file is the one
named by `--config` or `TLSSCOPE_CONFIG`, else `$XDG_CONFIG_HOME/tlsscope/tlsscope.toml` when it
exists. Every setting `name` has the variable `TLSSCOPE_NAME` (upper case). A bad value is a
`ConfigError` that names the key, the value and the rule it breaks.
"""

from __future__ import annotations

import os
import re
import tomllib
from email.utils import parseaddr
from pathlib import Path
from typing import Annotated, Any, Literal, NamedTuple
from urllib.parse import unquote, urlsplit

import msgspec

from tlsscope.errors import ConfigError

MiB = 1024 * 1024
JOBS = ("analyst", "rechecks", "alerts", "digests", "imap", "retention")


class Settings(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    database_url: str = ""
    """SQLAlchemy URL of the store; empty means SQLite in the per-user data folder."""
    # A fleet: several `serve` nodes on one PostgreSQL (docs/deploy.md)
    db_pool_web: Annotated[int, msgspec.Meta(ge=1, le=100)] = 4
    """PostgreSQL connections `serve`'s web process keeps (pages, the API, re-checks, alerts,
    digests share them). With the writer's and the analyst's, 8 per node: 10 nodes fit in
    PostgreSQL's default max_connections of 100, with room for the CLI and psql."""
    db_pool_writer: Annotated[int, msgspec.Meta(ge=1, le=100)] = 2
    """PostgreSQL connections of `serve`'s writer process."""
    db_pool_analyst: Annotated[int, msgspec.Meta(ge=1, le=100)] = 2
    """PostgreSQL connections of `serve`'s analyst process."""
    db_pool_timeout: Annotated[float, msgspec.Meta(gt=0)] = 10.0
    """Longest wait for a free pooled connection; then the request fails (503) rather than
    waiting unbounded."""
    migrate_on_start: bool = True
    """`serve` and every command bring an older schema up to date themselves (under a lock:
    safe with nodes starting together). false: they wait for `tlsscope migrate`, up to
    schema_wait_seconds; a fleet upgraded node by node wants this."""
    schema_wait_seconds: Annotated[float, msgspec.Meta(ge=0)] = 300.0
    """With migrate_on_start = false: how long to wait for the schema to be migrated."""
    lease_seconds: Annotated[float, msgspec.Meta(ge=2, le=3600)] = 30.0
    """A node's hold on a job only one node does at a time (the analyst's passes, draining
    the IMAP mailbox, the retention purge): renewed every third of it, lost this long after
    the node died, when another node takes the job over."""
    jobs: list[str] = msgspec.field(default_factory=lambda: list(JOBS))
    """The background jobs this `serve` node may do (analyst, rechecks, alerts, digests, imap,
    retention); on a fleet each is done by one node at a time whichever nodes allow it. An
    empty list: this node only takes reports and serves pages."""
    http_rate_shared: Literal["auto", "database", "node"] = "auto"
    """Where the HTTP rate limit's buckets are kept: in the database, shared by every node
    ("auto" on PostgreSQL), or in this process ("auto" on SQLite). A load balancer that
    limits rates itself: set http_rate_per_minute = 0."""
    # Reader limits (RFC 8460 §5.2 notes that receivers commonly cap reports at 10 MB).
    max_input_bytes: Annotated[int, msgspec.Meta(gt=0)] = 25 * MiB
    """Largest raw input (file, mail, HTTP body) the reader takes."""
    max_decompressed_bytes: Annotated[int, msgspec.Meta(gt=0)] = 50 * MiB
    """Largest inflated size of one gzip stream or zip member (the bomb guard)."""
    max_total_decompressed_bytes: Annotated[int, msgspec.Meta(gt=0)] = 100 * MiB
    """Largest inflated size of one input in all, across its members and layers."""
    read_seconds: Annotated[float, msgspec.Meta(gt=0)] = 20.0
    """`serve`: longest time one input may take to be read (DKIM included); past it the input
    is set aside in quarantine (reading_budget) and its reader process replaced."""
    read_memory_mb: Annotated[int, msgspec.Meta(ge=256)] = 1024
    """`serve`: address-space limit of a reader process; an input that needs more is set aside."""
    readers: Annotated[int, msgspec.Meta(ge=0)] = 2
    """`serve`: reader processes beside the writer (0: the writer reads, with no budget)."""
    max_archive_members: Annotated[int, msgspec.Meta(gt=0)] = 1000
    """Most members read from one zip archive."""
    max_failure_details: Annotated[int, msgspec.Meta(gt=0)] = 10_000
    """Most failure-details rows (and most policies) one report may list; a report with more
    is rejected, its input quarantined."""
    max_field_chars: Annotated[int, msgspec.Meta(ge=1024)] = 65_536
    """Longest string a report may hold (an organisation name, a policy-string line, ...); a
    report with a longer one is rejected (value_too_long). Shorter but unusually long strings
    are kept with a long_value warning."""
    quarantine_mb_per_source: Annotated[int, msgspec.Meta(ge=0)] = 100
    """Most MB of junk (rejected inputs and non-reports, without a report), as stored, kept per
    sender: a client address (an IPv6 /64), the IMAP mailbox, or mail piped in. Over it, the
    sender's oldest junk loses its raw bytes (its reasons, digest and arrivals stay); an input
    that carries a report is never touched, nor are files the operator ingested. 0: none."""
    # Retention and privacy (docs/retention.md): installation defaults; an organisation may
    # set its own (`tlsscope orgs retention`). 0 days: kept for ever.
    keep_inputs_days: Annotated[int, msgspec.Meta(ge=0, le=36_500)] = 400
    """Days raw inputs (the bytes as they arrived) are kept; past it an input that still
    carries a stored report loses its bytes (the report stays), any other goes with its
    arrivals. 0: for ever."""
    keep_reports_days: Annotated[int, msgspec.Meta(ge=0, le=36_500)] = 0
    """Days a report's policies and failure rows are kept, counted from the day the report
    covers; past it they go, the roll-ups are recounted, and a report none of whose policies
    is left goes too. 0: for ever."""
    keep_checks_days: Annotated[int, msgspec.Meta(ge=0, le=36_500)] = 400
    """Days live checks are kept. 0: for ever."""
    truncate_sending_ips: bool = False
    """Store the sending MTA's address of failure details (sending-mta-ip) cut to its network
    (IPv4 /24, IPv6 /48) instead of whole. receiving-ip, the domain's own MX, stays whole; the
    raw input keeps the addresses as sent, for keep_inputs_days."""
    # `tlsscope serve`
    listen: str = "127.0.0.1:8080"
    """HOST:PORT of the HTTP(S) server: the report intake (and later the dashboard)."""
    tls_cert: str = ""
    """PEM certificate chain for HTTPS served directly (else run behind a reverse proxy)."""
    tls_key: str = ""
    """PEM private key for `tls_cert`."""
    forwarded_allow_ips: str = "127.0.0.1"
    """Proxies whose X-Forwarded-For is trusted for the client address (comma-separated)."""
    http_max_body_bytes: Annotated[int, msgspec.Meta(gt=0)] = 10 * MiB
    """Largest POSTed report body (RFC 8460 §5.2: receivers commonly cap at 10 MB)."""
    http_body_timeout: Annotated[float, msgspec.Meta(gt=0)] = 30.0
    """Seconds a client may take to send its body."""
    http_rate_per_minute: Annotated[int, msgspec.Meta(ge=0)] = 600
    """POSTs per minute per client address (0: no limit)."""
    http_rate_burst: Annotated[int, msgspec.Meta(gt=0)] = 120
    """POSTs a client may make at once before the rate applies."""
    http_header_timeout: Annotated[float, msgspec.Meta(gt=0)] = 10.0
    """Seconds a client may take to send a request's line and headers, from its connection
    (or, kept alive, from the request's first byte); then 408 and the connection is closed."""
    http_max_header_bytes: Annotated[int, msgspec.Meta(gt=0)] = 32 * 1024
    """Largest request line and headers together; larger get 431 and the connection closed."""
    http_max_headers: Annotated[int, msgspec.Meta(gt=0)] = 100
    """Most header fields in one request; more get 431 and the connection closed."""
    http_max_connections: Annotated[int, msgspec.Meta(gt=0)] = 1000
    """Most HTTP connections open at once; more are answered 503 and closed."""
    http_max_connections_per_address: Annotated[int, msgspec.Meta(ge=0)] = 20
    """Most HTTP connections open at once from one client address (an IPv6 /64); more get
    429 and are closed. The proxies of `forwarded_allow_ips` are not capped. 0: no cap."""
    public_url: str = ""
    """This installation's address as senders reach it (https://tlsrpt.example.net): the
    dashboard shows the https rua to publish from it."""
    smtp_listen: str = ""
    """HOST:PORT of the built-in SMTP receiver; empty: none."""
    lmtp_listen: str = ""
    """HOST:PORT, or a socket path starting with /, of an LMTP receiver; empty: none."""
    writer_queue_max: Annotated[int, msgspec.Meta(ge=1)] = 1000
    """`serve`: most inputs waiting for the writer at once; one more is answered at once to be
    retried (HTTP 503, SMTP 451, the mail left in the mailbox), and /readyz says 503 while the
    queue is full: a writer that falls behind never holds unbounded memory."""
    writer_answer_seconds: Annotated[float, msgspec.Meta(gt=0)] = 120.0
    """Longest wait for the writer's receipt of one input; past it the sender is told to retry
    (503, 451, the mail left in the mailbox): a stuck writer never holds a sender for ever."""
    pipe_socket: str = "auto"
    """Unix socket where `serve` takes mail from `ingest -` (an MTA pipe), so that the pipe
    does not open the store itself: "auto" (next to a SQLite database file, as FILE.pipe),
    a path, or empty: none."""
    rua_addresses: list[str] = msgspec.field(default_factory=list)
    """Report addresses the SMTP/LMTP receivers accept mail for (others get 550)."""
    accept_domains: list[str] | str = msgspec.field(default_factory=list)
    """Only store reports about these policy domains (a list), or about the domains assigned
    to an organisation ("assigned"); others are refused (HTTP 403, SMTP 550). Empty: all."""

    def __post_init__(self) -> None:
        unknown = sorted(set(self.jobs) - set(JOBS))
        if unknown:
            raise ValueError(f"jobs: unknown {', '.join(map(repr, unknown))}; the jobs are "
                             f"{', '.join(JOBS)}")
        if isinstance(self.accept_domains, str) and self.accept_domains != "assigned":
            raise ValueError(f'accept_domains must be a list of domains or "assigned", not '
                             f"{self.accept_domains!r}")

    @property
    def report_domains(self) -> list[str]:
        """The domains of `rua_addresses`: failures there may be about report delivery."""
        return sorted({a.rpartition("@")[2].lower().rstrip(".")
                       for a in self.rua_addresses if "@" in a})

    smtp_max_message_bytes: Annotated[int, msgspec.Meta(gt=0)] = 25 * MiB
    """Largest mail the SMTP/LMTP receivers take."""
    smtp_require_starttls: bool = False
    """Refuse MAIL FROM until the client has issued STARTTLS (530 5.7.0); needs tls_cert."""
    smtp_idle_seconds: Annotated[float, msgspec.Meta(gt=0)] = 60.0
    """Seconds an SMTP/LMTP session may wait for the client's next command (or, in DATA,
    for its next bytes) before it is closed."""
    smtp_max_sessions_per_address: Annotated[int, msgspec.Meta(ge=0)] = 10
    """Most SMTP sessions open at once from one client address (an IPv6 /64); more are
    answered 421 4.7.0 and closed. 0: no cap."""
    smtp_session_seconds: Annotated[float, msgspec.Meta(gt=0)] = 900.0
    """Longest an SMTP session may stay open, however busy; then 421 4.4.2 and it is closed
    (a mail being stored is first given its receipt)."""
    imap: str = ""
    """Mailbox to drain: imaps://USER@HOST[:PORT]/MAILBOX (imap:// STARTTLS); empty: none."""
    imap_password: str = ""
    """The IMAP password (from TLSSCOPE_IMAP_PASSWORD or the settings file; never a flag)."""
    imap_password_file: str = ""
    """A file holding the IMAP password, when it is not in imap_password."""
    imap_archive: str = "Archive"
    """Folder for mail whose reports are stored."""
    imap_invalid: str = "Invalid"
    """Folder for mail that held no report, or was rejected."""
    imap_wait: Annotated[float, msgspec.Meta(gt=0)] = 60.0
    """Seconds between polls (or the longest IDLE) when the mailbox is empty."""
    # DKIM (RFC 8460 §3: mailed reports MUST be signed by the reporting domain)
    dkim_verify: Literal["live", "always", "never"] = "live"
    """Check DKIM on mail received live (serve, ingest -) or also on files and archives."""
    dkim_required: bool = False
    """Quarantine mailed reports without a passing, aligned DKIM signature."""
    dns_nameserver: str = ""
    """HOST:PORT of the DNS resolver for DKIM keys and live checks; empty: the system's."""
    # Live checks (tlsscope check)
    check_timeout: Annotated[float, msgspec.Meta(gt=0)] = 10.0
    """Seconds per network operation of a live check."""
    check_smtp_port: Annotated[int, msgspec.Meta(gt=0, lt=65536)] = 25
    """Port the MX hosts are probed on."""
    check_https_port: Annotated[int, msgspec.Meta(gt=0, lt=65536)] = 443
    """Port the MTA-STS policy host is fetched from."""
    check_ca_file: str = ""
    """An extra CA bundle trusted for the policy host, https rua and MX certificates."""
    check_allow_private: bool = False
    """Probe private, loopback and link-local addresses too (off: the SSRF guard refuses)."""
    check_expiry_warning_days: Annotated[int, msgspec.Meta(ge=0)] = 14
    """Warn about certificates expiring within this many days."""
    # Re-checks by `tlsscope serve`
    check_every_hours: Annotated[float, msgspec.Meta(ge=0)] = 24.0
    """Re-check each domain with reports this often; 0: no scheduled re-checks."""
    check_unowned: bool = False
    """Let `serve` re-check domains no organisation owns (nor accept_domains lists): off, an
    anonymous report about any domain cannot make tlsscope probe that domain's hosts."""
    check_on_failure: bool = True
    """Re-check a domain soon after a report with failures for it arrives."""
    check_min_gap_minutes: Annotated[float, msgspec.Meta(ge=0)] = 60.0
    """The shortest time between two re-checks of a domain triggered by failures."""
    check_poll_seconds: Annotated[float, msgspec.Meta(gt=0)] = 30.0
    """How often serve looks for domains due for a re-check."""
    # Alerts and digests (tlsscope.alert; docs/alerts.md)
    smtp_url: str = ""
    """The relay alert and digest mail goes through: smtp://USER:PASS@HOST:587 (STARTTLS,
    required), smtps://USER:PASS@HOST:465 (TLS from the start), or smtp+plain://HOST:25 (no
    TLS: a relay on this host only). Empty: no mail is sent."""
    mail_from: str = ""
    """The From address of alert and digest mail (default: tlsscope@ the public_url's host)."""
    alerts_allow_private: bool = False
    """Let webhooks reach private, loopback and link-local addresses (off: refused, also
    after a redirect or a DNS answer that changed)."""
    alerts_silent_days: Annotated[int, msgspec.Meta(ge=0)] = 3
    """A domain with no report for more than this many days raises receiver.silent; 0: never."""
    alerts_timeout: Annotated[float, msgspec.Meta(gt=0)] = 10.0
    """Seconds one delivery attempt (a webhook POST, a mail to the relay) may take."""
    alerts_concurrency: Annotated[int, msgspec.Meta(ge=1, le=64)] = 8
    """Deliveries sent at once (each its own connection)."""
    alerts_lease_seconds: Annotated[float, msgspec.Meta(ge=1)] = 300.0
    """How long a claimed delivery is a node's: one that dies mid-attempt (kill -9, a lost
    machine) has its deliveries sent again by another pass after this (with the same ids).
    A pass claims no more than it can send within it (alerts_timeout each)."""
    alerts_poll_seconds: Annotated[float, msgspec.Meta(gt=0)] = 5.0
    """How often serve looks for alerts due to be sent."""
    digest_weekday: Annotated[int, msgspec.Meta(ge=0, le=6)] = 0
    """The day serve sends weekly digests (0: Monday), at digest_hour UTC."""
    digest_hour: Annotated[int, msgspec.Meta(ge=0, le=23)] = 7
    """The hour (UTC) serve sends digests: daily ones each day, weekly and monthly ones on
    their first day."""
    # Prometheus (docs/metrics.md)
    metrics_token: str = ""
    """Bearer token that opens `GET /metrics` on the main listener (`Authorization: Bearer
    ...`); empty: /metrics is not served there. At least 16 printable ASCII
    characters, no spaces."""
    metrics_token_file: str = ""
    """A file holding metrics_token, when it is not in the settings or the environment."""
    metrics_listen: str = ""
    """HOST:PORT of a listener of its own for `/metrics` (and /healthz, /readyz), answered
    without a token; keep it on an address only Prometheus reaches. Empty: none."""
    metrics_top_n: Annotated[int, msgspec.Meta(ge=1, le=100)] = 10
    """Per domain, the receiving MX hosts, reporters and certificates exported as series of
    their own; the rest are summed into one series labelled "other"."""
    metrics_max_domains: Annotated[int, msgspec.Meta(ge=1)] = 20_000
    """Most domains /metrics exports (those with the most sessions); the number left out is
    tlsscope_metrics_domains_omitted."""


_LISTS = {"rua_addresses", "accept_domains", "jobs"}  # comma-separated in the environment


def default_database_url() -> str:
    """SQLite in the per-user data folder: the store when no database_url is set."""
    from platformdirs import user_data_dir

    return f"sqlite:///{Path(user_data_dir('tlsscope', appauthor=False)) / 'tlsscope.db'}"


def default_config_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "tlsscope" / "tlsscope.toml"


def load_settings(config: Path | None = None, environ: dict[str, str] | None = None) -> Settings:
    env = dict(os.environ if environ is None else environ)
    values: dict[str, Any] = {}
    path = config or (Path(env["TLSSCOPE_CONFIG"]) if env.get("TLSSCOPE_CONFIG") else None)
    if path is None and default_config_path().is_file():
        path = default_config_path()
    if path is not None:
        try:
            values.update(tomllib.loads(path.read_text(encoding="utf-8")))
        except OSError as exc:
            raise ConfigError("config", str(path), f"cannot read: {exc.strerror}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError("config", str(path), f"not valid TOML: {exc}") from exc
    for name in Settings.__struct_fields__:
        raw = env.get(f"TLSSCOPE_{name.upper()}")
        if raw is not None:
            values[name] = [v.strip() for v in raw.split(",") if v.strip()] if (
                name in _LISTS and raw.strip() != "assigned") else raw.strip() if (
                name in _LISTS) else raw
    return _validate(values)


def _validate(values: dict[str, Any]) -> Settings:
    known = set(Settings.__struct_fields__)
    for key in values:
        if key not in known:
            raise ConfigError(key, values[key], "unknown setting")
    try:
        settings = msgspec.convert(values, Settings, strict=False)
    except msgspec.ValidationError as exc:
        said = str(exc)
        first = re.split(r"[\s:]", said, maxsplit=1)[0]  # __post_init__ names its setting first
        key = said.rsplit("$.", 1)[-1].rstrip("`") if "$." in said else (
            first if first in known else "?")
        raise ConfigError(key, values.get(key), str(exc).split(" - at ")[0]) from exc
    _check_addresses(settings)
    problem = token_problem(settings.metrics_token) if settings.metrics_token else ""
    if problem:  # the value is a secret: not shown
        raise ConfigError("metrics_token", "(hidden)", problem)
    return settings


def token_problem(token: str) -> str:
    """What is wrong with a bearer token (metrics_token), or "": at least 16 characters, all
    printable ASCII without spaces (what an Authorization header carries as it is)."""
    if len(token) < 16:
        return "at least 16 characters"
    if not all("!" <= char <= "~" for char in token):
        return "printable ASCII characters only, no spaces"
    return ""


def _check_addresses(settings: Settings) -> None:
    """The URLs and the address that go into messages and links, checked at load: a bad one
    is named now, not found at the first alert (or put in a link that every mail carries)."""
    if settings.public_url:
        parts = urlsplit(settings.public_url)
        try:
            parts.port  # noqa: B018 (a port that is not a number raises here)
        except ValueError:
            raise ConfigError("public_url", settings.public_url, "its port is not a number"
                              ) from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError("public_url", settings.public_url,
                              "expected https://HOST[:PORT][/PATH] (or http://)")
        if parts.username is not None or parts.password is not None:
            raise ConfigError("public_url", "(hidden)", "no user or password in it: it is "
                              "put in every link of every alert and digest")
        if parts.query or parts.fragment or _UNSAFE.search(settings.public_url):
            raise ConfigError("public_url", settings.public_url,
                              "no query, fragment, space or control character")
    if settings.smtp_url:
        SmtpRelay.parse(settings.smtp_url)
    if settings.mail_from:
        address = settings.mail_from
        if any(ord(c) < 32 or ord(c) == 127 for c in address):
            raise ConfigError("mail_from", address, "no line break or control character")
        _, bare = parseaddr(address)
        local, at, domain = bare.rpartition("@")
        if not at or not local or "." not in domain or len(bare) > 254 \
                or _UNSAFE.search(bare):
            raise ConfigError("mail_from", address,
                              "expected one address: tlsscope@example.net, or "
                              "'tlsscope <tlsscope@example.net>'")


_UNSAFE = re.compile(r"[\s\x00-\x1f\x7f]")


class SmtpRelay(NamedTuple):
    """`smtp_url`, read: smtp:// (STARTTLS required), smtps://, smtp+plain://."""

    scheme: str
    host: str
    port: int
    user: str
    password: str

    @classmethod
    def parse(cls, url: str) -> SmtpRelay:
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as exc:
            raise ConfigError("smtp_url", "(hidden)", f"not a URL: {exc}") from None
        if parts.scheme not in ("smtp", "smtps", "smtp+plain") or not parts.hostname:
            raise ConfigError("smtp_url", f"{parts.scheme}://{parts.hostname or ''}",
                              "expected smtp://, smtps:// or smtp+plain://[USER:PASS@]HOST"
                              "[:PORT]")
        default = {"smtp": 587, "smtps": 465, "smtp+plain": 25}[parts.scheme]
        return cls(parts.scheme, parts.hostname, port or default, unquote(parts.username or ""),
                   unquote(parts.password or ""))
