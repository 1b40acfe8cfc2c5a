"""The predictive warnings a live check gives, before any report shows a failure:

    certificate-expiry   an MX's (or the policy host's) certificate expires within 14, 7 or
                         1 days, or has expired: one alert per threshold crossed
    policy-id-unchanged  the policy file changed under the same _mta-sts id (RFC 8461 §3.1)
    mx-outside-policy    MX hosts the policy's mx lines do not cover (RFC 8461 §4.1)

Each is judged from the check's steps as the check recorded them (tlsscope.check: `expires`,
`uncovered`, the mta-sts-policy-id step), under the domain's MTA-STS mode: a failure that an
enforced policy turns into bounces is more severe than one a testing policy only reports.
The snapshots of the receivers' alerts (a silent domain, an unreachable mailbox) are here
too, so that every alert without a finding is said in one place.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, NamedTuple

from tlsscope.alert.words import Words
from tlsscope.live_check import WARNING, LiveCheck, certificates
from tlsscope.vocab import Severity

THRESHOLDS = (14, 7, 1)  # days before a certificate expires; 0: it has
_ENFORCED = {14: Severity.MEDIUM, 7: Severity.HIGH, 1: Severity.CRITICAL, 0: Severity.CRITICAL}
_REPORTED = {14: Severity.INFO, 7: Severity.MEDIUM, 1: Severity.HIGH, 0: Severity.HIGH}


class CheckWarning(NamedTuple):
    kind: str
    problem: str  # what suppression compares: one per certificate and threshold, ...
    severity: Severity
    host: str
    ips: list[str]
    values: dict[str, Any]  # what the texts need


def threshold(days_left: int) -> int | None:
    """The smallest threshold `days_left` is within (0: expired), or None: not yet."""
    if days_left < 0:
        return 0
    within = [t for t in THRESHOLDS if days_left <= t]
    return min(within) if within else None


def _certificates(check: LiveCheck, mode: str) -> list[CheckWarning]:
    seen: dict[tuple[str, dt.datetime], CheckWarning] = {}
    for cert in certificates(check):
        days_left = (cert.expires - check.checked_at).days
        crossed = threshold(days_left)
        if crossed is None:
            continue
        found = seen.get((cert.host, cert.expires))
        if found is not None:
            if cert.address and cert.address not in found.ips:
                found.ips.append(cert.address)
            continue
        severity = (_ENFORCED if mode == "enforce" else _REPORTED)[crossed]
        seen[(cert.host, cert.expires)] = CheckWarning(
            kind="certificate-expiry",
            problem=f"check:cert:{check.domain}:{cert.host}:{cert.expires.date().isoformat()}"
                    f":{crossed}",
            severity=severity, host=cert.host, ips=[cert.address] if cert.address else [],
            values={"host": cert.host, "days": max(days_left, 0), "crossed": crossed,
                    "until": cert.expires.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
                    "policy_host": cert.step == "mta-sts-policy"})
    return list(seen.values())


def warnings(check: LiveCheck, mode: str) -> list[CheckWarning]:
    """What `check` warns of, under the domain's MTA-STS `mode`."""
    out = _certificates(check, mode)
    for step in check.steps:
        if step.step == "mta-sts-policy-id" and step.status == WARNING:
            out.append(CheckWarning(
                kind="policy-id-unchanged",
                problem=f"check:policy-id:{check.domain}:{check.policy_sha256}",
                severity=Severity.MEDIUM, host=f"mta-sts.{check.domain}", ips=[],
                values={"id": check.sts_id}))
            break
    uncovered = sorted({host for step in check.steps for host in step.uncovered})
    if uncovered and (check.policy_mode or mode) in ("enforce", "testing"):
        enforced = (check.policy_mode or mode) == "enforce"
        out.append(CheckWarning(
            kind="mx-outside-policy",
            problem=f"check:mx-outside:{check.domain}:{','.join(uncovered)}",
            severity=Severity.HIGH if enforced else Severity.MEDIUM, host=", ".join(uncovered),
            ips=[], values={"hosts": ", ".join(uncovered)}))
    return out


def _texts(warning: CheckWarning, words: Words, domain: str) -> tuple[str, str, list[str]]:
    v = warning.values
    if warning.kind == "certificate-expiry":
        host = words("check.policy_host") + f" ({v['host']})" if v["policy_host"] else v["host"]
        title = (words("check.cert_title_expired", host=host) if v["crossed"] == 0
                 else words("check.cert_title_today", host=host) if v["days"] < 1
                 else words("check.cert_title", host=host, days=v["days"]))
        return title, words("check.cert_text", host=host, until=v["until"]), [
            words("check.cert_fix")]
    if warning.kind == "policy-id-unchanged":
        return (words("check.policy_id_title"),
                words("check.policy_id_text", domain=domain, id=repr(v["id"])),
                [words("check.policy_id_fix")])
    return (words("check.mx_outside_title", hosts=v["hosts"]),
            words("check.mx_outside_text", hosts=v["hosts"]), [words("check.mx_outside_fix")])


def snapshot(warning: CheckWarning, lang: str, check: LiveCheck) -> dict[str, Any]:
    title, explanation, fix = _texts(warning, Words(lang), check.domain)
    day = check.checked_at.date().isoformat()
    return {"finding_id": None, "domain": check.domain, "kind": warning.kind,
            "severity": warning.severity, "before_severity": "", "status": "open",
            "title": title, "explanation": explanation, "fix": fix,
            "mx_host": warning.host, "receiving_ip": ", ".join(warning.ips), "result_type": "",
            "first_seen": day, "last_seen": day, "sessions": 0, "reporters": [],
            "mode": check.policy_mode, "heuristic": False, "also_seen_by": []}


def silent_snapshot(domain: str, last: dt.date, today: dt.date, lang: str) -> dict[str, Any]:
    words = Words(lang)
    days = (today - last).days
    return {"finding_id": None, "domain": domain, "kind": "silent-domain",
            "severity": Severity.MEDIUM, "before_severity": "", "status": "open",
            "title": words("silent.title", domain=domain, days=days),
            "explanation": words("silent.text", domain=domain, last=last.isoformat()),
            "fix": [words("silent.fix", domain=domain)], "mx_host": "", "receiving_ip": "",
            "result_type": "", "first_seen": last.isoformat(), "last_seen": last.isoformat(),
            "sessions": 0, "reporters": [], "mode": "", "heuristic": False,
            "also_seen_by": []}


def down_snapshot(what: str, since: dt.datetime, error: str, lang: str) -> dict[str, Any]:
    words = Words(lang)
    at = since.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return {"finding_id": None, "domain": "", "kind": "receiver-down",
            "severity": Severity.HIGH, "before_severity": "", "status": "open",
            "title": words("silent.down_title", what=what),
            "explanation": words("silent.down_text", what=what, since=at, error=error),
            "fix": [words("silent.down_fix")], "mx_host": "", "receiving_ip": "",
            "result_type": "", "first_seen": since.date().isoformat(),
            "last_seen": since.date().isoformat(), "sessions": 0, "reporters": [],
            "mode": "", "heuristic": False, "also_seen_by": []}
