"""The human report of `tlsscope check`: a verdict line, then one table per part of the
check (TLS-RPT, MTA-STS, MX hosts, DANE, changes), and what could not be checked. Every
remote string is escaped."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from rich import box
from rich.table import Table
from rich.text import Text

from tlsscope.cli.sanitize import safe
from tlsscope.live_check import CheckStatus

if TYPE_CHECKING:
    from rich.console import Console

    from tlsscope.live_check import LiveCheck

STYLES: dict[str, str] = {CheckStatus.OK: "green", CheckStatus.WARNING: "yellow",
                          CheckStatus.ERROR: "red", CheckStatus.INCONCLUSIVE: "magenta"}
MARKS: dict[str, str] = {CheckStatus.OK: "✔ ok", CheckStatus.WARNING: "! warning",
                         CheckStatus.ERROR: "✘ error", CheckStatus.INCONCLUSIVE: "? inconclusive"}
SECTIONS = (
    ("TLS-RPT record and report destinations (RFC 8460 §3)", ("tlsrpt-record", "tlsrpt-rua")),
    ("MTA-STS record and policy (RFC 8461 §3)", ("mta-sts-record", "mta-sts-policy")),
    ("MX hosts: STARTTLS and certificates, on every address", ("mx",)),
    ("DANE (RFC 7672)", ("dane",)),
    ("Since the previous check", ("mta-sts-policy-id", "mx-drift")),
)


def show_check(console: Console, check: LiveCheck) -> None:
    counts: dict[str, int] = {status: sum(s.status == status for s in check.steps)
                              for status in STYLES}
    when = check.checked_at.astimezone(dt.UTC)
    unseen = counts[CheckStatus.INCONCLUSIVE]
    unknown = f", {unseen} inconclusive" if unseen else ""
    console.print(Text.assemble(
        ("tlsscope check ", "bold"), (safe(check.domain), "bold"), "  ",
        (MARKS[check.status].upper(), f"bold {STYLES[check.status]}"),
        f"   {counts['error']} error(s), {counts['warning']} warning(s){unknown}, "
        f"{counts['ok']} ok · {when:%Y-%m-%d %H:%M} UTC · {check.seconds:.2f} s"))
    if not check.mx_known:
        console.print(Text("MX: unknown (the lookup got no answer)", style="dim"))
    elif check.mx_hosts:
        console.print(Text(safe(f"MX: {', '.join(check.mx_hosts)}"), style="dim"))
    for title, names in SECTIONS:
        steps = [s for s in check.steps if s.step in names]
        if not steps:
            continue
        table = Table(title=title, title_justify="left", title_style="bold", box=box.SIMPLE,
                      show_header=False, expand=True, padding=(0, 1))
        table.add_column("status", no_wrap=True, min_width=10)
        table.add_column("target", ratio=1, overflow="fold")
        table.add_column("result", ratio=3)
        for step in steps:
            body = Text(safe(step.line))
            for detail in step.details:
                body.append(f"\n{safe(detail)}", style="dim")
            for fix in step.fix:
                body.append(f"\nfix: {safe(fix)}", style="cyan")
            table.add_row(Text(MARKS[step.status], style=STYLES[step.status]),
                          Text(safe(step.target)), body)
        console.print(table)
    if counts[CheckStatus.INCONCLUSIVE]:
        console.print(Text(inconclusive_note(check), style=STYLES[CheckStatus.INCONCLUSIVE]))


def inconclusive_note(check: LiveCheck) -> str:
    """What an inconclusive step means, said once under the tables."""
    count = sum(s.status == CheckStatus.INCONCLUSIVE for s in check.steps)
    note = (f"Inconclusive: {count} step(s) could not be checked because a DNS lookup got no "
            "answer (not a negative answer): the records may well exist. They are no evidence "
            "for or against the domain's findings.")
    if check.status == CheckStatus.INCONCLUSIVE:
        note += (" This check is not the domain's live evidence: its findings keep the "
                 "latest conclusive check.")
    return note + " Check the resolver (--nameserver, dns_nameserver) and run it again."
