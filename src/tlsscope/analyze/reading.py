"""One report in plain language: who reported what, under which policy, and each failure row
with the catalog's explanation and the sender's reason code classified.

    read_report(report, counted, lang="en") → Reading(sentences=[...], rows=[...])

Pure: it takes the parsed report (RFC 8460 §4.4) and which of its policies count their
sessions (a tlsa policy repeating an sts policy's sessions does not; see the store).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from typing import Any, NamedTuple

from tlsscope.analyze import catalog
from tlsscope.report import PolicyResult, Report


class RowReading(NamedTuple):
    policy: int  # index in policies[]
    result_type: str
    sessions: int
    mx_host: str
    mode: str
    severity: str
    title: str
    effect: str
    reason_id: str | None  # None: no reason code, or one tlsscope does not recognise
    reason_text: str | None
    fix: list[str]


class Reading(NamedTuple):
    sentences: list[str]
    rows: list[RowReading]


def policy_mode(entry: PolicyResult) -> tuple[str, str]:
    """(the catalog mode, the text key) of one policies[] entry."""
    kind = entry.policy.policy_type
    if kind == "sts":
        sts = entry.policy.sts
        mode = sts.mode if sts is not None else None
        if mode in ("enforce", "testing"):
            return str(mode), str(mode)
        return "testing", "sts"
    return ("dane", "dane") if kind == "tlsa" else ("none", "none")


def _utc(moment: dt.datetime) -> str:
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC)
    return moment.strftime("%Y-%m-%d %H:%M")


def _say(texts: dict[str, Any], key: str, **values: object) -> str:
    text: str = texts[key]
    for name, value in values.items():
        text = text.replace("{" + name + "}", str(value))
    return text


def _number(texts: dict[str, Any], value: int) -> str:
    return f"{value:,}".replace(",", texts["summary"]["thousands"])


def _rate(texts: dict[str, Any], successful: int, failed: int) -> str:
    rate = 100.0 * successful / (successful + failed)
    if failed:
        rate = math.floor(rate * 10) / 10
    return f"{rate:.1f}".replace(".", texts["summary"]["decimal"])


def read_report(report: Report, counted: Sequence[bool],
                lang: str = catalog.DEFAULT_LANG) -> Reading:
    texts = catalog._texts(lang)
    words = texts["reading"]
    domains = sorted({p.policy.policy_domain or "" for p in report.policies} - {""})
    sentences = [_say(words, "opening", reporter=report.organization_name,
                      day=report.day.isoformat(), start=_utc(report.start), end=_utc(report.end),
                      domain=", ".join(domains))]
    rows: list[RowReading] = []
    for index, entry in enumerate(report.policies):
        mode, key = policy_mode(entry)
        policy = words["kind"][key]
        ok = entry.summary.total_successful_session_count
        failed = entry.summary.total_failure_session_count
        if ok + failed == 0:
            sentences.append(_say(words, "policy_empty", policy=policy))
        else:
            sentences.append(_say(words, "policy_one" if ok + failed == 1 else "policy",
                                  policy=policy,
                                  sessions=_number(texts, ok + failed),
                                  successful=_number(texts, ok),
                                  rate=_rate(texts, ok, failed)))
        if index < len(counted) and not counted[index]:
            sentences.append(words["not_counted"])
        for detail in entry.details:
            result_type = detail.result_type or "(none)"
            mx = detail.receiving_mx_hostname or texts["summary"]["unnamed_mx"]
            explanation = catalog.explain(result_type, mode, lang,
                                          mx=detail.receiving_mx_hostname)
            sessions = detail.failed_session_count or 0
            sentences.append(_say(
                words, "row", sessions=_number(texts, sessions), mx=mx,
                ip=_say(words, "row_ip", ip=detail.receiving_ip) if detail.receiving_ip else "",
                sender=(_say(words, "row_sender", ip=detail.sending_mta_ip)
                        if detail.sending_mta_ip else ""),
                title=explanation.title))
            reason = (catalog.classify_reason(detail.failure_reason_code, lang)
                      if detail.failure_reason_code else None)
            if reason is not None:
                sentences.append(_say(words, "reason", raw=reason.raw, text=reason.text))
            sentences.append(explanation.effect)
            rows.append(RowReading(index, result_type, sessions,
                                   detail.receiving_mx_hostname or "", mode,
                                   explanation.severity, explanation.title, explanation.effect,
                                   reason.id if reason else None,
                                   reason.text if reason else None, explanation.fix))
    if not rows:
        sentences.append(words["all_ok"])
    return Reading(sentences, rows)
