"""`tlsscope record`: write and check TLS-RPT and MTA-STS records and policy files."""

from __future__ import annotations

from typing import Annotated

import typer

from tlsscope.cli.app import JsonOption, app, fail, print_json

record_app = typer.Typer(help="Write and check TLS-RPT and MTA-STS records and policy files.",
                         no_args_is_help=True)
app.add_typer(record_app, name="record")

DomainOption = Annotated[str, typer.Option(help="Your domain, to say where to publish.")]


@record_app.command("tlsrpt", short_help="Print a _smtp._tls TXT record, explained.")
def record_tlsrpt(
    rua: Annotated[list[str], typer.Option(
        "--rua", help="A report destination: mailto:ADDRESS or https://URL (repeatable, or "
        "comma-separated).", show_default=False)],
    domain: DomainOption = "example.com",
    as_json: JsonOption = False,
) -> None:
    """Print a correct _smtp._tls TXT record (RFC 8460 §3) and what each part means."""
    from tlsscope.parse.records import tlsrpt_record

    uris = [u.strip() for value in rua for u in value.split(",") if u.strip()]
    try:
        text = tlsrpt_record(uris)
    except ValueError as exc:
        raise fail(str(exc), 1) from None
    name = f"_smtp._tls.{domain}"
    if as_json:
        print_json({"name": name, "type": "TXT", "value": text})
        return
    typer.echo(f'{name}. 3600 IN TXT "{text}"')
    typer.echo(f"\nPublish it as a TXT record named {name}.")
    typer.echo("  v=TLSRPTv1  the version; it must come first, exactly so.")
    typer.echo(f"  rua=...     where senders deliver their daily reports ({len(uris)} "
               "destination(s); mailto: by mail, https: by POST).")
    typer.echo("A long TTL, or a DNSSEC-signed zone, keeps an attacker from hiding it "
               "(RFC 8460 §7).")


@record_app.command("mta-sts", short_help="Print an MTA-STS policy file and its record.")
def record_mta_sts(
    mx: Annotated[list[str], typer.Option(
        "--mx", help="An MX host or *.domain pattern (repeatable).", show_default=False)],
    mode: Annotated[str, typer.Option(help="testing, enforce or none.")] = "testing",
    max_age: Annotated[int, typer.Option(help="Seconds senders cache the policy.")] = 604800,
    sts_id: Annotated[str | None, typer.Option(
        "--id", help="The record's id (default: the UTC time).", show_default=False)] = None,
    domain: DomainOption = "example.com",
    as_json: JsonOption = False,
) -> None:
    """Print an MTA-STS policy file and its _mta-sts TXT record (RFC 8461 §3.1, §3.2)."""
    from tlsscope.parse.records import sts_policy, sts_record

    try:
        policy = sts_policy(mx, mode, max_age)
        record = sts_record(sts_id)
    except ValueError as exc:
        raise fail(str(exc), 1) from None
    url = f"https://mta-sts.{domain}/.well-known/mta-sts.txt"
    if as_json:
        print_json({"policy_url": url, "policy": policy, "record_name": f"_mta-sts.{domain}",
                    "record": record})
        return
    typer.echo(f"Serve this at {url} (text/plain, HTTP 200, no redirect, a publicly trusted "
               f"certificate for mta-sts.{domain}):\n")
    typer.echo(policy.replace("\r\n", "\n"))
    typer.echo(f'Then publish: _mta-sts.{domain}. 3600 IN TXT "{record}"')
    typer.echo("Change the id every time the policy file changes, or senders keep the old one.")


@record_app.command("check", short_help="Validate TLS-RPT and MTA-STS records and policies.")
def record_check(
    texts: Annotated[list[str], typer.Argument(
        help="TXT record values or a policy file's text (use - to read one from stdin); "
        "several records given together are checked as one DNS answer.",
        show_default=False)],
    mx: Annotated[list[str] | None, typer.Option(
        "--mx", help="An MX host the policy's mx lines must cover (repeatable).",
        show_default=False)] = None,
    as_json: JsonOption = False,
) -> None:
    """Validate TLS-RPT records, _mta-sts records and MTA-STS policy files; exit 1 on errors."""
    import sys

    from rich.console import Console
    from rich.text import Text

    from tlsscope.cli.sanitize import safe
    from tlsscope.parse.records import check_all

    values = [sys.stdin.read() if text == "-" else text for text in texts]
    checks = check_all(values, mx or [])
    if as_json:
        print_json(checks)
    else:
        console = Console()
        for text, result in zip(values, checks, strict=True):
            verdict = ("valid", "green") if result.valid else ("INVALID", "red")
            console.print(Text.assemble((f"{result.kind}: ", "bold"), verdict, "  ",
                                        safe(text.strip().splitlines()[0][:80] if text.strip()
                                             else "")))
            for p in result.problems:
                where = f" at {p.position}" if p.position >= 0 else ""
                console.print(Text(safe(f"  {p.level}{where} [{p.rule}] {p.token!r}: "
                                        f"{p.message}"),
                                   style="red" if p.level == "error" else "yellow"))
    if not all(c.valid for c in checks):
        raise typer.Exit(1)
