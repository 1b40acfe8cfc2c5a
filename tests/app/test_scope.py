"""What a user may see and do (app/scope.py): outside the scope is `NotFound`, as if it did
not exist; seen but not to be changed is `Forbidden`."""

from __future__ import annotations

import pytest

from tlsscope.app.scope import OPERATOR, Scope, domain_name, of_user, visible
from tlsscope.errors import Forbidden, NotFound
from tlsscope.store import Store
from tlsscope.store.accounts import User

ACME = ["news.example", "shop.example"]


def user(role: str) -> User:
    return User(id=7, email=f"{role}@acme.example", name=role, role=role, organisation=1,
                organisation_name="Acme Retail", lang="")


def test_domains_are_compared_as_stored() -> None:
    assert domain_name("  Shop.Example. ") == "shop.example"
    member = Scope(user("member"), ACME)
    assert member.domain(" SHOP.example.") == "shop.example"


def test_a_domain_outside_the_scope_does_not_exist() -> None:
    member = Scope(user("member"), ACME)
    assert member.allows("shop.example") and not member.allows("clinic.example")
    with pytest.raises(NotFound) as raised:
        member.domain("clinic.example")
    assert raised.value.message == "not found"  # nothing says it exists elsewhere
    nobody = Scope(user("member"), [])
    with pytest.raises(NotFound):
        nobody.domain("shop.example")


def test_an_admin_and_the_operator_see_every_domain() -> None:
    admin = Scope(user("admin"), None)
    assert admin.domain("clinic.example") == "clinic.example"
    assert OPERATOR.domains is None and OPERATOR.user.is_admin
    assert OPERATOR.domain("Anything.Example") == "anything.example"
    admin.require_admin()
    OPERATOR.require_admin()
    OPERATOR.require_writer()


def test_admin_things_do_not_exist_for_anyone_else() -> None:
    for role in ("member", "readonly"):
        with pytest.raises(NotFound):
            Scope(user(role), ACME).require_admin()


def test_a_readonly_user_sees_but_may_not_change() -> None:
    readonly = Scope(user("readonly"), ACME)
    assert readonly.domain("shop.example") == "shop.example"
    with pytest.raises(Forbidden) as raised:
        readonly.require_writer()
    assert raised.value.message == "read-only users cannot change anything"
    Scope(user("member"), ACME).require_writer()


def test_a_token_does_what_its_scope_covers() -> None:
    read = Scope(user("admin"), None, token_scope="read")
    assert read.may("read") and not read.may("write") and not read.may("admin")
    with pytest.raises(Forbidden) as raised:
        read.require("write")
    assert raised.value.message == "this API token's scope is read; this needs write"
    write = Scope(user("admin"), None, token_scope="write")
    write.require("read")
    write.require("write")
    with pytest.raises(Forbidden):
        write.require("admin")
    Scope(user("admin"), None, token_scope="admin").require("admin")
    session = Scope(user("member"), ACME, csrf="token")  # a session: its role decides
    assert all(session.may(needed) for needed in ("read", "write", "admin"))


def test_a_user_sees_the_domains_of_their_organisation(store: Store) -> None:
    from tlsscope.app.accounts import add_user, assign, user_by_id

    for domain, owner in (("shop.example", "Acme Retail"), ("news.example", "Acme Retail"),
                          ("clinic.example", "Beta Health")):
        assign(store, domain, owner)
    ana = user_by_id(store, add_user(store, "ana@acme.example", "acme-password-1", "member",
                                     "Acme Retail"))
    admin = user_by_id(store, add_user(store, "root@test.example", "admin-password-1", "admin",
                                       ""))
    ana_scope = of_user(store, ana)
    assert sorted(ana_scope.domains or []) == ACME
    assert visible(store, ana_scope) == [("news.example", "Acme Retail"),
                                         ("shop.example", "Acme Retail")]
    with pytest.raises(NotFound):
        ana_scope.domain("clinic.example")
    admin_scope = of_user(store, admin)
    assert admin_scope.domains is None
    assert {name for name, _ in visible(store, admin_scope)} == {
        "clinic.example", "news.example", "shop.example"}
