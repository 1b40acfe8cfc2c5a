"""The digest: a periodic mail per user or organisation that sums up each domain (see
docs/alerts.md). Subscriptions are kept per user (`users.digest`)."""

from __future__ import annotations

from tlsscope.app.scope import Scope
from tlsscope.errors import Invalid, NotFound
from tlsscope.store import Store, accounts, alerts_rows

PERIODS = ("day", "week", "month")


def subscribe(store: Store, scope: Scope, user_id: int, period: str) -> None:
    """Subscribe a user to the digest of `period` ("" : unsubscribe). A user changes their
    own; an admin anyone's."""
    if period not in ("", *PERIODS):
        raise Invalid("period", f"period must be one of {', '.join(PERIODS)} (or empty: none)")
    if user_id != scope.user.id:
        scope.require_admin()
        if store.read(accounts.user_by_id, user_id) is None:
            raise NotFound(f"no user {user_id}")
    store.write(alerts_rows.set_digest, user_id, period)


def subscription(store: Store, user_id: int) -> str:
    """The period of the user's digest ("" : none)."""
    return store.read(alerts_rows.digest_of, user_id)
