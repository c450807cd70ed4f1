"""The employer side end to end, driven only through the contract, with the clock moved on.

Its own set of services (`ALLOW_CLOCK_CONTROL=true`, timers polled every half second, two
vacancies replicas firing the same timers), so moving time here never disturbs the other
end-to-end tests. The vacancies clock is first set to Monday 14 December 2026; the dates below
are worked out by hand in the comments, not by the code under test. The clients and vacancies
sit in Crewe (CW1), far from the other tests' Warrington ones, so they match only each other.

A client is referred (lead, P-01), assessed and made job-ready; matching proposes them; the
brokerage submits, schedules an interview, runs a work trial across Christmas, offers, and the
client accepts: a placement credited to P-01. A second client fills the vacancy; another vacancy
expires at its closing date; sustainment fires at 13 and 26 weeks, once each; a reclaim during a
placement ends it and one soon after a placement ended marks it (the revolving door).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from brokerage_client import JcpFeed, Platform
from brokerage_client.api import poll
from schemas.visibility import EMPLOYER_HIDDEN_EVENT_TYPES, employer_view_of_placement
from tests.conftest import Infrastructure
from tests.e2e.conftest import ASSESSMENT, TOKENS, claimant, own_services
from tests.integration.conftest import read_topic

pytestmark = pytest.mark.e2e

MONDAY = "2026-12-14T10:00:00+00:00"
CREWE = {"postcode_district": "CW1", "lat": 53.0985, "lon": -2.4403}
VACANCY = {
    "employer_id": "E-CREWE-1",
    "title": "Sales Assistant",
    "sector": "retail",
    "positions": 2,
    "hours_per_week": 24,
    "location": CREWE,
    "closing_date": "2027-03-31",
}
SCOPE = {
    "required_skills": ["customer service"],
    "desirable_skills": ["cash handling"],
    "min_qualification_level": 1,
    "min_literacy": "entry_3",
    "min_numeracy": "entry_2",
    "routeway": "retail-routeway",
    "target_priority_groups": [],
    "target_wards": [],
    "guarantees": {"interview": True, "work_trial": True, "job": False},
}
# Never in anything an employer reads: the clients' priority groups, benefit, ward; and about a
# candidate or submission not even the names of those fields, nor of a gate.
# The services the employer side needs (notifications has tests of its own).
EMPLOYER_SIDE = ("referrals", "matching", "vacancies")
NEVER = ("lone_parent", "health_condition", "IS_LP", "Bewsey", "returned-to-benefit")
NEVER_OF_A_CLIENT = ("priority", "benefit", "target_group", "gate", "ward")


@pytest.fixture(scope="module")
def employer_side(
    infrastructure: Infrastructure, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, str]]:
    with own_services(
        infrastructure,
        EMPLOYER_SIDE,
        tmp_path_factory.mktemp("employer-side-logs"),
        name="emp",
        env={"ALLOW_CLOCK_CONTROL": "true", "TIMER_POLL_SECONDS": "0.5"},
        replicas={"vacancies": 2},  # timers and reactions run in both: effects still once
    ) as stack:
        yield stack.urls


@pytest.fixture
async def platform(employer_side: dict[str, str]) -> AsyncIterator[Platform]:
    async with httpx.AsyncClient(timeout=15) as client:
        yield Platform.with_dev_tokens(client, TOKENS, urls=employer_side)


@pytest.fixture
async def feed(infrastructure: Infrastructure) -> AsyncIterator[JcpFeed]:
    async with JcpFeed(infrastructure.kafka_bootstrap_servers) as jcp:
        yield jcp


async def _set_clock(platform: Platform, now: str) -> None:
    response = await platform.as_("operations", "vacancies").post("/admin/clock", {"now": now})
    assert response.status_code == 200, response.text


async def _job_ready_client(
    platform: Platform, feed: JcpFeed, scopes: list[str]
) -> tuple[str, str]:
    """A claimant in Warrington looking for work in Crewe: referred to P-01 (lead), assessed,
    job-ready. Returns the client id and the claimant reference."""
    ref = f"CLM-{uuid.uuid4().hex[:10]}"
    await feed.publish("jcp.claimant.registered", claimant(ref))
    jcp = platform.as_("jcp", "referrals")

    async def created() -> str | None:
        found = (await jcp.get("/clients", claimant_ref=ref)).json()
        return found[0]["client_id"] if found else None

    client_id = await poll(created, timeout=30, what=f"client for {ref}")
    consent = await jcp.post(f"/clients/{client_id}/consent", {"scopes": scopes})
    assert consent.status_code == 200, consent.text
    referral = await jcp.post(
        "/referrals",
        {"client_id": client_id, "provider_id": "P-01", "programme": "retail-routeway",
         "reason": "retail work in Crewe", "lead": True},
    )  # fmt: skip
    assert referral.status_code == 201, referral.text
    provider = platform.as_("P-01", "referrals")
    for step in ("accept", "start"):
        moved = await provider.post(f"/referrals/{referral.json()['referral_id']}/{step}")
        assert moved.status_code == 200, moved.text
    assessment = {**ASSESSMENT, "location": {**CREWE, "lat": 53.10, "lon": -2.45}}
    assert (await provider.put(f"/clients/{client_id}/assessment", assessment)).status_code == 200
    ready = await provider.post(f"/clients/{client_id}/job-ready")
    assert ready.status_code == 200, ready.text
    return client_id, ref


async def _candidate(brokerage: Any, vacancy_id: str, client_id: str) -> dict:
    async def shortlisted() -> dict | None:
        shortlist = (await brokerage.get(f"/vacancies/{vacancy_id}/shortlist")).json()
        return next((c for c in shortlist if c["client_id"] == client_id), None)

    return await poll(shortlisted, timeout=45, what="the client on the shortlist")


def _employer_safe(payload: Any, *, of_a_client: bool = False) -> None:
    text = json.dumps(payload)
    for never in NEVER + (NEVER_OF_A_CLIENT if of_a_client else ()):
        assert never not in text, f"{never!r} reached an employer"


async def _vacancy(brokerage: Any, vacancy_id: str) -> dict:
    response = await brokerage.get(f"/vacancies/{vacancy_id}")
    assert response.status_code == 200, response.text
    return response.json()


async def test_from_a_match_to_sustained_work_and_the_revolving_door(
    platform: Platform, feed: JcpFeed, infrastructure: Infrastructure
) -> None:
    await _set_clock(platform, MONDAY)
    brokerage = platform.as_("EB-01", "vacancies")

    # --- A vacancy with the person specification's extra fields, and one closing soon -------------
    posted = await brokerage.post("/vacancies", VACANCY)
    assert posted.status_code == 201, posted.text
    vacancy_id = posted.json()["vacancy_id"]
    scoped = await brokerage.put(f"/vacancies/{vacancy_id}/scope", SCOPE)
    assert scoped.status_code == 200, scoped.text
    assert scoped.json()["status"] == "open" and scoped.json()["positions_left"] == 2
    assert scoped.json()["spec"]["routeway"] == "retail-routeway"
    assert scoped.json()["spec"]["guarantees"]["work_trial"] is True
    soon = await brokerage.post(
        "/vacancies", {**VACANCY, "employer_id": "E-CREWE-2", "closing_date": "2026-12-18"}
    )
    soon_id = soon.json()["vacancy_id"]
    assert (await brokerage.put(f"/vacancies/{soon_id}/scope", SCOPE)).status_code == 200
    past = await brokerage.post("/vacancies", {**VACANCY, "closing_date": "2026-12-13"})
    assert past.status_code == 422, "the closing date is judged against the service's clock"

    # --- Two job-ready clients; the second has not agreed to share with employers -----------------
    client_id, claimant_ref = await _job_ready_client(
        platform, feed, ["providers", "employers", "tracking"]
    )
    other_id, other_ref = await _job_ready_client(platform, feed, ["providers"])
    candidate = await _candidate(brokerage, vacancy_id, client_id)
    other = await _candidate(brokerage, vacancy_id, other_id)
    _employer_safe([candidate, other], of_a_client=True)

    # --- Submissions: consent, one live per client and vacancy, a live match ----------------------
    refused = await brokerage.post(
        f"/vacancies/{vacancy_id}/submissions", {"match_id": other["match_id"]}
    )
    assert refused.status_code == 409, "no employers consent, no submission"

    # The vacancies service learns consent from referrals' topic and matches from matching's:
    # under load the match can arrive first, so the consent may be a moment behind.
    async def submitted() -> Any:
        response = await brokerage.post(
            f"/vacancies/{vacancy_id}/submissions", {"match_id": candidate["match_id"]}
        )
        return response if response.status_code != 409 else None

    made = await poll(submitted, timeout=30, what="the consented client's submission")
    assert made.status_code == 201, made.text
    assert made.json()["status"] == "submitted"
    submission_id = made.json()["submission_id"]
    twice = await brokerage.post(
        f"/vacancies/{vacancy_id}/submissions", {"match_id": candidate["match_id"]}
    )
    assert twice.status_code == 409, "one live submission per client and vacancy"
    wrong = await brokerage.post(f"/vacancies/{soon_id}/submissions", {"match_id": "M-none"})
    assert wrong.status_code == 409, "no live match"

    # Interview, then a work trial from Mon 21 Dec 2026: 21-24 Dec are days 1-4; Fri 25 and
    # Mon 28 Dec are bank holidays; 29-31 Dec days 5-7; Fri 1 Jan a bank holiday; 4-8 Jan days
    # 8-12; Mon 11, Tue 12, Wed 13 Jan days 13-15.
    sub = f"/submissions/{submission_id}"
    early = await brokerage.post(
        f"{sub}/accept", {"start_date": "2026-12-14", "hours_per_week": 24}
    )
    assert early.status_code == 409, "only an offer can be accepted"
    interview = await brokerage.post(f"{sub}/interview", {"at": "2026-12-16T14:00:00+00:00"})
    assert interview.status_code == 200 and interview.json()["status"] == "interview-scheduled"
    trial = await brokerage.post(f"{sub}/work-trial", {"start": "2026-12-21"})
    assert trial.status_code == 200, trial.text
    assert trial.json()["status"] == "work-trial" and trial.json()["end"] == "2027-01-13"
    assert (
        await brokerage.post(f"{sub}/interview", {"at": "2026-12-17T09:00:00Z"})
    ).status_code == 409
    offer = await brokerage.post(f"{sub}/outcome", {"outcome": "offer"})
    assert offer.status_code == 200 and offer.json()["status"] == "offer"
    too_far = await brokerage.post(
        f"{sub}/accept", {"start_date": "2027-06-01", "hours_per_week": 24}
    )
    assert too_far.status_code == 422, "more than 90 days after today"
    accepted = await brokerage.post(
        f"{sub}/accept", {"start_date": "2026-12-14", "hours_per_week": 24}
    )
    assert accepted.status_code == 201, accepted.text
    placement_id = accepted.json()["placement_id"]
    submission = (await brokerage.get(sub)).json()
    assert submission["status"] == "placed" and submission["placement_id"] == placement_id
    listed = (await brokerage.get(f"/vacancies/{vacancy_id}/submissions")).json()
    assert [s["submission_id"] for s in listed] == [submission_id]
    _employer_safe([submission, listed], of_a_client=True)

    vacancy = await _vacancy(brokerage, vacancy_id)
    assert vacancy["status"] == "partly-filled" and vacancy["positions_left"] == 1
    (placement,) = vacancy["placements"]
    assert placement["lead_provider_id"] == "P-01", "the lead provider is credited"
    assert placement["match_id"] == candidate["match_id"]

    # The second client fills the vacancy by the direct call.
    direct = await brokerage.post(
        f"/vacancies/{vacancy_id}/placements",
        {"client_id": other_id, "start_date": "2026-12-14", "hours_per_week": 24},
    )
    assert direct.status_code == 201, direct.text
    other_placement = direct.json()["placement_id"]
    vacancy = await _vacancy(brokerage, vacancy_id)
    assert vacancy["status"] == "filled" and vacancy["positions_left"] == 0
    _employer_safe(vacancy)

    # --- Expiry: the clock passes the short vacancy's closing date --------------------------------
    assert (await _vacancy(brokerage, soon_id))["status"] == "open"
    await _set_clock(platform, "2026-12-19T09:00:00+00:00")

    async def expired() -> bool:
        return (await _vacancy(brokerage, soon_id))["status"] == "expired"

    await poll(expired, timeout=30, what="the vacancy expired at its closing date")
    assert (await _vacancy(brokerage, vacancy_id))["status"] == "filled", "filled never expires"

    # --- Sustainment at 13 weeks (Mon 15 Mar 2027) and 26 weeks (Mon 14 Jun 2027) -----------------
    async def sustained(weeks: list[int]) -> bool:
        placements = (await _vacancy(brokerage, vacancy_id))["placements"]
        return all(p["sustained_weeks"] == weeks for p in placements)

    await _set_clock(platform, "2027-03-14T12:00:00+00:00")
    await asyncio.sleep(2)
    assert await sustained([]), "not a day early"
    await _set_clock(platform, "2027-03-15T12:00:00+00:00")
    await poll(lambda: sustained([13]), timeout=30, what="13 weeks sustained")
    await _set_clock(platform, "2027-06-14T12:00:00+00:00")
    await poll(lambda: sustained([13, 26]), timeout=30, what="26 weeks sustained")

    # --- The revolving door -----------------------------------------------------------------------
    # The second client leaves the job; a reclaim 10 days later marks that placement.
    ended = await brokerage.post(
        f"/vacancies/{vacancy_id}/placements/{other_placement}/end",
        {"end_date": "2027-06-15", "reason": "contract ended"},
    )
    assert ended.status_code == 200, ended.text
    await feed.publish(
        "jcp.claimant.reclaimed",
        {"claimant_ref": other_ref, "reclaim_date": "2027-06-25", "benefit": "UC"},
    )
    # The first client claims again while still in the job: the placement ends.
    await feed.publish(
        "jcp.claimant.reclaimed",
        {"claimant_ref": claimant_ref, "reclaim_date": "2027-06-21", "benefit": "UC"},
    )

    # JCP reads the revolving door; the employer only that the placement ended (a reclaim is
    # benefit data, which never reaches an employer).
    jcp_view = platform.as_("jcp", "vacancies")

    async def revolving() -> list[dict] | None:
        placements = (await _vacancy(jcp_view, vacancy_id))["placements"]
        return placements if all(p["revolving_door"] for p in placements) else None

    placements = {p["placement_id"]: p for p in await poll(revolving, timeout=30, what="reclaims")}
    assert placements[placement_id]["end_reason"] == "returned-to-benefit"
    assert placements[placement_id]["ended"] == "2027-06-21"
    assert placements[other_placement]["end_reason"] == "contract ended"
    seen = {p["placement_id"]: p for p in (await _vacancy(brokerage, vacancy_id))["placements"]}
    assert seen[placement_id]["end_reason"] == "ended" and seen[placement_id]["ended"]
    assert (
        seen[placement_id]["revolving_door"] is None and seen[placement_id]["reclaim_date"] is None
    )
    _employer_safe(seen)

    # --- Each timer's effect once, and what the events say ----------------------------------------
    def of_vacancy(records: list) -> list[dict]:
        # Once per event id: delivery is at least once (two replicas' outbox relays may both
        # publish a batch), and the contract makes a second copy of an id a no-op. A doubled
        # effect would show as two ids for one point, which the counts below catch.
        events = {(e := json.loads(r.value))["id"]: e for r in records}.values()
        return [e for e in events if e["data"].get("vacancy_id") in (vacancy_id, soon_id)]

    def complete(records: list) -> bool:
        types = [e["type"] for e in of_vacancy(records)]
        return types.count("vacancies.placement.revolving-door") >= 1 and (
            types.count("vacancies.placement.ended") >= 2
        )

    events = of_vacancy(
        await read_topic(infrastructure.kafka_bootstrap_servers, "vacancies.events.v1", complete)
    )
    types = [e["type"] for e in events]
    sustained_events = [e["data"] for e in events if e["type"] == "vacancies.placement.sustained"]
    assert sorted((s["placement_id"], s["weeks"]) for s in sustained_events) == sorted(
        (p, w) for p in (placement_id, other_placement) for w in (13, 26)
    ), "each point once per placement"
    assert types.count("vacancies.vacancy.expired") == 1
    assert types.count("vacancies.vacancy.partly-filled") == 1
    assert types.count("vacancies.vacancy.filled") == 1
    (started,) = [
        e["data"] for e in events
        if e["type"] == "vacancies.placement.started" and e["data"]["placement_id"] == placement_id
    ]  # fmt: skip
    assert started["lead_provider_id"] == "P-01" and started["match_id"] == candidate["match_id"]
    assert started["submission_id"] == submission_id
    statuses = [e["data"]["status"] for e in events if ".submission." in e["type"]]
    assert statuses == ["submitted", "interview-scheduled", "work-trial", "offer", "placed"]
    (door,) = [e["data"] for e in events if e["type"] == "vacancies.placement.revolving-door"]
    assert door["placement_id"] == other_placement and door["reclaim_date"] == "2027-06-25"
    (returned,) = [
        e["data"] for e in events
        if e["type"] == "vacancies.placement.ended" and e["data"]["revolving_door"]
    ]  # fmt: skip
    assert returned["placement_id"] == placement_id
    # What the topic's events look like as employers receive them (the notifications service
    # applies the same rule to their webhooks and inbox; the topic itself is internal).
    for event in events:
        if event["type"] in EMPLOYER_HIDDEN_EVENT_TYPES:
            continue
        data = event["data"]
        _employer_safe(employer_view_of_placement(data) if ".placement." in event["type"] else data)
