"""Alert rules: who is told of what, and how. Each rule belongs to an organisation (and sees
only its domains) or to the installation (every domain); it names one channel and target,
which domains, kinds and events, the least severity, instant or batched sending, quiet hours
in a time zone, and how long a repeat of the same problem is suppressed.

A rule's target (a webhook URL, which for Slack, Teams and Discord is itself the secret) and
a generic webhook's signing secret are never shown back after creation: `masked` is what
the CLI, the pages, the API and the logs show.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets as random
from typing import Any
from urllib.parse import urlsplit

import msgspec

from tlsscope.alert import timing
from tlsscope.app import audit
from tlsscope.app.audit import Change
from tlsscope.app.scope import Scope
from tlsscope.errors import Invalid, NotFound
from tlsscope.store import Store, accounts, alerts_rows
from tlsscope.store.alerts_rows import RuleRow
from tlsscope.vocab import CHECK_WARNING_KINDS, FINDING_KINDS

CHANNELS = ("email", "generic", "slack", "teams", "discord")
FORMATS = CHANNELS[1:]  # of a webhook
EVENTS = ("finding.opened", "finding.escalated", "finding.likely_fixed", "finding.resolved",
          "check.warning", "receiver.silent")
# The least severity a rule hears of. tlsscope's severities are critical, high, medium and
# info; "low" is accepted (other tools have it) and lets medium and above through.
MIN_SEVERITIES = ("info", "low", "medium", "high", "critical")
DEFAULT_MIN_SEVERITY = "medium"
LANGS = ("en", "pt")
# What a rule narrowed to kinds may name: the findings' kinds and the live checks' warnings.
KINDS = tuple(dict.fromkeys((*FINDING_KINDS, *CHECK_WARNING_KINDS)))
_EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@"
                    r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$")
_KIND = re.compile(r"^[a-z][a-z0-9-]{0,47}$")


class Rule(msgspec.Struct, kw_only=True):
    """A rule as shown: its target masked, its secret never."""

    id: int
    organisation: str  # "" : the installation's (every domain)
    channel: str
    target: str  # masked
    domains: list[str]
    kinds: list[str]
    events: list[str]
    min_severity: str
    batch: str
    quiet: str
    timezone: str
    quiet_critical: bool
    suppress_days: int
    lang: str
    created_at: dt.datetime
    signed: bool  # a generic webhook with its secret


class Created(msgspec.Struct, kw_only=True):
    id: int
    secret: str  # a generic webhook's, shown this once ("" for others)
    warnings: list[str]


def severity_passes(severity: str, minimum: str) -> bool:
    """Whether a finding of `severity` is at least `minimum` (a rule's min_severity)."""
    order = ("info", "low", "medium", "high", "critical")
    have = order.index(severity) if severity in order else 0
    return have >= order.index(minimum if minimum in order else "info")


def masked(row: RuleRow) -> str:
    if row.channel == "email":
        return row.target
    parts = urlsplit(row.target)
    return f"{parts.scheme}://{parts.hostname or ''}/…"


def shown(row: RuleRow) -> Rule:
    return Rule(id=row.id, organisation=row.organisation_name, channel=row.channel,
                target=masked(row), domains=row.domains, kinds=row.kinds, events=row.events,
                min_severity=row.min_severity, batch=row.batch, quiet=row.quiet,
                timezone=row.timezone, quiet_critical=row.quiet_critical,
                suppress_days=row.suppress_days, lang=row.lang, created_at=row.created_at,
                signed=bool(row.secret))


def email_address(text: str) -> str:
    address = text.strip()
    if len(address) > 254 or not _EMAIL.match(address):
        raise Invalid("email", f"email: {address[:80]!r} is not an e-mail address")
    local, _, domain = address.rpartition("@")
    return f"{local}@{domain.lower()}"


def webhook_url(text: str) -> str:
    url = text.strip()
    if len(url) > 2048 or any(ord(c) < 33 or ord(c) == 127 for c in url):
        raise Invalid("webhook", "webhook: a URL without spaces or control characters, "
                      "at most 2,048 characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise Invalid("webhook", f"webhook: not a URL ({exc})") from None
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise Invalid("webhook", "webhook: an https:// (or http://) URL with a host")
    if parts.username or parts.password:
        raise Invalid("webhook", "webhook: no user or password in the URL (use --secret)")
    if port == 0:
        raise Invalid("webhook", "webhook: port 0 cannot be reached")
    if "%" in parts.hostname:  # fe80::1%25eth0: an interface's link-local address
        raise Invalid("webhook", "webhook: an address scoped to an interface (link-local) "
                      "is never a webhook's")
    return url


def _listed(values: list[str], pattern: re.Pattern[str], what: str,
            allowed: tuple[str, ...] = ()) -> list[str]:
    out = []
    for value in values:
        text = value.strip().lower()
        if (allowed and text not in allowed) or (not allowed and not pattern.match(text)):
            hint = f"one of {', '.join(allowed)}" if allowed else "a finding kind"
            raise Invalid(what, f"{what}: {value[:60]!r} is not {hint}")
        if text not in out:
            out.append(text)
    return out


def _organisation(store: Store, scope: Scope, name: str | None) -> int | None:
    if name is None:
        scope.require_admin()
        return None
    found = store.read(accounts.organisation_id, name)
    if found is None or (not scope.user.is_admin and scope.user.organisation != found):
        raise NotFound(f"no organisation named {name[:80]!r}")
    return found


def _domains(store: Store, organisation: int | None, domains: list[str]) -> list[str]:
    from tlsscope.app.scope import valid_domain

    names: list[str] = []
    owned = {row.name: row.organisation for row in store.read(accounts.all_domains)} \
        if organisation is not None else {}
    for each in domains:
        name = valid_domain(each)
        if organisation is not None and owned.get(name) != organisation:
            raise Invalid("domain", f"domain: {name} is not one of the organisation's domains")
        if name not in names:
            names.append(name)
    return names


def create(store: Store, scope: Scope, *, channel: str, target: str, secret: str = "",
           organisation: str | None = None, domains: list[str] | None = None,
           kinds: list[str] | None = None, events: list[str] | None = None,
           min_severity: str = DEFAULT_MIN_SEVERITY, batch: str = "instant", quiet: str = "",
           timezone: str = "UTC", quiet_critical: bool = True, suppress_days: int = 7,
           lang: str = "en", check_target: Any = None,
           now: dt.datetime | None = None) -> Created:
    """A new rule. `check_target(url)` vets a webhook's address now (the one connector's rule;
    tlsscope.alert.channels.vet) and returns warnings; `Invalid` names what is wrong."""
    scope.require("write")
    scope.require_writer()
    if channel not in CHANNELS:
        raise Invalid("channel", f"channel must be one of {', '.join(CHANNELS)}")
    if min_severity not in MIN_SEVERITIES:
        raise Invalid("min_severity", f"min-severity must be one of {', '.join(MIN_SEVERITIES)}")
    if batch not in timing.BATCHES:
        raise Invalid("batch", f"batch must be one of {', '.join(timing.BATCHES)}")
    if lang not in LANGS:
        raise Invalid("lang", f"lang must be one of {', '.join(LANGS)}")
    if not 0 <= suppress_days <= 365:
        raise Invalid("suppress_days", "suppress-days must be between 0 and 365")
    try:
        timing.zone(timezone)
        timing.quiet_hours(quiet)
    except ValueError as exc:
        raise Invalid("quiet" if quiet and "quiet" in str(exc) else "timezone", str(exc)) from None
    org_id = _organisation(store, scope, organisation)
    checked = {"domains": _domains(store, org_id, domains or []),
               "kinds": _listed(kinds or [], _KIND, "kind", KINDS),
               "events": _listed(events or [], _KIND, "event", EVENTS)}
    warnings: list[str] = []
    shown_secret = ""
    if channel == "email":
        target = email_address(target)
        if secret:
            raise Invalid("secret", "secret: only a generic webhook signs its alerts")
        warnings += _monitored(store, target)
    else:
        target = webhook_url(target)
        if channel != "generic" and secret:
            raise Invalid("secret", "secret: only a generic webhook signs its alerts (Slack, "
                          "Teams and Discord URLs carry their own secret)")
        if len(secret) > 256:
            raise Invalid("secret", "secret: at most 256 characters")
        if check_target is not None:  # last: it may ask the DNS
            warnings += check_target(target)
        if target.startswith("http://"):
            warnings.append("the webhook is plain http: what it carries can be read and "
                            "changed on the way")
        if channel == "generic" and not secret:
            secret = shown_secret = "whsec_" + random.token_urlsafe(24)
    values = {
        "organisation": org_id, "channel": channel, "target": target, "secret": secret,
        **checked,
        "min_severity": min_severity, "batch": batch, "quiet": quiet.strip(),
        "timezone": timezone, "quiet_critical": quiet_critical,
        "suppress_days": suppress_days, "lang": lang,
        "created_at": now or dt.datetime.now(dt.UTC)}
    for other in store.read(alerts_rows.rules, org_id, False):
        if _same(other, values):
            raise Invalid("target", f"rule {other.id} says the same already (tlsscope alerts "
                          "list); remove it first, or change its domains, kinds, events, "
                          "severity or batch")
    detail = {"channel": channel, "organisation": organisation,
              **{k: values[k] for k in ("domains", "kinds", "events", "min_severity", "batch",
                                        "quiet", "timezone", "suppress_days", "lang")}}
    rule_id = audit.write(store, lambda made: Change(  # never the target nor the secret
        "alert_rule.created", f"rule {made}", {"rule_id": made, **detail}),
        alerts_rows.add_rule, values)
    return Created(id=rule_id, secret=shown_secret, warnings=warnings)


def _same(row: RuleRow, values: dict[str, Any]) -> bool:
    """Two rules that would send the same alerts to the same place, the same way."""
    def fold(target: str, channel: str) -> str:
        return target.lower() if channel == "email" else target

    return (row.channel == values["channel"]
            and fold(row.target, row.channel) == fold(values["target"], values["channel"])
            and sorted(row.domains) == sorted(values["domains"])
            and sorted(row.kinds) == sorted(values["kinds"])
            and sorted(row.events) == sorted(values["events"])
            and (row.min_severity, row.batch) == (values["min_severity"], values["batch"]))


def _monitored(store: Store, address: str) -> list[str]:
    """Warn when the address is at a domain this installation monitors: TLS trouble there
    can stop the very mail that tells of it."""
    domain = address.rpartition("@")[2]
    known = {row.name for row in store.read(accounts.all_domains)}
    known |= set(store.read(alerts_rows.last_report_days))
    parent = domain
    while parent:
        if parent in known:
            return [f"{address} is at {parent}, a domain this installation monitors: when "
                    "TLS to it fails, this alert may not arrive either; add a second rule "
                    "elsewhere (a webhook, or an address at another domain)"]
        parent = parent.partition(".")[2]
    return []


def listing(store: Store, scope: Scope) -> list[Rule]:
    """The rules the user may see: an admin every one, others their organisation's."""
    if scope.user.is_admin:
        return [shown(row) for row in store.read(alerts_rows.rules)]
    return [shown(row) for row in store.read(alerts_rows.rules, scope.user.organisation, False)]


def one(store: Store, scope: Scope, rule_id: int) -> RuleRow:
    """A rule the user may see (NotFound otherwise, and for a removed one)."""
    row = store.read(alerts_rows.rule, rule_id)
    if row is None or row.removed or not visible(scope, row):
        raise NotFound(f"no alert rule {rule_id}")
    return row


def visible(scope: Scope, row: RuleRow) -> bool:
    return scope.user.is_admin or (
        row.organisation is not None and row.organisation == scope.user.organisation)


def remove(store: Store, scope: Scope, rule_id: int) -> None:
    scope.require("write")
    scope.require_writer()
    row = one(store, scope, rule_id)
    audit.write(store, Change("alert_rule.removed", f"rule {rule_id}", {
        "rule_id": rule_id, "channel": row.channel, "organisation_id": row.organisation}),
        alerts_rows.remove_rule, rule_id)
