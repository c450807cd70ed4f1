"""Partnerships (tenancy) across vacancies, matching and notifications, over the real processes.

A caller sees only its own partnership's vacancies, shortlists, placements and matches (404, not
403, for anything else; lists leave them out); national operations (`"*"`) sees every
partnership; a client is only ever paired with vacancies of its own partnership.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

from brokerage_client import JcpFeed, Platform
from brokerage_client.api import poll
from tests.e2e.conftest import ASSESSMENT, SCOPE, TOKENS, VACANCY, register_client

# The e2e flow's vacancy, targeted at a ward of this module's own so that its vacancies and
# clients match only each other, never another test's (the services live for the session).
WARD = f"Ward {uuid.uuid4().hex[:8]}"
OPEN_SCOPE = {**SCOPE, "target_priority_groups": [], "target_wards": [WARD]}


def by_org(platform: Platform) -> Platform:
    """Callers named by org id too (`Platform` names jcp and operations callers by role, so
    the bcbc and national tokens would otherwise be unreachable)."""
    for token, who in json.loads(TOKENS.read_text()).items():
        platform.tokens.setdefault(who["org_id"], token)
    return platform


async def post_vacancy(platform: Platform, brokerage: str, scope: dict[str, Any] | None) -> str:
    api = platform.as_(brokerage, "vacancies")
    posted = await api.post("/vacancies", VACANCY)
    assert posted.status_code == 201, posted.text
    vacancy_id = posted.json()["vacancy_id"]
    if scope is not None:
        scoped = await api.put(f"/vacancies/{vacancy_id}/scope", scope)
        assert scoped.status_code == 200, scoped.text
    return vacancy_id


async def job_ready_client(platform: Platform, feed: JcpFeed, scopes: list[str]) -> str:
    """A Warrington claimant (cheshire-warrington), referred to P-01, assessed and job-ready."""
    client_id = await register_client(platform, feed, ward=WARD, priority_groups=[])
    jcp = platform.as_("jcp", "referrals")
    consent = await jcp.post(f"/clients/{client_id}/consent", {"scopes": scopes})
    assert consent.status_code == 200, consent.text
    referral = await jcp.post(
        "/referrals",
        {
            "client_id": client_id,
            "provider_id": "P-01",
            "programme": "retail-routeway",
            "reason": "wants retail work",
        },
    )
    assert referral.status_code == 201, referral.text
    provider = platform.as_("P-01", "referrals")
    accepted = await provider.post(f"/referrals/{referral.json()['referral_id']}/accept")
    assert accepted.status_code == 200, accepted.text
    assessed = await provider.put(f"/clients/{client_id}/assessment", ASSESSMENT)
    assert assessed.status_code == 200, assessed.text
    ready = await provider.post(f"/clients/{client_id}/job-ready")
    assert ready.status_code == 200, ready.text
    return client_id


async def test_another_partnerships_brokerage_gets_404_and_never_sees_the_vacancy_listed(
    platform: Platform,
) -> None:
    platform = by_org(platform)
    vacancy_id = await post_vacancy(platform, "EB-01", OPEN_SCOPE)
    eb02 = platform.as_("EB-02", "vacancies")
    assert (await eb02.get(f"/vacancies/{vacancy_id}")).status_code == 404
    assert (await eb02.get(f"/vacancies/{vacancy_id}/shortlist")).status_code == 404
    assert (await eb02.put(f"/vacancies/{vacancy_id}/scope", OPEN_SCOPE)).status_code == 404
    placement = {"client_id": "CL-x", "start_date": VACANCY["closing_date"], "hours_per_week": 24}
    assert (await eb02.post(f"/vacancies/{vacancy_id}/placements", placement)).status_code == 404
    assert (await eb02.post(f"/vacancies/{vacancy_id}/close", {"reason": "x"})).status_code == 404
    listed = (await eb02.get("/vacancies")).json()
    assert vacancy_id not in {v["vacancy_id"] for v in listed}
    assert all(v["partnership"] == "bcbc" for v in listed)

    # The same holds for every role of the other partnership, and the owner still sees it.
    for caller in ("OPS-BCBC", "JCP-BCBC", "P-03"):
        api = platform.as_(caller, "vacancies")
        assert (await api.get(f"/vacancies/{vacancy_id}")).status_code == 404, caller
        assert vacancy_id not in {v["vacancy_id"] for v in (await api.get("/vacancies")).json()}
    mine = await platform.as_("EB-01", "vacancies").get(f"/vacancies/{vacancy_id}")
    assert mine.status_code == 200 and mine.json()["partnership"] == "cheshire-warrington"
    closed = await platform.as_("EB-01", "vacancies").post(
        f"/vacancies/{vacancy_id}/close", {"reason": "test done"}
    )
    assert closed.status_code == 200, "EB-02's refused close changed nothing"


async def test_national_operations_sees_both_partnerships_and_each_partnership_its_own(
    platform: Platform,
) -> None:
    platform = by_org(platform)
    cheshire = await post_vacancy(platform, "EB-01", None)
    bcbc = await post_vacancy(platform, "EB-02", None)

    national = platform.as_("OPS-NATIONAL", "vacancies")
    listed = {v["vacancy_id"]: v["partnership"] for v in (await national.get("/vacancies")).json()}
    assert listed[cheshire] == "cheshire-warrington" and listed[bcbc] == "bcbc"
    for vacancy_id in (cheshire, bcbc):
        assert (await national.get(f"/vacancies/{vacancy_id}")).status_code == 200

    for caller, own, other in (("OPS", cheshire, bcbc), ("OPS-BCBC", bcbc, cheshire)):
        api = platform.as_(caller, "vacancies")
        ids = {v["vacancy_id"] for v in (await api.get("/vacancies")).json()}
        assert own in ids and other not in ids, caller
        assert (await api.get(f"/vacancies/{other}")).status_code == 404, caller


async def test_a_bcbc_vacancy_never_matches_a_cheshire_client(
    platform: Platform, jcp_feed: JcpFeed
) -> None:
    platform = by_org(platform)
    # Identical jobs at the same place: only the partnership tells them apart.
    cheshire = await post_vacancy(platform, "EB-01", OPEN_SCOPE)
    bcbc = await post_vacancy(platform, "EB-02", OPEN_SCOPE)
    await asyncio.sleep(1)  # let matching hold both vacancies before the client is job-ready
    client_id = await job_ready_client(platform, jcp_feed, ["providers"])

    national = platform.as_("OPS-NATIONAL", "matching")

    async def matched() -> dict[str, dict[str, Any]]:
        # Other tests' open vacancies of the partnership may match the client too.
        found = (await national.get("/matches", client_id=client_id)).json()
        return {m["vacancy_id"]: m for m in found if m["vacancy_id"] in (cheshire, bcbc)}

    match = (await poll(matched, timeout=30, what="the cheshire match"))[cheshire]
    assert match["partnership"] == "cheshire-warrington"
    await asyncio.sleep(2)
    assert set(await matched()) == {cheshire}, "never the bcbc vacancy"
    assert (await national.get("/matches", vacancy_id=bcbc)).json() == []
    everything = (await national.get("/matches", client_id=client_id)).json()
    assert {m["partnership"] for m in everything} == {"cheshire-warrington"}

    # Matches are confined like vacancies: the other partnership sees none of them.
    for caller in ("OPS-BCBC", "JCP-BCBC", "EB-02"):
        api = platform.as_(caller, "matching")
        assert (await api.get("/matches", client_id=client_id)).json() == [], caller
        assert (await api.get("/matches", vacancy_id=cheshire)).json() == [], caller
    assert len((await platform.as_("OPS", "matching").get("/matches", client_id=client_id)).json())

    # Without `employers` consent the employer sees the candidate, but no details.
    brokerage = platform.as_("EB-01", "vacancies")

    async def shortlisted() -> list[dict[str, Any]]:
        shortlist = (await brokerage.get(f"/vacancies/{cheshire}/shortlist")).json()
        return [c for c in shortlist if c["client_id"] == client_id]

    (candidate,) = await poll(shortlisted, timeout=30, what="the shortlist")
    assert "details" not in candidate


async def test_withdrawing_providers_consent_withdraws_the_clients_matches(
    platform: Platform, jcp_feed: JcpFeed
) -> None:
    platform = by_org(platform)
    vacancy_id = await post_vacancy(platform, "EB-01", OPEN_SCOPE)
    client_id = await job_ready_client(platform, jcp_feed, ["providers", "employers"])
    operations = platform.as_("OPS", "matching")

    async def status() -> str | None:
        found = (await operations.get("/matches", client_id=client_id)).json()
        mine = [m for m in found if m["vacancy_id"] == vacancy_id]
        return mine[0]["status"] if mine else None

    assert await poll(status, timeout=30, what="the match") == "proposed"
    withdrawn = await platform.as_("jcp", "referrals").post(
        f"/clients/{client_id}/consent/withdraw", {"scopes": ["providers"]}
    )
    assert withdrawn.status_code == 200, withdrawn.text

    async def gone() -> dict[str, Any] | None:
        found = (await operations.get("/matches", client_id=client_id)).json()
        return next((m for m in found if m["status"] == "withdrawn"), None)

    match = await poll(gone, timeout=10, what="the withdrawal within 10 s")
    assert match["withdrawn_reason"] == "consent-withdrawn"
    brokerage = platform.as_("EB-01", "vacancies")

    async def off_the_shortlist() -> bool:
        shortlist = (await brokerage.get(f"/vacancies/{vacancy_id}/shortlist")).json()
        return client_id not in {c["client_id"] for c in shortlist}

    await poll(off_the_shortlist, timeout=10, what="the shortlist without the client")
