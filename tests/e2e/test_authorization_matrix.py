"""The authorization matrix: every endpoint of every service's OpenAPI document, called by every
role as the organisation that owns the record, as another organisation of the same partnership,
and as an organisation of another partnership (plus once without a token), against the access
table the service declares (`services/<name>/access.py`).

What each cell expects follows from the table alone (`expected` below): 401 without a token, 403
for a role the rule does not admit, the rule's refusal (404, or 403 for the public directory)
outside the caller's organisation or partnership, and otherwise an answer that is none of
those. Writes carry a valid body, so a refusal cannot hide behind a 422; within one endpoint the
callers expected to be refused go first, so an admitted write cannot change what they see.
"""

from __future__ import annotations

import re
import uuid
from datetime import date, timedelta
from typing import Any

import httpx
import pytest

from brokerage_client import JcpFeed, Platform
from brokerage_client.api import poll
from runtime.access import PUBLIC_PATHS, ROLES, AccessTable, Rule, missing_rules
from schemas.topics import REFERRAL_EVENTS
from services.matching.access import ACCESS as MATCHING
from services.notifications.access import ACCESS as NOTIFICATIONS
from services.operations.access import ACCESS as OPERATIONS
from services.referrals.access import ACCESS as REFERRALS
from services.vacancies.access import ACCESS as VACANCIES
from tests.conftest import Infrastructure
from tests.e2e.conftest import ASSESSMENT, SCOPE, VACANCY, read_to_end, register_client

pytestmark = pytest.mark.asyncio

TABLES: dict[str, AccessTable] = {
    "referrals": REFERRALS,
    "vacancies": VACANCIES,
    "matching": MATCHING,
    "notifications": NOTIFICATIONS,
    "operations": OPERATIONS,
}

# role -> relation to the records made below -> token. The records belong to organisations
# the dev tokens lack (conftest.EXTRA_TOKENS) wherever the role allows, so the notifications
# they cause reach no organisation that other tests watch; the provider is P-01, whose
# `retail-routeway` admits the client.
CALLERS: dict[str, dict[str, str]] = {
    "jcp": {
        "own": "e2e-jcp-cw2-token",  # JCP-CW2, which made the referral
        "other-org": "dev-jcp-token",
        "other-partnership": "dev-jcp-bcbc-token",
    },
    "provider": {
        "own": "dev-provider-p01-token",  # the referral's provider and the client's lead
        "other-org": "dev-provider-p02-token",
        "other-partnership": "dev-provider-p03-token",
    },
    "employer_brokerage": {
        "own": "e2e-employer-eb03-token",  # the vacancy's brokerage
        "other-org": "dev-employer-eb01-token",
        "other-partnership": "dev-employer-eb02-token",
    },
    "operations": {
        "own": "e2e-operations-cw2-token",
        "other-org": "dev-operations-token",
        "other-partnership": "dev-operations-bcbc-token",
    },
}
RELATIONS = ("other-partnership", "other-org", "own")  # refused first, admitted last
# The records' vacancy is open but matches no client: the session's matching allocates other
# tests' clients across every open vacancy of the partnership, and must not be drawn to ours.
UNMATCHABLE = {
    **SCOPE,
    "required_skills": ["authorization matrix only"],
    "min_qualification_level": 8,
}
OK = "admitted"


def expected(rule: Rule, role: str, relation: str, resource: bool | None) -> int | str:
    """`resource`: None for an endpoint without a record in its path, else whether it exists."""
    if not rule.admits(role):  # type: ignore[arg-type]
        return 403
    if resource is None or rule.creates:
        return OK
    if not resource:
        return 404
    if relation == "other-partnership" and rule.partnership:
        return rule.refusal
    if relation != "own" and role in rule.own_org:
        return rule.refusal
    return OK


def _outcome(status: int) -> int | str:
    return status if status in (401, 403, 404) else OK


async def _ok(response: httpx.Response, *codes: int) -> dict[str, Any]:
    assert response.status_code in (codes or (200, 201)), response.text
    return response.json() if response.content else {}


def _api(client: httpx.AsyncClient, url: str, token: str | None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}

    async def call(method: str, path: str, **kw: Any) -> httpx.Response:
        return await client.request(method, f"{url}{path}", headers=headers, **kw)

    return call


