"""The translated report: a domain's TLS health in a few sentences, then the detail.

A pure function over stored facts (the store's `DomainStats` and `FailureGroup`s); the texts
come from the catalog's `[summary]` section of each language, so a language is added there.

    summarize(stats, failures, lang="pt", unconfirmed={("certificate-expired", "mx2.d")})
        → HealthSummary(sentences=[...], problems=[...])

Figures count each session once even when a report gives it under both an sts and a tlsa
policy (RFC 8460 §4.4); the effect of each problem is the catalog's, under the mode the senders
actually applied (RFC 8461 §5 for MTA-STS modes, RFC 7672 for DANE).

A problem whose open stored findings are all unconfirmed (analyze/confirm.py: unauthenticated
reports that nothing else backs up) is marked `confirmed: false`, held at medium like
those findings, and a sentence says so: the summary and `findings` tell the same story.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Sequence
from typing import NamedTuple

from tlsscope.analyze import catalog
from tlsscope.analyze.confirm import capped
from tlsscope.analyze.detectors.model import DomainFinding
from tlsscope.facts import DomainStats, FailureGroup
from tlsscope.vocab import FindingStatus, PolicyType, Severity

TOP_PROBLEMS = 3
NAMED_REPORTERS = 5  # a sentence names this many reporters, then counts the others


class Problem(NamedTuple):
    """One result type at one receiving MX, over every reporter that saw it."""

    result_type: str
    mx_host: str  # "" when the reports did not name it
    sessions: int
    reporters: list[str]
    first_day: dt.date
    last_day: dt.date
    mode: str  # the policy mode the failures were measured against (catalog.MODES, or
    # catalog.UNQUOTED: an sts policy whose reports did not quote its mode)
    severity: Severity
    title: str
    effect: str
    fix: list[str]
    # False: every open stored finding of this result type and MX is unconfirmed (medium at most)
    confirmed: bool = True


class HealthSummary(NamedTuple):
    domain: str
    since: dt.date
    until: dt.date
    lang: str
    mode: str  # the policy most sessions were measured against (unquoted: mode not quoted)
    reporters: int
    sessions: int
    successful: int
    failed: int
    success_rate: float | None  # percent, None without sessions
    sentences: list[str]
    problems: list[Problem]


def policy_mode(policy_name: str) -> str:
    """A stats policy name ("sts enforce", "tlsa", "no-policy-found") → a catalog mode."""
    kind, _, mode = policy_name.partition(" ")
    return catalog.policy_mode(kind, mode)


def _dominant_modes(stats: DomainStats) -> tuple[str, str]:
    """(the mode of most sessions overall, the mode of most sts sessions)."""
    ranked = sorted(stats.by_policy, key=lambda b: (-((b.successful or 0) + b.failed),
                                                    -catalog.strictness(policy_mode(b.name)),
                                                    b.name))  # a tie: the stricter
    overall = policy_mode(ranked[0].name) if ranked else "none"
    sts = next((policy_mode(b.name) for b in ranked if b.name.startswith(PolicyType.STS)),
               catalog.UNQUOTED)
    return overall, sts


def unconfirmed_problems(findings: Iterable[DomainFinding]) -> frozenset[tuple[str, str]]:
    """(result_type, mx_host) of the problems whose open findings are all unconfirmed: one
    confirmed finding of the same result type and MX confirms the problem."""
    shaky: set[tuple[str, str]] = set()
    sure: set[tuple[str, str]] = set()
    for finding in findings:
        if finding.result_type and finding.status != FindingStatus.RESOLVED:
            (sure if finding.confirmed else shaky).add((finding.result_type, finding.mx_host))
    return frozenset(shaky - sure)


def problems(failures: Sequence[FailureGroup], stats: DomainStats,
             lang: str = catalog.DEFAULT_LANG,
             unconfirmed: Collection[tuple[str, str]] = frozenset()) -> list[Problem]:
    """One problem per result type and MX (the failure groups are that already); those in
    `unconfirmed` are marked so and held at medium."""
    _, sts_mode = _dominant_modes(stats)
    found = []
    for group in failures:
        kinds = set(group.policy_types)
        mode = (sts_mode if PolicyType.STS in kinds else "dane" if PolicyType.TLSA in kinds
                else "none")
        explanation = catalog.explain(group.result_type, mode, lang, mx=group.mx_host or None)
        confirmed = (group.result_type, group.mx_host) not in unconfirmed
        severity = explanation.severity if confirmed else capped(explanation.severity)
        found.append(Problem(
            group.result_type, group.mx_host, group.sessions, sorted(group.reporters),
            group.first_day, group.last_day, mode, severity, explanation.title,
            explanation.effect, explanation.fix, confirmed))
    return sorted(found, key=lambda p: (-p.sessions, p.result_type, p.mx_host))


def summarize(stats: DomainStats, failures: Sequence[FailureGroup],
              lang: str = catalog.DEFAULT_LANG,
              unconfirmed: Collection[tuple[str, str]] = frozenset()) -> HealthSummary:
    """`unconfirmed`: (result_type, mx_host) of the problems whose stored findings are all
    unconfirmed (see `unconfirmed_problems`)."""
    words = catalog.Words(lang)
    domain = stats.domain or ""
    mode, _ = _dominant_modes(stats)
    found = problems(failures, stats, lang, unconfirmed)
    rate = catalog.success_rate(stats.successful, stats.failed)
    days = (stats.until - stats.since).days + 1
    common = {"domain": domain, "since": stats.since.isoformat(),
              "until": stats.until.isoformat()}
    sentences: list[str] = []
    if stats.reports == 0:
        sentences.append(words.say("summary", "no_reports", **common))
    else:
        sentences.append(_headline(words, stats, days, rate, common))
        sentences.append(words.texts["summary"]["policy"][mode])
        sentences.extend(_failure_sentences(words, stats.failed, found))
    return HealthSummary(domain, stats.since, stats.until, lang, mode, len(stats.by_reporter),
                   stats.successful + stats.failed, stats.successful, stats.failed, rate,
                   sentences, found)


def _plural(words: catalog.Words, key: str, n: int, /, **values: object) -> str:
    """The `key_one` text for 1, else `key_many` with n written in the language's way."""
    return words.say("summary", f"{key}_{'one' if n == 1 else 'many'}", n=words.number(n),
                     **values)


