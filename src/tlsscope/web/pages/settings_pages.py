"""API tokens (an admin sees and revokes everyone's); for admins, domains and their owners,
users, receivers, and the audit log (read only)."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from typing import Annotated, Any

import msgspec
from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse

from tlsscope.alert import digest
from tlsscope.app import accounts, audit, ingest, org_data
from tlsscope.app.accounts import SCOPES
from tlsscope.app.scope import Scope
from tlsscope.errors import Invalid, NotFound
from tlsscope.vocab import MAX_ROW_ID
from tlsscope.web.ids import RowId
from tlsscope.web.pages.site import (
    Site,
    words_for,
)

AUDIT_ROWS = 50  # audit entries a page shows; older ones a link away


def _detail(detail: dict[str, Any]) -> str:
    """An entry's detail as one line: `key: value, ...` (values in JSON)."""
    return ", ".join(f"{key}: {msgspec.json.encode(value).decode()}"
                     for key, value in detail.items())


def add(pages: APIRouter, site: Site) -> None:
    def settings_page(request: Request, scope: Scope, audit_before: int | None = None,
                      audit_action: str = "", **extra: Any) -> HTMLResponse:
        admin = scope.user.is_admin
        entries = audit.entries(site.store, scope, AUDIT_ROWS + 1, action=audit_action,
                                before=audit_before) if admin else []
        return site.render(
            request, scope, "settings.html", "settings",
            tokens=accounts.tokens(site.store, None if admin else scope.user),
            scopes=SCOPES,
            domains=accounts.domains(site.store) if admin else [],
            users=accounts.users(site.store) if admin else [],
            organisations=accounts.organisations(site.store) if admin else [],
            receivers=ingest.receivers(site.store, scope) if admin else [],
            digest=digest.subscription(site.store, scope.user.id),
            audit=entries[:AUDIT_ROWS], audit_action=audit_action[:64],
            audit_next=entries[AUDIT_ROWS - 1].id if len(entries) > AUDIT_ROWS else None,
            audit_detail=_detail,
            **{"message": "", "new_token": "", **extra})

    @pages.get("/settings")
    def settings_get(request: Request,
                     audit_before: Annotated[int | None, Query(ge=1, le=MAX_ROW_ID)] = None,
                     audit_action: Annotated[str, Query(max_length=64)] = "") -> HTMLResponse:
        """The settings; for an admin also the audit log, newest first, a page at a time."""
        return settings_page(request, site.scope_of(request), audit_before, audit_action)

    @pages.post("/settings/tokens")
    def token_add(request: Request, name: str = Form(""), token_scope: str = Form("read"),
                  expires_days: str = Form(""), csrf: str = Form("")) -> HTMLResponse:
        scope = site.changed(request, csrf)
        try:
            days = int(expires_days) if expires_days.strip() else None
        except ValueError:
            raise Invalid("expires_days", "expires-days: a whole number of days") from None
        token = accounts.new_token(site.store, scope.user, name.strip()[:100] or "token",
                                   token_scope, days)
        return settings_page(request, scope, new_token=token)

    @pages.post("/settings/tokens/{token_id}/delete")
    def token_delete(request: Request, token_id: RowId, csrf: str = Form("")) -> Response:
        scope = site.changed(request, csrf)
        # An admin: anyone's.
        accounts.revoke(site.store, None if scope.user.is_admin else scope.user, token_id)
        return RedirectResponse("/settings", status_code=303)

    @pages.post("/settings/digest")
    def digest_choose(request: Request, period: str = Form(""),
                      csrf: str = Form("")) -> HTMLResponse:
        """The user's own digest: daily, weekly, monthly or none."""
        scope = site.changed(request, csrf)
        digest.subscribe(site.store, scope, scope.user.id, period)
        words = words_for(request, scope)
        return settings_page(request, scope, message=words(
            "settings.digest_saved", period=words(f"settings.digest_{period or 'none'}")))

    @pages.post("/settings/domains")
    def domain_assign(request: Request, domain: str = Form(""), organisation: str = Form(""),
                      csrf: str = Form("")) -> HTMLResponse:
        scope = site.changed(request, csrf)
        scope.require_admin()
        if "." not in domain:
            raise Invalid("domain", "domain: give a domain name such as example.com")
        name = accounts.assign(site.store, domain, organisation.strip())
        return settings_page(request, scope, message=words_for(request, scope)(
            "settings.assigned", domain=name, organisation=organisation.strip() or "—"))

    @pages.post("/settings/users")
    def user_add(request: Request, email: str = Form(""), password: str = Form(""),
                 role: str = Form("member"), organisation: str = Form(""),
                 csrf: str = Form("")) -> HTMLResponse:
        scope = site.changed(request, csrf)
        scope.require_admin()
        accounts.add_user(site.store, email, password, role, organisation.strip())
        return settings_page(request, scope, message=words_for(request, scope)(
            "settings.user_added", email=email))

    _account_changes(pages, site, settings_page)


