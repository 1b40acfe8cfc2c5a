"""A live check as evidence for a finding (analyze/live.py), and what changed between two
checks (check/run.changes): pure functions, no network."""

from __future__ import annotations

import datetime as dt

from tlsscope.analyze.detectors import DomainFinding
from tlsscope.analyze.live import corroborate
from tlsscope.check.run import changes
from tlsscope.live_check import LiveCheck, Step
from tlsscope.vocab import FindingStatus, Severity

CHECKED = dt.datetime(2026, 11, 28, 9, 30, tzinfo=dt.UTC)


def finding(result_type: str, mx: str = "mx2.example.com", kind: str = "certificate",
            last_seen: dt.date = dt.date(2026, 11, 27)) -> DomainFinding:
    return DomainFinding(
        kind=kind, severity=Severity.CRITICAL, domain="example.com", mx_host=mx, receiving_ip="",
        result_type=result_type, reporters=["Google Inc."], first_seen=dt.date(2026, 11, 20),
        last_seen=last_seen, sessions=40, status=FindingStatus.OPEN, title="t", explanation="e",
        fix=[], evidence=[])


def mx_step(host: str, status: str = "ok", results: tuple[str, ...] = (),
            address: str = "192.0.2.2") -> Step:
    return Step(step="mx", target=f"{host} [{address}]", status=status, host=host,
                line=f"{host}: {status}", results=list(results))


def check(*steps: Step, mx_hosts: tuple[str, ...] = ("mx1.example.com", "mx2.example.com"),
          policy_mx: tuple[str, ...] = ("mx1.example.com", "mx2.example.com"),
          when: dt.datetime = CHECKED) -> LiveCheck:
    return LiveCheck(domain="example.com", checked_at=when, status="ok", seconds=0.1,
                     steps=list(steps), mx_hosts=list(mx_hosts), policy_mx=list(policy_mx))


def test_a_check_that_sees_the_same_failure_confirms_it() -> None:
    f = finding("certificate-expired")
    corroborate(f, check(mx_step("mx1.example.com"),
                         mx_step("mx2.example.com", "error", ("certificate-expired",))))
    assert f.live is not None and f.live.verdict == "confirmed"
    assert f.status == "open"
    assert f.live.targets == ["mx2.example.com [192.0.2.2]"]
    assert "still fails the same way (certificate-expired)" in f.live.summary
    assert "2026-11-28 09:30 UTC" in f.live.summary


def test_a_host_that_works_now_makes_the_finding_likely_fixed() -> None:
    f = finding("certificate-expired")
    corroborate(f, check(mx_step("mx2.example.com"), mx_step("mx2.example.com",
                                                             address="2001:db8::2")))
    assert f.live is not None and f.live.verdict == "contradicted"
    assert f.status == "likely-fixed"
    assert len(f.live.targets) == 2  # every address of the host was seen working


def test_a_check_on_the_last_failing_day_does_not_change_the_status() -> None:
    """The failures of that day may have come after the check: no conclusion on status."""
    f = finding("certificate-expired", last_seen=CHECKED.date())
    corroborate(f, check(mx_step("mx2.example.com")))
    assert f.live is not None and f.live.verdict == "contradicted"
    assert f.status == "open"


def test_one_failing_address_is_enough_to_confirm() -> None:
    f = finding("starttls-not-supported", kind="starttls")
    corroborate(f, check(mx_step("mx2.example.com"),
                         mx_step("mx2.example.com", "error", ("starttls-not-supported",),
                                 address="2001:db8::2")))
    assert f.live is not None and f.live.verdict == "confirmed"


def test_another_problem_on_the_host_is_inconclusive() -> None:
    """Reported certificate-expired; now the host does not answer at all: we cannot tell."""
    f = finding("certificate-expired")
    corroborate(f, check(mx_step("mx2.example.com", "error")))
    assert f.live is not None and f.live.verdict == "inconclusive"
    assert f.status == "open"


def test_validation_failure_is_confirmed_by_any_certificate_problem() -> None:
    f = finding("validation-failure", kind="validation")
    corroborate(f, check(mx_step("mx2.example.com", "error", ("certificate-not-trusted",))))
    assert f.live is not None and f.live.verdict == "confirmed"


