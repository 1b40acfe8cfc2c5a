"""The Alerts page under Settings: the rules a user may see (targets masked, secrets never
shown), a form to add one, its test and remove buttons, and the delivery log with each
attempt. An admin makes rules for every domain or for any organisation; a member for their
own organisation; a read-only user sees the page without its forms."""

from __future__ import annotations

import asyncio
import re
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel

from tlsscope.alert import log, rules, timing, views
from tlsscope.app import accounts
from tlsscope.app.scope import Scope
from tlsscope.errors import Invalid
from tlsscope.web.ids import RowId
from tlsscope.web.pages.site import Site, words_for

_LIST = re.compile(r"[\s,]+")


class RuleForm(BaseModel):
    """The add-rule form as sent (every field text; rules.create judges them)."""

    csrf: str = ""
    channel: str = "email"
    target: str = ""
    secret: str = ""
    organisation: str = ""  # an admin's choice: "" for every domain
    domains: str = ""  # separated by spaces or commas
    kinds: str = ""
    events: list[str] = []
    min_severity: str = rules.DEFAULT_MIN_SEVERITY
    batch: str = "instant"
    quiet: str = ""
    timezone: str = "UTC"
    quiet_critical: str = ""  # a checkbox: "1" when ticked
    suppress_days: str = "7"
    lang: str = "en"


def may_change(scope: Scope) -> bool:
    """Whether the user may make rules: an admin, or a member of an organisation."""
    return scope.user.can_write and (scope.user.is_admin or scope.user.organisation is not None)


def split(text: str) -> list[str]:
    return [part for part in _LIST.split(text) if part]


def created_with(site: Site, scope: Scope, form: RuleForm) -> rules.Created:
    """The rule the form describes, made for the organisation the user may choose."""
    try:
        days = int(form.suppress_days.strip() or "7")
    except ValueError:
        raise Invalid("suppress_days", "suppress-days: a whole number of days") from None
    # A member's rules are their organisation's, whatever the form says.
    organisation = (form.organisation.strip() or None) if scope.user.is_admin else None
    return views.new_rule(site.store, scope, site.settings, organisation, {
        "channel": form.channel, "target": form.target, "secret": form.secret.strip(),
        "domains": split(form.domains), "kinds": split(form.kinds), "events": form.events,
        "min_severity": form.min_severity, "batch": form.batch, "quiet": form.quiet.strip(),
        "timezone": form.timezone.strip() or "UTC",
        "quiet_critical": bool(form.quiet_critical), "suppress_days": days,
        "lang": form.lang})


def add(pages: APIRouter, site: Site) -> None:
    def page(request: Request, scope: Scope, status: int = 200, **extra: Any) -> HTMLResponse:
        words = words_for(request, scope)
        form = RuleForm(lang=words.lang, quiet_critical="1")
        return site.render(
            request, scope, "alerts.html", "settings", status=status,
            rules=rules.listing(site.store, scope),
            deliveries=log.deliveries(site.store, scope),
            organisations=accounts.organisations(site.store) if scope.user.is_admin else [],
            may_change=may_change(scope), channels=rules.CHANNELS, events=rules.EVENTS,
            min_severities=rules.MIN_SEVERITIES, batches=timing.BATCHES, langs=rules.LANGS,
            **{"form": form, "message": "", "error": "", "created": None, "tested": None,
               **extra})

    @pages.get("/settings/alerts")
    def alerts_get(request: Request) -> HTMLResponse:
        return page(request, site.scope_of(request))

    @pages.post("/settings/alerts")
    def alert_add(request: Request, form: Annotated[RuleForm, Form()]) -> HTMLResponse:
        """Runs in the thread pool: vetting a webhook resolves its host."""
        scope = site.changed(request, form.csrf)
        try:
            made = created_with(site, scope, form)
        except Invalid as exc:  # the form again, with what is wrong (never the secret)
            return page(request, scope, 400, error=exc.message,
                        form=form.model_copy(update={"secret": ""}))
        return page(request, scope, created=made)

    @pages.post("/settings/alerts/{rule_id}/delete")
    def alert_remove(request: Request, rule_id: RowId, csrf: str = Form("")) -> Response:
        rules.remove(site.store, site.changed(request, csrf), rule_id)
        return RedirectResponse("/settings/alerts", status_code=303)

    @pages.post("/settings/alerts/{rule_id}/test")
    async def alert_test(request: Request, rule_id: RowId, csrf: str = Form("")) -> HTMLResponse:
        scope = site.changed(request, csrf)
        done, delivery = await asyncio.to_thread(log.test, site.store, scope, site.settings,
                                                 rule_id)
        return page(request, scope, tested={"rule": rule_id, "delivered": bool(done.delivered),
                                            "delivery": delivery})
