"""`tlsscope` command line: each command is a thin shell over the library.

Commands live in their own modules and register themselves on `app` when imported.
"""

from __future__ import annotations

from tlsscope.cli import (  # noqa: F401  (importing registers the commands)
    alerts_cmd,
    audit_cmd,
    check_cmd,
    digest_cmd,
    explain_cmd,
    findings_cmd,
    jobs_cmd,
    migrate_cmd,
    orgs_cmd,
    parse_cmd,
    record_cmd,
    serve_cmd,
    store_cmds,
    summary_cmd,
    users_cmd,
)
from tlsscope.cli.app import app, refusals

__all__ = ["app", "run"]


def run() -> None:
    from tlsscope.app import audit

    audit.act_as(audit.cli_actor())  # who the audit log says acted: cli:<os user>
    with refusals():  # what a command left to the edge
        app()
