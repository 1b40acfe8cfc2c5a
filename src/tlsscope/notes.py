"""What the reader says about an input or a report: errors and warnings that name the field.

A `Note` is data, not an exception: it carries a stable `code` (for programs), a `message`
(for people) and a `path` (where: a JSON path such as `$.policies[0].summary`, or a place in
the input such as `part 2` or `line 3 column 7`). The reader's notes are not the detectors'
findings (tlsscope.analyze.detectors.DomainFinding).
"""

from __future__ import annotations

import enum

import msgspec


class Severity(enum.StrEnum):
    ERROR = "error"  # the report (or input) is rejected
    WARNING = "warning"  # the report is kept; something about it deviates or disagrees


class Note(msgspec.Struct, frozen=True):
    code: str
    message: str
    path: str = ""
    severity: Severity = Severity.WARNING

    def __post_init__(self) -> None:
        if __debug__ and self.code not in CODES:  # every code is documented (docs/reader.md)
            raise ValueError(f"undocumented note code {self.code!r}")

    def at(self, prefix: str) -> Note:
        """The same note, located inside a larger input (e.g. a MIME part)."""
        path = f"{prefix} {self.path}".strip() if prefix else self.path
        return Note(self.code, self.message, path, self.severity)


def warning(code: str, message: str, path: str = "") -> Note:
    return Note(code, message, path, Severity.WARNING)


def error(code: str, message: str, path: str = "") -> Note:
    return Note(code, message, path, Severity.ERROR)


