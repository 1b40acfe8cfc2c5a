"""The schema: one definition for SQLite and PostgreSQL (SQLAlchemy Core).

    inputs           every input ever received, once per content (sha256), raw bytes kept
    arrivals         every time an input arrived (the same bytes may arrive many times)
    reports          every report once, keyed by (organization-name, report-id)
    report_repeats   a report seen again: a duplicate, or a conflict (same key, other content)
    policies         the policies[] of a report
    failure_details  the failure rows of a policy
    daily_totals     roll-up per domain, day, policy type, mode and reporter
    daily_failures   roll-up per domain, day, reporter, result type, MX host and MX address

Inputs are keyed by their sha256 and reports carry a key derived from (organization,
report-id), unique, so two writers of the same report meet on that index; the rows under a
report hang off its integer id, so they are appended in order rather than scattered (which
keeps the pages a batch dirties, and so the write-ahead log, small). Counts are BIGINT: a
count above 2^63-1 is stored clamped, with a warning, while the exact value stays in the kept
raw input.
The revisions in `migrations/versions/` create exactly this; `tests/store` checks they agree.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    true,
)

metadata = MetaData()

inputs = Table(
    "inputs", metadata,
    Column("sha256", String(64), primary_key=True),
    Column("source", Text, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("codec", String(8), nullable=False),  # how `raw` is stored: "zlib" or "identity"
    Column("raw", LargeBinary, nullable=False),
    Column("errors", Text, nullable=False),  # JSON list of findings
    Column("warnings", Text, nullable=False),
    Column("reader_version", Integer, nullable=False),
    # DKIM (RFC 8460 §3), for mail: pass | fail | none | temperror; NULL when not checked
    # (not a mail, or not verified: see the dkim_verify setting)
    Column("dkim_result", String(16)),
    Column("dkim_domain", Text),
    Column("dkim_aligned", Boolean),
    Column("dkim_tlsrpt_key", Boolean),
    Column("dkim_detail", Text),
    # Who sent it (migration 0013), for the quarantine's budget per source: the client
    # (tlsscope.clients: an address, an IPv6 /64) for HTTPS, SMTP and LMTP; "imap" or
    # "stdin" (mail piped in by an MTA); "" for files, which the operator chose. raw_size: the
    # bytes `raw` holds; 0 once a junk input's bytes were dropped (codec "dropped") to keep its
    # source within quarantine_mb_per_source. Indexed for junk only (ix_inputs_junk, in the
    # migration, like ix_inputs_rejected).
    Column("origin", Text, nullable=False, server_default=""),
    Column("raw_size", BigInteger, nullable=False, server_default="0"),
    # Only the quarantine is looked up by outcome: migration 0001 indexes just those rows
    # (ix_inputs_rejected, WHERE outcome = 'rejected', on both databases). Not declared here:
    # a postgresql_where would load the PostgreSQL dialect (~45 ms) at every start on SQLite.
)

arrivals = Table(
    "arrivals", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("input_sha256", String(64), ForeignKey("inputs.sha256"), nullable=False),
    Column("source", Text, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("outcome", String(16), nullable=False),
    Index("ix_arrivals_input", "input_sha256"),
)

# An integer that is SQLite's rowid, and a 64-bit identity on PostgreSQL.
Id = BigInteger().with_variant(Integer, "sqlite")

reports = Table(
    "reports", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("key", String(32), nullable=False),
    Column("organization_name", Text, nullable=False),
    Column("report_id", Text, nullable=False),
    Column("contact_info", Text),
    Column("start_at", DateTime(timezone=True), nullable=False),
    Column("end_at", DateTime(timezone=True), nullable=False),
    Column("day", Date, nullable=False),
    Column("input_sha256", String(64), ForeignKey("inputs.sha256"), nullable=False),
    Column("location", Text, nullable=False),
    Column("content_sha256", String(64), nullable=False),
    Column("successful", BigInteger, nullable=False),  # sessions counted for the domains
    Column("failed", BigInteger, nullable=False),
    Column("warnings", Text, nullable=False),
    Column("extras", Text, nullable=False),
    Column("originals", Text, nullable=False),
    Column("stored_at", DateTime(timezone=True), nullable=False),
    # Provenance (migration 0010): how the report came, and what that is worth as evidence.
    # channel: https | smtp | lmtp | imap | file | stdin; peer: the submitting address
    # (HTTPS client, SMTP/LMTP peer); authenticated: ingested by the operator (file, stdin) or
    # mailed with a passing, aligned DKIM signature (RFC 8460 §3), never HTTPS (§7: HTTPS
    # reports carry no authentication); reporter_new: the organisation had never reported
    # (one of) the report's domains before this report (see domain_reporters).
    Column("channel", String(8), nullable=False, server_default="file"),
    Column("peer", Text, nullable=False, server_default=""),
    Column("authenticated", Boolean, nullable=False, server_default=true()),
    Column("reporter_new", Boolean, nullable=False, server_default=false()),
    UniqueConstraint("key", name="uq_reports_key"),
    Index("ix_reports_day", "day"),
    # Which reports an input carries (migration 0016): the retention purge deletes an input
    # only when no report refers to it, and PostgreSQL checks the foreign key through it.
    Index("ix_reports_input", "input_sha256"),
)

report_repeats = Table(
    "report_repeats", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("report", Id, ForeignKey("reports.id"), nullable=False),
    Column("input_sha256", String(64), ForeignKey("inputs.sha256"), nullable=False),
    Column("kind", String(16), nullable=False),  # "duplicate" or "conflict"
    Column("content_sha256", String(64), nullable=False),
    Column("seen_at", DateTime(timezone=True), nullable=False),
    Index("ix_repeats_report", "report"),
    Index("ix_repeats_input", "input_sha256"),  # migration 0016, as ix_reports_input
)

policies = Table(
    "policies", metadata,
    Column("report", Id, ForeignKey("reports.id"), primary_key=True),
    Column("idx", Integer, primary_key=True),
    Column("policy_type", Text, nullable=False),
    Column("policy_domain", Text, nullable=False),  # A-label, lower case; "" when absent
    Column("policy_strings", Text),  # JSON list, as sent
    Column("mx_host", Text),  # JSON list
    Column("mode", Text),
    Column("max_age", BigInteger),
    Column("successful", BigInteger, nullable=False),
    Column("failed", BigInteger, nullable=False),
    Column("counted", Boolean, nullable=False),  # False: same sessions as another policy
    Column("details_listed", Boolean, nullable=False),  # failure-details present, maybe []
    Index("ix_policies_domain", "policy_domain", "report"),
)

failure_details = Table(
    "failure_details", metadata,
    Column("report", Id, primary_key=True),
    Column("policy_idx", Integer, primary_key=True),
    Column("idx", Integer, primary_key=True),
    Column("result_type", Text),
    Column("failed_session_count", BigInteger),
    Column("sending_mta_ip", Text),
    Column("receiving_mx_hostname", Text),
    Column("receiving_mx_helo", Text),
    Column("receiving_ip", Text),
    Column("additional_information", Text),
    Column("failure_reason_code", Text),
)


daily_totals = Table(
    "daily_totals", metadata,
    Column("domain", Text, primary_key=True),
    Column("day", Date, primary_key=True),
    Column("policy_type", Text, primary_key=True),
    Column("mode", Text, primary_key=True),  # "" when the report did not say
    Column("organization_name", Text, primary_key=True),
    Column("reports", BigInteger, nullable=False),
    Column("successful", BigInteger, nullable=False),
    Column("failed", BigInteger, nullable=False),
    Column("counted_successful", BigInteger, nullable=False),
    Column("counted_failed", BigInteger, nullable=False),
)

daily_failures = Table(
    "daily_failures", metadata,
    Column("domain", Text, primary_key=True),
    Column("day", Date, primary_key=True),
    Column("organization_name", Text, primary_key=True),
    Column("policy_type", Text, primary_key=True),
    Column("result_type", Text, primary_key=True),
    Column("receiving_mx_hostname", Text, primary_key=True),  # "" when absent
    Column("receiving_ip", Text, primary_key=True),  # "" when absent
    Column("sessions", BigInteger, nullable=False),
    Column("counted_sessions", BigInteger, nullable=False),
)

# Who has reported each domain, since when: the first stored report of an organisation for a
# domain makes the row (ON CONFLICT DO NOTHING RETURNING tells the writer it is new). Until
# when: last_day, set with the row and moved on by each rebuild of the pair's days
# (store/rollups.py; migration 0018).
domain_reporters = Table(
    "domain_reporters", metadata,
    Column("domain", Text, primary_key=True),
    Column("organization_name", Text, primary_key=True),
    Column("first_day", Date, nullable=False),
    Column("first_stored_at", DateTime(timezone=True), nullable=False),
    Column("last_day", Date),
)

# Coarser roll-ups for the dashboard: per domain and day, without the reporter (and the IP),
# so a period's series and breakdowns read a few rows per day however many reporters there
# are. Rebuilt from the two above off the intake's path (store/rollups.py).
domain_days = Table(
    "domain_days", metadata,
    Column("domain", Text, primary_key=True),
    Column("day", Date, primary_key=True),
    Column("policy_type", Text, primary_key=True),
    Column("mode", Text, primary_key=True),
    Column("reports", BigInteger, nullable=False),
    Column("successful", BigInteger, nullable=False),
    Column("failed", BigInteger, nullable=False),
    Column("counted_successful", BigInteger, nullable=False),
    Column("counted_failed", BigInteger, nullable=False),
    # every domain's last days, covered (/metrics; migration 0018)
    Index("ix_domain_days_day", "day", "domain", "policy_type", "mode", "counted_successful",
          "counted_failed"),
)

# The reporters of one problem (result type at an MX) per day, keyed for the summary's query
# ("who saw this problem in this period"), without the policy type and the IP.
failure_reporters = Table(
    "failure_reporters", metadata,
    Column("domain", Text, primary_key=True),
    Column("result_type", Text, primary_key=True),
    Column("receiving_mx_hostname", Text, primary_key=True),
    Column("day", Date, primary_key=True),
    Column("organization_name", Text, primary_key=True),
    Column("sessions", BigInteger, nullable=False),
)

# (domain, day) pairs whose coarse roll-ups wait to be rebuilt (store/rollups.py): a row per
# pair per transaction that marked it (migration 0019: writers only insert, never wait).
rollup_dirty = Table(
    "rollup_dirty", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("domain", Text, nullable=False),
    Column("day", Date, nullable=False),
    Index("ix_rollup_dirty_pair", "domain", "day"),
    Index("ix_rollup_dirty_day", "day"),
)

# Per reporter and week (weeks start on Monday): a long period's breakdown by reporter reads
# whole weeks here and only the days at its two ends from daily_totals.
reporter_weeks = Table(
    "reporter_weeks", metadata,
    Column("domain", Text, primary_key=True),
    Column("week", Date, primary_key=True),
    Column("organization_name", Text, primary_key=True),
    Column("reports", BigInteger, nullable=False),
    Column("counted_successful", BigInteger, nullable=False),
    Column("counted_failed", BigInteger, nullable=False),
)

failure_days = Table(
    "failure_days", metadata,
    Column("domain", Text, primary_key=True),
    Column("day", Date, primary_key=True),
    Column("policy_type", Text, primary_key=True),
    Column("result_type", Text, primary_key=True),
    Column("receiving_mx_hostname", Text, primary_key=True),
    Column("sessions", BigInteger, nullable=False),
    Column("counted_sessions", BigInteger, nullable=False),
    Index("ix_failure_days_day", "day", "domain", "result_type", "receiving_mx_hostname",
          "counted_sessions"),
)


# Findings (analyze/detectors), kept with their status history. A domain whose reports changed
# is listed in stale_domains by the same transaction that stored the reports; its findings are
# recomputed from the stored facts when they are next read (or by `serve` in the background),
# so bulk ingest never waits for the analyses.
stale_domains = Table(
    "stale_domains", metadata,
    # A row per domain per marking transaction (migration 0019: writers only insert, so they
    # never wait for each other). A recomputation takes away only the rows it read, so a
    # batch stored meanwhile, or a recomputation killed half-way, leaves the domain marked.
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("domain", Text, nullable=False),
    Index("ix_stale_domains_domain", "domain"),
)

findings = Table(
    "findings", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("domain", Text, nullable=False),
    Column("fingerprint", Text, nullable=False),  # kind|mx|ip|result type|reporter
    Column("kind", Text, nullable=False),
    Column("status", String(16), nullable=False),  # open | resolved
    Column("severity", String(16), nullable=False),
    Column("first_seen", Date, nullable=False),
    Column("last_seen", Date, nullable=False),
    Column("data", Text, nullable=False),  # the finding as JSON (the findings contract)
    # {lang: [title, explanation, fix, live summary]} for the languages other than English
    Column("texts", Text),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("domain", "fingerprint", name="uq_findings_domain_fingerprint"),
)

finding_events = Table(
    "finding_events", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("finding", Id, ForeignKey("findings.id"), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("status", String(16), nullable=False),
    Column("severity", String(16), nullable=False),
    Index("ix_finding_events_finding", "finding"),
)

# Live checks (tlsscope check, and serve's schedule): the whole result as JSON (the
# `tlsscope check --json` contract); the latest one per domain is the findings' live evidence.
checks = Table(
    "checks", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("domain", Text, nullable=False),
    Column("checked_at", DateTime(timezone=True), nullable=False),
    Column("status", String(16), nullable=False),  # ok | warning | error
    Column("data", Text, nullable=False),
    Index("ix_checks_domain_checked_at", "domain", "checked_at"),
)

# The certificates (MX hosts', the policy host's) the latest conclusive check of each domain
# saw, replaced with each one (store/checks_rows.py): what /metrics reads for every domain at
# once without decoding checks.
check_certificates = Table(
    "check_certificates", metadata,
    Column("domain", Text, primary_key=True),
    Column("step", String(16), primary_key=True),  # "mx" or "mta-sts-policy"
    Column("host", Text, primary_key=True),
    Column("address", Text, primary_key=True),  # "" when the check did not say
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("checked_at", DateTime(timezone=True), nullable=False),
)

# Accounts and tenancy (the dashboard and API). An organisation (tenant) owns domains; a user
# is an admin (sees everything, including domains nobody owns), or a member or read-only user
# of one organisation, who sees only its domains. Secrets are stored as hashes only.
organisations = Table(
    "organisations", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("name", Text, nullable=False),
    # Retention and privacy of its domains (migration 0016; app/retention.py): days kept
    # (0: for ever) and whether sending IPs are truncated at intake; NULL: the installation's
    # setting (keep_inputs_days, keep_reports_days, keep_checks_days, truncate_sending_ips).
    Column("keep_inputs_days", Integer),
    Column("keep_reports_days", Integer),
    Column("keep_checks_days", Integer),
    Column("truncate_ips", Boolean),
    UniqueConstraint("name", name="uq_organisations_name"),
)

domains = Table(
    "domains", metadata,
    Column("name", Text, primary_key=True),  # A-label, lower case
    Column("organisation", Id, ForeignKey("organisations.id")),  # NULL: unassigned
    Column("added_at", DateTime(timezone=True), nullable=False),
    Index("ix_domains_organisation", "organisation"),
)

users = Table(
    "users", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("email", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("password_hash", Text, nullable=False),  # argon2id
    Column("role", String(16), nullable=False),  # admin | member | readonly
    Column("organisation", Id, ForeignKey("organisations.id")),
    Column("lang", String(8), nullable=False),  # "" : the browser's language
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("disabled", Boolean, nullable=False, server_default=false()),  # cannot log in
    # The digest the user subscribed to (migration 0014): "" none, day | week | month
    Column("digest", String(8), nullable=False, server_default=""),
    UniqueConstraint("email", name="uq_users_email"),
)

sessions = Table(
    "sessions", metadata,
    Column("token_sha256", String(64), primary_key=True),
    Column("user", Id, ForeignKey("users.id"), nullable=False),
    Column("csrf", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)

api_tokens = Table(
    "api_tokens", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("user", Id, ForeignKey("users.id"), nullable=False),
    Column("name", Text, nullable=False),
    Column("token_sha256", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("last_used_at", DateTime(timezone=True)),
    Column("scope", String(8), nullable=False, server_default="read"),  # read | write | admin
    Column("expires_at", DateTime(timezone=True)),  # NULL: never
    UniqueConstraint("token_sha256", name="uq_api_tokens_token"),
)


# Alerts (migration 0014; tlsscope.alert). A rule says who is told of what, how: an e-mail
# address or a webhook (generic signed JSON, Slack, Teams, Discord); its organisation's
# domains only (NULL: the installation's). `target` and `secret` are never shown back.
alert_rules = Table(
    "alert_rules", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("organisation", Id, ForeignKey("organisations.id")),
    Column("channel", String(16), nullable=False),  # email | generic | slack | teams | discord
    Column("target", Text, nullable=False),  # the address, or the webhook URL
    Column("secret", Text, nullable=False, server_default=""),  # HMAC key of a generic hook
    Column("domains", Text, nullable=False, server_default="[]"),  # JSON; []: all
    Column("kinds", Text, nullable=False, server_default="[]"),  # JSON; []: all
    Column("events", Text, nullable=False, server_default="[]"),  # JSON; []: all
    Column("min_severity", String(16), nullable=False),
    Column("batch", String(16), nullable=False),  # instant | hourly | daily
    Column("quiet", String(16), nullable=False, server_default=""),  # "22:00-07:00"
    Column("timezone", Text, nullable=False, server_default="UTC"),
    Column("quiet_critical", Boolean, nullable=False, server_default=true()),
    Column("suppress_days", Integer, nullable=False, server_default="7"),
    Column("lang", String(8), nullable=False, server_default="en"),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("removed", Boolean, nullable=False, server_default=false()),  # kept for the log
)

# What carries alerts: one alert, or a rule's batch (hourly, daily, held by quiet hours).
# pending → sending (leased until lease_until: a node that dies mid-attempt gives it back)
# → delivered, or pending again at next_at (backoff), or failed after the last attempt.
alert_deliveries = Table(
    "alert_deliveries", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("rule", Id, ForeignKey("alert_rules.id"), nullable=False),
    Column("state", String(16), nullable=False),
    Column("due_at", DateTime(timezone=True), nullable=False),
    Column("next_at", DateTime(timezone=True), nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("lease_until", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("delivered_at", DateTime(timezone=True)),
    Column("last_error", Text, nullable=False, server_default=""),
    Column("test", Boolean, nullable=False, server_default=false()),
    Column("batched", Boolean, nullable=False, server_default=false()),  # takes more alerts
    Index("ix_alert_deliveries_due", "state", "next_at"),
    Index("ix_alert_deliveries_rule", "rule", "state", "due_at"),
)

# The outbox: each alert written in the transaction of the change that caused it. `key` is
# its stable id (the webhook's `id`); `problem` what suppression compares; `data` the
# snapshot of what it says (the finding as it was), in the rule's language.
alerts = Table(
    "alerts", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("key", String(40), nullable=False),
    Column("rule", Id, ForeignKey("alert_rules.id"), nullable=False),
    Column("event", String(32), nullable=False),
    Column("domain", Text, nullable=False),
    Column("finding", Id),
    Column("problem", Text, nullable=False),
    Column("severity", String(16), nullable=False),
    Column("data", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("suppressed", Boolean, nullable=False, server_default=false()),
    Column("delivery", Id, ForeignKey("alert_deliveries.id")),
    UniqueConstraint("key", name="uq_alerts_key"),
    Index("ix_alerts_rule_problem", "rule", "problem", "created_at"),
    Index("ix_alerts_finding", "finding"),
    Index("ix_alerts_delivery", "delivery"),
)

# The changes alerts are made of, each written in the transaction of its change (a stored
# finding's change, a stored live check); tlsscope.alert.outbox turns them into alerts, in
# order, and deletes them in that transaction.
alert_events = Table(
    "alert_events", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False),  # finding | check
    Column("domain", Text, nullable=False),
    Column("finding", Id),
    Column("check_id", Id),
    Column("fingerprint", Text, nullable=False, server_default=""),
    Column("finding_kind", Text, nullable=False, server_default=""),
    Column("status", String(16), nullable=False, server_default=""),
    Column("severity", String(16), nullable=False, server_default=""),
    Column("before_status", String(16), nullable=False, server_default=""),
    Column("before_severity", String(16), nullable=False, server_default=""),
    Column("at", DateTime(timezone=True), nullable=False),
)

alert_attempts = Table(
    "alert_attempts", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("delivery", Id, ForeignKey("alert_deliveries.id"), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("seconds", Float, nullable=False),
    Column("outcome", String(16), nullable=False),  # delivered | retry | failed
    Column("status", Integer),  # the HTTP status, or the SMTP reply code
    Column("error", Text, nullable=False, server_default=""),
    Index("ix_alert_attempts_delivery", "delivery"),
)

# Digests: who asked not to get them (a one-click unsubscribe, RFC 8058), and which were
# sent (scope: "org:<id>:<email>" or "all:<email>"; first_day: the period's).
digest_optouts = Table(
    "digest_optouts", metadata,
    Column("email", Text, primary_key=True),
    Column("at", DateTime(timezone=True), nullable=False),
)

digests_sent = Table(
    "digests_sent", metadata,
    Column("scope", Text, primary_key=True),
    Column("period", String(8), primary_key=True),
    Column("first_day", Date, primary_key=True),
    Column("sent_at", DateTime(timezone=True), nullable=False),
)

# The installation's own secrets, made once (the key that signs unsubscribe links).
secrets = Table(
    "secrets", metadata,
    Column("name", String(32), primary_key=True),
    Column("value", Text, nullable=False),
)

# A fleet (migration 0015). A lease: the one node doing a job (the analyst, the IMAP drain,
# retention) until it expires unrenewed (store/leases.py).
leases = Table(
    "leases", metadata,
    Column("name", String(64), primary_key=True),
    Column("holder", Text, nullable=False),
    Column("acquired_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)

# The re-check queue (store/recheck_rows.py): every domain with reports; failing_at is set in
# the transaction that stores a report with failures for it, and cleared by a conclusive check.
rechecks = Table(
    "rechecks", metadata,
    Column("domain", Text, primary_key=True),
    Column("failing_at", DateTime(timezone=True)),
    Column("checked_at", DateTime(timezone=True)),  # the latest conclusive check
    Column("tried_at", DateTime(timezone=True)),  # the latest inconclusive one
    Column("claimed_until", DateTime(timezone=True)),
    Column("claimed_by", Text, nullable=False, server_default=""),
)

# What the writers tell the re-check queue (store/recheck_rows.py): a row per domain per
# transaction that stored its reports, with the time of its failures (None: none). Only
# inserted, so writers never wait for each other; folded into `rechecks` before it is read.
recheck_marks = Table(
    "recheck_marks", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("domain", Text, nullable=False),
    Column("failing_at", DateTime(timezone=True)),
)

# Limits every node shares (store/limits_rows.py): wrong passwords (key: address or device,
# and email; at: epoch seconds), and HTTP request token buckets per client.
login_failures = Table(
    "login_failures", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("key", Text, nullable=False),
    Column("at", Float, nullable=False),
    Index("ix_login_failures_key_at", "key", "at"),
)

rate_buckets = Table(
    "rate_buckets", metadata,
    Column("key", Text, primary_key=True),
    Column("tokens", Float, nullable=False),
    Column("at", Float, nullable=False),
    Column("allowed", Boolean, nullable=False),
)


# The retention purges (migration 0016; app/retention.py): when each ran, on which node, and
# what it removed (JSON). A purge that did not finish has no finished_at.
retention_runs = Table(
    "retention_runs", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True)),
    Column("holder", Text, nullable=False),
    Column("counts", Text, nullable=False, server_default="{}"),
    Index("ix_retention_runs_started", "started_at"),
)

# The audit log (store/audit_rows.py): one row per action, written by the action itself.
audit_log = Table(
    "audit_log", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", Text, nullable=False),
    Column("actor_id", Id),
    Column("address", Text, nullable=False, server_default=""),
    Column("action", String(64), nullable=False),
    Column("target", Text, nullable=False, server_default=""),
    Column("detail", Text, nullable=False, server_default="{}"),
    Index("ix_audit_log_at", "at"),
)
