"""Who may call each endpoint: one table per service (`services/<name>/access.py`), one dependency.

A service's table maps `(method, path template)` to a `Rule` that says, in one line a reviewer
can read and a test can check (`tests/e2e/test_authorization_matrix.py` walks every cell of
role x endpoint x own/other organisation x own/other partnership from the OpenAPI documents):

- `roles`: who may call it at all; any other role gets 403 (the contract's "role not allowed");
- `own_org`: roles that reach only their own organisation's records (an employer brokerage's
  vacancies, an organisation's subscriptions), anything else being 404 or absent from a list;
- `partnership`: whether records are confined to the caller's partnership (404 or absent
  outside it; national operations, `"*"`, sees every one);
- `consent`: the client's consent scope the answer depends on, if any (documentation: the
  commands enforce it on the stored state);
- `refusal`: what a caller outside `own_org` or the partnership gets: 404 where the record is
  not theirs to know of, 403 where it is public (the directory) but not theirs to change;
- `creates`: the id names a record of the caller's own partnership, created if absent (a
  caseload, a target), so no caller can reach another's through it.

The role check happens here, before the body is even read; the record checks need the stored
record and stay in each service's commands, named by the same table. An endpoint missing from
its service's table is refused to everyone (deny by default), and the tests fail on it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, get_args

from fastapi import Depends, HTTPException, Request

from runtime.auth import current_principal
from runtime.principal import Principal, Role

ROLES: tuple[Role, ...] = get_args(Role)
EVERYONE: frozenset[Role] = frozenset(ROLES)


@dataclass(frozen=True)
class Rule:
    roles: frozenset[Role]
    own_org: frozenset[Role] = frozenset()
    partnership: bool = True
    consent: str | None = None
    note: str = ""
    refusal: int = 404
    creates: bool = False

    def admits(self, role: Role) -> bool:
        return role in self.roles


def rule(
    *roles: Role,
    own_org: tuple[Role, ...] = (),
    partnership: bool = True,
    consent: str | None = None,
    note: str = "",
    refusal: int = 404,
    creates: bool = False,
) -> Rule:
    """`rule("jcp", "operations", own_org=("provider",))` reads as the contract's sentences."""
    if not set(own_org) <= set(roles):
        raise ValueError("own_org names a role the rule does not admit")
    return Rule(frozenset(roles), frozenset(own_org), partnership, consent, note, refusal, creates)


AccessTable = Mapping[tuple[str, str], Rule]

# Mounted in every service by the runtime (`runtime/service.py`, `runtime/clock.py`).
RUNTIME_RULES: dict[tuple[str, str], Rule] = {
    ("GET", "/outbox/parked"): rule("operations", partnership=False, note="counts, error types"),
    ("POST", "/admin/clock"): rule(
        "operations", partnership=False, note="only with ALLOW_CLOCK_CONTROL=true"
    ),
}

# Served to anyone, as the contract says: health and documents.
PUBLIC_PATHS = frozenset(
    {"/healthz", "/readyz", "/metrics", "/openapi.json", "/docs", "/redoc", "/asyncapi.json"}
)


def _key(request: Request) -> tuple[str, str]:
    route = request.scope.get("route")
    method = "GET" if request.method == "HEAD" else request.method
    return method, getattr(route, "path", request.url.path)


def caller(table: AccessTable) -> Callable[..., Principal]:
    """The dependency every route of a service declares: the caller, if its role is admitted."""

    def dependency(
        request: Request, principal: Annotated[Principal, Depends(current_principal)]
    ) -> Principal:
        found = table.get(_key(request))
        if found is None:
            raise HTTPException(403, "no rule admits anyone to this endpoint")
        if not found.admits(principal.role):
            raise HTTPException(403, f"role {principal.role!r} may not do this")
        return principal

    return dependency


def missing_rules(paths: Mapping[str, Mapping[str, object]], table: AccessTable) -> list[str]:
    """Operations of an OpenAPI `paths` object that the table lacks (public paths aside)."""
    return [
        f"{method.upper()} {path}"
        for path, operations in paths.items()
        if path not in PUBLIC_PATHS
        for method in operations
        if method in {"get", "put", "post", "patch", "delete"}
        and (method.upper(), path) not in table
    ]
