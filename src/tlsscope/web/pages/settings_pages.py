"""API tokens (an admin sees and revokes everyone's); for admins, domains and their owners,
users, receivers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from tlsscope.store import accounts as account_rows
from tlsscope.store import browse
from tlsscope.web import auth, tools, views
from tlsscope.web.auth import Scope
from tlsscope.web.pages.site import (
    Site,
    words_for,
)


def add(pages: APIRouter, site: Site) -> None:
    def settings_page(request: Request, scope: Scope, **extra: Any) -> HTMLResponse:
        admin = scope.user.is_admin
        return site.render(
            request, scope, "settings.html", "settings",
            tokens=site.store.read(account_rows.tokens, None if admin else scope.user.id),
            scopes=account_rows.SCOPES,
            domains=site.store.read(account_rows.all_domains) if admin else [],
            users=site.store.read(account_rows.users) if admin else [],
            organisations=site.store.read(account_rows.organisations) if admin else [],
            receivers=site.store.read(browse.receivers) if admin else [],
            **{"message": "", "new_token": "", **extra})

    @pages.get("/settings")
    def settings_get(request: Request) -> HTMLResponse:
        return settings_page(request, site.scope_of(request))

    @pages.post("/settings/tokens")
    def token_add(request: Request, name: str = Form(""), token_scope: str = Form("read"),
                  expires_days: str = Form(""), csrf: str = Form("")) -> HTMLResponse:
        scope = site.changed(request, csrf)
        try:
            days = int(expires_days) if expires_days.strip() else None
            token = auth.new_token(site.store, scope.user, name.strip()[:100] or "token",
                                   token_scope, days)
        except ValueError as exc:
            raise HTTPException(400, str(exc)) from None
        return settings_page(request, scope, new_token=token)

    @pages.post("/settings/tokens/{token_id}/delete")
    def token_delete(request: Request, token_id: int, csrf: str = Form("")) -> Response:
        scope = site.changed(request, csrf)
        owner = None if scope.user.is_admin else scope.user.id  # an admin: anyone's
        if not site.store.write(account_rows.drop_token, owner, token_id):
            raise HTTPException(404, "not found")
        return RedirectResponse("/settings", status_code=303)

    @pages.post("/settings/domains")
    def domain_assign(request: Request, domain: str = Form(""), organisation: str = Form(""),
                      csrf: str = Form("")) -> HTMLResponse:
        scope = site.changed(request, csrf)
        views.require_admin(scope)
        name = domain.strip().lower().rstrip(".")
        if not name or "." not in name:
            raise HTTPException(400, "domain: give a domain name such as example.com")
        tools.assign(site.store, name, organisation.strip())
        return settings_page(request, scope, message=words_for(request, scope)(
            "settings.assigned", domain=name, organisation=organisation.strip() or "—"))

    @pages.post("/settings/users")
    def user_add(request: Request, email: str = Form(""), password: str = Form(""),
                 role: str = Form("member"), organisation: str = Form(""),
                 csrf: str = Form("")) -> HTMLResponse:
        scope = site.changed(request, csrf)
        views.require_admin(scope)
        try:
            tools.add_user(site.store, email, password, role, organisation.strip())
        except ValueError as exc:
            raise HTTPException(400, str(exc)) from None
        return settings_page(request, scope, message=words_for(request, scope)(
            "settings.user_added", email=email))

    _account_changes(pages, site, settings_page)


def _account_changes(pages: APIRouter, site: Site,
                     settings_page: Callable[..., HTMLResponse]) -> None:
    """An admin's changes to organisations and users, answered with the settings page."""

    @pages.post("/settings/organisations/{org_id}")
    def organisation_change(request: Request, org_id: int, action: str = Form(""),
                            name: str = Form(""), csrf: str = Form("")) -> HTMLResponse:
        """An admin renames an organisation, or merges it into another (its domains and
        users move there, and it goes)."""
        scope = site.changed(request, csrf)
        views.require_admin(scope)
        known = dict(site.store.read(account_rows.organisations))
        if org_id not in known:
            raise HTTPException(404, "not found")
        words = words_for(request, scope)
        try:
            if action == "rename" and name.strip():
                site.store.write(account_rows.rename_organisation, org_id, name.strip())
                said = words("settings.org_renamed", old=known[org_id], new=name.strip())
            elif action == "merge":
                target = tools.existing_organisation(site.store, name.strip())
                site.store.write(account_rows.merge_organisations, org_id, target)
                said = words("settings.org_merged", source=known[org_id], target=name.strip())
            else:
                raise ValueError("action: rename (with a new name) or merge (into another)")
        except ValueError as exc:
            raise HTTPException(400, str(exc)) from None
        return settings_page(request, scope, message=said)

    @pages.post("/settings/users/{user_id}")
    def user_change(request: Request, user_id: int, action: str = Form(""),
                    role: str = Form(""), organisation: str = Form(""),
                    csrf: str = Form("")) -> HTMLResponse:
        """An admin disables, enables, deletes a user, or changes their role and
        organisation; never their own account (the last admin must not lock itself out)."""
        scope = site.changed(request, csrf)
        views.require_admin(scope)
        user = site.store.read(account_rows.user_by_id, user_id)
        if user is None:
            raise HTTPException(404, "not found")
        if user.id == scope.user.id:
            raise HTTPException(400, "you cannot change your own account here")
        said = "settings.user_changed"
        if action in ("disable", "enable"):
            site.store.write(account_rows.set_disabled, user.id, action == "disable")
        elif action == "delete":
            site.store.write(account_rows.delete_user, user.id)
            said = "settings.user_deleted"
        elif action == "role":
            try:
                tools.set_role(site.store, user, role, organisation.strip())
            except ValueError as exc:
                raise HTTPException(400, str(exc)) from None
        else:
            raise HTTPException(400, "action: disable, enable, delete or role")
        return settings_page(request, scope, message=words_for(request, scope)(
            said, email=user.email))
