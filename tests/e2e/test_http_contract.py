"""Every 401/403/404/409/422 answer of the endpoints the thin path uses."""

from __future__ import annotations

from datetime import date, timedelta

import httpx
import pytest

from brokerage_client import JcpFeed, Platform
from tests.e2e.conftest import register_client

FUTURE = (date.today() + timedelta(days=30)).isoformat()
VACANCY = {
    "employer_id": "E-CARE",
    "title": "Care Assistant",
    "sector": "health and social care",
    "positions": 1,
    "hours_per_week": 30,
    "closing_date": FUTURE,
    "location": {"postcode_district": "CH1", "lat": 53.19, "lon": -2.89},
}


def field_names(response: httpx.Response) -> set[str]:
    return {f["field"] for f in response.json().get("fields", [])}


@pytest.mark.parametrize("service", ["referrals", "vacancies", "matching", "notifications"])
async def test_health_and_docs_are_open_and_everything_else_needs_a_known_token(
    platform: Platform, service: str
) -> None:
    anonymous = platform.as_(None, service)
    for path in ("/healthz", "/readyz", "/openapi.json", "/docs", "/asyncapi.json"):
        assert (await anonymous.get(path)).status_code == 200, path
    protected = {
        "referrals": "/referrals",
        "vacancies": "/vacancies",
        "matching": "/matches?vacancy_id=x",
        "notifications": "/inbox",
    }[service]
    missing = await anonymous.get(protected)
    assert missing.status_code == 401
    assert missing.headers["WWW-Authenticate"] == "Bearer"
    unknown = await platform.client.get(
        platform.urls[service] + protected, headers={"Authorization": "Bearer not-a-token"}
    )
    assert unknown.status_code == 401


async def test_roles_that_may_not_act_get_403(platform: Platform, jcp_feed: JcpFeed) -> None:
    client_id = await register_client(platform, jcp_feed)
    body = {
        "client_id": client_id,
        "provider_id": "P-01",
        "programme": "retail-routeway",
        "reason": "x",
    }
    assert (await platform.as_("P-01", "referrals").post("/referrals", body)).status_code == 403
    assert (
        await platform.as_("EB-01", "referrals").get(f"/clients/{client_id}")
    ).status_code == 403
    assert (await platform.as_("P-01", "vacancies").post("/vacancies", VACANCY)).status_code == 403
    assert (
        await platform.as_("operations", "referrals").post(
            f"/clients/{client_id}/consent", {"scopes": ["providers"]}
        )
    ).status_code == 403


async def test_unknown_ids_and_ids_the_caller_may_not_see_are_both_404(
    platform: Platform, jcp_feed: JcpFeed
) -> None:
    jcp = platform.as_("jcp", "referrals")
    assert (await jcp.get("/clients/CL-doesnotexist")).status_code == 404
    client_id = await register_client(platform, jcp_feed)
    await jcp.post(f"/clients/{client_id}/consent", {"scopes": ["providers"]})
    referral = (
        await jcp.post(
            "/referrals",
            {
                "client_id": client_id,
                "provider_id": "P-01",
                "programme": "retail-routeway",
                "reason": "x",
            },
        )
    ).json()
    other = platform.as_("P-02", "referrals")
    assert (await other.get(f"/clients/{client_id}")).status_code == 404
    assert (await other.get(f"/referrals/{referral['referral_id']}")).status_code == 404
    assert (await other.post(f"/referrals/{referral['referral_id']}/accept")).status_code == 404
    assert referral["referral_id"] not in str((await other.get("/referrals")).json()), (
        "a provider lists only its own referrals"
    )
    assert (await platform.as_("P-01", "referrals").get(f"/clients/{client_id}")).status_code == 200

    vacancy_id = (await platform.as_("EB-01", "vacancies").post("/vacancies", VACANCY)).json()[
        "vacancy_id"
    ]
    assert (
        await platform.as_("EB-02", "vacancies").get(f"/vacancies/{vacancy_id}")
    ).status_code == 404
    assert (
        await platform.as_("EB-02", "vacancies").put(f"/vacancies/{vacancy_id}/scope", {})
    ).status_code == 404


