"""`tlsscope alerts`: the alert rules (add, list, remove, test), the delivery log, and
`deliver`: bring findings up to date, write due alerts, send them, exit (for cron)."""

from __future__ import annotations

from typing import Annotated

import typer

from tlsscope.cli.app import (
    ConfigOption,
    DbOption,
    JsonOption,
    app,
    fail,
    open_store,
    print_json,
    refusals,
    row_id,
    settings,
)

alerts_app = typer.Typer(
    help="Alerts by mail and webhooks (generic signed JSON, Slack, Teams, Discord) when a "
    "problem opens, gets worse or is fixed: the rules, a test, the delivery log, and "
    "`deliver` for cron. See docs/alerts.md.",
    short_help="Alert rules, their deliveries, and sending.", no_args_is_help=True)
app.add_typer(alerts_app, name="alerts")

RuleId = Annotated[int, row_id("The rule's id (tlsscope alerts list).")]


@alerts_app.command("add", short_help="Add an alert rule; prints its id.")
def alerts_add(
    email: Annotated[str | None, typer.Option(help="Send alerts to this address (through "
                                              "the smtp_url relay).", show_default=False)] = None,
    webhook: Annotated[str | None, typer.Option(help="POST alerts to this URL.",
                                                show_default=False)] = None,
    secret: Annotated[str | None, typer.Option(
        help="A generic webhook's signing secret (X-Tlsscope-Signature); one is made and "
        "printed once if not given.", show_default=False)] = None,
    format: Annotated[str, typer.Option(help="generic | slack | teams | discord (a webhook's "
                                        "shape).")] = "generic",
    org: Annotated[str | None, typer.Option(help="The organisation whose domains it covers "
                                            "(default: every domain).", show_default=False)] = None,
    domain: Annotated[list[str] | None, typer.Option(
        help="Only this domain (repeatable; default: all of them).", show_default=False)] = None,
    min_severity: Annotated[str, typer.Option(help="info | low | medium | high | critical: "
                                              "the least severe problem it tells of.")] = "medium",
    batch: Annotated[str, typer.Option(help="instant | hourly | daily (08:00 in --timezone).")
                     ] = "instant",
    kind: Annotated[list[str] | None, typer.Option(
        help="Only findings of this kind (repeatable; default: all).", show_default=False)] = None,
    event: Annotated[list[str] | None, typer.Option(
        help="Only this event (repeatable): finding.opened, finding.escalated, "
        "finding.likely_fixed, finding.resolved, check.warning, receiver.silent.",
        show_default=False)] = None,
    quiet: Annotated[str, typer.Option(help="Quiet hours, HH:MM-HH:MM in --timezone: alerts "
                                       "wait for their end.")] = "",
    timezone: Annotated[str, typer.Option(help="IANA time zone of the quiet hours and daily "
                                          "batches.")] = "UTC",
    critical_in_quiet: Annotated[bool, typer.Option(
        "--critical-in-quiet/--no-critical-in-quiet",
        help="Let critical alerts through the quiet hours.")] = True,
    suppress_days: Annotated[int, typer.Option(help="Tell that a problem that comes and goes is "
                                               "fixed at most once in this many days (broken "
                                               "again and worse are always told).")] = 7,
    lang: Annotated[str, typer.Option(help="en | pt: the language of its messages.")] = "en",
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Add a rule: an --email address or a --webhook URL, the domains it covers (an
    organisation's, or every domain), what it tells of and when. Prints the new rule's id;
    warnings (and a generated secret) go to stderr."""
    from tlsscope.alert import rules, views
    from tlsscope.app.scope import OPERATOR

    if (email is None) == (webhook is None):
        raise fail("give one of --email ADDRESS or --webhook URL")
    if email is not None and format != "generic":
        raise fail("--format is for a webhook")
    if format not in rules.FORMATS:
        raise fail(f"--format must be one of {', '.join(rules.FORMATS)}")
    values = settings(config)
    with open_store(db, config) as store, refusals():
        created = views.new_rule(store, OPERATOR, values, org, {
            "channel": "email" if email is not None else format,
            "target": email if email is not None else str(webhook), "secret": secret or "",
            "domains": domain or [], "kinds": kind or [], "events": event or [],
            "min_severity": min_severity, "batch": batch, "quiet": quiet,
            "timezone": timezone, "quiet_critical": critical_in_quiet,
            "suppress_days": suppress_days, "lang": lang})
    typer.echo(str(created.id))
    for warning in created.warnings:
        typer.echo(f"Warning: {warning}", err=True)
    if created.secret:
        typer.echo(f"Signing secret (shown this once): {created.secret}", err=True)


@alerts_app.command("list", short_help="List the alert rules.")
def alerts_list(as_json: JsonOption = False, db: DbOption = None,
                config: ConfigOption = None) -> None:
    """List the rules: channel, target (a webhook's host only: its URL is a secret), what
    they cover and when they send."""
    from tlsscope.alert import rules
    from tlsscope.app.scope import OPERATOR
    from tlsscope.cli.sanitize import safe

    with open_store(db, config) as store:
        found = rules.listing(store, OPERATOR)
    if as_json:
        print_json(found)
        return
    if not found:
        typer.echo("no alert rule (tlsscope alerts add makes one)", err=True)
        return
    typer.echo("\t".join(("ID", "CHANNEL", "TARGET", "ORGANISATION", "DOMAINS", "KINDS",
                          "EVENTS", "MIN", "BATCH", "QUIET", "LANG")))
    for rule in found:
        quiet = (f"{rule.quiet} {rule.timezone}" + ("" if rule.quiet_critical else
                                                     " (critical too)")) if rule.quiet else "-"
        typer.echo("\t".join(safe(str(value)) for value in (
            rule.id, rule.channel, rule.target, rule.organisation or "(installation)",
            ",".join(rule.domains) or "*", ",".join(rule.kinds) or "*",
            ",".join(rule.events) or "*", rule.min_severity, rule.batch, quiet, rule.lang)))


@alerts_app.command("remove", short_help="Remove an alert rule.")
def alerts_remove(rule_id: RuleId, db: DbOption = None, config: ConfigOption = None) -> None:
    """Remove a rule: it sends nothing more (what it had pending is dropped); its
    deliveries stay in the log."""
    from tlsscope.alert import rules
    from tlsscope.app.scope import OPERATOR

    with open_store(db, config) as store, refusals():
        rules.remove(store, OPERATOR, rule_id)
    typer.echo(f"rule {rule_id} removed")


@alerts_app.command("test", short_help="Send a sample alert through a rule now.")
def alerts_test(rule_id: RuleId, db: DbOption = None, config: ConfigOption = None) -> None:
    """Send a sample through the rule now and say what happened (exit 1 if it did not
    arrive)."""
    from tlsscope.alert import log
    from tlsscope.app.scope import OPERATOR
    from tlsscope.cli.sanitize import safe

    with open_store(db, config) as store, refusals():
        done, shown = log.test(store, OPERATOR, settings(config), rule_id)
    if done.delivered:
        typer.echo(f"delivered (delivery {shown.id})")
        return
    raise fail(f"not delivered: {safe(shown.last_error)}", 1)


@alerts_app.command("log", short_help="The deliveries and their attempts.")
def alerts_log(as_json: JsonOption = False,
               limit: Annotated[int, typer.Option(min=1, max=1000, help="Most deliveries "
                                                  "shown, newest first.")] = 50,
               db: DbOption = None, config: ConfigOption = None) -> None:
    """Every delivery (one alert, or a batch), newest first, with each attempt: when, what
    the receiver answered, and the error."""
    from tlsscope.alert import log
    from tlsscope.app.scope import OPERATOR
    from tlsscope.cli.sanitize import safe

    with open_store(db, config) as store:
        found = log.deliveries(store, OPERATOR, limit)
    if as_json:
        print_json(found)
        return
    for delivery in found:
        events = ",".join(sorted({a["event"] for a in delivery.alerts}))
        typer.echo("\t".join(safe(str(v)) for v in (
            delivery.id, delivery.created_at.strftime("%Y-%m-%d %H:%M:%S"), delivery.channel,
            delivery.state, f"{delivery.attempts} attempt(s)", events,
            "; ".join(a["title"][:80] for a in delivery.alerts[:3]))))
        for attempt in delivery.tries:
            typer.echo("\t" + "\t".join(safe(str(v)) for v in (
                attempt["at"].strftime("%Y-%m-%d %H:%M:%S"), attempt["outcome"],
                attempt["status"] if attempt["status"] is not None else "-",
                attempt["error"][:200])))


@alerts_app.command("deliver", short_help="Bring findings up to date and send due alerts.")
def alerts_deliver(db: DbOption = None, config: ConfigOption = None) -> None:
    """What serve does continuously, once (for cron): rebuild roll-ups and findings (no live
    check is started), write the alerts they cause and the silent domains', send every
    delivery that is due, and exit. Exit 1 when a delivery failed for good in this run."""
    from tlsscope.alert import deliver, outbox
    from tlsscope.app import freshness
    from tlsscope.cli.sanitize import safe

    values = settings(config)
    with open_store(db, config) as store:
        freshness.catch_up(store, values.report_domains)
        silent = outbox.silence(store, values.alerts_silent_days)
        done = deliver.deliver_due(store, values)
    typer.echo(f"{done.delivered} delivered, {done.retrying} to retry later, "
               f"{done.failed} failed" + (f"; {silent} silent-domain alert(s) written"
                                          if silent else ""))
    for problem in done.problems[:20]:
        typer.echo(f"Warning: {safe(problem)}", err=True)
    if len(done.problems) > 20:
        typer.echo(f"Warning: and {len(done.problems) - 20} more (tlsscope alerts log)",
                   err=True)
    if done.failed:
        raise typer.Exit(1)
