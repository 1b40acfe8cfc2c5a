"""`tlsscope check DOMAIN`: live checks of a domain's records (more steps to come)."""

from __future__ import annotations

from typing import Annotated

import typer

from tlsscope.cli.app import JsonOption, app, fail, print_json


def _host_port(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit():
        raise fail(f"--nameserver must be HOST:PORT, not {value!r}")
    return host.strip("[]"), int(port)


@app.command()
def check(
    domain: Annotated[str, typer.Argument(help="The domain to check (example.com).",
                                          show_default=False)],
    nameserver: Annotated[str | None, typer.Option(
        help="Resolver to ask, HOST:PORT (default: the system's).", show_default=False)] = None,
    timeout: Annotated[float, typer.Option(help="Seconds per network operation.")] = 10.0,
    smtp_port: Annotated[int, typer.Option(
        "--smtp-port", help="Port of the MX hosts (tests).")] = 25,
    https_port: Annotated[int, typer.Option(
        "--https-port", help="Port of the policy host (tests).")] = 443,
    ca_file: Annotated[str | None, typer.Option(
        "--ca-file", help="Extra CA bundle to trust for HTTPS (tests, private CAs).",
        show_default=False)] = None,
    as_json: JsonOption = False,
) -> None:
    """Check the TLS-RPT record (and each rua destination), the _mta-sts record, the MTA-STS
    policy file, and every MX's STARTTLS and certificate, live."""
    from rich.console import Console
    from rich.text import Text

    from tlsscope.check.model import worst
    from tlsscope.check.mx_step import mx
    from tlsscope.check.policy_step import policy
    from tlsscope.check.records_step import mta_sts_record, tlsrpt
    from tlsscope.cli.sanitize import safe
    from tlsscope.probe.dns import Resolver

    domain = domain.strip().lower().rstrip(".")
    resolver = Resolver(_host_port(nameserver) if nameserver else None, timeout)
    steps = tlsrpt(resolver, domain, timeout, ca_file or True)
    steps.append(mta_sts_record(resolver, domain)[0])
    steps.extend(policy(resolver, domain, https_port, timeout, ca_file or True))
    steps.extend(mx(resolver, domain, smtp_port, timeout, ca_file))
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