def test_an_mx_that_left_the_mx_set_contradicts() -> None:
    f = finding("certificate-expired", mx="old.example.com")
    corroborate(f, check(mx_step("mx1.example.com")))
    assert f.live is not None and f.live.verdict == "contradicted"
    assert "no longer among the MX hosts" in f.live.details[0]
    assert f.status == "likely-fixed"


def test_policy_fetch_errors_are_judged_by_the_policy_steps() -> None:
    f = finding("sts-policy-fetch-error", mx="", kind="mta-sts-policy")
    fetch = Step(step="mta-sts-policy", target="https://mta-sts.example.com/... via 192.0.2.1",
                 status="error", line="404", results=["sts-policy-fetch-error"])
    fine = Step(step="mta-sts-policy", target="https://mta-sts.example.com/... via 2001:db8::1",
                status="ok", line="valid")
    corroborate(f, check(fetch, fine))
    assert f.live is not None and f.live.verdict == "confirmed"
    assert f.live.details == ["404"]  # the address that fails, not the one that works


def test_mx_outside_policy_is_judged_by_coverage() -> None:
    outside = finding("validation-failure", mx="mx3.example.com", kind="mx-outside-policy")
    corroborate(outside, check(mx_hosts=("mx1.example.com", "mx3.example.com")))
    assert outside.live is not None and outside.live.verdict == "confirmed"
    covered = finding("validation-failure", mx="mx3.example.com", kind="mx-outside-policy")
    corroborate(covered, check(mx_hosts=("mx3.example.com",), policy_mx=("*.example.com",)))
    assert covered.live is not None and covered.live.verdict == "contradicted"


def test_resolved_findings_and_missing_checks_are_left_alone() -> None:
    f = finding("certificate-expired")
    f.status = FindingStatus.RESOLVED
    corroborate(f, check(mx_step("mx2.example.com", "error", ("certificate-expired",))))
    assert f.live is None and f.status == "resolved"
    g = finding("certificate-expired")
    corroborate(g, None)
    assert g.live is None and g.status == "open"


def test_result_types_a_check_cannot_see_get_no_live_evidence() -> None:
    f = finding("", mx="", kind="reporter-silent")
    corroborate(f, check(mx_step("mx1.example.com")))
    assert f.live is None


def test_portuguese_wording() -> None:
    f = finding("certificate-expired")
    corroborate(f, check(mx_step("mx2.example.com", "error", ("certificate-expired",))), "pt")
    assert f.live is not None and f.live.summary.startswith("Verificação ao vivo em")


def snapshot(sts_id: str, policy: str, mx: tuple[str, ...],
             when: dt.datetime = CHECKED) -> LiveCheck:
    return LiveCheck(domain="example.com", checked_at=when, status="ok", seconds=0.1, steps=[],
                     mx_hosts=list(mx), sts_id=sts_id, policy_sha256=policy,
                     policy_mx=["*.example.com"])


def test_a_policy_changed_under_the_same_id_is_a_warning() -> None:
    before = snapshot("2026a", "aa" * 32, ("mx1.example.com",), CHECKED - dt.timedelta(days=1))
    (step,) = changes(before, snapshot("2026a", "bb" * 32, ("mx1.example.com",)))
    assert step.step == "mta-sts-policy-id" and step.status == "warning"
    assert "'2026a'" in step.line and "since the check of 2026-11-27 09:30 UTC" in step.line
    assert changes(before, snapshot("2026b", "bb" * 32, ("mx1.example.com",))) == []
    assert changes(before, snapshot("2026a", "aa" * 32, ("mx1.example.com",))) == []
    # No policy fetched this time (an outage): not a change of the policy.
    assert changes(before, snapshot("2026a", "", ("mx1.example.com",))) == []


def test_mx_drift_since_the_previous_check() -> None:
    before = snapshot("1", "aa" * 32, ("mx1.example.com", "mx2.example.com"))
    (covered,) = changes(before, snapshot("1", "aa" * 32, ("mx1.example.com",
                                                          "mx3.example.com")))
    assert covered.step == "mx-drift" and covered.status == "ok"
    assert covered.details == ["added: mx3.example.com", "removed: mx2.example.com"]
    (outside,) = changes(before, snapshot("1", "aa" * 32, ("mx1.example.com",
                                                          "mx.other.net")))
    assert outside.status == "warning"
    assert "do not cover mx.other.net" in outside.line
