"""The explanation catalog: complete in every language, and right about real reason codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tlsscope.analyze import catalog
from tlsscope.analyze.catalog import MODES, classify_reason, explain, languages, lookup
from tlsscope.report import KNOWN_RESULT_TYPES

FIX = Path(__file__).parents[1] / "fixtures"
LANGS = languages()


def test_every_rfc_result_type_has_an_entry() -> None:
    assert set(catalog._data("entries")) == KNOWN_RESULT_TYPES
    assert LANGS == ["en", "pt"]


@pytest.mark.parametrize("lang", LANGS)
def test_every_language_covers_every_key(lang: str) -> None:
    texts = catalog._data(lang)
    entries = catalog._data("entries")
    for result_type, entry in entries.items():
        words = texts["result"][result_type]
        assert words["title"] and words["meaning"] and words["fix"], result_type
        assert set(words["effect"]) == set(MODES), result_type
        assert set(entry["severity"]) == set(MODES), result_type
        assert set(entry["severity"].values()) <= {"critical", "high", "medium", "info"}
        for cause in entry["causes"]:
            assert texts["cause"][cause]["text"] and texts["cause"][cause]["confirm"], cause
    for rule in catalog._data("reasons")["reason"]:
        assert texts["reason"][rule["id"]], rule["id"]
        assert rule["result_type"] in entries, rule["id"]
    assert texts["reason"]["unrecognised"]
    for name, target in catalog._data("aliases")["alias"].items():
        if "note" in target and not target["note"].startswith("draft"):
            assert texts["note"][target["note"]], name
        if "result_type" in target:
            assert target["result_type"] in entries, name
        if "reason" in target:
            assert target["reason"] in texts["reason"], name
    assert set(texts["unknown"]["effect"]) == set(MODES)


def test_portuguese_is_written_not_copied() -> None:
    for result_type in KNOWN_RESULT_TYPES:
        en, pt = explain(result_type, "enforce", "en"), explain(result_type, "enforce", "pt")
        assert en.title != pt.title and en.meaning != pt.meaning and en.fix != pt.fix
        assert [c.text for c in en.causes] != [c.text for c in pt.causes]
        assert en.severity == pt.severity and en.rfc == pt.rfc


def test_severity_and_effect_depend_on_the_mode() -> None:
    mismatch = {m: explain("certificate-host-mismatch", m) for m in MODES}
    assert [mismatch[m].severity for m in MODES] == ["critical", "high", "critical", "medium"]
    assert "testing" in mismatch["testing"].effect or "delivered" in mismatch["testing"].effect
    assert mismatch["enforce"].effect != mismatch["none"].effect


def test_placeholders_are_filled() -> None:
    fetch = explain("sts-policy-fetch-error", "enforce", "en", domain="example.com")
    assert "https://mta-sts.example.com/.well-known/mta-sts.txt" in fetch.meaning
    cert = explain("certificate-expired", "testing", "pt", mx="mx2.example.com")
    assert any("mx2.example.com:25" in c.confirm for c in cert.causes)
    for text in (json.dumps(fetch._asdict()), json.dumps(cert._asdict())):
        assert "{domain}" not in text and "{mx}" not in text


def test_starttls_is_blamed_on_the_receiving_side() -> None:
    """Some services blame the sending server; the MX is the one that did not offer it."""
    text = explain("starttls-not-supported", "enforce").meaning
    assert "your MX" in text or "MX hosts" in text


def test_unknown_result_types_get_an_honest_generic_text() -> None:
    for name in ("dane-requred", "Testing", "mx-mismatch"):
        unknown = explain(name, "enforce", "pt")
        assert not unknown.known and name in unknown.title and name in unknown.meaning
    assert explain("x-new", "none").severity == "medium"
    assert explain("x-new", "enforce").severity == "high"


# failure-reason-code values seen in real reports and the RFC, and what they are
REAL_REASONS = {
    "bad https response code: 404": ("policy-http-status", "HTTP 404"),
    "bad https response code: 500": ("policy-http-status", "HTTP 500"),
    'unable to do http request: Get "https://mta-sts.example.com/.well-known/mta-sts.txt": '
    "context deadline exceeded (Client.Timeout exceeded while awaiting headers)":
        ("timeout", "timed out"),
    "X509_V_ERR_PROXY_PATH_LENGTH_EXCEEDED": ("chain-too-long", "path-length"),
    "X509_V_ERR_CERT_HAS_EXPIRED": ("cert-expired", "expired"),
    "X509_V_ERR_HOSTNAME_MISMATCH": ("hostname-mismatch", "does not name"),
    "TLS alert: handshake_failure (40)": ("handshake-failure", "handshake"),
    "X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY": ("missing-intermediate", "intermediate"),
    "x509: certificate signed by unknown authority": ("missing-intermediate", "intermediate"),
    "x509: certificate is valid for mail.example.net, not mx.example.com":
        ("hostname-mismatch", "does not name"),
    "DANE-TA(2) name check: no DNS-ID matches mx2.example.com or example.com":
        ("hostname-mismatch", "does not name"),
    "no TLSA record matched the presented certificate chain": ("tlsa-no-match", "TLSA"),
    "TLSA lookup _25._tcp.mx1.example.com: SERVFAIL (DNSSEC bogus)": ("dnssec-bogus", "DNSSEC"),
    "4.7.5 [internal] SSL certificate subject does not match host":
        ("hostname-mismatch", "does not name"),
    "dial tcp 192.0.2.1:443: connect: connection refused": ("connection-failure", "refused"),
    "lookup mta-sts.example.com: no such host": ("dns-failure", "DNS"),
}


@pytest.mark.parametrize("raw", sorted(REAL_REASONS))
def test_real_reason_codes_map_to_causes(raw: str) -> None:
    expected_id, fragment = REAL_REASONS[raw]
    match = classify_reason(raw)
    assert match.id == expected_id
    assert fragment.lower() in match.text.lower() or fragment.lower() in match.id
    assert match.raw == raw


def test_reason_codes_in_the_real_samples_are_all_recognised() -> None:
    codes = set()
    for path in (FIX / "real").glob("*.json"):
        for entry in json.loads(path.read_bytes())["policies"]:
            for row in entry.get("failure-details") or []:
                if row.get("failure-reason-code"):
                    codes.add(row["failure-reason-code"])
    assert codes
    assert all(classify_reason(code).id is not None for code in codes), codes


def test_unrecognised_is_said_honestly() -> None:
    for lang in LANGS:
        match = classify_reason("the gremlins ate it", lang)
        assert match.id is None and match.result_type is None
        assert match.text == catalog._data(lang)["reason"]["unrecognised"]


SEED_NAMES = ["certificate expired", "certificate not yet valid", "certificate revoked",
              "certificate untrusted", "invalid signature", "unsupported certificate",
              "hostname mismatch", "insecure cipher", "protocol version mismatch",
              "no shared cipher suite", "handshake failure", "unexpected message",
              "mta_sts_policy_not_found", "mta_sts_policy_invalid", "mta_sts_fetch_error",
              "mta_sts_connection_failure", "mta_sts_invalid_hostname", "mta_sts_policy_upgrade"]


@pytest.mark.parametrize("name", SEED_NAMES)
def test_every_name_from_vendor_material_is_found(name: str) -> None:
    alias = lookup(name)
    assert alias is not None, name
    assert alias.result_type or alias.reason or alias.note
    if alias.result_type:
        assert explain(alias.result_type).known
    if alias.note and alias.note in catalog._data("en")["note"]:
        assert catalog.note(alias.note, "pt")


def test_result_type_names_are_their_own_aliases() -> None:
    assert lookup("STS_POLICY_FETCH_ERROR") == ("sts-policy-fetch-error", "sts-policy-fetch-error",
                                               None, None)
    assert lookup("no such failure") is None


def test_long_lists_of_names_are_cut_and_counted() -> None:
    from tlsscope.analyze.catalog import Words

    names = [f"Sender {n}" for n in range(1, 1_208)]
    assert Words("en").names(names[:3], 5) == "Sender 1, Sender 2 and Sender 3"
    assert Words("en").names(names, 2) == "Sender 1, Sender 2 and 1,205 others"
    assert Words("pt").names(names, 2) == "Sender 1, Sender 2 e outros 1.205"