def _account_changes(pages: APIRouter, site: Site,
                     settings_page: Callable[..., HTMLResponse]) -> None:
    """An admin's changes to organisations and users, answered with the settings page."""

    @pages.post("/settings/organisations/{org_id}")
    def organisation_change(request: Request, org_id: RowId, action: str = Form(""),
                            name: str = Form(""), csrf: str = Form("")) -> HTMLResponse:
        """An admin renames an organisation, merges it into another (its domains and
        users move there, and it goes), or deletes it with all its data (its name typed)."""
        scope = site.changed(request, csrf)
        scope.require_admin()
        known = dict(accounts.organisations(site.store))
        if org_id not in known:
            raise NotFound()
        words = words_for(request, scope)
        if action == "rename" and name.strip():
            accounts.rename_organisation(site.store, org_id, name.strip())
            said = words("settings.org_renamed", old=known[org_id], new=name.strip())
        elif action == "merge":
            target = accounts.existing_organisation(site.store, name.strip())
            accounts.merge_organisations(site.store, org_id, target)
            said = words("settings.org_merged", source=known[org_id], target=name.strip())
        elif action == "delete":  # confirmed by typing its name
            if name != known[org_id]:
                raise Invalid("name", words("settings.name_mismatch"))
            org_data.delete(site.store, scope, known[org_id])
            said = words("settings.org_deleted", name=known[org_id])
        else:
            raise Invalid("action", "action: rename (with a new name), merge (into another) "
                          "or delete (with its name typed)")
        return settings_page(request, scope, message=said)

    @pages.get("/settings/organisations/{org_id}/export")
    def organisation_export(request: Request, org_id: RowId) -> Response:
        """An admin downloads all of an organisation's data as a zip (app/org_data.py),
        spooled to disk past 16 MB."""
        scope = site.scope_of(request)
        scope.require_admin()
        known = dict(accounts.organisations(site.store))
        if org_id not in known:
            raise NotFound()
        spool = tempfile.SpooledTemporaryFile(max_size=16 * 1024 * 1024)
        org_data.export_zip(site.store, scope, known[org_id], spool)
        size = spool.tell()
        spool.seek(0)

        def chunks() -> Iterator[bytes]:
            with spool:
                while block := spool.read(64 * 1024):
                    yield block

        return StreamingResponse(chunks(), media_type="application/zip", headers={
            "Content-Disposition": f'attachment; filename="tlsscope-organisation-{org_id}.zip"',
            "Content-Length": str(size), "Cache-Control": "no-store"})

    @pages.post("/settings/users/{user_id}")
    def user_change(request: Request, user_id: RowId, action: str = Form(""),
                    role: str = Form(""), organisation: str = Form(""),
                    csrf: str = Form("")) -> HTMLResponse:
        """An admin disables, enables, deletes a user, or changes their role and
        organisation; never their own account (the last admin must not lock itself out)."""
        scope = site.changed(request, csrf)
        scope.require_admin()
        user = accounts.user_by_id(site.store, user_id)
        if user.id == scope.user.id:
            raise Invalid("user", "you cannot change your own account here")
        said = "settings.user_changed"
        if action in ("disable", "enable"):
            accounts.set_disabled(site.store, user, action == "disable")
        elif action == "delete":
            accounts.delete_user(site.store, user)
            said = "settings.user_deleted"
        elif action == "role":
            accounts.set_role(site.store, user, role, organisation.strip())
        else:
            raise Invalid("action", "action: disable, enable, delete or role")
        return settings_page(request, scope, message=words_for(request, scope)(
            said, email=user.email))
