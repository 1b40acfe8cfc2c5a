"""`tlsscope check` when DNS does not answer: every step that depends on a lookup says whether
it got a negative answer (today's findings) or none at all (inconclusive, no advice), against
real loopback DNS servers that time out, refuse or SERVFAIL (tests/support/faults.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.support.cli import tlsscope
from tests.support.faults import FailingDns, closed_port, silent_server
from tlsscope.check.run import Options, run
from tlsscope.live_check import LiveCheck

pytestmark = pytest.mark.server

RECORDS = {
    "_smtp._tls.partial.example": [
        ("TXT", "v=TLSRPTv1; rua=mailto:tls@flaky.example,https://flakyweb.example/tlsrpt")],
    "partial.example": [("MX", "10 mx1.partial.example."), ("MX", "20 mx2.partial.example.")],
    "mx1.partial.example": [("A", "192.0.2.21")],  # SERVFAIL below
    "_25._tcp.mx2.partial.example": [("TLSA", "3 1 1 " + "ab" * 32)],  # SERVFAIL below
    "nodata.example": [("TXT", "not an MX")],
    "_smtp._tls.nodata.example": [("A", "192.0.2.30")],
}
SERVFAIL = {"flaky.example", "flakyweb.example", "_mta-sts.partial.example",
            "mx1.partial.example", "_25._tcp.mx2.partial.example"}


@pytest.fixture(scope="module")
def failing() -> Iterator[str]:
    with FailingDns(RECORDS, SERVFAIL) as server:
        yield server.nameserver


def steps_of(check: LiveCheck) -> dict[tuple[str, str], tuple[str, str]]:
    return {(s.step, s.target): (s.status, s.line) for s in check.steps}


def assert_no_advice(check: LiveCheck) -> None:
    for step in check.steps:
        if step.status == "inconclusive":
            assert not step.fix and not step.results, step
            assert "has no" not in step.line and "Publish" not in step.line, step


def test_a_resolver_that_refuses_makes_every_step_inconclusive() -> None:
    with closed_port() as address:
        check = run("Example.COM", Options(nameserver=address, timeout=5))
    why = f"connection refused (server {address})"
    assert steps_of(check) == {
        ("tlsrpt-record", "_smtp._tls.example.com"): (
            "inconclusive", f"Could not look up TXT of _smtp._tls.example.com: {why}."),
        ("mta-sts-record", "_mta-sts.example.com"): (
            "inconclusive", f"Could not look up TXT of _mta-sts.example.com: {why}."),
        ("mta-sts-policy", "https://mta-sts.example.com/.well-known/mta-sts.txt"): (
            "inconclusive", f"Could not look up the addresses of mta-sts.example.com: {why}."),
        ("mx", "example.com"): ("inconclusive", f"Could not look up MX of example.com: {why}."),
    }
    assert check.status == "inconclusive"
    assert (check.mx_hosts, check.mx_known) == ([], False)
    assert_no_advice(check)


def test_servfail_steps_are_inconclusive_and_negative_answers_keep_their_findings(
        failing: str) -> None:
    check = run("partial.example", Options(nameserver=failing, timeout=2))
    steps = steps_of(check)
    why = f"SERVFAIL (server {failing})"
    assert steps[("tlsrpt-record", "_smtp._tls.partial.example")][0] == "ok"
    assert steps[("tlsrpt-rua", "mailto:tls@flaky.example")] == (
        "inconclusive", f"Could not look up MX of flaky.example: {why}.")
    assert steps[("tlsrpt-rua", "https://flakyweb.example/tlsrpt")] == (
        "inconclusive", f"Could not look up the addresses of flakyweb.example: {why}.")
    assert steps[("mta-sts-record", "_mta-sts.partial.example")] == (
        "inconclusive", f"Could not look up TXT of _mta-sts.partial.example: {why}.")
    # mta-sts.partial.example does not exist (NXDOMAIN): today's error and advice.
    policy = [s for s in check.steps if s.step == "mta-sts-policy"]
    assert [(s.status, s.line) for s in policy] == [
        ("error", "mta-sts.partial.example has no address: senders cannot fetch the policy.")]
    assert policy[0].fix[0].startswith("Publish A/AAAA records for mta-sts.partial.example")
    assert steps[("mx", "mx1.partial.example")] == (
        "inconclusive", f"Could not look up the addresses of MX mx1.partial.example: {why}.")
    assert steps[("mx", "mx2.partial.example")] == (
        "error", "MX mx2.partial.example has no address record.")
    (tlsa,) = [s for s in check.steps if s.target == "_25._tcp.mx2.partial.example"]
    assert (tlsa.status, tlsa.line) == (
        "inconclusive", f"Could not look up TLSA of _25._tcp.mx2.partial.example: {why}.")
    assert "dnssec-invalid" in tlsa.details[0]  # a validating resolver's SERVFAIL
    assert steps[("dane", "_25._tcp.mx1.partial.example")][0] == "ok"  # NXDOMAIN: no DANE
    assert check.status == "error"  # the negative answers are conclusive errors
    assert check.mx_hosts == ["mx1.partial.example", "mx2.partial.example"] and check.mx_known
    assert_no_advice(check)


def test_nxdomain_and_nodata_are_negative_answers(failing: str) -> None:
    nodata = steps_of(run("nodata.example", Options(nameserver=failing, timeout=2)))
    assert nodata[("tlsrpt-record", "_smtp._tls.nodata.example")] == (
        "error", "No TLS-RPT record at _smtp._tls.nodata.example.")
    assert nodata[("mx", "nodata.example")] == (
        "error", "nodata.example has no MX hosts to check.")
    gone = run("gone.example", Options(nameserver=failing, timeout=2))
    assert steps_of(gone)[("mx", "gone.example")] == (
        "error", "gone.example has no MX hosts to check.")
    assert gone.status == "error" and gone.mx_known
    assert not any(s.status == "inconclusive" for s in gone.steps)


def test_the_cli_says_inconclusive_and_why_and_exits_75() -> None:
    with silent_server() as address:
        done = tlsscope("check", "example.com", "--nameserver", address, "--timeout", "0.3",
                        "--no-save")
        assert done.returncode == 75, done.stderr
        out = done.stdout.decode()
        assert "tlsscope check example.com  ? INCONCLUSIVE   0 error(s), 0 warning(s), " \
               "4 inconclusive, 0 ok" in out
        assert "MX: unknown (the lookup got no answer)" in out
        assert "DNS timeout after 0.3 s" in out
        assert "Inconclusive: 4 step(s) could not be checked" in out
        assert "publish" not in out.lower() and "has no" not in out
        as_json = tlsscope("check", "example.com", "--nameserver", address, "--timeout", "0.3",
                           "--no-save", "--json")
    assert as_json.returncode == 75
    found = json.loads(as_json.stdout)
    assert found["status"] == "inconclusive" and found["mx_known"] is False
    (mx,) = [s for s in found["steps"] if s["step"] == "mx"]
    # the first lookup timed out; the resolver is not asked again in this check
    assert mx["line"] == (f"Could not look up MX of example.com: DNS timeout after 0.3 s "
                          f"(server {address}); not asked again for 60 s.")


def test_the_web_check_result_says_inconclusive_and_why() -> None:
    from tlsscope.web.i18n import Words
    from tlsscope.web.pages.site import templates

    with closed_port() as address:
        check = run("example.com", Options(nameserver=address, timeout=1))
    template = templates.env.get_template("check_result.html")
    html = template.render(check=check, w=Words("en"))
    assert 'class="badge st-inconclusive">inconclusive</span>' in html
    assert "4 step(s) could not be checked: a DNS lookup got no answer" in html
    assert "not as the domain&#39;s live evidence" in html
    assert f"Could not look up MX of example.com: connection refused (server {address})." in html
    pt = template.render(check=check, w=Words("pt"))
    assert ">inconclusivo</span>" in pt and "4 passo(s) não puderam ser verificados" in pt
