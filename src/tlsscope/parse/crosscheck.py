"""Cross-checks of a report against what surrounds it: warnings only (RFC 8460 §5.6).

The JSON is authoritative; the mail headers (§5.3), the Subject and the file name (§5.1) are
hints. Where they disagree with the JSON, that is worth knowing, never a reason to reject.
"""

from __future__ import annotations

import re

from tlsscope.notes import Note, error, warning
from tlsscope.parse.mime import Envelope
from tlsscope.parse.values import check_domain, policy_domain_problem, shown
from tlsscope.report import Report

_FILENAME = re.compile(
    r"(?P<sender>[^!/\\]+)!(?P<domain>[^!/\\]+)!(?P<begin>[0-9]{1,20})!(?P<end>[0-9]{1,20})"
    r"(?:!(?P<uid>[^!./\\]+))?\.(?P<ext>json\.gz|json|gz|json\.zip|zip)", re.IGNORECASE)
_SUBJECT_ID = re.compile(r"Report-ID:\s*<?([^<>\s]+)>?", re.IGNORECASE)
_SUBJECT_DOMAIN = re.compile(r"Domain:\s*(\S+)", re.IGNORECASE)


def _domains(report: Report) -> set[str]:
    return {p.policy.policy_domain.lower().rstrip(".")
            for p in report.policies if p.policy.policy_domain}


def _contact_domain(report: Report) -> str | None:
    contact = report.contact_info or ""
    return contact.rpartition("@")[2].strip(" >").lower() or None if "@" in contact else None


def _related(a: str, b: str) -> bool:
    """Same domain, or one inside the other (Mail.ru: mail.ru vs corp.mail.ru)."""
    a, b = a.lower().rstrip("."), b.lower().rstrip(".")
    return a == b or a.endswith("." + b) or b.endswith("." + a)


def bad_report_domain(env: Envelope) -> Note | None:
    """RFC 8460 §5.3: TLS-Report-Domain names the policy domain; anything else is refused."""
    if env.report_domain is None:
        return None
    problem = policy_domain_problem(check_domain(env.report_domain.strip()).value)
    if problem is None:
        return None  # a domain name (a U-label name converts to one)
    return error("invalid_report_domain", f"TLS-Report-Domain {shown(env.report_domain)} is "
                 f"not a domain name: {problem}", "header TLS-Report-Domain")


def check_envelope(report: Report, env: Envelope) -> list[Note]:
    out: list[Note] = []
    if env.content_type != "multipart/report" or env.report_type != "tlsrpt":
        out.append(warning("not_multipart_report", f"the mail is {env.content_type}"
                           f"{'; report-type=' + env.report_type if env.report_type else ''}, "
                           "not multipart/report; report-type=tlsrpt (RFC 8460 §5.3)", "mail"))
    domains = _domains(report)
    if env.report_domain is None:
        out.append(warning("missing_header", "no TLS-Report-Domain header (RFC 8460 §5.3)",
                           "header TLS-Report-Domain"))
    elif domains and env.report_domain.lower().rstrip(".") not in domains:
        out.append(warning("header_mismatch", f"TLS-Report-Domain {shown(env.report_domain)} "
                           f"is not a policy-domain of the report ({', '.join(sorted(domains))})",
                           "header TLS-Report-Domain"))
    contact = _contact_domain(report)
    if env.submitter is None:
        out.append(warning("missing_header", "no TLS-Report-Submitter header (RFC 8460 §5.3)",
                           "header TLS-Report-Submitter"))
    elif contact and not _related(env.submitter, contact):
        out.append(warning("header_mismatch", f"TLS-Report-Submitter {shown(env.submitter)} "
                           f"does not match the contact-info domain {shown(contact)} "
                           "(RFC 8460 §5.3)",
                           "header TLS-Report-Submitter"))
    if env.subject:
        out.extend(_subject(report, env.subject, domains))
    return out


def _subject(report: Report, subject: str, domains: set[str]) -> list[Note]:
    out: list[Note] = []
    found = _SUBJECT_ID.search(subject)
    if found and not _same_id(found.group(1), report.report_id):
        out.append(warning("subject_report_id_mismatch",
                           f"Subject Report-ID {shown(found.group(1))} does not resemble the "
                           f"report-id {shown(report.report_id)}", "Subject"))
    domain = _SUBJECT_DOMAIN.search(subject)
    if domain and domains and domain.group(1).lower().rstrip(".") not in domains:
        out.append(warning("subject_mismatch", f"Subject names domain "
                           f"{shown(domain.group(1))}, not a policy-domain of the report",
                           "Subject"))
    return out


def _same_id(subject_id: str, report_id: str) -> bool:
    """Real senders never copy the id exactly (Google: dots and `+domain@google.com`).

    Compare the letters and digits only, and accept the JSON id inside the Subject's one.
    """
    a = re.sub(r"[^0-9a-z]", "", subject_id.lower())
    b = re.sub(r"[^0-9a-z]", "", report_id.lower())
    return bool(b) and (b in a or a in b)


def check_filename(report: Report, filename: str, *, expected: bool) -> list[Note]:
    """RFC 8460 §5.1 `sender!policy-domain!begin!end[!id].json[.gz]` against the JSON.

    `expected` is true for mail attachments, where the convention is RECOMMENDED; elsewhere a
    name that does not follow it is not remarked on.
    """
    name = filename.replace("\\", "/").rsplit("/", 1)[-1]
    match = _FILENAME.fullmatch(name)
    if match is None:
        if expected:
            return [warning("filename_convention", f"attachment name {shown(name)} does not follow "
                            "sender!policy-domain!begin!end.json.gz (RFC 8460 §5.1)", "filename")]
        return []
    out: list[Note] = []
    domains = _domains(report)
    if domains and match["domain"].lower() not in domains:
        out.append(warning("filename_mismatch", f"file name names policy domain "
                           f"{shown(match['domain'])}, not one of the report's", "filename"))
    contact = _contact_domain(report)
    if contact and not _related(match["sender"], contact):
        out.append(warning("filename_mismatch", f"file name names sender {shown(match['sender'])}, "
                           f"not the contact-info domain {contact!r}", "filename"))
    begin, end = int(match["begin"]), int(match["end"])
    if abs(begin - report.start.timestamp()) > 1 or abs(end - report.end.timestamp()) > 1:
        out.append(warning("filename_mismatch", f"file name says {begin}..{end} (Unix time), the "
                           f"report covers {int(report.start.timestamp())}.."
                           f"{int(report.end.timestamp())}", "filename"))
    return out
