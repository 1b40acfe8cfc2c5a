"""Rich tables for the store commands. Every report-sourced string goes through `safe`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.table import Table
from rich.text import Text

from tlsscope.cli.sanitize import safe

if TYPE_CHECKING:
    from rich.console import Console

    from tlsscope.analyze.reading import Reading
    from tlsscope.receipts import IngestTotals
    from tlsscope.store.models import DomainStats, ReportSummary, StoredInput, StoredReport


def _t(value: object) -> Text:
    return Text(safe("" if value is None else value))


def ingest_summary(totals: IngestTotals, console: Console) -> None:
    console.print(Text(  # one line even in a log (an MTA's, a pipe's): not wrapped at 80
        f"{totals.inputs} input(s): {totals.accepted} accepted, {totals.duplicate} duplicate, "
        f"{totals.rejected} rejected, {totals.not_a_report} not a report; "
        f"{totals.reports_stored} report(s) stored, {totals.reports_repeated} seen before "
        f"({totals.conflicts} with different content)"), soft_wrap=True)
    if totals.rejections:
        table = Table(title="Rejected", expand=True, show_lines=True)
        table.add_column("Input", overflow="fold", ratio=2)
        table.add_column("Why", overflow="fold", ratio=3)
        for rejected in totals.rejections:
            table.add_row(_t(rejected.source), _t("\n".join(rejected.reasons)))
        console.print(table)


def report_list(found: list[ReportSummary], console: Console) -> None:
    if not found:
        console.print("No stored report matches.")
        return
    table = Table(expand=True)
    for name in ("Key", "Day", "Reporter", "Report-ID", "Domains", "OK", "Failed", "Warnings"):
        table.add_column(name, overflow="fold")
    for r in found:
        table.add_row(r.key[:12], str(r.day), _t(r.organization_name), _t(r.report_id),
                      _t(", ".join(r.domains)), f"{r.successful:,}", f"{r.failed:,}",
                      str(r.warnings))
    console.print(table)


def report_detail(stored: StoredReport, console: Console) -> None:
    report = stored.report
    console.print(Text.assemble(("Report ", "bold"), safe(stored.key)))
    for label, value in (("Reporter", report.organization_name),
                         ("Contact", report.contact_info), ("Report-ID", report.report_id),
                         ("Window", f"{report.start} .. {report.end}"), ("Day", report.day),
                         ("Input", f"{stored.source.sha256[:16]} {stored.source.source} "
                          f"({stored.source.kind}, {stored.source.arrivals} arrival(s))"),
                         ("Found at", stored.location or "(the whole input)"),
                         ("DKIM", _dkim(stored.source)),
                         ("Provenance", _provenance(stored))):
        console.print(Text.assemble((f"{label}: ", "bold"), safe(value)))
    policies = Table(title="Policies", expand=True)
    for name in ("#", "Type", "Domain", "Mode", "MX patterns", "OK", "Failed", "Counted"):
        policies.add_column(name, overflow="fold")
    for i, (entry, counted) in enumerate(zip(report.policies, stored.counted, strict=True)):
        sts = entry.policy.sts
        policies.add_row(str(i), _t(entry.policy.policy_type), _t(entry.policy.policy_domain),
                         _t(sts.mode if sts else ""), _t(", ".join(sts.mx_patterns) if sts else ""),
                         f"{entry.summary.total_successful_session_count:,}",
                         f"{entry.summary.total_failure_session_count:,}",
                         "yes" if counted else "no (same sessions as another policy)")
    console.print(policies)
    rows = [(i, d) for i, entry in enumerate(report.policies) for d in entry.details]
    if rows:
        details = Table(title="Failure details", expand=True)
        for name in ("Policy", "Result type", "Sessions", "Receiving MX", "Receiving IP",
                     "Sending IP", "Reason"):
            details.add_column(name, overflow="fold")
        for i, d in rows:
            details.add_row(str(i), _t(d.result_type), _t(d.failed_session_count),
                            _t(d.receiving_mx_hostname), _t(d.receiving_ip), _t(d.sending_mta_ip),
                            _t(d.failure_reason_code))
        console.print(details)
    for finding in stored.warnings:
        console.print(Text.assemble(("warning ", "yellow"),
                                    safe(f"{finding.code}: {finding.message} [{finding.path}]")))
    for repeat in stored.repeats:
        console.print(Text(safe(f"seen again ({repeat.kind}) in input {repeat.input_sha256[:16]} "
                                f"at {repeat.seen_at}")))


def quarantine_list(held: list[StoredInput], console: Console) -> None:
    if not held:
        console.print("The quarantine is empty.")
        return
    table = Table(expand=True, show_lines=True)
    for name in ("Input", "Received", "Source", "Kind", "Arrivals", "Why"):
        table.add_column(name, overflow="fold")
    for h in held:
        lines = [safe(f"{e.code}: {e.message} {e.path}".strip()) for e in h.errors]
        if not h.kept:
            lines.append("(bytes dropped: over the sender's quarantine budget)")
        # each reason escaped on its own line (joined first, its newlines showed as \x0a)
        table.add_row(h.sha256[:16], str(h.received_at), _t(h.source), h.kind, str(h.arrivals),
                      Text("\n".join(lines)))
    console.print(table)


def stats(found: DomainStats, console: Console) -> None:
    total = found.successful + found.failed
    rate = f"{100 * found.successful / total:.2f} %" if total else "no sessions"
    console.print(Text(safe(
        f"{found.domain or 'All domains'}, {found.since} .. {found.until}: {found.reports:,} "
        f"report(s), {total:,} session(s), {found.successful:,} with TLS as the policy "
        f"required ({rate}), {found.failed:,} failed")))
    if not found.reports:
        return
    days = Table(title="Per day", expand=True)
    for name in ("Day", "Reports", "OK", "Failed"):
        days.add_column(name)
    for d in found.days:
        days.add_row(str(d.day), f"{d.reports:,}", f"{d.successful:,}", f"{d.failed:,}")
    console.print(days)
    for title, rows in (("By policy", found.by_policy), ("By reporter", found.by_reporter),
                        ("Failures by result type", found.by_result_type),
                        ("Failures by receiving MX", found.by_mx)):
        if not rows:
            continue
        table = Table(title=title, expand=True)
        table.add_column("Name", overflow="fold")
        table.add_column("OK")
        table.add_column("Failed")
        for row in rows:
            table.add_row(_t(row.name), "" if row.successful is None else f"{row.successful:,}",
                          f"{row.failed:,}")
        console.print(table)


def _provenance(stored: StoredReport) -> str:
    p = stored.provenance
    if p is None:
        return "(unknown)"
    how = f"{p.channel}" + (f" from {p.peer}" if p.peer else "")
    worth = "authenticated" if p.authenticated else "not authenticated"
    return f"{how}, {worth}" + ("; first report of this organisation for the domain"
                                if p.reporter_new else "")


def _dkim(source: StoredInput) -> str:
    if source.dkim_result is None:
        return "not checked"
    return f"{source.dkim_result} ({source.dkim_detail})"


def reading(found: Reading, console: Console, lang: str) -> None:
    from tlsscope.analyze.catalog import label

    console.print(Text(label("plain", lang), style="bold"))
    for sentence in found.sentences:
        console.print(Text(safe(sentence)))