async def test_illegal_state_changes_and_duplicates_are_409(
    platform: Platform, jcp_feed: JcpFeed
) -> None:
    jcp = platform.as_("jcp", "referrals")
    provider = platform.as_("P-01", "referrals")
    client_id = await register_client(platform, jcp_feed)
    body = {
        "client_id": client_id,
        "provider_id": "P-01",
        "programme": "retail-routeway",
        "reason": "x",
    }
    no_consent = await jcp.post("/referrals", body)
    assert no_consent.status_code == 409 and "consent" in no_consent.json()["message"]

    await jcp.post(f"/clients/{client_id}/consent", {"scopes": ["providers"]})
    referral_id = (await jcp.post("/referrals", body)).json()["referral_id"]
    assert (await jcp.post("/referrals", body)).status_code == 409
    assert (await provider.post(f"/referrals/{referral_id}/start")).status_code == 409
    assert (
        await provider.post(f"/referrals/{referral_id}/complete", {"outcome": "job"})
    ).status_code == 409
    assert (await provider.post(f"/clients/{client_id}/job-ready")).status_code == 409
    rejected = await provider.post(f"/referrals/{referral_id}/reject", {"reason": "full"})
    assert rejected.status_code == 200
    assert (await provider.post(f"/referrals/{referral_id}/accept")).status_code == 409

    brokerage = platform.as_("EB-01", "vacancies")
    vacancy_id = (await brokerage.post("/vacancies", VACANCY)).json()["vacancy_id"]
    assert (
        await brokerage.post(
            f"/vacancies/{vacancy_id}/placements",
            {
                "client_id": client_id,
                "start_date": FUTURE,
                "hours_per_week": 30,
            },
        )
    ).status_code == 409, "a vacancy that is not open takes no placements"
    assert (
        await brokerage.post(f"/vacancies/{vacancy_id}/close", {"reason": "filled elsewhere"})
    ).status_code == 200
    assert (
        await brokerage.post(f"/vacancies/{vacancy_id}/close", {"reason": "again"})
    ).status_code == 409


async def test_invalid_bodies_are_422_naming_the_fields_and_write_nothing(
    platform: Platform, jcp_feed: JcpFeed
) -> None:
    jcp = platform.as_("jcp", "referrals")
    client_id = await register_client(platform, jcp_feed)
    bad_scope = await jcp.post(f"/clients/{client_id}/consent", {"scopes": ["everyone"]})
    assert bad_scope.status_code == 422 and field_names(bad_scope) == {"scopes.0"}
    client = (await jcp.get(f"/clients/{client_id}")).json()
    assert client["consent_scopes"] == [], "nothing half-written"

    await jcp.post(f"/clients/{client_id}/consent", {"scopes": ["providers"]})
    unknown_provider = await jcp.post(
        "/referrals",
        {
            "client_id": client_id,
            "provider_id": "P-99",
            "programme": "retail-routeway",
            "reason": "x",
        },
    )
    assert unknown_provider.status_code == 422
    assert field_names(unknown_provider) == {"provider_id"}
    missing = await jcp.post("/referrals", {"client_id": client_id})
    assert missing.status_code == 422
    assert field_names(missing) == {"provider_id", "programme", "reason"}

    brokerage = platform.as_("EB-01", "vacancies")
    before = len((await brokerage.get("/vacancies")).json())
    too_long = await brokerage.post("/vacancies", {**VACANCY, "hours_per_week": 60, "positions": 0})
    assert too_long.status_code == 422
    assert field_names(too_long) == {"hours_per_week", "positions"}
    past = await brokerage.post("/vacancies", {**VACANCY, "closing_date": "2020-01-01"})
    assert past.status_code == 422 and field_names(past) == {"closing_date"}
    assert len((await brokerage.get("/vacancies")).json()) == before, "nothing half-written"

    subscription = await platform.as_("P-01", "notifications").post(
        "/subscriptions", {"url": "not a url", "secret": "short", "event_types": ["no.such.event"]}
    )
    assert subscription.status_code == 422
    assert field_names(subscription) == {"url", "secret", "event_types"}

    assessment = await platform.as_("P-01", "referrals").put(
        f"/clients/{client_id}/assessment", {"skills": [], "qualification_level": 9}
    )
    assert assessment.status_code == 422
    assert {"qualification_level", "literacy", "location"} <= field_names(assessment)
