"""`tlsscope explain`, run as a real process: aliases, reason codes, modes, languages, errors."""

from __future__ import annotations

import json

import pytest

from tests.support.cli import tlsscope

pytestmark = pytest.mark.server


def explain_json(*args: str) -> dict[str, object]:
    done = tlsscope("explain", "--json", *args)
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout)
    return result


def test_result_type_is_explained_for_the_chosen_mode() -> None:
    enforce = explain_json("certificate-expired")
    testing = explain_json("certificate-expired", "--mode", "testing")
    assert enforce["alias"]["result_type"] == "certificate-expired"  # type: ignore[index]
    assert enforce["explanation"]["known"] is True  # type: ignore[index]
    assert "expired" in enforce["explanation"]["title"]  # type: ignore[index]
    assert enforce["explanation"]["effect"] != testing["explanation"]["effect"]  # type: ignore[index]


def test_other_tools_names_are_resolved_to_the_rfc_result_type() -> None:
    found = explain_json("mta_sts_fetch_error")
    assert found["alias"]["result_type"] == "sts-policy-fetch-error"  # type: ignore[index]
    assert found["explanation"]["result_type"] == "sts-policy-fetch-error"  # type: ignore[index]


def test_alias_without_result_type_is_explained_through_its_reason() -> None:
    found = explain_json("certificate revoked")
    assert found["alias"]["reason"] == "cert-revoked"  # type: ignore[index]
    assert "revoked" in str(found["reason"])
    assert found["explanation"]["result_type"] == "certificate-not-trusted"  # type: ignore[index]


def test_openssl_reason_code_is_classified() -> None:
    found = explain_json("X509_V_ERR_CERT_HAS_EXPIRED")
    assert found["reason"]["id"] == "cert-expired"  # type: ignore[index]
    assert found["explanation"]["result_type"] == "certificate-expired"  # type: ignore[index]


def test_portuguese_text_is_served() -> None:
    done = tlsscope("explain", "starttls-not-supported", "--lang", "pt")
    assert done.returncode == 0
    text = done.stdout.decode()
    assert "criptografia" in text
    assert "Efeito:" in text and "Correção:" in text and "Effect:" not in text


def test_unknown_name_is_a_clear_error() -> None:
    done = tlsscope("explain", "nonsense-xyz")
    assert done.returncode == 1
    assert b"nonsense-xyz" in done.stderr
    assert b"Traceback" not in done.stderr


def test_bad_mode_and_language_are_usage_errors() -> None:
    for args in (("--mode", "bogus"), ("--lang", "xx")):
        done = tlsscope("explain", "certificate-expired", *args)
        assert done.returncode == 2
        assert args[0].encode() in done.stderr


def test_causes_are_objects_with_a_confirming_step() -> None:
    causes = explain_json("certificate-expired")["explanation"]["causes"]  # type: ignore[index]
    assert causes and all(set(c) == {"id", "text", "confirm"} for c in causes)
    assert all(c["confirm"] for c in causes)
