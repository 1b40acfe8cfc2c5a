"""One finding per problem: the findings of one cause, as the detectors saw it, become one.

- Findings of one result type at one MX on overlapping days are one cause (a certificate
  finding, the downgrade heuristic and mx-outside-policy about the same failures). The one
  that says most about the cause stays (PRECEDENCE: a diagnosis before a symptom), with the
  highest severity of the group, every reporter, and the others' evidence.
- "New failing MX" and "new result type" are the first days of such a cause: they join the
  open finding of that MX (or result type) whose days they overlap.
- "Under enforce, N sessions would have been refused" (a testing policy) is the effect of
  its causes: it joins the open finding of most sessions among those that cover every
  result type it counts (each cause is told once, and says what enforce would do).
- A failure spike that one open finding of the same days fully explains (without that
  finding's failures, no day from the change point on would start a spike) is that
  finding's, not another one.

The kinds that joined a finding are kept as its `also_seen_by`, and their titles end its
explanation, so that nothing a detector saw is lost."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from tlsscope.analyze import catalog
from tlsscope.analyze.detectors import spike
from tlsscope.analyze.detectors.model import MAX_EVIDENCE, DomainFinding, evidence_order
from tlsscope.facts import DomainFacts
from tlsscope.vocab import NEGOTIATION_FAILURES, FindingStatus, PolicyType, severity_rank

PRECEDENCE = ("possible-downgrade", "mx-outside-policy", "certificate", "dane", "starttls",
              "validation", "mta-sts-policy", "unknown-result-type")


def _overlap(a: DomainFinding, b: DomainFinding) -> bool:
    return a.first_seen <= b.last_seen and b.first_seen <= a.last_seen


def _absorb(host: DomainFinding, other: DomainFinding, joined: dict[int, list[str]]) -> None:
    for kind in (other.kind, *other.also_seen_by):
        if kind not in host.also_seen_by and kind != host.kind:
            host.also_seen_by.append(kind)
    joined[id(host)].extend([other.title, *joined.pop(id(other), [])])
    if other.kind not in PRECEDENCE:
        return
    host.severity = min(host.severity, other.severity, key=severity_rank)
    host.reporters = sorted({*host.reporters, *other.reporters})
    host.first_seen = min(host.first_seen, other.first_seen)
    host.last_seen = max(host.last_seen, other.last_seen)
    host.sessions = max(host.sessions, other.sessions)
    if FindingStatus.OPEN in (host.status, other.status):
        host.status = FindingStatus.OPEN
    evidence = {(e.report_key, e.receiving_ip, e.sending_ip): e
                for e in (*other.evidence, *host.evidence)}
    host.evidence = sorted(evidence.values(), key=evidence_order)[-MAX_EVIDENCE:]


def _merge_causes(found: list[DomainFinding],
                  joined: dict[int, list[str]]) -> list[DomainFinding]:
    buckets: dict[tuple[str, str], list[DomainFinding]] = defaultdict(list)
    for finding in found:
        buckets[(finding.mx_host, finding.result_type)].append(finding)
    kept = []
    for members in buckets.values():
        members.sort(key=lambda f: (PRECEDENCE.index(f.kind), f.first_seen))
        hosts: list[DomainFinding] = []
        for finding in members:
            host = next((h for h in hosts if _overlap(h, finding)), None)
            if host is None:
                hosts.append(finding)
            else:
                _absorb(host, finding, joined)
        kept.extend(hosts)
    return kept


def _failed_by_day(finding: DomainFinding) -> dict[dt.date, int]:
    days: dict[dt.date, int] = defaultdict(int)
    for e in finding.evidence:
        days[e.day] += e.sessions
    return days


def _host_of(finding: DomainFinding, causes: list[DomainFinding],
             facts: DomainFacts) -> DomainFinding | None:
    """The open finding of one cause that `finding` (a context kind) belongs to, if any."""
    open_ = [c for c in causes if c.status == FindingStatus.OPEN and _overlap(c, finding)]
    if finding.kind == "new-failing-mx":
        open_ = [c for c in open_ if c.mx_host == finding.mx_host]
    elif finding.kind == "new-result-type":
        open_ = [c for c in open_ if c.result_type == finding.result_type]
    elif finding.kind == "testing-would-block":
        # What enforce would refuse is the effect of its causes under testing (RFC 8461 §5):
        # one problem with them when open findings cover every result type it counts.
        counted = {row.result_type for row in facts.failures
                   if row.policy_type == PolicyType.STS.value and row.mode == "testing"
                   and row.result_type in NEGOTIATION_FAILURES}
        open_ = [c for c in open_ if c.result_type in counted]
        if not counted or {c.result_type for c in open_} != counted:
            return None
    elif finding.kind == "failure-spike":
        found = spike.find(facts)
        if found is None:
            return None
        open_ = [c for c in open_ if found.explained_by(_failed_by_day(c))]
    else:
        return None
    return max(open_, key=lambda c: c.sessions, default=None)


def group(found: list[DomainFinding], facts: DomainFacts, lang: str) -> list[DomainFinding]:
    joined: dict[int, list[str]] = defaultdict(list)
    causes = _merge_causes([f for f in found if f.kind in PRECEDENCE], joined)
    rest = []
    for finding in (f for f in found if f.kind not in PRECEDENCE):
        host = _host_of(finding, causes, facts)
        if host is None:
            rest.append(finding)
        else:
            _absorb(host, finding, joined)
    words = catalog.Words(lang)
    for finding in causes:
        if joined.get(id(finding)):
            finding.explanation += " " + words.say("finding_notes", "also_seen",
                                                   titles="; ".join(joined[id(finding)]))
    return causes + rest
