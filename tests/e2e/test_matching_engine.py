"""The matching engine over real processes, driven only through the contract.

Its own referrals, matching and vacancies services (a database prefix and consumer groups of
their own), so nothing else is in its pools. The clients and vacancies sit in Kendal (LA9), far
from every other test's, so they match only each other.

Four vacancies with a shortlist of two each, then four clients who can each take any of them:
one client alone sits on three shortlists (not four); with four clients, every shortlist holds
two and nobody more than three. Then the gates after a match: `providers` consent withdrawn, a
blocking barrier recorded; a placement withdraws the placed client's other matches as `placed`.
Every payload an employer reads (shortlists, `GET /matches` as EB-01) carries no priority group,
benefit or gate name.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import date, timedelta
from typing import Any

import httpx
import pytest

from brokerage_client import JcpFeed, Platform
from brokerage_client.api import poll
from tests.conftest import Infrastructure
from tests.e2e.conftest import ASSESSMENT, TOKENS, claimant, own_services

pytestmark = pytest.mark.e2e

SERVICES_NEEDED = ("referrals", "matching", "vacancies")
KENDAL = {"postcode_district": "LA9", "lat": 54.3280, "lon": -2.7460}
VACANCY = {
    "title": "Sales Assistant",
    "sector": "retail",
    "positions": 1,
    "hours_per_week": 24,
    "location": KENDAL,
    "closing_date": (date.today() + timedelta(days=60)).isoformat(),
}
SCOPE = {
    "required_skills": ["customer service"],
    "desirable_skills": ["cash handling"],
    "min_qualification_level": 1,
    "target_priority_groups": [],
    "target_wards": [],
    "shortlist_size": 2,
}
# Never in what an employer reads: the claimants' priority groups, benefit and ward (from
# `claimant`), and no gate's name (those that are not also a factor's).
NEVER = ("lone_parent", "health_condition", "IS_LP", "Bewsey", "benefit", "priority")
GATE_NAMES = (
    "in_work",
    "blocking_barrier",
    "job_ready",
    "not-job-ready",
    "gate-failed",
    "literacy",
    "numeracy",
    "min_score",
    "target_group",
    "target_ward",
    "vacancy_open",
)


@pytest.fixture(scope="module")
def engine_services(
    infrastructure: Infrastructure, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, str]]:
    with own_services(
        infrastructure,
        SERVICES_NEEDED,
        tmp_path_factory.mktemp("matching-engine-logs"),
        name="mat",
    ) as stack:
        yield stack.urls


@pytest.fixture
async def platform(engine_services: dict[str, str]) -> AsyncIterator[Platform]:
    async with httpx.AsyncClient(timeout=15) as client:
        yield Platform.with_dev_tokens(client, TOKENS, urls=engine_services)


@pytest.fixture
async def feed(infrastructure: Infrastructure) -> AsyncIterator[JcpFeed]:
    async with JcpFeed(infrastructure.kafka_bootstrap_servers) as jcp:
        yield jcp


async def _job_ready(platform: Platform, feed: JcpFeed) -> tuple[str, str]:
    """A claimant referred to P-01 (lead), assessed in Kendal and made job-ready, with
    `providers` and `employers` consent. Returns the client id and the referral id."""
    ref = f"CLM-{uuid.uuid4().hex[:10]}"
    await feed.publish("jcp.claimant.registered", claimant(ref))
    jcp = platform.as_("jcp", "referrals")

    async def created() -> str | None:
        found = (await jcp.get("/clients", claimant_ref=ref)).json()
        return found[0]["client_id"] if found else None

    client_id = await poll(created, timeout=30, what=f"client for {ref}")
    consent = await jcp.post(
        f"/clients/{client_id}/consent", {"scopes": ["providers", "employers"]}
    )
    assert consent.status_code == 200, consent.text
    referral = await jcp.post(
        "/referrals",
        {"client_id": client_id, "provider_id": "P-01", "programme": "retail-routeway",
         "reason": "retail work in Kendal", "lead": True},
    )  # fmt: skip
    assert referral.status_code == 201, referral.text
    referral_id = referral.json()["referral_id"]
    provider = platform.as_("P-01", "referrals")
    for step in ("accept", "start"):
        moved = await provider.post(f"/referrals/{referral_id}/{step}")
        assert moved.status_code == 200, moved.text
    assessment = {**ASSESSMENT, "location": KENDAL}
    assessed = await provider.put(f"/clients/{client_id}/assessment", assessment)
    assert assessed.status_code == 200, assessed.text
    ready = await provider.post(f"/clients/{client_id}/job-ready")
    assert ready.status_code == 200, ready.text
    return client_id, referral_id


def _employer_safe(payload: Any) -> None:
    text = json.dumps(payload)
    for never in NEVER + GATE_NAMES:
        assert never not in text, f"{never!r} reached an employer"


async def _live(ops: Any, client_id: str) -> dict[str, dict]:
    """The client's proposed matches by vacancy, as operations reads them."""
    matches = (await ops.get("/matches", client_id=client_id)).json()
    return {m["vacancy_id"]: m for m in matches if m["status"] == "proposed"}


