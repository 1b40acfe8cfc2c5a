"""Alert rules as the dashboard and the API make them (one place for both shells)."""

from __future__ import annotations

from typing import Any

from tlsscope.alert import channels, rules
from tlsscope.app.scope import Scope
from tlsscope.errors import ConfigError
from tlsscope.settings import Settings
from tlsscope.store import Store


def new_rule(store: Store, scope: Scope, settings: Settings, organisation: str | None,
             values: dict[str, Any]) -> rules.Created:
    """`rules.create` as `tlsscope alerts add` calls it: a webhook's address vetted now, a
    mail rule warned about when no relay is set. Without `organisation`, a member's rule is
    their organisation's (an admin's covers every domain)."""
    if organisation is None and not scope.user.is_admin:
        organisation = scope.user.organisation_name or None
    made = rules.create(store, scope, **values, organisation=organisation,
                        check_target=lambda url: channels.vet(url, settings))
    if values.get("channel") == "email":
        try:
            made.warnings.extend(channels.vet_mail(settings))
        except ConfigError as exc:  # a wrong smtp_url: the operator's to fix, the rule stays
            made.warnings.append(str(exc))
    return made
