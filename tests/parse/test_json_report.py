"""The JSON reader: every RFC 8460 §4 field kept, values normalised, originals and extras kept."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import msgspec
import pytest

from tlsscope.errors import ReportError
from tlsscope.parse.json_report import NotAReport, read_json
from tlsscope.parse.results import ReadReport

FIX = Path(__file__).parents[1] / "fixtures"
REAL_JSON = sorted((FIX / "real").glob("*.json"))


def one(data: bytes) -> ReadReport:
    results = read_json(data)
    assert len(results) == 1
    assert isinstance(results[0], ReadReport), results[0]
    return results[0]


def quirk(name: str) -> ReadReport:
    return one((FIX / "quirks" / name).read_bytes())


def _drop_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_nulls(v) for v in value]
    return value


@pytest.mark.parametrize("path", REAL_JSON, ids=lambda p: p.name)
def test_real_reports_round_trip_losslessly(path: Path) -> None:
    """Re-encoding the model (plus originals) gives back every member the sender wrote."""
    read = one(path.read_bytes())
    original = _drop_nulls(json.loads(path.read_bytes()))
    rebuilt = _drop_nulls(msgspec.to_builtins(read.report))
    for where, value in read.originals.items():  # put back what the reader normalised
        _set(rebuilt, where, value)
    for entry in rebuilt["policies"]:
        if isinstance(original["policies"][0]["policy"].get("mx-host"), str):
            entry["policy"]["mx-host"] = entry["policy"]["mx-host"][0]
    _strip_dates(original)
    _strip_dates(rebuilt)
    assert rebuilt == original


def _set(doc: Any, path: str, value: Any) -> None:
    parts = path.removeprefix("$.").replace("]", "").replace("[", ".").split(".")
    for part in parts[:-1]:
        doc = doc[int(part)] if part.isdigit() else doc[part]
    last = parts[-1]
    if last.isdigit():
        doc[int(last)] = value
    else:
        doc[last] = value


def _strip_dates(doc: dict[str, Any]) -> None:
    for key in ("start-datetime", "end-datetime"):
        doc["date-range"][key] = doc["date-range"][key].rstrip("Z")


def test_mx_host_list_string_and_absent() -> None:
    assert quirk("mx-host-string.json").report.policies[0].policy.mx_host == ["mx1.example.com"]
    assert quirk("mx-host-stringified-list.json").report.policies[0].policy.mx_host == [
        "mx1.example.com", "mx2.example.com"]
    assert quirk("mx-host-absent.json").report.policies[0].policy.mx_host is None
    assert quirk("mx-host-null.json").report.policies[0].policy.mx_host is None
    assert quirk("mx-host-empty.json").report.policies[0].policy.mx_host == []
    assert quirk("mx-host-policy-prefix.json").report.policies[0].policy.mx_host == [
        "mx1.example.com", "mx2.example.com"]
    assert quirk("mx-host-pattern-key.json").report.policies[0].policy.mx_host == [
        "mx1.example.com", "mx2.example.com"]


def test_sts_policy_fields_from_policy_string_in_any_order() -> None:
    policy = quirk("policy-string-order-spacing.json").report.policies[0].policy
    assert policy.sts is not None
    assert (policy.sts.mode, policy.sts.max_age) == ("testing", 604800)
    assert policy.sts.mx_patterns == ("mx1.example.com", "mx2.example.com")
    fetch_error = quirk("policy-string-absent-fetch-error.json").report.policies[0]
    assert fetch_error.policy.sts is None and fetch_error.details[0].sessions == 3


def test_microsoft_tlsa_json_array_string_is_split_into_records() -> None:
    report = quirk("tlsa-json-array-in-string.json").report
    tlsa = report.policies[1].policy
    assert len(tlsa.policy_string or []) == 1
    assert [str(r) for r in tlsa.tlsa_records] == [
        "3 1 1 6007EEE553E85D8DF007A845D19EC343283D4E416E9A33F9EF3040C8B7C285BC",
        "3 1 1 837C773D54C2E2BD71871A3FC352BE8214D5646CBAE5E3091401A7274717998B"]
    # the same sessions under sts and tlsa: the domain total counts them once
    assert report.domain_totals() == {"example.com": (900, 12)}


def test_real_microsoft_sts_plus_tlsa_domain_total_not_doubled() -> None:
    read = one((FIX / "real" / "microsoft-dmarc-report-viewer-sts-plus-tlsa.json").read_bytes())
    assert read.report.domain_totals() == {"random.net": (2, 0)}
    assert len(read.report.policies[1].policy.tlsa_records) == 2
    # equal sts and tlsa totals: plainly the same sessions, nothing ambiguous to warn about
    assert "sts_tlsa_overlap" not in {w.code for w in read.warnings}


def test_optional_failure_fields_absent_or_null_read_as_none() -> None:
    row = quirk("detail-fields-null.json").report.policies[0].details[0]
    assert row.receiving_ip is None and row.sending_mta_ip is None
    assert row.failure_reason_code is None and row.additional_information is None
    assert row.result_type == "certificate-expired" and row.failed_session_count == 10


def test_helo_keeps_every_line() -> None:
    row = quirk("detail-helo-multiline.json").report.policies[0].details[0]
    assert row.receiving_mx_helo == "250-mx2.example.com Hello\n250-PIPELINING\n250 STARTTLS"


def test_counts_are_exact_and_coerced_with_the_original_kept() -> None:
    assert quirk("counts-beyond-ijson.json").report.policies[0].summary \
        .total_successful_session_count == 2**60
    read = quirk("counts-as-strings.json")
    assert read.report.policies[0].summary.total_successful_session_count == 900
    assert read.report.policies[0].details[0].failed_session_count == 10
    assert read.originals["$.policies[0].failure-details[0].failed-session-count"] == " 10"


@pytest.mark.parametrize(("name", "path", "fragment"), [
    ("error-negative-count.json", "$.policies[0].failure-details[1].failed-session-count",
     "negative"),
    ("error-fractional-count.json", "$.policies[0].summary.total-successful-session-count",
     "fractional"),
    ("error-boolean-count.json", "$.policies[0].failure-details[0].failed-session-count",
     "wrong type"),
    ("counts-huge.json", "$.policies[0].summary.total-successful-session-count",
     "is 1180591620717411303424, more than 2^63-1"),
])
def test_bad_counts_reject_naming_the_field(name: str, path: str, fragment: str) -> None:
    (rejection,) = read_json((FIX / "quirks" / name).read_bytes())
    assert isinstance(rejection, list)
    assert [(e.code, e.path) for e in rejection] == [("invalid_count", path)]
    assert fragment in rejection[0].message


def test_invalid_json_error_gives_the_position() -> None:
    with pytest.raises(ReportError) as caught:
        read_json((FIX / "quirks" / "error-invalid-json.json").read_bytes())
    assert caught.value.code == "invalid_json"
    assert caught.value.path.startswith("line 1 column ")


def test_not_a_report_says_what_it_looks_like() -> None:
    with pytest.raises(NotAReport, match="without TLS-RPT members"):
        read_json(b'{"name": "x"}')
    with pytest.raises(NotAReport, match="DMARC"):
        read_json(b'{"feedback": {"report_metadata": {}}}')


def test_extras_and_aliases_are_kept() -> None:
    read = quirk("unknown-members.json")
    assert read.extras == {"$": {"x-vendor": {"build": 7}}, "$.policies[0].policy":
                           {"policy-id": "abc"}, "$.policies[0].failure-details[0]":
                           {"x-attempts": [1, 2]}}
    both = quirk("both-key-and-alias.json")
    row = both.report.policies[0].details[0]
    assert row.failure_reason_code == "X509_V_ERR_CERT_HAS_EXPIRED"
    assert both.extras["$.policies[0].failure-details[0]"] == {"failure-error-code": "OLD"}
    draft = quirk("draft-detail-names.json").report.policies[0].details[0]
    assert draft.receiving_mx_hostname == "mx2.example.com"
    assert draft.failure_reason_code == "X509_V_ERR_CERT_HAS_EXPIRED"
    assert draft.additional_information == "https://reports.mailer.example/info?id=1"


def test_unknown_types_are_kept_verbatim_and_counted() -> None:
    report = quirk("result-type-unknown.json").report
    assert report.policies[0].details[0].result_type == "dane-requred"
    assert report.domain_totals()["example.com"] == (900, 12)
    assert quirk("policy-type-unknown.json").report.policies[0].policy.policy_type == \
        "invalid-policy-type"
    draft = quirk("result-type-draft-name.json")
    assert "certificate-expired" in draft.warnings[0].message


def test_idn_converted_to_a_labels_with_originals() -> None:
    read = quirk("idn-u-labels.json")
    policy = read.report.policies[0].policy
    assert policy.policy_domain == "xn--bcher-kva.example"
    assert policy.mx_host == ["*.xn--bcher-kva.example"]
    assert read.report.policies[0].details[0].receiving_mx_hostname == "mx.xn--bcher-kva.example"
    assert read.originals["$.policies[0].policy.policy-domain"] == "bücher.example"
    assert read.originals["$.policies[0].policy.mx-host[0]"] == "*.bücher.example"


def test_ips_invalid_kept_verbatim_noncanonical_normalised() -> None:
    read = quirk("ip-invalid-and-noncanonical.json")
    row = read.report.policies[0].details[0]
    assert row.sending_mta_ip == "198.051.100.017"
    assert row.receiving_ip == "2001:db8::25"
    assert read.originals["$.policies[0].failure-details[0].receiving-ip"] == "2001:DB8:0:0::25"


def test_hostile_strings_are_kept_as_data() -> None:
    report = quirk("hostile-strings.json").report
    assert report.organization_name.startswith("<script>")
    assert "\x1b[31m" in report.organization_name


def test_utf8_bom_and_utf16_are_read() -> None:
    assert quirk("bom.json").report.report_id == "2025-03-11T00:00:00Z_example.com"
    assert quirk("utf16.json").report.report_id == "2025-03-11T00:00:00Z_example.com"


def test_draft_single_policy_is_wrapped() -> None:
    report = quirk("draft-single-policy.json").report
    assert len(report.policies) == 1
    assert report.policies[0].summary.total_failure_session_count == 12


def test_fast_and_tolerant_paths_agree() -> None:
    """A clean report read by either path gives the same model and no findings."""
    data = (FIX / "quirks" / "pretty-sorted.json").read_bytes()
    fast = one(data)
    slow = one(data.replace(b'"report-id"', b'"x-extra": 1, "report-id"', 1))
    assert fast.report == slow.report
    assert fast.warnings == []
    assert [w.code for w in slow.warnings] == ["unknown_member"]


def test_report_window_and_day_fields() -> None:
    report = quirk("date-next-midnight-end.json").report
    assert report.start == dt.datetime(2025, 3, 11, tzinfo=dt.UTC)
    assert report.end == dt.datetime(2025, 3, 12, tzinfo=dt.UTC)
    assert report.day == dt.date(2025, 3, 11)


def test_nan_error_gives_the_position() -> None:
    with pytest.raises(ReportError) as caught:
        read_json((FIX / "quirks" / "error-nan-count.json").read_bytes())
    assert caught.value.path.startswith("line 1 column ")
    assert "NaN" in caught.value.message


@pytest.mark.parametrize("name", [
    "<script>alert('pd')</script>", "=cmd|' /c calc'!a0", "", "exa mple.com", "a..b",
    "\ud800.example", "x\x00.example", "\u202eelpmaxe.com", "a" * 100_000 + ".example",
    "-lead.example", "x" * 64 + ".example", "_dmarc.example.com", "xn--zz.example",
    "192.0.2.1", "localhost", "example.123", "a.example..",
])
def test_a_policy_domain_that_is_not_a_domain_name_rejects_the_report(name: str) -> None:
    doc = json.loads((FIX / "real" / "rfc8460-appendix-example.json").read_bytes())
    doc["policies"][0]["policy"]["policy-domain"] = name
    [outcome] = read_json(json.dumps(doc).encode())
    assert not isinstance(outcome, ReadReport)
    [problem] = [f for f in outcome if f.code == "invalid_policy_domain"]
    assert problem.path == "$.policies[0].policy.policy-domain"
    assert len(problem.message) < 300  # the value is quoted, escaped and cut short
    assert "\x00" not in problem.message and "\u202e" not in problem.message


def test_u_label_and_trailing_dot_policy_domains_are_domain_names() -> None:
    doc = json.loads((FIX / "real" / "rfc8460-appendix-example.json").read_bytes())
    for name, stored in (("bücher.example", "xn--bcher-kva.example"),
                         ("Example.COM.", "Example.COM")):  # one name: no root dot
        doc["policies"][0]["policy"]["policy-domain"] = name
        read = one(json.dumps(doc).encode())
        assert read.report.policies[0].policy.policy_domain == stored


def test_a_report_dated_in_the_future_is_rejected() -> None:
    doc = json.loads((FIX / "real" / "rfc8460-appendix-example.json").read_bytes())
    start = dt.datetime.now(dt.UTC) + dt.timedelta(days=3)
    doc["date-range"] = {"start-datetime": start.strftime("%Y-%m-%dT00:00:00Z"),
                         "end-datetime": start.strftime("%Y-%m-%dT23:59:59Z")}
    [outcome] = read_json(json.dumps(doc).encode())
    assert not isinstance(outcome, ReadReport)
    assert [f.code for f in outcome] == ["future_date_range"]
    today = dt.datetime.now(dt.UTC)  # today's report, from a sender a few hours ahead: fine
    doc["date-range"] = {"start-datetime": today.strftime("%Y-%m-%dT00:00:00Z"),
                         "end-datetime": today.strftime("%Y-%m-%dT23:59:59Z")}
    assert isinstance(read_json(json.dumps(doc).encode())[0], ReadReport)
