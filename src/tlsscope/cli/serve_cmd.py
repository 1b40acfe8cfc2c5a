"""`tlsscope serve`: the long-running receiver (HTTP(S) intake, SMTP, LMTP)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tlsscope.cli.app import ConfigOption, DbOption, app, fail, open_store, settings


@app.command(short_help="Receive reports; serve the dashboard and the API.")
def serve(
    listen: Annotated[str | None, typer.Option(
        "--listen", help="HOST:PORT for HTTP(S) (setting listen; default 127.0.0.1:8080).",
        show_default=False)] = None,
    smtp: Annotated[str | None, typer.Option(
        "--smtp", help="HOST:PORT for the built-in SMTP receiver (setting smtp_listen).",
        show_default=False)] = None,
    lmtp: Annotated[str | None, typer.Option(
        "--lmtp", help="HOST:PORT or /socket/path for LMTP (setting lmtp_listen).",
        show_default=False)] = None,
    imap: Annotated[str | None, typer.Option(
        "--imap", help="Mailbox to drain: imaps://USER@HOST:PORT/MAILBOX (imap:// for STARTTLS); "
        "the password comes from TLSSCOPE_IMAP_PASSWORD or imap_password_file.",
        show_default=False)] = None,
    rua_address: Annotated[list[str] | None, typer.Option(
        "--rua-address", help="A report address the SMTP/LMTP receivers accept (repeatable; "
        "setting rua_addresses).", show_default=False)] = None,
    tls_cert: Annotated[Path | None, typer.Option(
        "--tls-cert", help="PEM certificate chain: serve HTTPS, offer STARTTLS.",
        dir_okay=False, show_default=False)] = None,
    tls_key: Annotated[Path | None, typer.Option(
        "--tls-key", help="PEM private key for --tls-cert.", dir_okay=False,
        show_default=False)] = None,
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Receive reports over HTTPS (POST /v1/tlsrpt), SMTP, LMTP and IMAP, and serve the
    dashboard (/), the JSON API (/api/v1, documented at /docs), until SIGTERM. The first
    start on an empty store creates an admin and logs how to log in.

    Logs are JSON lines on stderr; every acknowledgement comes after the commit.
    """
    import asyncio

    from tlsscope import logs
    from tlsscope.errors import ConfigError
    from tlsscope.serve import serve as run
    from tlsscope.store import Pool

    loaded = settings(config)
    overrides = {"listen": listen, "smtp_listen": smtp, "lmtp_listen": lmtp, "imap": imap,
                 "tls_cert": str(tls_cert) if tls_cert else None,
                 "tls_key": str(tls_key) if tls_key else None,
                 "rua_addresses": rua_address or None}
    for name, value in overrides.items():
        if value is not None:
            setattr(loaded, name, value)
    if (loaded.smtp_listen or loaded.lmtp_listen) and not loaded.rua_addresses:
        raise fail("the SMTP/LMTP receivers need at least one --rua-address")
    logs.configure()
    store = open_store(db, config, pool=Pool(loaded.db_pool_web, loaded.db_pool_timeout))
    try:
        try:
            import uvloop  # uvicorn's own choice when installed: faster sockets and TLS
        except ImportError:
            asyncio.run(run(store, loaded))
        else:
            uvloop.run(run(store, loaded))
    except ConfigError as exc:
        raise fail(str(exc)) from None
    except OSError as exc:
        raise fail(f"cannot listen: {exc.strerror or exc}") from None
    finally:
        store.close()
