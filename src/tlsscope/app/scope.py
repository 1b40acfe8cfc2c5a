"""What a user may see and do: the one rule, for the pages, the API and the CLI.

A user sees the domains of their organisation (an admin: every domain). Anything outside the
scope is `NotFound`, as if it did not exist; what the user sees but may not change is
`Forbidden`. The CLI acts as the installation's operator: `OPERATOR`, every domain.
"""

from __future__ import annotations

from typing import NamedTuple

from tlsscope.errors import Forbidden, Invalid, NotFound
from tlsscope.store import Store
from tlsscope.store import accounts as account_rows
from tlsscope.store.accounts import SCOPES, User


def domain_name(domain: str) -> str:
    """A domain as stored: lower case, no trailing dot, no surrounding blanks."""
    return domain.strip().lower().rstrip(".")


def valid_domain(text: str, field: str = "domain") -> str:
    """A domain name a user typed (assigned to an organisation, named in an alert rule), as
    stored: an A-label name of LDH labels (parse/values.py's rule for policy domains); else
    `Invalid`, which names the problem."""
    from tlsscope.parse.values import check_domain, policy_domain_problem

    name = domain_name(text[:300])
    checked = check_domain(name)
    problem = policy_domain_problem(checked.value) if not checked.problem or \
        checked.problem.startswith("U-label") else checked.problem
    if len(text) > 300 or problem:
        from tlsscope.visible import shortened

        raise Invalid(field, f"{field}: {shortened(text, 80)} is not a domain name"
                      + (f" ({problem})" if problem and len(text) <= 300 else ""))
    return checked.value.lower()


class Scope(NamedTuple):
    user: User
    domains: list[str] | None  # None: every domain (admin)
    csrf: str = ""  # a browser session's form token ("" for API tokens and the CLI)
    token_scope: str = ""  # an API token's scope; "" for a session (its role decides)

    def may(self, needed: str) -> bool:
        """Whether a token's scope covers `needed` (a session: always)."""
        if not self.token_scope:
            return True
        return SCOPES.index(self.token_scope) >= SCOPES.index(needed)

    def require(self, needed: str) -> None:
        if not self.may(needed):
            raise Forbidden(f"this API token's scope is {self.token_scope}; "
                            f"this needs {needed}")

    def allows(self, domain: str) -> bool:
        return self.domains is None or domain in self.domains

    def domain(self, domain: str) -> str:
        """`domain` normalised; `NotFound` when outside the scope."""
        name = domain_name(domain)
        if not self.allows(name):
            raise NotFound()
        return name

    def require_admin(self) -> None:
        """Admin-only things do not exist for anyone else."""
        if not self.user.is_admin:
            raise NotFound()

    def require_writer(self) -> None:
        if not self.user.can_write:
            raise Forbidden("read-only users cannot change anything")


OPERATOR = Scope(User(id=0, email="", name="operator", role="admin", organisation=None,
                      organisation_name="", lang=""), None)


def of_user(store: Store, user: User, csrf: str = "", token_scope: str = "") -> Scope:
    return Scope(user, store.read(account_rows.visible_domains, user), csrf, token_scope)


def visible(store: Store, scope: Scope) -> list[tuple[str, str]]:
    """(domain, organisation name) of every domain the user may see."""
    every = store.read(account_rows.all_domains)
    if scope.domains is None:
        return [(d.name, d.organisation_name) for d in every]
    owned = {d.name: d.organisation_name for d in every}
    return [(name, owned.get(name, "")) for name in sorted(set(scope.domains))]