def _headline(words: catalog.Words, stats: DomainStats, days: int, rate: float | None,
              common: dict[str, str]) -> str:
    reporters = len(stats.by_reporter)
    return words.say(
        "summary", "headline", period=_plural(words, "period", days, **common),
        reporters=_plural(words, "reporter", reporters),
        reported=_plural(words, "reported", reporters),
        sessions=_plural(words, "sessions", stats.successful + stats.failed),
        rate=words.percent(rate if rate is not None else 0.0), **common)


def _failed_count(words: catalog.Words, failed: int, found: list[Problem]) -> str:
    """"N sessions failed", with the failure rows' own sum when it is another figure (a
    report's total-failure-session-count need not add up to its rows)."""
    count = _plural(words, "sessions_failed", failed)
    listed = sum(p.sessions for p in found)
    if found and listed != failed:
        count = words.say("summary", "rows_differ", count=count, listed=words.number(listed))
    return count


def _failure_sentences(words: catalog.Words, failed: int, found: list[Problem]) -> list[str]:
    def mx(host: str) -> str:
        return host or words.texts["summary"]["unnamed_mx"]

    if failed == 0 and not found:
        return [words.say("summary", "all_ok")]
    count = _failed_count(words, failed, found)
    if not found:
        return [words.say("summary", "failed_no_details", count=count)]
    out = []
    if len(found) == 1:
        alone = max(failed, found[0].sessions) == 1
        out.append(words.say("summary", "failed_one_session" if alone else "failed_one_place",
                             count=count, mx=mx(found[0].mx_host), title=found[0].title))
    else:
        out.append(words.say("summary", "failed_many", count=count, n=len(found)))
    for problem in found[:TOP_PROBLEMS]:
        if len(found) > 1:
            out.append(words.say("summary", "problem", sessions=words.number(problem.sessions),
                                 mx=mx(problem.mx_host), title=problem.title))
        seen = "seen_many" if len(problem.reporters) > 1 else "seen_one"
        out.append(words.say("summary", seen,
                             reporters=words.names(problem.reporters, NAMED_REPORTERS),
                             first=problem.first_day.isoformat(),
                             last=problem.last_day.isoformat()))
        out.append(problem.effect)
        if not problem.confirmed:
            out.append(words.say("summary", "unconfirmed",
                                 reporters=words.names(problem.reporters, NAMED_REPORTERS)))
    if len(found) > TOP_PROBLEMS:
        rest = len(found) - TOP_PROBLEMS
        out.append(words.say("summary", "more_one" if rest == 1 else "more_many", n=rest))
    return out