async def _records(
    services: dict[str, str], platform: Platform, feed: JcpFeed, bootstrap: str
) -> dict[str, Any]:
    """One of each record, owned by the `own` callers in cheshire-warrington."""
    c = platform.client

    def as_(token: str, service: str) -> Any:
        return _api(c, services[service], token)

    jcp, p01 = CALLERS["jcp"]["own"], CALLERS["provider"]["own"]
    eb01, ops = CALLERS["employer_brokerage"]["own"], CALLERS["operations"]["own"]
    client_id = await register_client(platform, feed)
    await _ok(
        await as_(jcp, "referrals")(
            "POST",
            f"/clients/{client_id}/consent",
            json={"scopes": ["providers", "employers", "tracking"]},
        )
    )
    referral = await _ok(
        await as_(jcp, "referrals")(
            "POST",
            "/referrals",
            json={
                "client_id": client_id,
                "provider_id": "P-01",
                "programme": "retail-routeway",
                "reason": "matrix",
            },
        ),
        201,
    )
    vacancy = await _ok(await as_(eb01, "vacancies")("POST", "/vacancies", json=VACANCY), 201)
    vacancy_id = vacancy["vacancy_id"]
    await _ok(
        await as_(eb01, "vacancies")("PUT", f"/vacancies/{vacancy_id}/scope", json=UNMATCHABLE)
    )

    subscriptions = {}
    for role, callers in CALLERS.items():
        created = await as_(callers["own"], "notifications")(
            "POST",
            "/subscriptions",
            json={
                "channel": "email",
                "email": "team@example.org",
                "event_types": ["referrals.referral.created"],
            },
        )
        subscriptions[role] = (await _ok(created, 201))["subscription_id"]

    async def notified() -> str | None:
        # This referral's, not an earlier test's: it proves the referral's event is published.
        inbox = (await as_(p01, "notifications")("GET", "/inbox")).json()
        mine = [
            n for n in inbox if n["event"]["data"].get("referral_id") == referral["referral_id"]
        ]
        return mine[0]["notification_id"] if mine else None

    notification = await poll(notified, timeout=30, what="P-01's notification of the referral")
    # The referral's event is on its topic now. A placement credits the lead provider the
    # vacancies service knows when it starts, so it must have read that event first.
    await read_to_end(
        c,
        services["operations"],
        {"Authorization": f"Bearer {ops}"},
        group="vacancies-e2e",
        topic=REFERRAL_EVENTS.name,
        bootstrap=bootstrap,
    )

    async def placed() -> str | None:
        r = await as_(eb01, "vacancies")(
            "POST",
            f"/vacancies/{vacancy_id}/placements",
            json={
                "client_id": client_id,
                "start_date": date.today().isoformat(),
                "hours_per_week": 20,
            },
        )
        return r.json()["placement_id"] if r.status_code == 201 else None

    placement_id = await poll(placed, timeout=30, what="the vacancies service to know the client")
    await _ok(
        await as_(ops, "operations")(
            "PUT", "/caseloads/matrix", json={"name": "matrix", "local_authorities": ["Warrington"]}
        )
    )

    async def tracked() -> bool:
        r = await as_(ops, "operations")("GET", f"/clients/{client_id}/timeline")
        return r.status_code == 200

    await poll(tracked, timeout=30, what="the operations timeline of the client")
    programme = {"name": "Matrix", "kind": "support", "capacity": {"maximum": 5, "available": 5}}
    await _ok(
        await as_(ops, "referrals")("PUT", "/providers/P-01/programmes/matrix-prog", json=programme)
    )
    return {
        "params": {
            "client_id": client_id,
            "referral_id": referral["referral_id"],
            "provider_id": "P-01",
            "programme_id": "matrix-prog",
            "vacancy_id": vacancy_id,
            "placement_id": placement_id,
            "subscription_id": subscriptions,  # per role: the own caller's
            "notification_id": {"provider": notification},
            "caseload_id": "matrix",
            "ref": "matrix",
        },
        "programme": programme,
        "client_id": client_id,
    }


