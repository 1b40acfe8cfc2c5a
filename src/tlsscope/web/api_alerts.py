"""The alert routes of the JSON API, under /api/v1/alerts: the rules (targets masked, secrets
never shown back), adding one (its generated secret in that answer only), removing one,
sending a test through one, the delivery log with every attempt, and the alerts a finding
caused. Authentication and token scopes as for the rest of the API (web/api.py): `read` for
GET, `write` for changes; a rule outside the caller's organisation is a 404."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from tlsscope.alert import log, rules, timing, views
from tlsscope.app import findings
from tlsscope.settings import Settings
from tlsscope.store import Store
from tlsscope.web import auth
from tlsscope.web.api import Caller, _json
from tlsscope.web.ids import RowId

Responses = dict[int | str, dict[str, Any]]
_NOT_YOURS: Responses = {404: {"description": "no such rule, or one outside your organisation"}}
_FORBIDDEN: Responses = {403: {"description": "a read-only user, or a token without the "
                                              "write scope"}}


def _one_of(values: tuple[str, ...], text: str) -> str:
    return f"{text} One of: {', '.join(values)}."


class NewRule(BaseModel):
    """An alert rule to add (tlsscope alerts add)."""

    model_config = ConfigDict(extra="forbid")

    channel: str = Field(description=_one_of(rules.CHANNELS, "How it is sent."),
                         json_schema_extra={"enum": list(rules.CHANNELS)})
    target: str = Field(max_length=2048, description="An e-mail address (email), or the "
                        "webhook's URL: never shown back (Slack, Teams and Discord URLs are "
                        "their own secret).")
    secret: str = Field("", max_length=256, description="A generic webhook's signing secret "
                        "(X-Tlsscope-Signature); made and returned once when empty.")
    organisation: str | None = Field(None, max_length=200, description="The organisation "
                                     "whose domains it covers; omitted: every domain (admins) "
                                     "or your own organisation's.")
    domains: list[str] = Field(default_factory=list, max_length=1000,
                               description="Only these domains (empty: all it covers).")
    kinds: list[str] = Field(default_factory=list, max_length=100,
                             description="Only findings of these kinds (empty: all).")
    events: list[str] = Field(default_factory=list, max_length=len(rules.EVENTS),
                              description=_one_of(rules.EVENTS, "Only these events (empty: "
                                                  "all)."))
    min_severity: str = Field(rules.DEFAULT_MIN_SEVERITY,
                              description=_one_of(rules.MIN_SEVERITIES, "The least severe "
                                                  "problem it tells of."),
                              json_schema_extra={"enum": list(rules.MIN_SEVERITIES)})
    batch: str = Field("instant", description=_one_of(timing.BATCHES, "At once, or batched "
                                                       "(daily: 08:00 in its time zone)."),
                       json_schema_extra={"enum": list(timing.BATCHES)})
    quiet: str = Field("", max_length=11, description="Quiet hours, HH:MM-HH:MM in its time "
                       "zone (alerts wait for their end); empty: none.")
    timezone: str = Field("UTC", max_length=64, description="An IANA time zone.")
    quiet_critical: bool = Field(True, description="Critical alerts go through the quiet "
                                 "hours.")
    suppress_days: int = Field(7, ge=0, le=365, description="Tell that a problem that comes and "
                               "goes is fixed at most once in this many days (broken again "
                               "and worse are always told).")
    lang: str = Field("en", description=_one_of(rules.LANGS, "The language of its messages."),
                      json_schema_extra={"enum": list(rules.LANGS)})


def add(api: APIRouter, store: Store, settings: Settings) -> None:
    _rules(api, store, settings)
    _log(api, store)


def _rules(api: APIRouter, store: Store, settings: Settings) -> None:
    @api.get("/alerts", summary="Alert rules you can see (targets masked, secrets never "
             "shown)", tags=["alerts"],
             responses={200: {"description": "each rule: id, organisation (\"\": every "
                                             "domain), channel, target (a webhook's host "
                                             "only), domains, kinds, events, min_severity, "
                                             "batch, quiet, timezone, suppress_days, lang, "
                                             "signed"}})
    def alert_rules(scope: Caller) -> Response:
        return _json(rules.listing(store, scope))

    @api.post("/alerts", summary="Add an alert rule", status_code=201, tags=["alerts"],
              responses={201: {"description": "its id, warnings (an address at a monitored "
                                               "domain, a plain-http webhook, a host that does "
                                               "not resolve now) and a generated signing "
                                               "secret, shown this once"},
                         422: {"description": "a value is wrong (a private or loopback "
                                              "webhook address is refused unless "
                                              "alerts_allow_private)"}, **_FORBIDDEN,
                         **_NOT_YOURS})
    def alert_add(scope: Caller, rule: NewRule,
                  x_csrf_token: Annotated[str | None, Header()] = None) -> Response:
        """A rule for your organisation's domains (an admin's: any organisation's, or
        every domain). Its target and secret are never shown back."""
        # A plain def: FastAPI runs it in the thread pool, since vetting resolves the host.
        auth.require_csrf(scope, x_csrf_token)
        made = views.new_rule(store, scope, settings, rule.organisation,
                              rule.model_dump(exclude={"organisation"}))
        return _json({"id": made.id, "warnings": made.warnings, "secret": made.secret}, 201)

    @api.delete("/alerts/{rule_id}", summary="Remove an alert rule (its log stays)",
                status_code=204, tags=["alerts"],
                responses={204: {"description": "removed: what it had pending is not sent"},
                           **_FORBIDDEN, **_NOT_YOURS})
    def alert_remove(scope: Caller, rule_id: RowId,
                     x_csrf_token: Annotated[str | None, Header()] = None) -> Response:
        auth.require_csrf(scope, x_csrf_token)
        rules.remove(store, scope, rule_id)
        return Response(status_code=204)

    @api.post("/alerts/{rule_id}/test", summary="Send a sample alert through a rule now",
              tags=["alerts"],
              responses={200: {"description": "`delivered`, and the delivery as the log "
                                               "keeps it (its attempt: status, error)"},
                         **_FORBIDDEN, **_NOT_YOURS})
    async def alert_test(scope: Caller, rule_id: RowId,
                         x_csrf_token: Annotated[str | None, Header()] = None) -> Response:
        auth.require_csrf(scope, x_csrf_token)
        done, delivery = await asyncio.to_thread(log.test, store, scope, settings, rule_id)
        return _json({"delivered": bool(done.delivered), "delivery": delivery})



def _log(api: APIRouter, store: Store) -> None:
    @api.get("/alerts/log", summary="Deliveries, newest first, with every attempt",
             tags=["alerts"],
             responses={200: {"description": "each delivery (one alert, or a batch): its rule, "
                                             "channel, state (pending, sending, delivered, "
                                             "failed), attempts, its alerts, and `tries`: "
                                             "at, seconds, outcome, status, error"}})
    def alert_log(scope: Caller,
                  limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> Response:
        return _json(log.deliveries(store, scope, limit))

    @api.get("/alerts/findings/{finding_id}", summary="The alerts a finding caused: their "
             "deliveries, and those held back as repeats", tags=["alerts"],
             responses={200: {"description": "`deliveries` (as in /alerts/log) and "
                                             "`suppressed`: key, rule, event, created_at"},
                        404: {"description": "no such finding, or one outside your "
                                             "organisation"}})
    def alert_finding(scope: Caller, finding_id: RowId) -> Response:
        findings.one(store, scope, finding_id, "en")  # NotFound outside the scope
        sent, suppressed = log.of_finding(store, scope, finding_id)
        return _json({"deliveries": sent, "suppressed": suppressed})
