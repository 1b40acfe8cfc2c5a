"""Every real-world quirk (shared/spec/REAL-WORLD-QUIRKS.md) and every reader error, one fixture
each (tests/fixtures/quirks, written by tests/fixtures/make_quirks.py), with what must happen."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from tlsscope.parse import Outcome, read_input

QUIRKS = Path(__file__).parents[1] / "fixtures" / "quirks"

A, R, N = Outcome.ACCEPTED, Outcome.REJECTED, Outcome.NOT_A_REPORT

# fixture: (outcome, number of reports, warning codes that must appear, error codes)
EXPECT: dict[str, tuple[Outcome, int, set[str], set[str]]] = {
    # §2.1 mx-host: array, string, stringified array, [], null, absent, "mx:" prefix, draft key
    "mx-host-string.json": (A, 1, {"string_not_list"}, set()),
    "mx-host-stringified-list.json": (A, 1, {"stringified_list"}, set()),
    "mx-host-empty.json": (A, 1, set(), set()),
    "mx-host-absent.json": (A, 1, set(), set()),
    "mx-host-null.json": (A, 1, set(), set()),
    "mx-host-policy-prefix.json": (A, 1, {"mx_host_prefix"}, set()),
    "mx-host-pattern-key.json": (A, 1, {"nonstandard_name"}, set()),
    # §2.2 policy-string
    "tlsa-json-array-in-string.json": (A, 1, {"tlsa_json_array_string"}, set()),
    "tlsa-one-per-element.json": (A, 1, set(), set()),
    "policy-string-order-spacing.json": (A, 1, set(), set()),
    "policy-string-absent-fetch-error.json": (A, 1, set(), set()),
    "policy-string-one-multiline-element.json": (A, 1, {"sts_policy_multiline"}, set()),
    "policy-string-invalid-policy.json": (
        A, 1, {"sts_policy_version", "sts_policy_mode", "sts_policy_max_age"}, set()),
    # §2.3, §2.4
    "policy-domain-missing.json": (A, 1, {"missing_policy_domain"}, set()),
    "contact-info-null.json": (A, 1, {"missing_contact_info"}, set()),
    "contact-info-absent.json": (A, 1, {"missing_contact_info"}, set()),
    # §2.5 optional failure fields
    "detail-fields-null.json": (A, 1, set(), set()),
    "detail-only-type-and-count.json": (A, 1, set(), set()),
    "detail-without-result-type.json": (A, 1, {"missing_result_type"}, set()),
    "detail-helo-multiline.json": (A, 1, set(), set()),
    # §2.6 counts
    "counts-details-exceed-total.json": (A, 1, {"failure_sum_mismatch"}, set()),
    "counts-details-below-total.json": (A, 1, {"failure_sum_mismatch"}, set()),
    "counts-failures-no-details.json": (A, 1, {"missing_failure_details"}, set()),
    "counts-huge.json": (R, 0, set(), {"invalid_count"}),  # 2^70: more than 2^63-1
    "counts-beyond-ijson.json": (A, 1, {"count_beyond_ijson"}, set()),
    "counts-as-strings.json": (A, 1, {"coerced_count"}, set()),
    "counts-integral-decimal.json": (A, 1, {"coerced_count"}, set()),
    # §2.7 dates
    "date-no-timezone.json": (A, 1, {"date_format"}, set()),
    "date-next-midnight-end.json": (A, 1, set(), set()),
    "date-unaligned-window.json": (A, 1, set(), set()),
    "date-offset-and-fraction.json": (A, 1, set(), set()),
    "date-offset-previous-day.json": (A, 1, set(), set()),
    "date-lowercase-and-space.json": (A, 1, set(), set()),
    "date-end-before-start.json": (A, 1, {"end_before_start"}, set()),
    # §2.8 report-id
    "report-id-trailing-plus.json": (A, 1, set(), set()),
    # §2.9 names
    "draft-detail-names.json": (A, 1, {"nonstandard_name"}, set()),
    "draft-summary-names.json": (A, 1, {"nonstandard_name"}, set()),
    "draft-single-policy.json": (A, 1, {"draft_single_policy"}, set()),
    "additional-information-not-uri.json": (A, 1, set(), set()),
    "unknown-members.json": (A, 1, {"unknown_member"}, set()),
    "both-key-and-alias.json": (A, 1, {"alias_ignored"}, set()),
    # §2.10 values
    "policy-type-unknown.json": (A, 1, {"unknown_policy_type"}, set()),
    "policy-type-number.json": (A, 1, {"coerced_to_string", "unknown_policy_type"}, set()),
    "result-type-unknown.json": (A, 1, {"unknown_result_type"}, set()),
    "result-type-draft-name.json": (A, 1, {"unknown_result_type"}, set()),
    "idn-u-labels.json": (A, 1, {"domain_name"}, set()),
    "ip-invalid-and-noncanonical.json": (A, 1, {"ip_address"}, set()),
    "reason-code-go-error.json": (A, 1, set(), set()),
    "hostile-strings.json": (A, 1, set(), set()),
    # §3 encodings and containers
    "bom.json": (A, 1, {"utf8_bom"}, set()),
    "utf16.json": (A, 1, {"not_utf8"}, set()),
    "pretty-sorted.json": (A, 1, set(), set()),
    "report.json.gz": (A, 1, set(), set()),
    "gzip-trailing-crlf.json.gz": (A, 1, {"trailing_bytes"}, set()),
    "gzip-two-members.json.gz": (A, 1, set(), set()),
    "gzip-sync-flush.json.gz": (A, 1, set(), set()),
    "named-wrongly.json": (A, 1, set(), set()),
    "report.zip": (A, 1, set(), set()),
    "zip-of-gzip.zip": (A, 1, set(), set()),
    "array-of-reports.json": (A, 2, {"report_array"}, set()),
    # §4 mail
    "mail-rfc-shape.eml": (A, 1, set(), set()),
    "mail-crlf.eml": (A, 1, set(), set()),
    "mail-mozilla-status.eml": (A, 1, set(), set()),
    "mail-report-type-unquoted-folded.eml": (A, 1, set(), set()),
    "mail-html-first-part.eml": (A, 1, set(), set()),
    "mail-name-only-in-disposition.eml": (A, 1, set(), set()),
    "mail-rfc2231-filename.eml": (A, 1, set(), set()),
    "mail-type-octet-stream.eml": (A, 1, {"nonstandard_media_type"}, set()),
    "mail-type-gzip.eml": (A, 1, {"nonstandard_media_type"}, set()),
    "mail-type-x-gzip.eml": (A, 1, {"nonstandard_media_type"}, set()),
    "mail-type-zip.eml": (A, 1, {"nonstandard_media_type"}, set()),
    "mail-type-x-zip-compressed.eml": (A, 1, {"nonstandard_media_type"}, set()),
    "mail-type-tlsrpt-zip.eml": (A, 1, {"nonstandard_media_type"}, set()),
    "mail-json-7bit.eml": (A, 1, set(), set()),
    "mail-tlsrpt-no-suffix.eml": (A, 1, {"nonstandard_media_type"}, set()),
    "mail-json-quoted-printable.eml": (A, 1, set(), set()),
    "mail-json-labelled-gzip.eml": (A, 1, {"declared_type_mismatch"}, set()),
    "mail-contenttype-no-hyphen.eml": (A, 1, {"undeclared_base64"}, set()),
    "mail-missing-closing-boundary.eml": (A, 1, set(), set()),
    "mail-multipart-mixed.eml": (A, 1, {"not_multipart_report"}, set()),
    "mail-subject-bare-id.eml": (A, 1, set(), set()),
    "mail-header-mismatch.eml": (A, 1, {"header_mismatch"}, set()),
    "mail-no-tls-headers.eml": (A, 1, {"missing_header"}, set()),
    "mail-filename-mismatch.eml": (A, 1, {"filename_mismatch"}, set()),
    "mail-filename-unconventional.eml": (A, 1, {"filename_convention"}, set()),
    "mail-two-reports.eml": (A, 2, {"subject_report_id_mismatch"}, set()),
    "mail-forwarded-rfc822.eml": (A, 1, set(), set()),
    "mail-forwarded-two.eml": (A, 2, {"subject_report_id_mismatch"}, set()),
    "mail-with-bad-report.eml": (R, 1, set(), {"invalid_json"}),
    "mail-not-report-cron.eml": (N, 0, {"not_a_report"}, set()),
    "mail-dmarc-aggregate.eml": (N, 0, {"not_a_report"}, set()),
    "reports.mbox": (A, 2, {"ignored_content"}, set()),
    # errors
    "error-invalid-json.json": (R, 0, set(), {"invalid_json"}),
    "error-truncated-json.json": (R, 0, set(), {"invalid_json"}),
    "error-not-json-text.json": (R, 0, set(), {"invalid_json"}),
    "error-truncated.json.gz": (R, 0, set(), {"truncated_gzip"}),
    "error-corrupt.json.gz": (R, 0, set(), {"corrupt_gzip"}),
    "error-corrupt.zip": (R, 0, set(), {"corrupt_zip"}),
    "error-missing-report-id.json": (R, 0, set(), {"missing_member"}),
    "error-missing-organization-name.json": (R, 0, set(), {"missing_member"}),
    "error-missing-date-range.json": (R, 0, set(), {"missing_member"}),
    "error-missing-policies.json": (R, 0, set(), {"missing_member"}),
    "error-missing-summary.json": (R, 0, set(), {"missing_member"}),
    "error-missing-summary-count.json": (R, 0, set(), {"missing_member"}),
    "error-negative-count.json": (R, 0, set(), {"invalid_count"}),
    "error-fractional-count.json": (R, 0, set(), {"invalid_count"}),
    "error-boolean-count.json": (R, 0, set(), {"invalid_count"}),
    "error-nan-count.json": (R, 0, set(), {"invalid_json"}),
    "error-policies-not-list.json": (R, 0, set(), {"wrong_type"}),
    "error-bad-date.json": (R, 0, set(), {"invalid_datetime"}),
    "error-two-problems.json": (R, 0, set(), {"missing_member", "invalid_count"}),
    # not reports
    "not-dmarc-aggregate.xml": (N, 0, {"not_a_report"}, set()),
    "not-dmarc-aggregate.xml.gz": (N, 0, {"not_a_report"}, set()),
    "not-other-json.json": (N, 0, {"not_a_report"}, set()),
    "not-empty.json": (N, 0, {"not_a_report"}, set()),
    "not-html.html": (N, 0, {"not_a_report"}, set()),
}


def test_every_fixture_has_an_expectation() -> None:
    on_disk = {p.name for p in QUIRKS.iterdir()}
    assert on_disk == set(EXPECT)


def test_fixtures_match_their_generator() -> None:
    spec = importlib.util.spec_from_file_location("make_quirks", QUIRKS.parent / "make_quirks.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    built = module.build()
    for name, data in built.items():
        assert (QUIRKS / name).read_bytes() == data, name


def _codes(result: object) -> tuple[set[str], set[str]]:
    warnings = {f.code for f in result.warnings}  # type: ignore[attr-defined]
    for read in result.reports:  # type: ignore[attr-defined]
        warnings |= {f.code for f in read.warnings}
    return warnings, {f.code for f in result.errors}  # type: ignore[attr-defined]


@pytest.mark.parametrize("name", sorted(EXPECT))
def test_quirk(name: str) -> None:
    outcome, count, must_warn, must_fail = EXPECT[name]
    path = QUIRKS / name
    result = read_input(path.read_bytes(), str(path), filename=name)
    warnings, errors = _codes(result)
    assert result.outcome is outcome, (result.errors, result.warnings)
    assert len(result.reports) == count
    assert must_warn <= warnings, warnings
    assert errors == must_fail
    for finding in result.errors:
        assert finding.message and " " in finding.message
    if outcome is Outcome.ACCEPTED and not must_warn:
        assert not warnings, f"unexpected warnings {warnings}"