async def _shortlists(brokerage: Any, vacancy_ids: list[str]) -> dict[str, list[dict]]:
    found = {}
    for vacancy_id in vacancy_ids:
        response = await brokerage.get(f"/vacancies/{vacancy_id}/shortlist")
        assert response.status_code == 200, response.text
        found[vacancy_id] = response.json()
    return found


async def test_gates_limits_and_placements_over_real_processes(
    platform: Platform, feed: JcpFeed
) -> None:
    brokerage = platform.as_("EB-01", "vacancies")
    employer_matches = platform.as_("EB-01", "matching")
    ops = platform.as_("operations", "matching")

    # --- Four vacancies with room for two each ------------------------------------------------
    vacancy_ids = []
    for n in range(4):
        posted = await brokerage.post("/vacancies", {**VACANCY, "employer_id": f"E-KENDAL-{n}"})
        assert posted.status_code == 201, posted.text
        vacancy_id = posted.json()["vacancy_id"]
        scoped = await brokerage.put(f"/vacancies/{vacancy_id}/scope", SCOPE)
        assert scoped.status_code == 200, scoped.text
        vacancy_ids.append(vacancy_id)

    # --- One client, four vacancies: on three shortlists, not four ----------------------------
    first, _ = await _job_ready(platform, feed)

    async def on_three() -> dict | None:
        live = await _live(ops, first)
        return live if len(live) == 3 else None

    live = await poll(on_three, timeout=45, what="the first client on three shortlists")
    assert set(live) < set(vacancy_ids)
    match = next(iter(live.values()))
    assert match["rules_version"] and match["reasons"], "every match is explained"

    # --- Four clients for eight places: every shortlist holds two, nobody more than three -----
    others = [await _job_ready(platform, feed) for _ in range(3)]
    clients = [first] + [c for c, _ in others]

    async def settled() -> dict | None:
        shortlists = await _shortlists(brokerage, vacancy_ids)
        if all(len(s) == 2 for s in shortlists.values()):
            return shortlists
        return None

    shortlists = await poll(settled, timeout=60, what="four shortlists of two")
    per_client = {c: 0 for c in clients}
    for shortlist in shortlists.values():
        assert [c["rank"] for c in shortlist] == [1, 2]
        assert shortlist[0]["score"] >= shortlist[1]["score"]
        for candidate in shortlist:
            per_client[candidate["client_id"]] += 1
    assert max(per_client.values()) <= 3, per_client
    for client_id in clients:
        assert len(await _live(ops, client_id)) <= 3
    _employer_safe(shortlists)
    as_employer = [
        (await employer_matches.get("/matches", vacancy_id=v)).json() for v in vacancy_ids
    ]
    assert all(as_employer), "the brokerage reads its vacancies' matches"
    _employer_safe(as_employer)

    # --- `providers` consent withdrawn after a match: its matches are withdrawn ---------------
    withdrawing, _ = others[0]
    before = await _live(ops, withdrawing)
    assert before, "on a shortlist before"
    jcp = platform.as_("jcp", "referrals")
    withdrawn = await jcp.post(
        f"/clients/{withdrawing}/consent/withdraw", {"scopes": ["providers"]}
    )
    assert withdrawn.status_code == 200, withdrawn.text

    async def consent_gone() -> list[dict] | None:
        matches = (await ops.get("/matches", client_id=withdrawing)).json()
        return matches if all(m["status"] == "withdrawn" for m in matches) else None

    matches = await poll(consent_gone, timeout=45, what="matches withdrawn with consent")
    # (Earlier matches of theirs may have been withdrawn as `rebalanced` as others arrived.)
    reasons = {m["withdrawn_reason"] for m in matches if m["vacancy_id"] in before}
    assert reasons == {"consent-withdrawn"}

    # --- A blocking barrier recorded after a match: its matches are withdrawn -----------------
    barred, _ = others[1]
    before = await _live(ops, barred)
    assert before, "on a shortlist before"
    provider = platform.as_("P-01", "referrals")
    blocked = {
        **ASSESSMENT,
        "location": KENDAL,
        "barriers": [{"type": "housing", "blocking": True}],
    }
    assert (await provider.put(f"/clients/{barred}/assessment", blocked)).status_code == 200

    async def barrier_gone() -> list[dict] | None:
        matches = (await ops.get("/matches", client_id=barred)).json()
        return matches if all(m["status"] == "withdrawn" for m in matches) else None

    matches = await poll(barrier_gone, timeout=45, what="matches withdrawn at a barrier")
    reasons = {m["withdrawn_reason"] for m in matches if m["vacancy_id"] in before}
    assert reasons == {"gate-failed"}, "the gate is not named"

    # Both have left every shortlist; the two clients left fill what they can (3 each).
    async def without_them() -> dict | None:
        shortlists = await _shortlists(brokerage, vacancy_ids)
        listed = {c["client_id"] for s in shortlists.values() for c in s}
        if listed & {withdrawing, barred}:
            return None
        return shortlists if sum(len(s) for s in shortlists.values()) == 6 else None

    shortlists = await poll(without_them, timeout=45, what="shortlists without them")
    _employer_safe(shortlists)
    as_employer = [
        (await employer_matches.get("/matches", vacancy_id=v)).json() for v in vacancy_ids
    ]
    _employer_safe(as_employer)
    assert any(m["status"] == "withdrawn" for found in as_employer for m in found)

    # --- A placement: the placed client's other matches are withdrawn as `placed` -------------
    placed = others[2][0]
    live = await _live(ops, placed)
    assert len(live) >= 2, "on more than one shortlist before"
    vacancy_id = sorted(live)[0]
    started = await brokerage.post(
        f"/vacancies/{vacancy_id}/placements",
        {"client_id": placed, "start_date": date.today().isoformat(), "hours_per_week": 24},
    )
    assert started.status_code == 201, started.text

    async def all_placed() -> list[dict] | None:
        matches = (await ops.get("/matches", client_id=placed)).json()
        return matches if all(m["status"] == "withdrawn" for m in matches) else None

    matches = await poll(all_placed, timeout=45, what="the placed client's matches withdrawn")
    others_of_placed = [m for m in matches if m["vacancy_id"] in set(live) - {vacancy_id}]
    assert others_of_placed and {m["withdrawn_reason"] for m in others_of_placed} == {"placed"}
    # The filled vacancy's own matches leave too (filled); the placed client is on no shortlist.
    shortlists = await _shortlists(brokerage, vacancy_ids)
    assert all(c["client_id"] != placed for s in shortlists.values() for c in s)
    _employer_safe(shortlists)
