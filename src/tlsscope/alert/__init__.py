"""Acting on what tlsscope knows: alerts by mail and webhooks, and digests.

    rules      who is told of what, how (per organisation; secrets never shown back)
    outbox     the subscribers that write alerts in the transaction of their change
    checkwarn  a live check's predictive warnings; the receivers' alerts
    timing     batches, quiet hours, the retry backoff
    render     an alert as a mail, the generic signed JSON, Slack, Teams, Discord
    channels   webhooks and the SMTP relay, through the one connector's rule
    deliver    claim what is due, send it, keep each attempt (serve, `alerts deliver`)
    log        the delivery log, a rule's test, a finding's alerts
    digest              the periodic summary: periods, who gets it, what it says, sending it
    digest_mail         a digest as a mail: the text and HTML parts, the chart of the days
    digest_unsubscribe  the digest's signed one-click unsubscribe link and its opt-out

`wire()` subscribes the outbox to tlsscope.app.events: every process that stores findings
or checks calls it at its start (serve and its writer and analyst processes, the CLI when it
opens a store), so a change never happens without its alerts. It imports nothing heavy: the
outbox is loaded at the first change (`ingest -` from an MTA starts fast).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tlsscope.app import events

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection


def _finding_changed(connection: Connection, event: events.FindingChanged) -> None:
    from tlsscope.alert import outbox

    outbox.on_finding_changed(connection, event)


def _check_done(connection: Connection, event: events.CheckDone) -> None:
    from tlsscope.alert import outbox

    outbox.on_check_done(connection, event)


def wire() -> None:
    events.on_finding_changed(_finding_changed)
    events.on_check_done(_check_done)


def unwire() -> None:
    events.unsubscribe(_finding_changed)
    events.unsubscribe(_check_done)