def _bodies(records: dict[str, Any]) -> dict[tuple[str, str], Any]:
    today = date.today()
    reason = {"reason": "other"}
    return {
        ("PUT", "/providers/{provider_id}/programmes/{programme_id}"): records["programme"],
        ("PATCH", "/providers/{provider_id}/programmes/{programme_id}/capacity"): {"available": 4},
        ("POST", "/referrals"): {
            "client_id": records["client_id"],
            "provider_id": "P-01",
            "programme": "retail-routeway",
            "reason": "matrix",
        },
        ("POST", "/referrals/{referral_id}/reject"): reason,
        ("POST", "/referrals/{referral_id}/complete"): {"outcome": "completed"},
        ("POST", "/referrals/{referral_id}/drop-out"): reason,
        ("POST", "/referrals/{referral_id}/did-not-start"): reason,
        ("POST", "/referrals/{referral_id}/withdraw"): reason,
        # Not `tracking`, which the operations timeline needs later in the walk.
        ("POST", "/clients/{client_id}/consent"): {"scopes": ["employers"]},
        ("POST", "/clients/{client_id}/consent/withdraw"): {"scopes": ["employers"]},
        ("PUT", "/clients/{client_id}/assessment"): ASSESSMENT,
        ("PUT", "/clients/{client_id}/action-plan"): {"items": []},
        ("POST", "/vacancies"): VACANCY,
        ("PUT", "/vacancies/{vacancy_id}/scope"): UNMATCHABLE,
        ("POST", "/vacancies/{vacancy_id}/close"): {"reason": "matrix"},
        ("POST", "/vacancies/{vacancy_id}/placements"): {
            "client_id": records["client_id"],
            "start_date": today.isoformat(),
            "hours_per_week": 20,
        },
        ("POST", "/vacancies/{vacancy_id}/placements/{placement_id}/end"): {
            "end_date": today.isoformat(),
            "reason": "matrix",
        },
        ("POST", "/vacancies/{vacancy_id}/submissions"): {"match_id": "MATCH-none"},
        ("POST", "/submissions/{submission_id}/interview"): {
            "at": (today + timedelta(days=3)).isoformat() + "T10:00:00Z"
        },
        ("POST", "/submissions/{submission_id}/work-trial"): {"start": today.isoformat()},
        ("POST", "/submissions/{submission_id}/outcome"): {"outcome": "offer"},
        ("POST", "/submissions/{submission_id}/accept"): {
            "start_date": today.isoformat(),
            "hours_per_week": 20,
        },
        ("POST", "/subscriptions"): {
            "channel": "email",
            "email": "team@example.org",
            "event_types": ["referrals.referral.created"],
        },
        ("POST", "/subscriptions/{subscription_id}/secret"): {"secret": "s" * 32},
        ("PUT", "/preferences"): {"email": "immediate"},
        ("POST", "/dlq/redrive"): {
            "dlq_topic": "referrals.events.v1.dlq",
            "offsets": [{"partition": 0, "offset": 10**12}],
        },
        ("PUT", "/caseloads/{caseload_id}"): {"name": "matrix"},
        ("PUT", "/targets/{ref}"): {
            "action": "matrix",
            "task": "matrix",
            "measure": "referrals_created",
            "target": 10,
            "start": today.isoformat(),
            "deadline": (today + timedelta(days=90)).isoformat(),
        },
        ("GET", "/matches"): None,  # query below
    }


# Endpoints whose body (not path) names the record: whether it exists.
BODY_RECORDS = {
    ("POST", "/referrals"): True,  # the client
    ("POST", "/dlq/redrive"): False,  # an offset past the end of the dead letters
}

QUERIES = {
    ("GET", "/clients"): {"claimant_ref": "CLM-none"},
    ("GET", "/kpis"): {"measure": "referrals_created"},
    ("GET", "/kpis.csv"): {"measure": "referrals_created"},
}

# Order: reads, then writes that change little, then those that end things.
_LAST = ("DELETE", "/close", "/end", "/withdraw", "/reject", "/drop-out", "/did-not-start")


def _order(op: tuple[str, str]) -> tuple[int, str, str]:
    method, path = op
    if method == "GET":
        return 0, path, method
    if "/programmes/{programme_id}" in path and method == "PUT":
        return 1, path, method
    if method == "DELETE" or any(path.endswith(x) for x in _LAST):
        return 3, path, method
    return 2, path, method


def _path(template: str, params: dict[str, Any], role: str) -> tuple[str, bool | None]:
    names = re.findall(r"{(\w+)}", template)
    if not names:
        return template, None
    exists = True
    path = template
    for name in names:
        value = params.get(name)
        if isinstance(value, dict):
            value = value.get(role)
        if value is None:
            exists = False
            value = f"NONE-{uuid.uuid4().hex[:8]}"
        path = path.replace(f"{{{name}}}", value)
    return path, exists


