"""`tlsscope check DOMAIN`: a live check of a domain, kept as the evidence of its findings."""

from __future__ import annotations

from typing import Annotated

import typer

from tlsscope.cli.app import (
    EX_TEMPFAIL,
    ConfigOption,
    DbOption,
    JsonOption,
    app,
    open_store,
    print_json,
    refusals,
    settings,
)


@app.command(short_help="Check a domain live: TLS-RPT, MTA-STS, MX hosts, DANE.")
def check(
    domain: Annotated[str, typer.Argument(help="The domain to check (example.com).",
                                          show_default=False)],
    nameserver: Annotated[str | None, typer.Option(
        help="Resolver to ask, HOST:PORT (default: dns_nameserver, else the system's).",
        show_default=False)] = None,
    timeout: Annotated[float | None, typer.Option(
        help="Seconds per network operation (default: check_timeout).",
        show_default=False)] = None,
    smtp_port: Annotated[int | None, typer.Option(
        "--smtp-port", help="Port of the MX hosts (default: check_smtp_port).",
        show_default=False)] = None,
    https_port: Annotated[int | None, typer.Option(
        "--https-port", help="Port of the policy host (default: check_https_port).",
        show_default=False)] = None,
    ca_file: Annotated[str | None, typer.Option(
        "--ca-file", help="Extra CA bundle to trust (default: check_ca_file).",
        show_default=False)] = None,
    allow_private: Annotated[bool | None, typer.Option(
        "--allow-private/--no-allow-private",
        help="Also probe private and loopback addresses (default: check_allow_private).",
        show_default=False)] = None,
    expiry_warning_days: Annotated[int | None, typer.Option(
        "--expiry-warning-days", help="Warn about certificates expiring this soon "
        "(default: check_expiry_warning_days).", show_default=False)] = None,
    save: Annotated[bool, typer.Option(
        "--save/--no-save", help="Keep the result in the store: it becomes the evidence of "
        "the domain's findings, and the next check reports what changed since.")] = True,
    as_json: JsonOption = False,
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Check the TLS-RPT record (and each rua destination), the _mta-sts record, the MTA-STS
    policy file, every MX's STARTTLS and certificate, and DANE, live; then what changed since
    the previous check (policy changed under the same id, MX hosts added or removed). Exits 1
    when a step is an error, 75 when none is but a DNS lookup got no answer (inconclusive: kept
    in the history, not as the domain's evidence)."""
    from rich.console import Console

    from tlsscope.app.checks import check_now
    from tlsscope.check.run import Options
    from tlsscope.cli.render_check import show_check
    from tlsscope.live_check import CheckStatus

    conf = settings(config)
    base = Options.of(conf)
    options = base._replace(
        nameserver=nameserver if nameserver is not None else base.nameserver,
        timeout=timeout or base.timeout, smtp_port=smtp_port or base.smtp_port,
        https_port=https_port or base.https_port,
        ca_file=ca_file if ca_file is not None else base.ca_file,
        allow_private=base.allow_private if allow_private is None else allow_private,
        warn_days=base.warn_days if expiry_warning_days is None else expiry_warning_days)
    store = open_store(db, config) if save else None
    try:
        with refusals():
            result = check_now(store, options, domain)
    finally:
        if store is not None:
            store.close()
    if as_json:
        print_json(result)
    else:
        show_check(Console(), result)
    if result.status == CheckStatus.ERROR:
        raise typer.Exit(1)
    if result.status == CheckStatus.INCONCLUSIVE:  # nothing wrong seen, a lookup unanswered
        raise typer.Exit(EX_TEMPFAIL)
