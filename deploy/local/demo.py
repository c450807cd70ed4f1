"""A small, realistic demo: claimants from the seed plans' example data, driven through the
contract exactly as JCP, providers and employer brokerage would (`make run` loads it).

Run on its own against running services with `python deploy/local/demo.py`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx

from brokerage_client import JcpFeed, Platform, WebhookReceiver
from brokerage_client.api import poll

TOKENS = Path(__file__).resolve().parent / "dev-tokens.json"
SOON = (date.today() + timedelta(days=45)).isoformat()

# Invented people, consistent with the plans (shared/reference/domain-digest.md, section 9).
CLAIMANTS: list[dict[str, Any]] = [
    {  # C-1002: lone parent in Warrington, job-ready for retail: the happy path
        "claim": {
            "benefit": "IS_LP",
            "claim_start": "2024-11-04",
            "jcp_office": "Warrington",
            "local_authority": "Warrington",
            "ward": "Bewsey & Whitecross",
            "postcode_district": "WA5",
            "age_band": "25-49",
            "priority_groups": ["lone_parent"],
        },
        "consent": ["providers", "employers", "tracking"],
        "referral": ("P-01", "retail-routeway", "wants part-time retail work near school"),
        "assessment": {
            "skills": ["customer service", "cash handling"],
            "qualification_level": 1,
            "literacy": "level_1",
            "numeracy": "entry_3",
            "barriers": [{"type": "childcare", "blocking": False}],
            "preferred_sectors": ["retail"],
            "location": {"postcode_district": "WA5", "lat": 53.39, "lon": -2.62},
            "max_travel_km": 12,
            "available_hours_per_week": 25,
        },
    },
    {  # C-1003: 19-25, finished a construction routeway in Stockton
        "claim": {
            "benefit": "JSA",
            "claim_start": "2026-04-13",
            "jcp_office": "Stockton",
            "local_authority": "Stockton-on-Tees",
            "ward": "Stainsby Hill",
            "postcode_district": "TS17",
            "age_band": "16-24",
            "priority_groups": ["young_neet"],
        },
        "consent": ["providers"],
        "referral": ("P-02", "construction-routeway", "bespoke construction training"),
        "assessment": {
            "skills": ["manual handling", "cscs card", "teamwork"],
            "qualification_level": 1,
            "literacy": "level_1",
            "numeracy": "level_1",
            "barriers": [],
            "preferred_sectors": ["construction"],
            "location": {"postcode_district": "TS17", "lat": 54.54, "lon": -1.29},
            "max_travel_km": 20,
            "available_hours_per_week": 40,
        },
    },
    {  # C-1001: long-term IB in Aston, a health barrier still blocks work
        "claim": {
            "benefit": "IB",
            "claim_start": "2021-05-10",
            "jcp_office": "Birmingham",
            "local_authority": "Birmingham",
            "ward": "Aston",
            "postcode_district": "B6",
            "age_band": "50+",
            "priority_groups": ["over_50", "health_condition", "bme"],
        },
        "consent": ["providers"],
        "referral": ("P-01", "iag-enhanced-guidance", "condition management first"),
        "assessment": {
            "skills": ["warehouse picking"],
            "qualification_level": 0,
            "literacy": "entry_2",
            "numeracy": "entry_2",
            "barriers": [
                {"type": "health", "blocking": True},
                {"type": "confidence", "blocking": False},
            ],
            "preferred_sectors": ["logistics"],
            "location": {"postcode_district": "B6", "lat": 52.50, "lon": -1.88},
            "max_travel_km": 5,
            "available_hours_per_week": 16,
        },
    },
]

VACANCIES: list[dict[str, Any]] = [
    {
        "post": {
            "employer_id": "E-GOLDEN-SQUARE-STORE",
            "title": "Sales Assistant",
            "sector": "retail",
            "positions": 4,
            "hours_per_week": 16,
            "location": {"postcode_district": "WA1", "lat": 53.39, "lon": -2.59},
            "closing_date": SOON,
            "description": "Job guarantee after the routeway.",
        },
        "scope": {
            "required_skills": ["customer service"],
            "desirable_skills": ["cash handling"],
            "min_qualification_level": 1,
            "target_priority_groups": [],
            "target_wards": [],
            "guarantees": {"interview": True, "job": True},
        },
    },
    {
        "post": {
            "employer_id": "E-CONSTRUCTION-INTEGRATOR",
            "title": "General Operative",
            "sector": "construction",
            "positions": 10,
            "hours_per_week": 39,
            "location": {"postcode_district": "TS18", "lat": 54.56, "lon": -1.31},
            "closing_date": SOON,
        },
        "scope": {
            "required_skills": ["cscs card", "manual handling"],
            "desirable_skills": [],
            "min_qualification_level": 0,
            "target_priority_groups": [],
            "target_wards": [],
            "guarantees": {"interview": True},
        },
    },
    {
        "post": {
            "employer_id": "E-COUNTY-CARE",
            "title": "Care Assistant",
            "sector": "health and social care",
            "positions": 12,
            "hours_per_week": 30,
            "location": {"postcode_district": "CH1", "lat": 53.19, "lon": -2.89},
            "closing_date": SOON,
        },
        "scope": {
            "required_skills": ["personal care"],
            "min_qualification_level": 2,
            "target_wards": ["Blacon Lodge", "Grosvenor"],
            "guarantees": {"interview": True},
        },
    },
]


def say(line: str) -> None:
    print(f"  demo | {line}", flush=True)


async def run_demo(
    platform: Platform,
    bootstrap: str,
    provider_hooks: WebhookReceiver,
    employer_hooks: WebhookReceiver,
) -> None:
    run = uuid.uuid4().hex[:6]
    for org, receiver, types in (
        ("P-01", provider_hooks, ["referrals.referral.created", "matching.match.proposed"]),
        ("EB-01", employer_hooks, ["matching.match.proposed", "vacancies.placement.started"]),
    ):
        await platform.as_(org, "notifications").post(
            "/subscriptions",
            {"url": receiver.url, "secret": receiver.secret.decode(), "event_types": types},
        )
        say(f"{org} subscribed its webhook {receiver.url}")

    jcp = platform.as_("jcp", "referrals")
    client_ids: list[str] = []
    async with JcpFeed(bootstrap) as feed:
        for n, person in enumerate(CLAIMANTS):
            ref = f"CLM-DEMO-{run}-{n}"
            await feed.publish("jcp.claimant.registered", {"claimant_ref": ref, **person["claim"]})
            say(f"JCP published jcp.claimant.registered for {ref}")

            async def created(ref: str = ref) -> str | None:
                found = (await jcp.get("/clients", claimant_ref=ref)).json()
                return found[0]["client_id"] if found else None

            client_ids.append(await poll(created, timeout=30, what=f"client {ref}"))

    for client_id, person in zip(client_ids, CLAIMANTS, strict=True):
        provider_id, programme, reason = person["referral"]
        provider = platform.as_(provider_id, "referrals")
        await jcp.post(f"/clients/{client_id}/consent", {"scopes": person["consent"]})
        referral = (
            await jcp.post(
                "/referrals",
                {
                    "client_id": client_id,
                    "provider_id": provider_id,
                    "programme": programme,
                    "reason": reason,
                },
            )
        ).json()
        say(
            f"client {client_id}: consent {person['consent']}, referred to {provider_id} "
            f"({programme}) as {referral['referral_id']}"
        )
        for step in ("accept", "start"):
            await provider.post(f"/referrals/{referral['referral_id']}/{step}")
        await provider.put(f"/clients/{client_id}/assessment", person["assessment"])
        ready = await provider.post(f"/clients/{client_id}/job-ready")
        outcome = (
            "job-ready" if ready.status_code == 200 else f"not job-ready: {ready.json()['message']}"
        )
        say(f"client {client_id}: accepted, started, assessed by {provider_id}; {outcome}")

    brokerage = platform.as_("EB-01", "vacancies")
    vacancy_ids = []
    for vacancy in VACANCIES:
        vacancy_id = (await brokerage.post("/vacancies", vacancy["post"])).json()["vacancy_id"]
        await brokerage.put(f"/vacancies/{vacancy_id}/scope", vacancy["scope"])
        vacancy_ids.append(vacancy_id)
        say(f"EB-01 posted and scoped {vacancy_id}: {vacancy['post']['title']}")

    operations = platform.as_("operations", "matching")
    for vacancy_id, vacancy in zip(vacancy_ids[:2], VACANCIES, strict=False):

        async def matched(vacancy_id: str = vacancy_id) -> list:
            return (await operations.get("/matches", vacancy_id=vacancy_id)).json()

        matches = await poll(matched, timeout=30, what=f"matches for {vacancy_id}")
        for m in matches:
            say(f"match {vacancy['post']['title']} <-> {m['client_id']}: score {m['score']}")
            for r in m["reasons"]:
                say(
                    f"    {r['factor']:<16} {r['weight']:.2f} x {r['value']:.2f}  "
                    f"{r['explanation']}"
                )

    shortlist = (await brokerage.get(f"/vacancies/{vacancy_ids[0]}/shortlist")).json()
    say(f"EB-01's shortlist for {vacancy_ids[0]}, as an employer may see it:")
    for c in shortlist:
        factors = ", ".join(r["factor"] for r in c["reasons"])
        say(
            f"    {c['client_id']} score {c['score']} reasons [{factors}] "
            f"details {c.get('details', '(no employers consent)')}"
        )
    if shortlist:
        placement = (
            await brokerage.post(
                f"/vacancies/{vacancy_ids[0]}/placements",
                {
                    "client_id": shortlist[0]["client_id"],
                    "start_date": date.today().isoformat(),
                    "hours_per_week": 16,
                },
            )
        ).json()
        say(
            f"EB-01 recorded placement {placement['placement_id']} for "
            f"{shortlist[0]['client_id']}; sustainment checks fall due at 13 and 26 weeks"
        )

    async def delivered() -> bool:
        return len(provider_hooks.received) >= 2 and len(employer_hooks.received) >= 2

    with contextlib.suppress(TimeoutError):
        await poll(delivered, timeout=20, what="webhooks")
    for name, receiver in (("P-01", provider_hooks), ("EB-01", employer_hooks)):
        kinds = sorted(p["kind"] for p in receiver.payloads())
        say(f"{name}'s webhook received {len(kinds)} signed notifications: {kinds}")


async def main() -> None:
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    async with httpx.AsyncClient(timeout=10) as client:
        platform = Platform.with_dev_tokens(client, TOKENS)
        await platform.wait_ready()
        with (
            WebhookReceiver("demo-provider-secret-0001") as provider_hooks,
            WebhookReceiver("demo-employer-secret-0001") as employer_hooks,
        ):
            await run_demo(platform, bootstrap, provider_hooks, employer_hooks)


if __name__ == "__main__":
    asyncio.run(main())