# Every code the reader can give, with what it means. docs/reader.md lists them all (a test
# checks), so that a user who meets a code can look it up.
CODES: dict[str, str] = {
    # input-level errors: the input, or the part of it named by the path, is rejected
    "input_too_large": "the raw input is over max_input_bytes",
    "unreadable_input": "the file could not be read",
    "reader_failure": "the reader itself failed (a bug); the input is kept for re-reading",
    "corrupt_gzip": "the gzip data is damaged",
    "truncated_gzip": "the gzip stream ends before its end marker",
    "corrupt_zip": "the zip archive is damaged or of an unsupported kind",
    "encrypted_zip": "a zip member is encrypted",
    "too_many_members": "a zip archive has more than max_archive_members members",
    "decompressed_too_large": "inflated data passes max_decompressed_bytes (the bomb guard)",
    "decompressed_budget_exceeded": "the input inflates past max_total_decompressed_bytes "
                                    "across all its members and layers; reading stopped there",
    "invalid_json": "the bytes are not JSON; the path gives line, column and character",
    "invalid_encoding": "the JSON text is not valid in its encoding",
    "json_too_deep": "the JSON nests arrays and objects more than 64 levels deep",
    "number_out_of_range": "a number in the JSON is too large or too long to be read at all",
    "mime_too_deep": "the mail nests parts or forwarded messages more than 20 levels deep",
    # report-level errors: this report is rejected
    "missing_member": "a required member (RFC 8460 §4.4) is missing or null",
    "invalid_policy_domain": "policy-domain is not a domain name (LDH labels, or IDNA U-labels)",
    "invalid_report_domain": "the mail's TLS-Report-Domain header is not a domain name",
    "wrong_type": "a member has a type that cannot be read as the RFC's",
    "invalid_count": "a session count is negative, fractional, not a number, or above 2^63-1 "
                     "(alone, or the report's counts summed)",
    "invalid_datetime": "a date-time is not RFC 3339",
    "date_out_of_range": "a date-time falls outside the years 1 to 9999 once converted to UTC",
    "too_many_rows": "a report lists more failure-details rows (or policies) than "
                     "max_failure_details",
    "future_date_range": "the date range starts after the time the report was read",
    "value_too_long": "a string of the report is longer than max_field_chars",
    # warnings about the input and its envelope
    "not_a_report": "the input is not a TLS-RPT report; the message says what it looks like",
    "ignored_content": "part of the input is not a report and was passed over",
    "trailing_bytes": "stray bytes after the gzip stream were ignored",
    "undeclared_base64": "base64 data without a Content-Transfer-Encoding was decoded",
    "declared_type_mismatch": "the declared media type disagrees with the content",
    "missing_media_type": "an HTTPS report came without a Content-Type",
    "nonstandard_media_type": "the report came with a generic media type (RFC 8460 §6.4, §6.5)",
    "not_multipart_report": "the mail is not multipart/report; report-type=tlsrpt (§5.3)",
    "missing_header": "TLS-Report-Domain or TLS-Report-Submitter is missing (§5.3)",
    "header_mismatch": "a TLS-Report-* header disagrees with the JSON (§5.3, §5.6)",
    "subject_report_id_mismatch": "the Subject's Report-ID does not resemble the report-id",
    "subject_mismatch": "the Subject names another domain than the report",
    "filename_convention": "the attachment name does not follow §5.1",
    "filename_mismatch": "the §5.1 file name disagrees with the JSON",
    # warnings about the JSON
    "utf8_bom": "the JSON starts with a byte order mark",
    "text_replaced": "a NUL or a lone surrogate in a string (not text a database holds) was "
                     "replaced by U+FFFD",
    "not_utf8": "the JSON is not UTF-8 (I-JSON requires it)",
    "long_value": "a string is far longer than anyone writes in that field; kept",
    "report_array": "several reports in one JSON array",
    "draft_single_policy": "a draft-era single 'policy' object was read as 'policies'",
    "unknown_member": "a member RFC 8460 does not define; kept as an extra",
    "nonstandard_name": "a placeholder, draft-era or misspelt key read as the RFC key",
    "alias_ignored": "a nonstandard key ignored because the RFC key is also present",
    "wrong_type_ignored": "an optional member of the wrong type was set aside as an extra",
    "coerced_to_string": "a number was read as text",
    "coerced_count": "a count written as a string or with a fraction part was read as an integer",
    "count_beyond_ijson": "a count above 2^53-1 (kept exactly)",
    "string_not_list": "a single string where RFC 8460 has a list (e.g. mx-host, EID 6241)",
    "stringified_list": "a list written as one string, '[a, b]'",
    "object_not_list": "a single object where RFC 8460 has a list",
    "null_in_list": "a null element in a list was skipped",
    "helo_list": "receiving-mx-helo given as a list of lines",
    "date_format": "a date-time deviates from RFC 3339 (no offset, no seconds, ...)",
    "date_epoch": "a date given as Unix time",
    "end_before_start": "the date range ends before it starts",
    "long_date_range": "the date range is longer than a day (§4.1)",
    "missing_contact_info": "contact-info is missing or null",
    "empty_report_id": "report-id is empty",
    "no_policies": "the report lists no policies",
    "unknown_policy_type": "policy-type is not sts, tlsa or no-policy-found; kept as is",
    "missing_policy_domain": "policy-domain is missing (tlsrpt-reporter no-policy-found)",
    "domain_name": "a domain is not a valid A-label name, or was converted from U-labels",
    "mx_host_prefix": "an mx-host entry carries a policy-style 'mx:' prefix",
    "mx_host_differs": "mx-host differs from the policy's mx lines",
    "missing_failure_details": "failures are counted but no failure-details are given",
    "failure_sum_mismatch": "failure-details do not add up to total-failure-session-count",
    "missing_result_type": "a failure-details row has no result-type",
    "unknown_result_type": "a result-type outside the RFC 8460 §4.3 registry; kept, counted",
    "missing_count": "a failure-details row has no failed-session-count",
    "missing_mx_hostname": "an MX-level failure row does not name the MX",
    "ip_address": "an IP is invalid (kept verbatim) or not in RFC 5952 form (normalised)",
    "sts_tlsa_overlap": "sts and tlsa policies of one domain give different totals for what "
                        "should be the same sessions",
    # warnings about the MTA-STS policy text (RFC 8461 §3.2) and TLSA records quoted
    "sts_policy_multiline": "policy-string elements hold several lines",
    "sts_policy_line": "a policy line without ':'",
    "sts_policy_key_case": "a policy key not in lower case",
    "sts_policy_repeated": "a policy field repeated; the first counts",
    "sts_policy_missing": "version, mode or max_age missing from the policy",
    "sts_policy_version": "the policy version is not STSv1",
    "sts_policy_mode": "the policy mode is not enforce, testing or none",
    "sts_policy_max_age": "max_age is not a number or exceeds 31557600",
    "sts_policy_no_mx": "an enforce or testing policy lists no mx",
    "sts_policy_mx_pattern": "an mx pattern is not a host name or *.domain",
    "tlsa_json_array_string": "one policy-string element holds a JSON array of TLSA records",
    "tlsa_semicolon_list": "TLSA records joined with ';' in one string",
    "tlsa_record_invalid": "a policy-string element is not a TLSA record",
    "tlsa_json_too_deep": "a policy-string element holds JSON nested too deeply to read",
    # errors added when storing
    "dkim_required": "DKIM is required and the mail has no passing, aligned signature",
    "reading_budget": "reading this input took longer, or more memory, than serve allows",
    "unstorable_input": "the store refused what was read (kept in quarantine, its batch stored)",
    # warnings added by the store (earlier versions; such counts are now refused)
    "count_clamped": "(stored by earlier versions) a count above 2^63-1 was stored clamped; "
                     "such counts are now refused with invalid_count",
}
