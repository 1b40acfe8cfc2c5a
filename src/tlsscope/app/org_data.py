"""An organisation's data on request: all of it exported (JSON and its raw inputs, into a
folder or a zip), or all of it deleted, with the roll-ups kept equal to a recount and other
organisations untouched (docs/retention.md).

The export, for a stranger to read (README.txt says what each file holds):
    organisation.json   the organisation, its retention, when exported, what was withheld
    domains.json, users.json (with their API tokens; no hashes), alert_rules.json (no
    targets, no secrets)
    reports.jsonl       one report a line, in RFC 8460's shape, with the policies of its
                        domains only, and what tlsscope knows of it ("tlsscope")
    checks.jsonl, findings.jsonl
    inputs.jsonl, raw/  each raw input (as it arrived) that only carries its reports

The deletion: its reports (policy by policy: a report that also covers another organisation's
domain keeps that one's policies) and live checks in chunks, then, in one transaction, what
derives from its domains, its alert rules, users, domains and itself (store/org_rows.py). A
deletion cut short is finished by running it again.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, NamedTuple, Protocol

import msgspec

from tlsscope import __version__
from tlsscope.app import accounts, audit
from tlsscope.app.retention import PurgeResult, retrying
from tlsscope.app.scope import Scope
from tlsscope.jsonable import plain
from tlsscope.store import Store, org_rows, retention_rows

CHUNK = 200
README = """\
The data of one organisation, exported by tlsscope {version} on {at} (UTC).

