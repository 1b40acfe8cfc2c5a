"""`tlsscope check DOMAIN`: live checks of a domain's records (more steps to come)."""

from __future__ import annotations

from typing import Annotated

import typer

from tlsscope.cli.app import ConfigOption, JsonOption, app, fail, print_json, settings


@app.command()
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
    as_json: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """Check the TLS-RPT record (and each rua destination), the _mta-sts record, the MTA-STS
    policy file, every MX's STARTTLS and certificate, and DANE, live."""
    from rich.console import Console
    from rich.text import Text

    from tlsscope.check.dane_step import dane
    from tlsscope.check.model import worst
    from tlsscope.check.mx_step import mx
    from tlsscope.check.policy_step import policy
    from tlsscope.check.records_step import mta_sts_record, tlsrpt
    from tlsscope.cli.sanitize import safe
    from tlsscope.probe.dns import Resolver

    conf = settings(config)
    server = nameserver or conf.dns_nameserver
    seconds = timeout or conf.check_timeout
    cafile = ca_file or conf.check_ca_file or None
    private = conf.check_allow_private if allow_private is None else allow_private
    domain = domain.strip().lower().rstrip(".")
    try:
        resolver = Resolver(server or None, seconds)
    except ValueError as exc:
        raise fail(f"--nameserver: {exc}") from None
    steps = tlsrpt(resolver, domain, seconds, cafile or True, private)
    steps.append(mta_sts_record(resolver, domain)[0])
    warn_days = (conf.check_expiry_warning_days if expiry_warning_days is None
                 else expiry_warning_days)
    hosts = resolver.mx_hosts(domain)
    steps.extend(policy(resolver, domain, hosts, https_port or conf.check_https_port, seconds,
                        cafile or True, private, warn_days=warn_days))
    mx_steps, probes = mx(resolver, domain, hosts, smtp_port or conf.check_smtp_port, seconds,
                          cafile, warn_days=warn_days, allow_private=private)
    steps.extend(mx_steps)
    steps.extend(dane(resolver, hosts, probes))
    if as_json:
        print_json({"domain": domain, "status": worst(steps), "steps": steps})
    else:
        console = Console()
        styles = {"ok": "green", "warning": "yellow", "error": "red"}
        for step in steps:
            console.print(Text.assemble((f"{step.status.upper():8}", styles[step.status]),
                                        (f"{step.step}  ", "bold"), safe(step.line)))
            for detail in step.details:
                console.print(Text(safe(f"          {detail}"), style="dim"))
            for fix in step.fix:
                console.print(Text(safe(f"          fix: {fix}")))
    if worst(steps) == "error":
        raise typer.Exit(1)
