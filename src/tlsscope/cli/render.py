"""How `tlsscope parse` shows its results: a Rich table, or the JSON contract as a stream."""

from __future__ import annotations

from collections.abc import Iterable
from typing import IO, TYPE_CHECKING

from tlsscope.cli.sanitize import safe
from tlsscope.parse.contract import EncodedEntry, mark_duplicates
from tlsscope.parse.results import DuplicateTracker, InputResult, Outcome

if TYPE_CHECKING:
    from rich.console import Console
    from rich.text import Text

_STYLE = {Outcome.ACCEPTED: "green", Outcome.DUPLICATE: "cyan", Outcome.REJECTED: "bold red",
          Outcome.NOT_A_REPORT: "yellow"}


def write_json(entries: Iterable[EncodedEntry], tracker: DuplicateTracker,
               out: IO[bytes]) -> int:
    """One JSON array, written entry by entry so that memory stays flat on huge inputs.

    Returns how many inputs were rejected.
    """
    rejected = 0
    out.write(b"[")
    for index, entry in enumerate(entries):
        duplicate = tracker.seen(entry.keys)
        blob = mark_duplicates(entry, duplicate) if any(duplicate) else entry.json
        out.write(b",\n" if index else b"\n")
        out.write(blob)
        rejected += entry.rejected
    out.write(b"\n]\n")
    return rejected


def write_table(results: Iterable[InputResult], tracker: DuplicateTracker,
                console: Console) -> dict[Outcome, int]:
    from rich.table import Table
    from rich.text import Text

    table = Table(title="TLS-RPT inputs", show_lines=True, expand=True)
    table.add_column("Input", overflow="fold", ratio=2)
    table.add_column("Outcome", no_wrap=True)
    table.add_column("Reports", overflow="fold", ratio=3)
    table.add_column("Findings", overflow="fold", ratio=4)
    counts = dict.fromkeys(Outcome, 0)
    for result in results:
        outcome = tracker.mark(result).outcome
        counts[outcome] += 1
        table.add_row(Text(safe(result.source)), Text(outcome.value, style=_STYLE[outcome]),
                      Text("\n".join(_report_lines(result))), _findings(result))
    console.print(table)
    console.print(Text("  ".join(f"{o.value}: {n}" for o, n in counts.items())))
    return counts


def _report_lines(result: InputResult) -> list[str]:
    lines = []
    for read in result.reports:
        report = read.report
        domains = ", ".join(sorted({p.policy.policy_domain or "?" for p in report.policies}))
        totals = report.domain_totals().values()  # the counting rule (report.counted)
        ok, failed = sum(t[0] for t in totals), sum(t[1] for t in totals)
        mark = " (duplicate)" if read.duplicate else ""
        lines.append(safe(f"{report.organization_name} · {report.day} · {domains} · "
                          f"{ok:,} ok / {failed:,} failed · {report.report_id}{mark}"))
    return lines


def _findings(result: InputResult) -> Text:
    from rich.text import Text

    text = Text()
    items = [("error", f) for f in result.errors] + [("warning", f) for f in result.warnings]
    items += [("warning", f) for r in result.reports for f in r.warnings]
    for index, (level, f) in enumerate(items):
        if index:
            text.append("\n")
        text.append(level, style="red" if level == "error" else "yellow")
        text.append(safe(f" {f.code}: {f.message}" + (f" [{f.path}]" if f.path else "")))
    return text
