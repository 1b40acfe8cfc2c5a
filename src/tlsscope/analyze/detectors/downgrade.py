"""Possible STARTTLS downgrade or interception (a heuristic, labelled so): some reporters see
`starttls-not-supported` at an MX (RFC 8460 §4.3.1) while the reports show that the MX does
offer STARTTLS, so something on those sessions' path may remove it (RFC 8461 §10, RFC 3207
§6). Reports give no success counts per MX, so "the MX offers it" must be shown, by one or
more of these kinds of evidence (the finding's `basis`, each said in a sentence):

- after-starttls: other reporters, on the same days, report failures at that MX that only
  happen once the TLS handshake started (certificate, validation and TLSA checks);
- only-mx-in-policy: the MX is the only one the MTA-STS policy allows (its single mx line,
  RFC 8461 §3.2), and other reporters succeed on the same days without a STARTTLS failure;
- only-mx-seen: the MX is the only one of the domain the reports name (and at least two
  reporters name it), and others succeed;
- own-other-addresses: the reporter's own sessions from other sending IPs got past STARTTLS
  at that MX (after-STARTTLS failures), only some of its IPs saw none;
- own-successes: with the MX the only one, and other reporters succeeding there, the reporter
  itself reports successful sessions on those days: some of its traffic got STARTTLS there,
  the failures come from some of its IPs. When every reporter sees the failure, it is more
  likely the MX (a node without TLS) than a path, and the heuristic does not fire."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from tlsscope.analyze import catalog
from tlsscope.analyze.detectors.model import DomainFinding, Evidence
from tlsscope.analyze.detectors.words import names, variant_texts
from tlsscope.facts import DomainFacts, FailureRow
from tlsscope.vocab import AFTER_STARTTLS, PolicyType, ResultType, Severity

# Bound once for the loops over rows (see tlsscope.vocab).
_STS, _STARTTLS = PolicyType.STS.value, ResultType.STARTTLS_NOT_SUPPORTED.value

Grounds = list[tuple[str, dict[str, str]]]  # (basis kind, values of its sentence)
PER_KIND = 3  # reporters given a sentence for each per-reporter kind of evidence


def _only_mx_in_policy(facts: DomainFacts, mx: str, days: set[dt.date]) -> bool:
    lines = {p.mx_patterns for p in facts.policies
             if p.policy_type == _STS and p.mx_patterns and p.day in days}
    return bool(lines) and all(len(ls) == 1 and ls[0].lower().rstrip(".") == mx for ls in lines)


def _grounds(facts: DomainFacts, mx: str, rows: list[FailureRow], lang: str) -> Grounds:
    words = catalog.Words(lang)
    seen_by = {row.reporter for row in rows}
    days = {row.day for row in rows}
    after = [f for f in facts.failures if f.mx_host == mx and f.day in days
             and f.result_type in AFTER_STARTTLS]
    grounds: Grounds = []
    others = sorted({f.reporter for f in after} - seen_by)
    if others:
        grounds.append(("after-starttls", {"others": names(others, lang)}))
    single = _only_mx_in_policy(facts, mx, days)
    # Reports name an MX only in failure rows: the only MX named, by two reporters at least.
    alone = ({f.mx_host for f in facts.failures if f.mx_host} == {mx}
             and len({f.reporter for f in facts.failures if f.mx_host == mx}) >= 2)
    succeeding = sorted({p.reporter for p in facts.policies
                         if p.day in days and p.successful > 0} - seen_by)
    if succeeding and (single or alone):
        grounds.append(("only-mx-in-policy" if single else "only-mx-seen",
                        {"others": names(succeeding, lang)}))
    # Per reporter, in one pass each (a big domain has thousands of reporters).
    bad_ips: dict[str, set[str]] = defaultdict(set)
    for r in rows:
        bad_ips[r.reporter].add(r.sending_ip)
    good_ips: dict[str, set[str]] = defaultdict(set)
    for f in after:
        if f.reporter in seen_by:
            good_ips[f.reporter].add(f.sending_ip)
    own_successes: dict[str, int] = defaultdict(int)
    for p in facts.policies:
        if p.reporter in seen_by and p.day in days:
            own_successes[p.reporter] += p.successful
    said = {"own-other-addresses": 0, "own-successes": 0}
    for reporter in sorted(seen_by, key=lambda r: (-len(bad_ips[r]), r)):
        if min(said.values()) >= PER_KIND:
            break  # a few reporters say it; thousands of sentences would say nothing more
        bad = sorted(bad_ips[reporter] - {""})
        good = sorted(good_ips[reporter] - set(bad) - {""})
        if bad and good and said["own-other-addresses"] < PER_KIND:
            said["own-other-addresses"] += 1
            grounds.append(("own-other-addresses", {"reporter": reporter, "bad": names(bad, lang),
                                                    "good": names(good, lang)}))
        successful = own_successes[reporter]
        # Not when every reporter sees it: that is the MX (a node without TLS), not a path.
        if bad and successful and succeeding and (single or alone) \
                and said["own-successes"] < PER_KIND:
            said["own-successes"] += 1
            grounds.append(("own-successes", {"reporter": reporter, "bad": names(bad, lang),
                                              "successful": words.number(successful)}))
    return grounds


def detect(facts: DomainFacts, lang: str = "en") -> list[DomainFinding]:
    stripped: dict[str, list[FailureRow]] = defaultdict(list)
    for row in facts.failures:
        if row.result_type == _STARTTLS and row.mx_host:
            stripped[row.mx_host].append(row)
    words = catalog.Words(lang)
    found = []
    for mx, rows in sorted(stripped.items()):
        grounds = _grounds(facts, mx, rows, lang)
        if not grounds:
            continue
        seen_by = sorted({row.reporter for row in rows})
        sessions = sum(row.sessions for row in rows)
        said = " ".join(words.say("downgrade_basis", kind, mx=mx, domain=facts.domain, **values)
                        for kind, values in grounds)
        title, explanation, fix = variant_texts(
            "possible-downgrade", lang, "_one" if len(seen_by) == 1 else "",
            domain=facts.domain, mx=mx, sessions=sessions,
            reporters=names(seen_by, lang), grounds=said)
        evidence = [Evidence(report_key=r.report_key, day=r.day, reporter=r.reporter,
                             sessions=r.sessions, receiving_ip=r.receiving_ip,
                             sending_ip=r.sending_ip, reason_code=r.reason_code) for r in rows]
        found.append(DomainFinding.build(
            kind="possible-downgrade", severity=Severity.HIGH, domain=facts.domain, mx_host=mx,
            result_type=_STARTTLS, sessions=sessions, title=title,
            explanation=explanation, fix=fix, evidence=evidence, heuristic=True,
            basis={kind for kind, _ in grounds}))
    return found
