"""The report gauges of `/metrics` (docs/metrics.md): what the reports, findings and live
checks say about each domain, as Prometheus metric families.

Two windows, both of whole UTC days (a day's reports arrive during the next one):

    window="1d"   the latest complete day: yesterday
    window="7d"   the seven days ending with it (tlsscope.app.windows' rule, until yesterday)

so `tlsscope stats --since D-6 --until D` gives the same sums, D being yesterday.

Sessions are counted as everywhere (a session listed under two policies of one report
counts once), so a sum over any labels is a true total. Nothing is rebuilt here: days the
analyst has not rebuilt yet are read from the per-reporter roll-ups (store/coarse.py).

Cardinality is bounded per domain: the `top_n` receiving MX hosts by failed sessions, the
`top_n` reporters that have reported the domain longest, and the `top_n` MX certificates
that expire first get series of their own; the rest are summed (sessions), or taken at their
latest (reports) or soonest (expiry), under the label value "other". Result types, policy
types and modes outside RFC 8460's registries count as "other" too. At most `max_domains`
domains are exported (those with the most sessions in 7d, then by name); the number left out
is tlsscope_metrics_domains_omitted. Report strings are made visible (no control or bidi
character, no lone surrogate) and cut to LABEL_CHARS.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import NamedTuple

from tlsscope.app.windows import today, window
from tlsscope.settings import Settings
from tlsscope.store import Store, metrics_rows
from tlsscope.visible import visible
from tlsscope.vocab import PolicyType, ResultType

WINDOWS = ("1d", "7d")
OTHER = "other"
NOT_GIVEN = "(not given)"  # an MX the reports did not name (as `tlsscope stats` says)
LABEL_CHARS = 253
_RESULT_TYPES = frozenset(ResultType)
_POLICY_TYPES = frozenset(PolicyType)
_MODES = frozenset({"enforce", "testing", "none"})
Labels = tuple[str, ...]


class Family(NamedTuple):
    """One gauge: its name, help, label names and samples (label values, value)."""

    name: str
    help: str
    labels: Labels
    samples: list[tuple[Labels, float]]


def label(text: object, most: int = LABEL_CHARS) -> str:
    """A report string as a label value: visible, valid UTF-8, at most `most` characters."""
    shown = visible(text).encode("utf-8", "backslashreplace").decode("utf-8")
    return shown[:most]


def latest_day(now: dt.date | None = None) -> dt.date:
    """The window "1d": the latest complete UTC day."""
    return (now or today()) - dt.timedelta(days=1)


def day_end(day: dt.date) -> float:
    """The end of a UTC day (when a daily report of it ends), as a Unix time."""
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), dt.UTC).timestamp()


def top(counts: dict[str, float], most: int, *, least_first: bool = False) -> set[str]:
    """The `most` keys with the highest counts (the lowest: `least_first`), ties by name."""
    if len(counts) <= most:
        return set(counts)
    sign = 1 if least_first else -1
    return set(sorted(counts, key=lambda key: (sign * counts[key], key))[:most])


class Reading:
    """One read of the store for the report gauges, and the domains exported."""

    def __init__(self, store: Store, settings: Settings, now: dt.date | None = None) -> None:
        self.last = latest_day(now)
        self.first, _ = window(7, until=self.last)
        self.top_n = settings.metrics_top_n
        self.sessions = store.read(metrics_rows.sessions, self.first, self.last)
        self.failures = store.read(metrics_rows.failures, self.first, self.last)
        self.reporters = store.read(metrics_rows.reporters)
        self.findings = store.read(metrics_rows.open_findings)
        self.certificates = store.read(metrics_rows.certificates)
        self.domains, self.omitted = self._domains(settings.metrics_max_domains)
        self._labels: dict[str, str] = {}

    def label(self, text: str) -> str:
        """label(text), once per distinct string (a domain is in every one of its series). A
        report string that reads as one of our own values ("other", "(not given)") is marked
        as named so, to be told from them."""
        shown = self._labels.get(text)
        if shown is None:
            shown = label(text)
            if shown in (OTHER, NOT_GIVEN):
                shown = f"{shown} (so named)"
            self._labels[text] = shown
        return shown

    def _domains(self, most: int) -> tuple[frozenset[str], int]:
        volume: dict[str, int] = defaultdict(int)
        for row in self.sessions:
            volume[row.domain] += row.successful + row.failed
        for names in ((d for d, _ in self.reporters), (f[0] for f in self.findings),
                      (c[0] for c in self.certificates)):
            for name in names:
                volume.setdefault(name, 0)
        if len(volume) <= most:
            return frozenset(volume), 0
        ranked = sorted(volume, key=lambda name: (-volume[name], name))
        return frozenset(ranked[:most]), len(ranked) - most


def families(reading: Reading) -> list[Family]:
    """Every report gauge of one reading."""
    return [_sessions(reading), _failures(reading), _last_reports(reading),
            _open_findings(reading), *_certificates(reading),
            Family("tlsscope_metrics_domains_omitted", "Domains left out of the report "
                   "gauges (beyond metrics_max_domains)", (), [((), reading.omitted)])]


def _kept(value: str, known: frozenset[str]) -> str:
    return value if value in known else OTHER


def _sorted(sums: dict[Labels, float]) -> list[tuple[Labels, float]]:
    return sorted(sums.items())


def _sessions(reading: Reading) -> Family:
    sums: dict[Labels, float] = defaultdict(int)
    for row in reading.sessions:
        if row.domain not in reading.domains:
            continue
        domain = reading.label(row.domain)
        kind = _kept(row.policy_type, _POLICY_TYPES)
        mode = _kept(row.mode, _MODES) if row.mode else "none"
        sums[(domain, kind, mode, "successful", "1d")] += row.successful_1d
        sums[(domain, kind, mode, "failed", "1d")] += row.failed_1d
        sums[(domain, kind, mode, "successful", "7d")] += row.successful
        sums[(domain, kind, mode, "failed", "7d")] += row.failed
    return Family("tlsscope_sessions", "TLS sessions reported, by policy and outcome "
                  "(successful, failed), over the latest complete UTC day (1d) and the 7 days "
                  "ending with it (7d)", ("domain", "policy_type", "mode", "outcome", "window"),
                  _sorted(sums))


def _failures(reading: Reading) -> Family:
    per_domain: dict[str, list[metrics_rows.Failures]] = defaultdict(list)
    for row in reading.failures:
        if row.domain in reading.domains:
            per_domain[row.domain].append(row)
    sums: dict[Labels, float] = defaultdict(int)
    for name, rows in per_domain.items():
        by_mx: dict[str, float] = defaultdict(int)
        by_unknown: dict[str, float] = defaultdict(int)
        for row in rows:
            by_mx[row.mx] += row.sessions
            if row.result_type not in _RESULT_TYPES:
                by_unknown[row.result_type] += row.sessions
        hosts = top(by_mx, reading.top_n)
        unknown = top(by_unknown, reading.top_n)
        domain = reading.label(name)
        for row in rows:
            mx = (reading.label(row.mx) if row.mx else NOT_GIVEN) if row.mx in hosts else OTHER
            kind = (reading.label(row.result_type) if row.result_type in _RESULT_TYPES
                    or row.result_type in unknown else OTHER)
            if row.sessions_1d:
                sums[(domain, kind, mx, "1d")] += row.sessions_1d
            sums[(domain, kind, mx, "7d")] += row.sessions
    return Family("tlsscope_failed_sessions", "Failed TLS sessions reported, by result type "
                  "and receiving MX (the top N per domain; the rest as \"other\")",
                  ("domain", "result_type", "mx", "window"), _sorted(sums))


def _last_reports(reading: Reading) -> Family:
    per_domain: dict[str, dict[str, tuple[dt.date, dt.date]]] = defaultdict(dict)
    for (domain, reporter), days in reading.reporters.items():
        if domain in reading.domains:
            per_domain[domain][reporter] = days
    samples: list[tuple[Labels, float]] = []
    ends: dict[dt.date, float] = {}
    for name in sorted(per_domain):
        reporters = per_domain[name]
        kept = set(reporters) if len(reporters) <= reading.top_n else top(
            {who: float((last - first).days) for who, (first, last) in reporters.items()},
            reading.top_n)
        latest: dict[str, dt.date] = {}
        for who, (_, last) in reporters.items():
            shown = reading.label(who) if who in kept else OTHER
            if shown not in latest or last > latest[shown]:
                latest[shown] = last
        domain = reading.label(name)
        for shown in sorted(latest):
            day = latest[shown]
            if day not in ends:
                ends[day] = day_end(day)
            samples.append(((domain, shown), ends[day]))
    return Family("tlsscope_last_report_timestamp_seconds", "End of the latest day a "
                  "reporter's report covered, per domain (the top N reporters by how long they "
                  "have reported; the rest as \"other\", at their latest)",
                  ("domain", "reporter"), samples)


def _open_findings(reading: Reading) -> Family:
    samples: list[tuple[Labels, float]] = [
        ((reading.label(domain), severity, kind), float(count))
        for domain, severity, kind, count in sorted(reading.findings)
        if domain in reading.domains]
    return Family("tlsscope_open_findings", "Findings not resolved, by severity and kind",
                  ("domain", "severity", "kind"), samples)


def _certificates(reading: Reading) -> tuple[Family, Family]:
    per_domain: dict[str, dict[tuple[str, str], float]] = defaultdict(dict)
    policy_hosts: dict[Labels, float] = {}
    for domain, step, host, address, at in reading.certificates:
        if domain not in reading.domains:
            continue
        if step == "mta-sts-policy":
            shown = (reading.label(domain), reading.label(host))
            policy_hosts[shown] = min(at, policy_hosts.get(shown, at))
        else:
            per_domain[domain][(host, address)] = at
    samples: list[tuple[Labels, float]] = []
    for name in sorted(per_domain):
        seen = per_domain[name]
        kept = sorted(seen, key=lambda pair: (seen[pair], pair))[:reading.top_n]
        domain = reading.label(name)
        for host, address in sorted(kept):
            samples.append(((domain, reading.label(host), reading.label(address) or NOT_GIVEN),
                            seen[(host, address)]))
        if len(seen) > len(kept):
            chosen = set(kept)
            samples.append(((domain, OTHER, OTHER),
                            min(at for pair, at in seen.items() if pair not in chosen)))
    return (Family("tlsscope_certificate_expiry_timestamp_seconds", "When the certificate an "
                   "MX host showed the latest live check expires (the top N per domain that "
                   "expire first; the rest as \"other\", at the soonest)",
                   ("domain", "mx", "ip"), samples),
            Family("tlsscope_policy_certificate_expiry_timestamp_seconds", "When the "
                   "certificate of the MTA-STS policy host (mta-sts.DOMAIN) the latest live "
                   "check saw expires", ("domain", "host"), _sorted(policy_hosts)))
