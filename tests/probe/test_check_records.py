"""`tlsscope check`: records and the policy file, against a real DNS server and a real HTTPS
policy host (test CA) on loopback."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support.cli import tlsscope
from tests.support.fakenet import options

pytestmark = pytest.mark.server


def run(nameserver: str, domain: str) -> tuple[int, dict[str, Any]]:
    done = tlsscope("check", domain, *options(nameserver), "--json")
    return done.returncode, json.loads(done.stdout)


def policy_step(nameserver: str, domain: str) -> dict[str, Any]:
    _, found = run(nameserver, domain)
    steps: list[dict[str, Any]] = found["steps"]
    (step,) = [s for s in steps if s["step"] == "mta-sts-policy"]
    return step


def test_a_domain_with_good_records_is_clean(nameserver: str) -> None:
    code, found = run(nameserver, "good.example")
    assert code == 0 and found["status"] == "ok"
    assert [(s["step"], s["status"]) for s in found["steps"]] == [
        ("tlsrpt-record", "ok"), ("tlsrpt-rua", "ok"), ("mta-sts-record", "ok"),
        ("mta-sts-policy", "ok"), ("mx", "ok"), ("dane", "ok")]
    assert found["steps"][-2]["line"] == ("mx1.good.example offers STARTTLS with a valid, "
                                          "trusted certificate.")
    assert found["steps"][-1]["line"] == ("mx1.good.example publishes no TLSA records: DANE is "
                                          "not used.")
    assert found["steps"][-3]["line"] == ("The policy is valid: mode enforce, 1 mx line(s), "
                                          "max_age 604800; live MX: mx1.good.example.")
    assert found["steps"][1]["details"] == ["10 mx.reports.example"]


def test_two_records_and_a_missing_one(nameserver: str) -> None:
    code, found = run(nameserver, "bad.example")
    assert code == 1
    first, sts, fetch, no_mx = found["steps"]
    assert (no_mx["status"], no_mx["line"]) == ("error", "bad.example has no MX hosts to check.")
    assert (fetch["status"], fetch["line"]) == (
        "error", "mta-sts.bad.example has no address: senders cannot fetch the policy.")
    assert (first["status"], first["line"]) == (
        "error", "2 TLS-RPT records at _smtp._tls.bad.example: senders ignore them all.")
    assert (sts["status"], sts["line"]) == ("error",
                                           "No MTA-STS record at _mta-sts.bad.example.")


def test_each_rua_destination_is_checked(nameserver: str) -> None:
    code, found = run(nameserver, "lost.example")
    assert code == 1
    rua = {s["target"]: s for s in found["steps"] if s["step"] == "tlsrpt-rua"}
    assert rua["mailto:tls@nomail.example"]["status"] == "error"
    assert "neither MX nor address records" in rua["mailto:tls@nomail.example"]["line"]
    assert rua["mailto:x@aonly.example"]["status"] == "warning"
    assert rua["https://127.0.0.1:1/tlsrpt"]["status"] == "error"
    assert "does not answer over HTTPS" in rua["https://127.0.0.1:1/tlsrpt"]["line"]
    (sts,) = [s for s in found["steps"] if s["step"] == "mta-sts-record"]
    assert sts["status"] == "error" and "invalid" in sts["line"]
    assert any("1 to 32 letters or digits" in d for d in sts["details"])


def test_human_output_and_bad_nameserver(nameserver: str) -> None:
    done = tlsscope("check", "good.example", *options(nameserver))
    assert done.returncode == 0
    out = done.stdout.decode()
    assert "tlsscope check good.example  ✔ OK   0 error(s), 0 warning(s), 6 ok" in out
    for section in ("TLS-RPT record", "MTA-STS record and policy", "MX hosts", "DANE"):
        assert section in out
    assert "mx1.good.example offers STARTTLS with a valid, trusted certificate." in out
    wrong = tlsscope("check", "good.example", "--nameserver", "nonsense")
    assert wrong.returncode == 2 and b"HOST:PORT" in wrong.stderr


@pytest.mark.parametrize(("domain", "words"), [
    ("p404", "answers HTTP 404: senders report sts-policy-fetch-error"),
    ("redirect", "redirects (HTTP 301)"),
    ("big", "larger than 64 KB"),
    ("wrongname", "certificate or TLS failed: senders report sts-webpki-invalid"),
    ("broken", "invalid: senders report sts-policy-invalid"),
])
def test_each_policy_host_problem_is_named(nameserver: str, domain: str, words: str) -> None:
    step = policy_step(nameserver, f"{domain}.example")
    assert step["status"] == "error" and words in step["line"], step


def test_wrong_media_type_is_a_warning(nameserver: str) -> None:
    step = policy_step(nameserver, "media.example")
    assert step["status"] == "warning"
    assert "Content-Type is 'text/html'" in step["details"][0]


def test_live_mx_outside_the_policy(nameserver: str) -> None:
    step = policy_step(nameserver, "drift.example")
    assert step["status"] == "error"
    assert any("backup.elsewhere.example is not covered" in d for d in step["details"])
    assert step["line"].startswith("The policy does not cover MX backup.elsewhere.example")


def test_every_mx_certificate_story(nameserver: str) -> None:
    _, found = run(nameserver, "mail.example")
    steps = {s["target"].split(" ")[0]: s for s in found["steps"] if s["step"] == "mx"}
    expected = {
        "good.mail.example": ("ok", "valid, trusted certificate"),
        "plain.mail.example": ("error", "does not offer STARTTLS"),
        "expired.mail.example": ("error", "(certificate-expired)"),
        "wrongname.mail.example": ("error", "does not name wrongname.mail.example"),
        "selfsigned.mail.example": ("error", "not trusted: self-signed"),
        "soon.mail.example": ("warning", "expires in 4 days"),
        "nointermediate.mail.example": ("error", "sends no intermediate certificate"),
        "noaddress.mail.example": ("error", "has no address record"),
    }
    for host, (status, words) in expected.items():
        assert steps[host]["status"] == status, steps[host]
        assert words in steps[host]["line"], steps[host]
    # Every problem is listed, not only OpenSSL's first: the expired one names only itself,
    # the self-signed one (no names at all) is also a name mismatch.
    assert "not trusted" not in steps["expired.mail.example"]["line"]
    assert "does not name" in steps["selfsigned.mail.example"]["line"]
    assert steps["good.mail.example"]["details"][0].startswith("TLSv1.")


def test_private_addresses_are_refused_unless_allowed(nameserver: str) -> None:
    args = [a for a in options(nameserver) if a != "--allow-private"]
    done = tlsscope("check", "good.example", *args, "--json")
    assert done.returncode == 1
    steps = {s["step"]: s for s in json.loads(done.stdout)["steps"]}
    for name in ("mta-sts-policy", "mx"):
        assert steps[name]["status"] == "error"
        assert "127.0.0." in steps[name]["line"] and "refused" in steps[name]["line"]
    assert steps["tlsrpt-rua"]["status"] == "ok"  # a DNS lookup only, no connection
    # The setting allows it as the flag does.
    allowed = tlsscope("check", "good.example", *args, "--json",
                       env={"TLSSCOPE_CHECK_ALLOW_PRIVATE": "true"})
    assert allowed.returncode == 0, allowed.stdout


@pytest.mark.parametrize(("address", "refused_it"), [
    ("10.1.2.3", True), ("127.0.0.1", True), ("169.254.1.1", True), ("::1", True),
    ("fe80::1", True), ("192.0.2.1", True), ("100.64.0.1", True), ("8.8.8.8", False),
    ("2a00:1450:4001::1", False), ("not-an-ip", True),
])
def test_ssrf_guard(address: str, refused_it: bool) -> None:
    from tlsscope.probe.connect import refused

    assert (refused(address, False) is not None) == refused_it
    assert refused(address, True) is None


def test_policy_host_certificate_expiring_soon_is_a_warning(nameserver: str) -> None:
    step = policy_step(nameserver, "soon.example")
    assert step["status"] == "warning"
    assert step["details"][0].startswith("warning: the policy host's certificate expires in 4")
    good = policy_step(nameserver, "good.example")
    assert good["status"] == "ok" and "days left" in good["details"][-1]


def test_dane_records_against_the_served_certificates(nameserver: str) -> None:
    _, found = run(nameserver, "mail.example")
    dane = {s["target"].split(" ")[0].removeprefix("_25._tcp."): s for s in found["steps"]
            if s["step"] == "dane"}
    assert dane["wrongname.mail.example"]["status"] == "ok"
    assert "matches its TLSA records" in dane["wrongname.mail.example"]["line"]
    assert dane["expired.mail.example"]["status"] == "error"
    assert "tlsa-invalid" in dane["expired.mail.example"]["line"]
    assert dane["soon.mail.example"]["status"] == "warning"
    assert "no AD bit" in dane["soon.mail.example"]["line"]
    assert dane["plain.mail.example"]["status"] == "error"
    assert "dane-required" in dane["plain.mail.example"]["line"]
    assert dane["good.mail.example"]["status"] == "ok"
    assert "no TLSA records" in dane["good.mail.example"]["line"]
