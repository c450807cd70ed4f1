"""Bearer tokens: each maps to one organisation acting in one role (see the contract)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from runtime.principal import Principal, Role

_bearer = HTTPBearer(auto_error=False, description="A token from deploy/local/dev-tokens.json")


def load_tokens(path: Path) -> dict[str, Principal]:
    """`{"<token>": {"org_id", "role", "partnership"}}` as the contract shapes it.

    A token without a partnership belongs to none and sees no partnership's records; only an
    explicit `"*"` (national operations) sees them all.
    """
    raw = json.loads(path.read_text())
    return {
        token: Principal(org_id=v["org_id"], role=v["role"], partnership=v.get("partnership", ""))
        for token, v in raw.items()
    }


def current_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(401, "missing bearer token", headers={"WWW-Authenticate": "Bearer"})
    principal = request.app.state.tokens.get(credentials.credentials)
    if principal is None:
        raise HTTPException(401, "unknown token", headers={"WWW-Authenticate": "Bearer"})
    return principal


def allow(*roles: Role) -> Callable[..., Principal]:
    """A dependency that admits only these roles (403 for any other, 401 without a token)."""

    def dependency(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        if principal.role not in roles:
            raise HTTPException(403, f"role {principal.role!r} may not do this")
        return principal

    return dependency