organisation.json  the organisation, its retention settings (null: the installation's), what
                   this export holds and what it withheld
domains.json       its domains, and when each was added
users.json         its users with their API tokens (no password or token hashes)
alert_rules.json   its alert rules (without their targets and webhook secrets)
reports.jsonl      one JSON report a line, in the shape of RFC 8460 (SMTP TLS Reporting),
                   holding only the policies of this organisation's domains; "tlsscope" says
                   when it was stored, how it came, what the reader noticed, and how many
                   policies about other organisations' domains were left out
checks.jsonl       one live check a line (MTA-STS, DANE, STARTTLS of its domains)
findings.jsonl     one finding a line, with its status history
inputs.jsonl       one raw input a line: where it came from, when, and the file under raw/
                   holding its bytes exactly as they arrived (null: not kept, or also about
                   other organisations' domains)
"""


class Sink(Protocol):
    def open(self, name: str) -> Any: ...


class Folder:
    """Export files into a folder: a new or empty one (one export's files never mix with
    another's), each file created new, never through a symbolic link (O_EXCL, O_NOFOLLOW:
    a link planted in the folder is refused, not followed)."""

    def __init__(self, path: Path) -> None:
        from tlsscope.errors import Invalid

        self.path = path
        self.where = str(path)
        path.mkdir(parents=True, exist_ok=True)
        if any(path.iterdir()):
            raise Invalid("folder", f"{path} is not empty: export into a new or empty folder")
        (path / "raw").mkdir()

    @contextmanager
    def open(self, name: str) -> Iterator[IO[bytes]]:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
        fd = os.open(self.path / name, flags | getattr(os, "O_BINARY", 0), 0o600)
        with os.fdopen(fd, "wb") as out:
            yield out


class Zip:
    """Export files into a zip archive."""

    def __init__(self, archive: zipfile.ZipFile, top: str) -> None:
        self.archive, self.top = archive, top
        self.where = "zip"

    @contextmanager
    def open(self, name: str) -> Iterator[IO[bytes]]:
        with self.archive.open(f"{self.top}/{name}", "w", force_zip64=True) as out:
            yield out


class Exported(NamedTuple):
    domains: int
    users: int
    reports: int
    checks: int
    findings: int
    inputs: int
    raw_files: int
    withheld_inputs: int


def _line(value: Any) -> bytes:
    return msgspec.json.encode(plain(value)) + b"\n"


def _whole(value: Any) -> bytes:
    return msgspec.json.format(msgspec.json.encode(plain(value)), indent=2) + b"\n"


def _suffix(data: bytes) -> str:
    if data.startswith(b"\x1f\x8b"):
        return ".gz"
    if data.startswith(b"PK\x03\x04"):
        return ".zip"
    if data.lstrip()[:1] in (b"{", b"["):
        return ".json"
    return ".eml"


def export(store: Store, scope: Scope, name: str, sink: Sink) -> Exported:
    """Write everything of the organisation `name` to `sink` (an admin's)."""
    scope.require_admin()
    org = accounts.existing_organisation(store, name)
    at = dt.datetime.now(dt.UTC).replace(microsecond=0)
    names = [d["name"] for d in store.read(org_rows.domains, org)]
    users = store.read(org_rows.users, org)
    for file, value in (("domains.json", store.read(org_rows.domains, org)),
                        ("users.json", users),
                        ("alert_rules.json", store.read(org_rows.alert_rules, org))):
        with sink.open(file) as out:
            out.write(_whole(value))
    reports, digests = _paged(store, sink, "reports.jsonl", org_rows.report_page, names,
                              lambda item: item["tlsscope"]["input_sha256"])
    checks, _ = _paged(store, sink, "checks.jsonl", org_rows.check_page, names, None)
    found = store.read(org_rows.findings, names)
    with sink.open("findings.jsonl") as out:
        for finding in found:
            out.write(_line(finding))
    raw, withheld = _inputs(store, sink, sorted(digests), names)
    done = Exported(domains=len(names), users=len(users), reports=reports, checks=checks,
                    findings=len(found), inputs=len(digests), raw_files=raw,
                    withheld_inputs=withheld)
    with sink.open("organisation.json") as out:
        out.write(_whole({**store.read(org_rows.organisation, org), "exported_at": at,
                          "tlsscope_version": __version__, "counts": done._asdict()}))
    with sink.open("README.txt") as out:
        out.write(README.format(version=__version__, at=at.isoformat()).encode())
    audit.record(store, audit.Change("organisation.exported", name, {
        "organisation_id": org, "into": getattr(sink, "where", ""), **done._asdict()}))
    return done


def _paged(store: Store, sink: Sink, file: str,
           page: Callable[..., tuple[int, list[dict[str, Any]]]], names: list[str],
           digest: Callable[[dict[str, Any]], str] | None) -> tuple[int, set[str]]:
    """Write a JSON Lines file a page (one short read) at a time."""
    count, after = 0, 0
    digests: set[str] = set()
    with sink.open(file) as out:
        while True:
            after, items = store.read(page, names, after, CHUNK)
            if not items:
                return count, digests
            for item in items:
                out.write(_line(item))
                if digest is not None:
                    digests.add(digest(item))
            count += len(items)


def _inputs(store: Store, sink: Sink, digests: list[str], names: list[str]) -> tuple[int, int]:
    raw = withheld = 0
    # The records wait in a temporary file: a zip takes one member at a time, and the raw
    # files are written meanwhile.
    with tempfile.TemporaryFile() as out:
        for start in range(0, len(digests), CHUNK):
            page = digests[start:start + CHUNK]
            mine = store.read(org_rows.exclusive_inputs, page, names)
            for digest in page:
                found = store.read(org_rows.raw_input, digest)
                if found is None:
                    continue
                record, data = found
                file = None
                if digest not in mine:
                    withheld += 1
                elif data is not None:
                    file = f"raw/{digest}{_suffix(data)}"
                    with sink.open(file) as blob:
                        blob.write(data)
                    raw += 1
                out.write(_line({**record, "file": file,
                                 "also_about_other_organisations": digest not in mine}))
        out.seek(0)
        with sink.open("inputs.jsonl") as lines:
            shutil.copyfileobj(out, lines)
    return raw, withheld


def export_to_folder(store: Store, scope: Scope, name: str, folder: Path) -> Exported:
    return export(store, scope, name, Folder(folder))


def export_zip(store: Store, scope: Scope, name: str, into: IO[bytes]) -> Exported:
    """The export as one zip archive (its files under a folder named for the export)."""
    with zipfile.ZipFile(into, "w", zipfile.ZIP_DEFLATED) as archive:
        return export(store, scope, name, Zip(archive, "tlsscope-export"))


# Deleting ------------------------------------------------------------------------------------

class Deleted(NamedTuple):
    reports: int
    policies: int
    checks: int
    inputs_deleted: int
    users: int
    alert_rules: int
    domains: int


def delete(store: Store, scope: Scope, name: str) -> Deleted:
    """Delete the organisation `name` and all its data (an admin's)."""
    scope.require_admin()
    org = accounts.existing_organisation(store, name)
    names = [d["name"] for d in store.read(org_rows.domains, org)]
    removed = PurgeResult()
    after = 0
    while page := store.read(retention_rows.organisation_page, org, after, CHUNK):
        after = max(c.report for c in page)
        doomed = [(c.report, c.idx) for c in page if c.organisation == org]
        removed.add(retrying(store.write, retention_rows.remove_policies, doomed))
    checks, after_check = 0, 0
    future = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    while page_checks := store.read(retention_rows.check_page, future, names, after_check,
                                    CHUNK):
        after_check = page_checks[-1][0]
        checks += retrying(store.write, retention_rows.remove_checks,
                            [c[0] for c in page_checks], set())
    rest = retrying(store.write, org_rows.drop, org, names)
    done = Deleted(reports=removed.reports, policies=removed.policies, checks=checks,
                   inputs_deleted=removed.inputs_deleted, users=rest["users"],
                   alert_rules=rest["alert_rules"], domains=rest["domains"])
    audit.record(store, audit.Change("organisation.deleted", name, {
        "organisation_id": org, "domain_names": names, **done._asdict()}))
    return done


def zip_bytes(store: Store, scope: Scope, name: str) -> bytes:
    """The export as zip bytes (small organisations, and tests)."""
    buffer = io.BytesIO()
    export_zip(store, scope, name, buffer)
    return buffer.getvalue()
