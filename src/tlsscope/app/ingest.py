"""Loading inputs in bulk (`tlsscope ingest`, the demo) and what each way in received.

serve's own intake (tlsscope.intake) stores as inputs arrive and leaves the rebuilding to its
analyst; a bulk load rebuilds what it marked once it is done (tlsscope.app.freshness).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from tlsscope.app import events, freshness
from tlsscope.app.scope import Scope
from tlsscope.pipeline import ingest as run_ingest
from tlsscope.receipts import IngestTotals, Saved
from tlsscope.receive.files import RawInput
from tlsscope.settings import Settings
from tlsscope.store import Store, browse
from tlsscope.store.browse import Receiver


def load(store: Store, raws: Iterable[RawInput], settings: Settings,
         on_saved: Callable[[Saved], None] | None = None, workers: int = 0,
         live: bool = False, findings: bool = False) -> IngestTotals:
    """Store every input (each report once); then rebuild the roll-ups it marked, and with
    `findings`, recompute the findings of the domains it changed. `live`: one mail handed
    over by an MTA, which must not wait for a rebuild (serve, when it runs, does it)."""
    events.attach(store)
    totals = run_ingest(store, raws, settings, on_saved=on_saved, workers=workers, live=live)
    if totals.reports_stored and not live:
        freshness.rollups_now(store)
    if findings:
        freshness.findings_now(store, settings.report_domains)
    return totals


def receivers(store: Store, scope: Scope) -> list[Receiver]:
    """Each way in (HTTPS, SMTP, IMAP, files): its latest input, and its inputs and
    rejections over the last day of traffic (admins)."""
    scope.require_admin()
    return store.read(browse.receivers)
