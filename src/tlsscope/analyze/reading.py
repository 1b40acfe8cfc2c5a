"""One report in plain language: who reported what, under which policy, and each failure row
with the catalog's explanation and the sender's reason code classified.

    read_report(report, counted, lang="en") → Reading(sentences=[...], rows=[...])

Pure: it takes the parsed report (RFC 8460 §4.4) and which of its policies count their
sessions (a tlsa policy repeating an sts policy's sessions does not; see the store).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import NamedTuple

from tlsscope.analyze import catalog
from tlsscope.report import FailureDetail, PolicyResult, Report
from tlsscope.vocab import PolicyType, Severity


class RowReading(NamedTuple):
    policy: int  # index in policies[]
    result_type: str
    sessions: int
    mx_host: str
    mode: str
    severity: Severity
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
    sts = entry.policy.sts
    mode = catalog.policy_mode(entry.policy.policy_type,
                               sts.mode if sts is not None else None)
    quoted = entry.policy.policy_type != PolicyType.STS or (sts is not None
                                                             and sts.mode == mode)
    return mode, mode if quoted else "sts"  # the text key of an unquoted sts policy


def _utc(moment: dt.datetime) -> str:
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC)
    return moment.strftime("%Y-%m-%d %H:%M")


def read_report(report: Report, counted: Sequence[bool],
                lang: str = catalog.DEFAULT_LANG) -> Reading:
    words = catalog.Words(lang)
    domains = sorted({p.policy.policy_domain or "" for p in report.policies} - {""})
    sentences = [words.say("reading", "opening", reporter=report.organization_name,
                           day=report.day.isoformat(), start=_utc(report.start),
                           end=_utc(report.end), domain=", ".join(domains))]
    rows: list[RowReading] = []
    for index, entry in enumerate(report.policies):
        mode, key = policy_mode(entry)
        policy = words.texts["reading"]["kind"][key]
        ok = entry.summary.total_successful_session_count
        failed = entry.summary.total_failure_session_count
        if ok + failed == 0:
            sentences.append(words.say("reading", "policy_empty", policy=policy))
        else:
            rate = catalog.success_rate(ok, failed) or 0.0
            sentences.append(words.say(
                "reading", "policy_one" if ok + failed == 1 else "policy", policy=policy,
                sessions=words.number(ok + failed), successful=words.number(ok),
                rate=words.percent(rate)))
        if index < len(counted) and not counted[index]:
            sentences.append(words.texts["reading"]["not_counted"])
        for detail in entry.details:
            rows.append(_row(words, lang, index, mode, detail, sentences))
    if not rows:
        sentences.append(words.texts["reading"]["all_ok"])
    return Reading(sentences, rows)


def _row(words: catalog.Words, lang: str, index: int, mode: str, detail: FailureDetail,
         sentences: list[str]) -> RowReading:
    """One failure row: its sentences (appended) and its reading."""
    result_type = detail.result_type or "(none)"
    explanation = catalog.explain(result_type, mode, lang, mx=detail.receiving_mx_hostname)
    sessions = detail.failed_session_count or 0
    sentences.append(words.say(
        "reading", "row", sessions=words.number(sessions),
        mx=detail.receiving_mx_hostname or words.texts["summary"]["unnamed_mx"],
        ip=(words.say("reading", "row_ip", ip=detail.receiving_ip)
            if detail.receiving_ip else ""),
        sender=(words.say("reading", "row_sender", ip=detail.sending_mta_ip)
                if detail.sending_mta_ip else ""),
        title=explanation.title))
    reason = (catalog.classify_reason(detail.failure_reason_code, lang)
              if detail.failure_reason_code else None)
    if reason is not None:
        sentences.append(words.say("reading", "reason", raw=reason.raw, text=reason.text))
    sentences.append(explanation.effect)
    return RowReading(index, result_type, sessions, detail.receiving_mx_hostname or "", mode,
                      explanation.severity, explanation.title, explanation.effect,
                      reason.id if reason else None, reason.text if reason else None,
                      explanation.fix)
