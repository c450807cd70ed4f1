"""Authorization as one table: every route of every service has a rule, no rule is stale, and
the one dependency admits by role, refuses the rest with 403 and unlisted endpoints to all."""

from __future__ import annotations

import importlib
from typing import Annotated

import pytest
from fastapi import APIRouter, Depends, FastAPI
from fastapi.testclient import TestClient

from runtime.access import AccessTable, caller, missing_rules, rule
from runtime.principal import Principal
from runtime.supervisor import SERVICES

ONLY_WITH_CLOCK_CONTROL = {("POST", "/admin/clock")}


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_every_endpoint_of_the_service_has_exactly_one_rule(service: str) -> None:
    app = importlib.import_module(f"services.{service}.app").create_app()
    table: AccessTable = importlib.import_module(f"services.{service}.access").ACCESS
    paths = app.openapi()["paths"]
    assert missing_rules(paths, table) == []
    declared = {(m.upper(), p) for p, ops in paths.items() for m in ops}
    assert set(table) - declared <= ONLY_WITH_CLOCK_CONTROL, "rules for endpoints that are gone"


TABLE = {("GET", "/things/{thing_id}"): rule("jcp", "operations")}
Caller = Annotated[Principal, Depends(caller(TABLE))]
router = APIRouter()


@router.get("/things/{thing_id}")
async def thing(thing_id: str, p: Caller) -> dict[str, str]:
    return {"org": p.org_id}


@router.get("/unlisted")
async def unlisted(p: Caller) -> dict[str, str]:
    return {"org": p.org_id}


def _app() -> TestClient:
    app = FastAPI()
    app.include_router(router)
    app.state.tokens = {
        "j": Principal("JCP-CW", "jcp", "cw"),
        "p": Principal("P-01", "provider", "cw"),
        "o": Principal("OPS", "operations", "cw"),
    }
    return TestClient(app)


def test_the_dependency_admits_by_role_and_denies_what_the_table_lacks() -> None:
    client = _app()

    def status(path: str, token: str | None) -> int:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return client.get(path, headers=headers).status_code

    assert status("/things/1", None) == 401
    assert status("/things/1", "unknown") == 401
    assert status("/things/1", "j") == 200
    assert status("/things/1", "o") == 200
    assert status("/things/1", "p") == 403
    assert status("/unlisted", "o") == 403  # deny by default


def test_own_org_names_only_admitted_roles() -> None:
    with pytest.raises(ValueError, match="own_org"):
        rule("jcp", own_org=("provider",))