async def _call(
    client: httpx.AsyncClient, method: str, url: str, token: str | None, **kw: Any
) -> int:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if url.split("?")[0].endswith("/streams/tail"):  # an endless stream: its status is enough
        async with client.stream(method, url, headers=headers, **kw) as response:
            return response.status_code
    return (await client.request(method, url, headers=headers, **kw)).status_code


async def test_every_cell_of_role_endpoint_organisation_partnership(
    services: dict[str, str], platform: Platform, jcp_feed: JcpFeed, infrastructure: Infrastructure
) -> None:
    records = await _records(services, platform, jcp_feed, infrastructure.kafka_bootstrap_servers)
    bodies = _bodies(records)
    client = platform.client
    cells = 0
    wrong: list[str] = []
    for service, table in TABLES.items():
        document = (await client.get(f"{services[service]}/openapi.json")).json()
        assert not missing_rules(document["paths"], table), (service, "endpoints without a rule")
        operations = [
            (method.upper(), path)
            for path, ops in document["paths"].items()
            if path not in PUBLIC_PATHS
            for method in ops
        ]
        for method, template in sorted(operations, key=_order):
            rule = table[(method, template)]
            body = bodies.get((method, template))
            kw: dict[str, Any] = {"params": QUERIES.get((method, template))}
            if body is not None:
                kw["json"] = body
            if (method, template) == ("GET", "/matches"):
                kw["params"] = {"vacancy_id": records["params"]["vacancy_id"]}
            path, _ = _path(template, records["params"], "provider")
            status = await _call(client, method, services[service] + path, None, **kw)
            cells += 1
            if status != 401:
                wrong.append(f"{method} {template} without a token: {status}, expected 401")
            for relation in RELATIONS:
                for role in ROLES:
                    path, exists = _path(template, records["params"], role)
                    exists = BODY_RECORDS.get((method, template), exists)
                    token = CALLERS[role][relation]
                    status = await _call(client, method, services[service] + path, token, **kw)
                    want = expected(rule, role, relation, exists)
                    cells += 1
                    if _outcome(status) != want:
                        wrong.append(
                            f"{service} {method} {template} as {role}/{relation}: "
                            f"{status}, expected {want}"
                        )
    print(f"authorization matrix: {cells} cells")
    await close(client, services, records)
    assert not wrong, "\n".join(wrong)
    assert cells > 500


async def test_providers_see_only_the_placements_of_clients_they_lead(
    services: dict[str, str], platform: Platform, jcp_feed: JcpFeed, infrastructure: Infrastructure
) -> None:
    records = await _records(services, platform, jcp_feed, infrastructure.kafka_bootstrap_servers)
    vacancy_id = records["params"]["vacancy_id"]
    url = f"{services['vacancies']}/vacancies/{vacancy_id}"
    seen = {}
    for who in ("own", "other-org"):
        token = CALLERS["provider"][who]
        response = await platform.client.get(url, headers={"Authorization": f"Bearer {token}"})
        seen[who] = [p["client_id"] for p in response.json()["placements"]]
    assert seen == {"own": [records["client_id"]], "other-org": []}
    await close(platform.client, services, records)


async def close(
    client: httpx.AsyncClient, services: dict[str, str], records: dict[str, Any]
) -> None:
    """Leave nothing that other tests' matching could use: the records' vacancy closed, and the
    client (whom the fuzzing may have assessed, made job-ready and taken out of work) without
    `providers` consent, a gate of every match."""
    vacancy_id = records["params"]["vacancy_id"]
    await _api(client, services["vacancies"], CALLERS["employer_brokerage"]["own"])(
        "POST", f"/vacancies/{vacancy_id}/close", json={"reason": "done"}
    )
    await _api(client, services["referrals"], CALLERS["jcp"]["own"])(
        "POST",
        f"/clients/{records['client_id']}/consent/withdraw",
        json={"scopes": ["providers", "employers"]},
    )
    lag = _api(client, services["operations"], CALLERS["operations"]["own"])

    async def settled() -> bool:
        # The session's services have read all we caused, so no later test shares a batch.
        rows = (await lag("GET", "/streams/lag")).json()
        return all(r["lag"] == 0 for r in rows if str(r["group"]).endswith("-e2e"))

    await poll(settled, timeout=60, interval=0.5, what="the session's consumers to catch up")
