"""The demo `make run` loads: the referral network and the employer side, told as a story.

Everything goes through the contract exactly as JCP, providers, operations and employer
brokerage would: claimants from the seed plans' example data (shared/reference/domain-digest.md,
section 9) in Cheshire and Warrington and in Birmingham, the provider directory, eligibility,
a programme that fills up and keeps a waitlist, a lead provider with a specialist alongside, an
action plan, a referral's history and deadlines; then vacancies, matches with their reasons,
shortlists, a submission refused without `employers` consent, and one client's journey from
the shortlist through an interview, a work trial and an offer to a placement credited to her
lead provider, with what the employer's shortlist and webhooks showed. EB-01 also subscribes
an email address; the last lines count what the local mail catcher kept.

When the services let their clocks be moved (`CLOCK_CONTROL=1 make run`), the demo ends by
moving two of them, each service's clock being its own: the referrals service's past an
acknowledgement deadline nobody met (the breach reaches the provider and the referring JCP),
and the vacancies service's 13 weeks past the placement's start (sustained once; then a
reclaim ends it on the revolving door). Without clock control, one line each says how to see
them.

Re-runnable against the same platform: claimant references are unique per run, the one-place
programme is reset at the start, what an earlier run left (its subscriptions, open vacancies,
a referral still waiting for a place, a client back on benefit) is tidied away first, and the
vacancies service's clock, which an earlier run may have moved on, is found before any date is
chosen. Run on its own against running services with `python deploy/local/demo.py` (with the
same `PORT_OFFSET`, `KAFKA_BOOTSTRAP_SERVERS` and `LOCAL_INFRA_DIR` as `make run`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time as timer
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import holidays
import httpx

from brokerage_client import JcpFeed, Platform, WebhookReceiver
from brokerage_client.api import Api, poll
from runtime.supervisor import SERVICES

REPO = Path(__file__).resolve().parents[2]
TOKENS = Path(__file__).resolve().parent / "dev-tokens.json"
LONDON = ZoneInfo("Europe/London")

# What each organisation hears of, by webhook or by email. EB-01's email goes to the local
# mail catcher under `make run` (see `_mail`).
PROVIDER_WEBHOOK = ["referrals.referral.created", "matching.match.proposed"]
EMPLOYER_WEBHOOK = [
    "matching.match.proposed",
    "matching.match.withdrawn",
    "vacancies.submission.submitted",
    "vacancies.placement.started",
    "vacancies.vacancy.partly-filled",
]
EMPLOYER_EMAIL = "brokerage@eb01.example"
EMPLOYER_EMAIL_TYPES = [
    "vacancies.placement.started",
    "vacancies.placement.sustained",
    "vacancies.placement.ended",
]

# A programme only the demo uses, with one place, so that "full, then a waitlist, then a place
# frees up" shows on every run: the demo writes it afresh each time (operations may).
TASTER = "care-taster"
TASTER_PROGRAMME = {
    "name": "Care taster days (demo: one place)",
    "kind": "routeway",
    "eligibility": {},
    "capacity": {"maximum": 1, "available": 1, "when_full": "waitlist"},
}

# Invented people, consistent with the plans (domain digest, section 9). `jcp` is the
# Jobcentre Plus organisation of the client's partnership, the one that refers them.
CLAIMANTS: dict[str, dict[str, Any]] = {
    "C-1002": {  # lone parent in Warrington, job-ready for retail: the happy path
        "jcp": "JCP-CW",
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
    "C-1003": {  # 19-25, ex-NEET, bespoke construction training; in Runcorn (Halton) here
        "jcp": "JCP-CW",
        "claim": {
            "benefit": "JSA",
            "claim_start": "2026-04-13",
            "jcp_office": "Runcorn",
            "local_authority": "Halton",
            "ward": "Halton Lea",
            "postcode_district": "WA7",
            "age_band": "16-24",
            "priority_groups": ["young_neet"],
        },
        "consent": ["providers"],
        "assessment": {
            "skills": ["manual handling", "cscs card", "teamwork"],
            "qualification_level": 1,
            "literacy": "level_1",
            "numeracy": "level_1",
            "barriers": [],
            "preferred_sectors": ["construction"],
            "location": {"postcode_district": "WA7", "lat": 53.33, "lon": -2.70},
            "max_travel_km": 20,
            "available_hours_per_week": 40,
        },
    },
    "C-1004": {  # Ellesmere Port, ex-offender, 14 months on JSA, debt: Skills for Life first
        "jcp": "JCP-CW",
        "claim": {
            "benefit": "JSA",
            "claim_start": "2025-09-15",
            "jcp_office": "Ellesmere Port",
            "local_authority": "Cheshire West and Chester",
            "ward": "Westminster",
            "postcode_district": "CH65",
            "age_band": "16-24",
            "priority_groups": ["ex_offender", "long_term_unemployed"],
        },
        "consent": ["providers", "tracking"],
    },
    "C-1001": {  # long-term IB in Aston, Birmingham: a health barrier still blocks work
        "jcp": "JCP-BCBC",
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
        "consent": ["providers", "tracking"],
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
}

# Keys of the vacancies the story follows. Each closes 45 days after the vacancies service's
# date (`_post_vacancies`), which an earlier run may have moved on.
SALES, OPERATIVE, CARE, COUNTER = "sales", "operative", "care", "counter"
VACANCIES: dict[str, dict[str, Any]] = {
    SALES: {  # C-1002's: submitted, interviewed, on trial, offered, placed
        "post": {
            "employer_id": "E-GOLDEN-SQUARE-STORE",
            "title": "Sales Assistant",
            "sector": "retail",
            "positions": 4,
            "hours_per_week": 16,
            "location": {"postcode_district": "WA1", "lat": 53.39, "lon": -2.59},
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
    OPERATIVE: {  # C-1003's, who shares with providers only: no submission
        "post": {
            "employer_id": "E-CONSTRUCTION-INTEGRATOR",
            "title": "General Operative",
            "sector": "construction",
            "positions": 10,
            "hours_per_week": 39,
            "location": {"postcode_district": "WA7", "lat": 53.34, "lon": -2.73},
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
    CARE: {  # targeted at two Chester wards: nobody in the demo qualifies
        "post": {
            "employer_id": "E-COUNTY-CARE",
            "title": "Care Assistant",
            "sector": "health and social care",
            "positions": 12,
            "hours_per_week": 30,
            "location": {"postcode_district": "CH1", "lat": 53.19, "lon": -2.89},
        },
        "scope": {
            "required_skills": ["personal care"],
            "min_qualification_level": 2,
            "target_wards": ["Blacon Lodge", "Grosvenor"],
            "guarantees": {"interview": True},
        },
    },
    COUNTER: {  # C-1002's second shortlist, left when she starts work (`placed`)
        "post": {
            "employer_id": "E-BRIDGE-STREET-BAKERY",
            "title": "Counter Assistant",
            "sector": "retail",
            "positions": 2,
            "hours_per_week": 20,
            "location": {"postcode_district": "WA2", "lat": 53.40, "lon": -2.58},
        },
        "scope": {
            "required_skills": ["customer service"],
            "desirable_skills": [],
            "min_qualification_level": 0,
            "target_priority_groups": [],
            "target_wards": [],
            "guarantees": {"interview": True},
        },
    },
}
DEMO_EMPLOYERS = frozenset(v["post"]["employer_id"] for v in VACANCIES.values())


def say(line: str) -> None:
    print(f"  demo | {line}", flush=True)


def chapter(title: str) -> None:
    print(f"  demo |\n  demo | --- {title}", flush=True)


class DemoError(RuntimeError):
    """The platform answered something the story did not expect."""


def expect(response: httpx.Response, *statuses: int) -> dict[str, Any]:
    if response.status_code not in statuses:
        raise DemoError(
            f"{response.request.method} {response.request.url.path} answered "
            f"{response.status_code}: {response.text[:300]}"
        )
    return response.json() if response.content else {}


def stamp(at: str) -> str:
    """`2026-11-27T23:59:59Z` -> `Fri 27 Nov 2026 23:59 GMT`: in London time, as deadlines are
    set (23:59:59 Europe/London on their day)."""
    moment = datetime.fromisoformat(at.replace("Z", "+00:00")).astimezone(LONDON)
    return moment.strftime("%a %d %b %Y %H:%M %Z")


async def run_demo(
    platform: Platform,
    bootstrap: str,
    provider_hooks: WebhookReceiver,
    employer_hooks: WebhookReceiver,
) -> None:
    started = timer.time()
    run = uuid.uuid4().hex[:6]
    await _subscribe(platform, provider_hooks, employer_hooks)
    await _tidy_earlier_runs(platform)
    clients = await _register(platform, bootstrap, run)
    await _directory(platform)
    await _bcbc(platform, clients["C-1001"])
    await _routeways(platform, clients)
    specialist = await _lead_and_specialist(platform, clients["C-1004"])
    await _waitlist(platform, clients)
    await _deadlines(platform, specialist)
    placed = await _employer_side(platform, clients, employer_hooks)
    await _provider_hooks(provider_hooks)
    await _breach(platform, specialist)
    moved = await _thirteen_weeks_on(platform, bootstrap, placed, _claimant_ref(run, "C-1002"))
    await _mail(started, placed, 3 if moved else 1)  # started; sustained and ended if moved


def _claimant_ref(run: str, person: str) -> str:
    return f"CLM-DEMO-{run}-{person}"


async def _subscribe(
    platform: Platform, provider_hooks: WebhookReceiver, employer_hooks: WebhookReceiver
) -> None:
    """P-01 and EB-01 subscribe their webhooks, and EB-01 an email address, in place of what
    an earlier run subscribed (its receivers are gone, and 20 is an organisation's limit)."""
    for org, receiver, types in (
        ("P-01", provider_hooks, PROVIDER_WEBHOOK),
        ("EB-01", employer_hooks, EMPLOYER_WEBHOOK),
    ):
        notifications = platform.as_(org, "notifications")
        for s in expect(await notifications.get("/subscriptions"), 200):
            if _the_demos(s, types):
                removed = await notifications.request(
                    "DELETE", f"/subscriptions/{s['subscription_id']}"
                )
                expect(removed, 204, 404)
        expect(
            await notifications.post(
                "/subscriptions",
                {"url": receiver.url, "secret": receiver.secret.decode(), "event_types": types},
            ),
            201,
        )
        say(f"{org} subscribed its webhook {receiver.url}")
    expect(
        await platform.as_("EB-01", "notifications").post(
            "/subscriptions",
            {"channel": "email", "email": EMPLOYER_EMAIL, "event_types": EMPLOYER_EMAIL_TYPES},
        ),
        201,
    )
    say(f"EB-01 subscribed {EMPLOYER_EMAIL} to email: {', '.join(EMPLOYER_EMAIL_TYPES)}")


def _the_demos(subscription: dict[str, Any], webhook_types: list[str]) -> bool:
    """An earlier run's subscription: the demo's email address, or a local receiver's URL
    with exactly the demo's event types."""
    if subscription.get("email") == EMPLOYER_EMAIL:
        return True
    url = subscription.get("url") or ""
    local = url.startswith("http://127.0.0.1:") and url.endswith("/hooks")
    return local and sorted(subscription["event_types"]) == sorted(webhook_types)


async def _tidy_earlier_runs(platform: Platform) -> None:
    """What an earlier run left would compete with this one: its open vacancies for this
    run's clients, a referral waiting for the taster's one place, and its C-1002, back in the
    matching pool after the revolving door (`CLOCK_CONTROL=1`), for this run's shortlists.
    End the first two, and take the last out of the pool by withdrawing her `providers`
    consent (a gate of matching)."""
    jcp = platform.as_("JCP-CW", "referrals")
    waiting = expect(await jcp.get("/referrals", status="on-hold"), 200)
    stale = [r for r in waiting if r["provider_id"] == "P-01" and r["programme"] == TASTER]
    for r in stale:
        expect(
            await jcp.post(
                f"/referrals/{r['referral_id']}/withdraw",
                {"reason": "entered-in-error", "note": "left waiting by an earlier demo run"},
            ),
            200,
            404,
            409,
        )
    brokerage = platform.as_("EB-01", "vacancies")
    earlier: dict[str, list[dict[str, Any]]] = {}
    for status in ("open", "partly-filled", "expired"):
        listed = await brokerage.get("/vacancies", status=status)
        if listed.status_code == 422:
            continue  # a vacancies service that does not know this status yet
        earlier[status] = [v for v in expect(listed, 200) if v["employer_id"] in DEMO_EMPLOYERS]
    old = earlier.get("open", []) + earlier.get("partly-filled", [])
    for v in old:
        closing = await brokerage.post(f"/vacancies/{v['vacancy_id']}/close", {"reason": "demo"})
        expect(closing, 200, 409)
    returned = {
        p["client_id"]
        for v in (vacancy for listed in earlier.values() for vacancy in listed)
        for p in v.get("placements", [])
        if p.get("end_reason") == "returned-to-benefit"
    }
    retired = 0
    for client_id in sorted(returned):
        client = await jcp.get(f"/clients/{client_id}")
        if client.status_code == 200 and "providers" in client.json().get("consent_scopes", []):
            withdrawn = await jcp.post(
                f"/clients/{client_id}/consent/withdraw", {"scopes": ["providers"]}
            )
            expect(withdrawn, 200, 404, 409)
            retired += 1
    done = [
        f"closed {len(old)} of its vacancies" if old else "",
        f"withdrew {len(stale)} of its waiting referrals" if stale else "",
        f"withdrew the providers consent of {retired} of its clients back on benefit"
        if retired
        else "",
    ]
    if any(done):
        say(f"tidied an earlier demo run: {'; '.join(d for d in done if d)}")


async def _register(platform: Platform, bootstrap: str, run: str) -> dict[str, str]:
    chapter("Claimants arrive from JCP, each in the partnership of their local authority")
    clients: dict[str, str] = {}
    async with JcpFeed(bootstrap) as feed:
        for person, data in CLAIMANTS.items():
            ref = _claimant_ref(run, person)
            await feed.publish("jcp.claimant.registered", {"claimant_ref": ref, **data["claim"]})
            jcp = platform.as_(data["jcp"], "referrals")

            async def created(ref: str = ref, jcp: Api = jcp) -> str | None:
                found = (await jcp.get("/clients", claimant_ref=ref)).json()
                return found[0]["client_id"] if found else None

            client_id = await poll(created, timeout=30, what=f"client {ref}")
            client = expect(await jcp.get(f"/clients/{client_id}"), 200)
            expect(
                await jcp.post(f"/clients/{client_id}/consent", {"scopes": data["consent"]}), 200
            )
            clients[person] = client_id
            claim = data["claim"]
            say(
                f"{person} ({claim['local_authority']}, {claim['ward']}, {claim['benefit']}) is "
                f"client {client_id} in partnership {client['partnership']}; "
                f"{data['jcp']} recorded consent {data['consent']}"
            )
    return clients


async def _directory(platform: Platform) -> None:
    chapter("The provider directory: programmes, who they admit, places free and waiting")
    operations = platform.as_("operations", "referrals")
    expect(await operations.put(f"/providers/P-01/programmes/{TASTER}", TASTER_PROGRAMME), 200)
    say(f"operations (Cheshire and Warrington) wrote P-01's {TASTER} programme: one place")
    for provider in expect(await operations.get("/providers"), 200):
        say(f"{provider['provider_id']} {provider['name']} ({', '.join(provider['partnerships'])})")
        for p in provider["programmes"]:
            say(f"    {p['programme_id']:<24} {_places(p)}")


def _places(programme: dict[str, Any]) -> str:
    c = programme["capacity"]
    return (
        f"{programme['kind']:<8} {c['available']}/{c['maximum']} places free, "
        f"{c['waiting']} waiting ({c['when_full']} when full)"
    )


async def _refer(
    platform: Platform, caller: str, client_id: str, provider: str, programme: str, **kw: Any
) -> httpx.Response:
    return await platform.as_(caller, "referrals").post(
        "/referrals",
        {
            "client_id": client_id,
            "provider_id": provider,
            "programme": programme,
            "reason": "JCP adviser referral",
            **kw,
        },
    )


async def _bcbc(platform: Platform, client_id: str) -> None:
    chapter("Birmingham, Coventry and the Black Country: a partnership of its own")
    made = expect(
        await _refer(platform, "JCP-BCBC", client_id, "P-03", "bcbc-employment-support"), 201
    )
    referral_id = made["referral_id"]
    say(f"JCP-BCBC referred C-1001 to P-03 (bcbc-employment-support): {referral_id}")
    cw = platform.as_("JCP-CW", "referrals")
    client_status = (await cw.get(f"/clients/{client_id}")).status_code
    referral_status = (await cw.get(f"/referrals/{referral_id}")).status_code
    if (client_status, referral_status) != (404, 404):
        raise DemoError("JCP-CW could see a bcbc client or referral")
    say(f"JCP-CW asks for that client and that referral: {client_status} and {referral_status}")
    p03 = platform.as_("P-03", "referrals")
    for step in ("accept", "start"):
        expect(await p03.post(f"/referrals/{referral_id}/{step}"), 200)
    expect(
        await p03.put(f"/clients/{client_id}/assessment", CLAIMANTS["C-1001"]["assessment"]), 200
    )
    ready = await p03.post(f"/clients/{client_id}/job-ready")
    outcome = (
        "job-ready" if ready.status_code == 200 else f"not job-ready ({ready.json()['message']})"
    )
    say(f"P-03 accepted, started and assessed C-1001: {outcome}")
    ledger = expect(
        await platform.as_("JCP-BCBC", "referrals").get(f"/clients/{client_id}/consent"), 200
    )
    say(
        f"C-1001's consent ledger, as JCP-BCBC reads it: current {_scopes(ledger)}, "
        f"{len(ledger['history'])} change(s), the last by {ledger['history'][-1]['by_org']}"
    )


def _scopes(ledger: dict[str, Any]) -> list[str]:
    return sorted(g["scope"] for g in ledger["current"])


async def _routeways(platform: Platform, clients: dict[str, str]) -> None:
    chapter("Cheshire and Warrington: routeways, and an eligibility refusal")
    refused = await _refer(platform, "JCP-CW", clients["C-1004"], "P-01", "care-routeway")
    rules = expect(refused, 422)
    say(f"JCP-CW refers C-1004 to P-01's care-routeway: {refused.status_code} {rules['error']}")
    for rule in rules["rules"]:
        say(f"    {rule['rule']:<10} {rule['explanation']}")

    for person, provider_id, programme, finish in (
        ("C-1002", "P-01", "retail-routeway", False),
        ("C-1003", "P-02", "construction-routeway", True),
    ):
        client_id = clients[person]
        made = expect(await _refer(platform, "JCP-CW", client_id, provider_id, programme), 201)
        referral_id = made["referral_id"]
        provider = platform.as_(provider_id, "referrals")
        for step in ("accept", "start"):
            expect(await provider.post(f"/referrals/{referral_id}/{step}"), 200)
        expect(
            await provider.put(f"/clients/{client_id}/assessment", CLAIMANTS[person]["assessment"]),
            200,
        )
        expect(await provider.post(f"/clients/{client_id}/job-ready"), 200)
        done = "; finished the routeway" if finish else ""
        if finish:  # completing gives the routeway's one place back for the next client
            expect(await provider.post(f"/referrals/{referral_id}/complete", {}), 200)
        say(
            f"{person} -> {provider_id} {programme} ({referral_id}, lead {made['lead']}): "
            f"accepted, started, assessed, job-ready{done}"
        )
    plan = {
        "items": [
            {"item_id": "cv", "action": "CV for retail roles", "kind": "job-search",
             "due": (date.today() + timedelta(days=14)).isoformat(), "status": "open"},
            {"item_id": "childcare", "action": "Children's Centre place", "kind": "support",
             "due": (date.today() + timedelta(days=7)).isoformat(), "status": "done"},
        ]
    }  # fmt: skip
    expect(
        await platform.as_("P-01", "referrals").put(
            f"/clients/{clients['C-1002']}/action-plan", plan
        ),
        200,
    )
    say("P-01, C-1002's lead provider, agreed her action plan: a CV (open), childcare (done)")


async def _lead_and_specialist(platform: Platform, client_id: str) -> str:
    """C-1004: P-02 leads (Skills for Life); P-01 gives debt advice alongside. Returns the
    specialist referral, which P-01 leaves unanswered: its deadline is the one that breaches."""
    chapter("A lead provider, and a specialist alongside")
    lead = expect(await _refer(platform, "JCP-CW", client_id, "P-02", "skills-for-life"), 201)
    say(f"C-1004 -> P-02 skills-for-life ({lead['referral_id']}): lead {lead['lead']}")
    second = await _refer(platform, "JCP-CW", client_id, "P-01", "iag-enhanced-guidance", lead=True)
    expect(second, 409)
    say("asking P-01 to lead as well: 409, a client has one case owner")
    specialist = expect(
        await _refer(platform, "JCP-CW", client_id, "P-01", "iag-enhanced-guidance"), 201
    )
    say(
        f"C-1004 -> P-01 iag-enhanced-guidance for debt advice ({specialist['referral_id']}): "
        f"lead {specialist['lead']}, a specialist alongside"
    )
    p02 = platform.as_("P-02", "referrals")
    for step in ("accept", "start"):
        expect(await p02.post(f"/referrals/{lead['referral_id']}/{step}"), 200)
    plan = {
        "items": [
            {"item_id": "literacy", "action": "Entry 3 to Level 1 literacy", "kind": "training",
             "due": (date.today() + timedelta(days=56)).isoformat(), "status": "open"},
            {"item_id": "debt", "action": "Debt advice session", "kind": "support",
             "due": (date.today() + timedelta(days=21)).isoformat(), "status": "open",
             "provider_id": "P-01"},
        ]
    }  # fmt: skip
    not_lead = await platform.as_("P-01", "referrals").put(
        f"/clients/{client_id}/action-plan", plan
    )
    expect(not_lead, 403)
    expect(await p02.put(f"/clients/{client_id}/action-plan", plan), 200)
    client = expect(await platform.as_("JCP-CW", "referrals").get(f"/clients/{client_id}"), 200)
    say(
        f"P-02 accepted and started; as lead provider ({client['lead_provider']}) it agreed "
        "C-1004's action plan (literacy; debt advice by P-01); "
        f"P-01 may not: {not_lead.status_code}"
    )
    return str(specialist["referral_id"])


async def _waitlist(platform: Platform, clients: dict[str, str]) -> None:
    chapter(f"A programme fills up: P-01's {TASTER} has one place")
    jcp = platform.as_("JCP-CW", "referrals")
    first = expect(await _refer(platform, "JCP-CW", clients["C-1002"], "P-01", TASTER), 201)
    waiting = expect(await _refer(platform, "JCP-CW", clients["C-1004"], "P-01", TASTER), 201)
    if (first["status"], waiting["status"]) != ("created", "on-hold"):
        raise DemoError(
            f"expected created then on-hold, got {first['status']}, {waiting['status']}"
        )
    say(f"C-1002 -> {TASTER}: {first['referral_id']} {first['status']} (took the place)")
    say(f"C-1004 -> {TASTER}: {waiting['referral_id']} {waiting['status']} (on the waitlist)")
    say(f"    {TASTER:<24} {_places(await _programme(platform, 'P-01', TASTER))}")
    p01 = platform.as_("P-01", "referrals")
    expect(
        await p01.post(
            f"/referrals/{first['referral_id']}/reject",
            {"reason": "declined-by-client", "note": "prefers the retail routeway"},
        ),
        200,
    )
    released = expect(await jcp.get(f"/referrals/{waiting['referral_id']}"), 200)
    say(
        f"C-1002 declined, so P-01 rejected {first['referral_id']} (declined-by-client); the "
        f"place freed and {waiting['referral_id']} is now {released['status']}"
    )
    say(f"    {TASTER:<24} {_places(await _programme(platform, 'P-01', TASTER))}")
    expect(await p01.post(f"/referrals/{waiting['referral_id']}/accept"), 200)
    history = expect(await jcp.get(f"/referrals/{waiting['referral_id']}"), 200)["history"]
    say(f"the history of {waiting['referral_id']}, oldest first:")
    for h in history:
        reason = f" ({h['reason']})" if h["reason"] else ""
        say(f"    {h['status']:<9} {stamp(h['at'])}  by {h['by_org']} ({h['by_role']}){reason}")


async def _programme(platform: Platform, provider_id: str, programme_id: str) -> dict[str, Any]:
    provider = expect(
        await platform.as_("JCP-CW", "referrals").get(f"/providers/{provider_id}"), 200
    )
    return next(p for p in provider["programmes"] if p["programme_id"] == programme_id)


async def _deadlines(platform: Platform, referral_id: str) -> None:
    referral = expect(
        await platform.as_("JCP-CW", "referrals").get(f"/referrals/{referral_id}"), 200
    )
    chapter(f"Deadlines of {referral_id} (C-1004's debt advice), in working days")
    settings = referral["sla_settings"]
    days = {
        "acknowledge": settings["acknowledge_working_days"],
        "start": settings["start_working_days"],
        "action_plan": settings["action_plan_working_days"],
    }
    for s in referral["sla"]:
        met = f"met {stamp(s['met_at'])}" if s["met_at"] else "not met yet"
        say(f"    {s['name']:<12} {days[s['name']]:>2} working days: due {stamp(s['due'])}, {met}")
    say("    (weekends and England and Wales bank holidays do not count)")


async def _employer_side(
    platform: Platform, clients: dict[str, str], employer_hooks: WebhookReceiver
) -> Placed | None:
    """Vacancies, their matches and shortlists, then C-1002's journey from the shortlist to a
    placement. Returns the placement, or None when matching shortlisted nobody to place."""
    chapter("Employer brokerage: vacancies, matches with their reasons, shortlists")
    today = await _vacancies_today(platform)
    vacancy_ids = await _post_vacancies(platform, today)
    people = {client_id: person for person, client_id in clients.items()}
    await _show_matches(platform, vacancy_ids, people)
    shortlist = await _show_shortlist(platform, vacancy_ids[SALES], people, clients["C-1002"])
    await _refused_submission(platform, vacancy_ids[OPERATIVE], clients["C-1003"])
    chosen = next((c for c in shortlist if c["client_id"] == clients["C-1002"]), None)
    if chosen is None:
        say("C-1002 is not on the Sales Assistant shortlist, so nobody is submitted")
        return None
    placed = await _journey(platform, vacancy_ids[SALES], chosen, today)
    left = await _after_the_start(platform, placed, vacancy_ids, people)
    await _what_employer_saw(employer_hooks, set(vacancy_ids.values()), left, shortlist)
    return placed


async def _vacancies_today(platform: Platform) -> date:
    """The vacancies service's date in London: the real one, unless an earlier run moved its
    clock on (13 weeks a run). Through the contract a service's clock is read only by moving
    it, and a move to a moment before it answers 409; so move it to a minute from now, then a
    week later at a time, until the move is taken. The clock ends at most a week past where
    it stood, and the demo knows the date its vacancies, trial and start are judged by."""
    operations = platform.as_("operations", "vacancies")
    moment = datetime.now(UTC) + timedelta(minutes=1)
    for _ in range(520):  # ten years of earlier runs
        moved = await operations.post("/admin/clock", {"now": moment.isoformat()})
        if moved.status_code == 404:  # clock control is off: the clock is the real one
            return datetime.now(LONDON).date()
        if moved.status_code == 200:
            return moment.astimezone(LONDON).date()
        expect(moved, 409)
        moment += timedelta(weeks=1)
    raise DemoError("the vacancies service's clock is more than ten years ahead")


async def _post_vacancies(platform: Platform, today: date) -> dict[str, str]:
    brokerage = platform.as_("EB-01", "vacancies")
    closing = (today + timedelta(days=45)).isoformat()
    vacancy_ids: dict[str, str] = {}
    for key, vacancy in VACANCIES.items():
        post = {**vacancy["post"], "closing_date": closing}
        vacancy_id = expect(await brokerage.post("/vacancies", post), 201)["vacancy_id"]
        expect(await brokerage.put(f"/vacancies/{vacancy_id}/scope", vacancy["scope"]), 200)
        vacancy_ids[key] = vacancy_id
        say(
            f"EB-01 posted and scoped {vacancy_id}: {post['title']}, {post['positions']} "
            f"positions, closing {closing}"
        )
    return vacancy_ids


def _who(people: dict[str, str], client_id: str) -> str:
    """`C-1002 (CL-…)` for this run's clients; an earlier run's keep their id alone."""
    person = people.get(client_id)
    return f"{person} ({client_id})" if person else client_id


async def _show_matches(
    platform: Platform, vacancy_ids: dict[str, str], people: dict[str, str]
) -> None:
    """The matches of this run's clients, with every factor explained, as operations reads
    them (an earlier run's clients may match too; they are left out of the story)."""
    operations = platform.as_("operations", "matching")
    for key in (SALES, OPERATIVE):
        vacancy_id, title = vacancy_ids[key], VACANCIES[key]["post"]["title"]

        async def matched(vacancy_id: str = vacancy_id) -> list[dict[str, Any]]:
            listed = expect(await operations.get("/matches", vacancy_id=vacancy_id), 200)
            return [m for m in listed if m["client_id"] in people and m["status"] == "proposed"]

        for m in await poll(matched, timeout=30, what=f"matches for {vacancy_id}"):
            say(f"match {title} <-> {_who(people, m['client_id'])}: score {m['score']}")
            for r in m["reasons"]:
                say(
                    f"    {r['factor']:<16} {r['weight']:.2f} x {r['value']:.2f}  "
                    f"{r['explanation']}"
                )


async def _shortlisted(platform: Platform, vacancy_id: str, client_id: str) -> list[dict[str, Any]]:
    """The employer's shortlist, once `client_id` is on it."""
    brokerage = platform.as_("EB-01", "vacancies")

    async def on_it() -> list[dict[str, Any]] | None:
        shortlist = expect(await brokerage.get(f"/vacancies/{vacancy_id}/shortlist"), 200)
        return shortlist if any(c["client_id"] == client_id for c in shortlist) else None

    with contextlib.suppress(TimeoutError):
        return await poll(on_it, timeout=30, what="the client on the shortlist")
    return expect(await brokerage.get(f"/vacancies/{vacancy_id}/shortlist"), 200)


async def _show_shortlist(
    platform: Platform, vacancy_id: str, people: dict[str, str], client_id: str
) -> list[dict[str, Any]]:
    shortlist = await _shortlisted(platform, vacancy_id, client_id)
    say(f"EB-01's shortlist for {vacancy_id}, as an employer may see it:")
    for c in shortlist:
        factors = ", ".join(r["factor"] for r in c["reasons"])
        say(
            f"    #{c.get('rank', '?')} {_who(people, c['client_id'])} score {c['score']} "
            f"reasons [{factors}] details {c.get('details', '(no employers consent)')}"
        )
    return shortlist


async def _refused_submission(platform: Platform, vacancy_id: str, client_id: str) -> None:
    """C-1003 agreed to share with providers only: matched, but not put forward (409)."""
    shortlist = await _shortlisted(platform, vacancy_id, client_id)
    candidate = next((c for c in shortlist if c["client_id"] == client_id), None)
    if candidate is None:
        say("C-1003 is not on the General Operative shortlist; no submission to refuse")
        return
    bands = ", ".join(f"{r['factor']} {r['band']}" for r in candidate["reasons"] if "band" in r)
    say(f"C-1003 on the General Operative shortlist, without employers consent: [{bands}]")
    refused = await platform.as_("EB-01", "vacancies").post(
        f"/vacancies/{vacancy_id}/submissions", {"match_id": candidate["match_id"]}
    )
    body = expect(refused, 409)
    say(f"EB-01 submits C-1003 there: {refused.status_code}, {body.get('message')}")


@dataclass(frozen=True)
class Placed:
    vacancy_id: str
    placement_id: str
    client_id: str
    start_date: date


def _working_day_on_or_after(day: date, calendar: holidays.HolidayBase) -> date:
    while day.weekday() >= 5 or day in calendar:
        day += timedelta(days=1)
    return day


def _trial_start(interview: date, calendar: holidays.HolidayBase) -> date:
    """The Monday after the interview, or a later one whose 15 working days take in the
    first bank holiday of the next seven weeks, so the trial's end shows it skipped; the
    placement that follows must start within 90 days of today."""
    monday = interview + timedelta(days=7 - interview.weekday())
    for day in sorted(calendar):
        if day.weekday() < 5 and monday < day <= interview + timedelta(weeks=7):
            return max(monday, day - timedelta(days=day.weekday() or 7))
    return monday


async def _journey(
    platform: Platform, vacancy_id: str, candidate: dict[str, Any], today: date
) -> Placed:
    chapter("From the shortlist to a job: submission, interview, work trial, offer, placement")
    brokerage = platform.as_("EB-01", "vacancies")
    say(
        f"EB-01 submits C-1002, #{candidate.get('rank', '?')} on the Sales Assistant shortlist "
        f"(match {candidate['match_id']})"
    )
    made = expect(
        await brokerage.post(
            f"/vacancies/{vacancy_id}/submissions", {"match_id": candidate["match_id"]}
        ),
        201,
    )
    sub = f"/submissions/{made['submission_id']}"
    say(f"    {made['submission_id']} {made['status']}")
    calendar = holidays.country_holidays(
        "GB", subdiv="ENG", years=range(today.year, today.year + 2)
    )
    interview_day = _working_day_on_or_after(today + timedelta(days=2), calendar)
    at = datetime.combine(interview_day, time(10), tzinfo=LONDON)
    interview = expect(await brokerage.post(f"{sub}/interview", {"at": at.isoformat()}), 200)
    say(f"    {interview['status']} for {stamp(at.isoformat())}")
    start = _trial_start(interview_day, calendar)
    trial = expect(await brokerage.post(f"{sub}/work-trial", {"start": start.isoformat()}), 200)
    end = date.fromisoformat(trial["end"])
    skipped = [
        f"{name} {day:%a %d %b}"
        for day, name in sorted(calendar.items())
        if start <= day <= end and day.weekday() < 5
    ]
    say(
        f"    {trial['status']} from {start:%a %d %b %Y}: 15 working days, ending "
        f"{end:%a %d %b %Y}"
        + (f", skipping {', '.join(skipped)}" if skipped else " (no bank holiday in between)")
    )
    offer = expect(await brokerage.post(f"{sub}/outcome", {"outcome": "offer"}), 200)
    say(f"    {offer['status']} made after the trial")
    start_date = _working_day_on_or_after(end + timedelta(days=1), calendar)
    accepted = expect(
        await brokerage.post(
            f"{sub}/accept", {"start_date": start_date.isoformat(), "hours_per_week": 16}
        ),
        201,
    )
    placement_id = accepted["placement_id"]
    vacancy = expect(await brokerage.get(f"/vacancies/{vacancy_id}"), 200)
    placement = next(p for p in vacancy["placements"] if p["placement_id"] == placement_id)
    say(
        f"C-1002 accepted: placement {placement_id} from {start_date:%a %d %b %Y}, credited to "
        f"lead provider {placement['lead_provider_id']}, from match {placement['match_id']}"
    )
    say(
        f"{vacancy_id} is now {vacancy['status']}: {vacancy['positions_left']} of "
        f"{vacancy['positions']} positions left; sustainment falls due at 13 and 26 weeks"
    )
    return Placed(vacancy_id, placement_id, placement["client_id"], start_date)


async def _after_the_start(
    platform: Platform, placed: Placed, vacancy_ids: dict[str, str], people: dict[str, str]
) -> set[str]:
    """In work, C-1002 leaves every other shortlist: matching withdraws her other matches.
    Returns the ids of her matches withdrawn as `placed`."""
    operations = platform.as_("operations", "matching")
    titles = {v: VACANCIES[k]["post"]["title"] for k, v in vacancy_ids.items()}

    async def withdrawn() -> list[dict[str, Any]] | None:
        mine = expect(await operations.get("/matches", client_id=placed.client_id), 200)
        others = [
            m for m in mine if m["vacancy_id"] in titles and m["vacancy_id"] != placed.vacancy_id
        ]
        return others if others and all(m["status"] == "withdrawn" for m in others) else None

    with contextlib.suppress(TimeoutError):
        await poll(withdrawn, timeout=20, what="C-1002's other matches withdrawn")
    mine = expect(await operations.get("/matches", client_id=placed.client_id), 200)
    for m in mine:
        if m["vacancy_id"] in titles:
            why = f" ({m['withdrawn_reason']})" if m.get("withdrawn_reason") else ""
            title = titles[m["vacancy_id"]]
            say(f"    {_who(people, m['client_id'])} <-> {title}: {m['status']}{why}")
    return {m["match_id"] for m in mine if m.get("withdrawn_reason") == "placed"}


# What an employer must never read about a client: the demo's priority groups, benefits and
# wards, the names of those fields, and which gate a client failed.
_NEVER_FOR_EMPLOYERS = (
    *sorted({g for c in CLAIMANTS.values() for g in c["claim"]["priority_groups"]}),
    *sorted({f'"{c["claim"]["benefit"]}"' for c in CLAIMANTS.values()}),
    *sorted({c["claim"]["ward"] for c in CLAIMANTS.values()}),
    "priority", "benefit", "ward", "gate", "job_ready", "not-job-ready", "blocking",
)  # fmt: skip


async def _what_employer_saw(
    employer_hooks: WebhookReceiver,
    vacancy_ids: set[str],
    left: set[str],
    shortlist: list[dict[str, Any]],
) -> None:
    """What EB-01's webhook received about this run's vacancies (an earlier run's, closed at
    the start, are told too), down to the `placed` withdrawals; and that none of it, nor the
    shortlist, names what an employer must not read."""

    def about_this_run() -> list[dict[str, Any]]:
        return [
            p
            for p in employer_hooks.payloads()
            if p["event"]["data"].get("vacancy_id") in vacancy_ids
        ]

    def placed(p: dict[str, Any]) -> bool:
        return p["kind"] == "matching.match.withdrawn" and p["event"]["data"]["reason"] == "placed"

    async def delivered() -> bool:
        payloads = about_this_run()
        kinds = {p["kind"] for p in payloads}
        told = {p["event"]["data"]["match_id"] for p in payloads if placed(p)}
        return set(EMPLOYER_WEBHOOK) <= kinds and left <= told

    with contextlib.suppress(TimeoutError):
        await poll(delivered, timeout=20, what="EB-01's webhooks")
    payloads = about_this_run()
    kinds = Counter(p["kind"] for p in payloads)
    say(f"EB-01's webhook received {len(payloads)} signed notifications about these vacancies:")
    for kind, n in sorted(kinds.items()):
        say(f"    {n} x {kind}")
    for p in filter(placed, payloads):
        data = p["event"]["data"]
        say(f"    e.g. match {data['match_id']} withdrawn, reason {data['reason']!r}")
        break
    text = json.dumps([shortlist, employer_hooks.payloads()])
    leaked = [word for word in _NEVER_FOR_EMPLOYERS if word in text]
    say(
        f"an employer could read {leaked}!"
        if leaked
        else "neither the shortlist nor the webhooks carry a priority group, a benefit, a ward "
        "or a gate's name"
    )


async def _provider_hooks(provider_hooks: WebhookReceiver) -> None:
    async def delivered() -> bool:
        return set(PROVIDER_WEBHOOK) <= {p["kind"] for p in provider_hooks.payloads()}

    with contextlib.suppress(TimeoutError):
        await poll(delivered, timeout=20, what="P-01's webhooks")
    kinds = Counter(p["kind"] for p in provider_hooks.payloads())
    listed = ", ".join(f"{n} x {kind}" for kind, n in sorted(kinds.items()))
    say(f"P-01's webhook received {kinds.total()} signed notifications: {listed}")


async def _breach(platform: Platform, referral_id: str) -> None:
    """Move the referrals service's clock past the acknowledgement deadline P-01 never met.
    Last, since it moves that one service's clock only; a 404 means clock control is off."""
    chapter("A missed deadline")
    jcp = platform.as_("JCP-CW", "referrals")
    referral = expect(await jcp.get(f"/referrals/{referral_id}"), 200)
    due = next(s["due"] for s in referral["sla"] if s["name"] == "acknowledge")
    after = datetime.fromisoformat(due.replace("Z", "+00:00")) + timedelta(minutes=1)
    moved = await platform.as_("operations", "referrals").post(
        "/admin/clock", {"now": after.isoformat()}
    )
    if moved.status_code == 404:
        say(
            f"P-01 has not answered {referral_id}; to watch its acknowledgement deadline "
            "breach and reach P-01 and JCP-CW, run `CLOCK_CONTROL=1 make run`"
        )
        return
    expect(moved, 200)
    say(
        f"P-01 never answered {referral_id}; operations moved the referrals service's clock "
        f"to {stamp(after.isoformat())}, just past its acknowledgement deadline"
    )

    async def breached() -> dict[str, Any] | None:
        sla = expect(await jcp.get(f"/referrals/{referral_id}"), 200)["sla"]
        return next((s for s in sla if s["name"] == "acknowledge" and s["breached"]), None)

    await poll(breached, timeout=45, interval=0.5, what="the acknowledgement deadline to breach")
    say(
        f"{referral_id}: its acknowledge deadline now shows breached; the referrals service "
        "emitted referrals.referral.sla-breached"
    )
    for org in ("P-01", "JCP-CW"):
        inbox = platform.as_(org, "notifications")

        async def notified(inbox: Api = inbox) -> dict[str, Any] | None:
            return next(
                (
                    n
                    for n in expect(await inbox.get("/inbox", limit=500), 200)
                    if n["kind"] == "referrals.referral.sla-breached"
                    and n["event"]["data"]["referral_id"] == referral_id
                ),
                None,
            )

        n = await poll(notified, timeout=30, interval=0.5, what=f"{org} told of the breach")
        data = n["event"]["data"]
        say(
            f"{org}'s inbox: {n['notification_id']} {n['kind']}: {data['sla']} of "
            f"{data['referral_id']} (provider {data['provider_id']}) was due {stamp(data['due'])}"
        )


async def _thirteen_weeks_on(
    platform: Platform, bootstrap: str, placed: Placed | None, claimant_ref: str
) -> bool:
    """Move the vacancies service's clock 13 weeks past the start: the placement is sustained,
    once; then C-1002 claims benefit again and the placement ends on the revolving door.
    Returns whether the clock moved (a 404 means clock control is off)."""
    chapter("Thirteen weeks on: sustained work, then the revolving door")
    if placed is None:
        say("no placement to follow")
        return False
    brokerage = platform.as_("EB-01", "vacancies")
    day = placed.start_date + timedelta(weeks=13)
    moment = datetime.combine(day, time(10), tzinfo=LONDON)
    moved = await platform.as_("operations", "vacancies").post(
        "/admin/clock", {"now": moment.isoformat()}
    )
    if moved.status_code == 404:
        say(
            f"to watch {placed.placement_id} sustained at 13 weeks and the revolving door, run "
            "`CLOCK_CONTROL=1 make run`"
        )
        return False
    expect(moved, 200)
    say(f"operations moved the vacancies service's clock to {stamp(moment.isoformat())}")

    async def placement() -> dict[str, Any]:
        vacancy = expect(await brokerage.get(f"/vacancies/{placed.vacancy_id}"), 200)
        return next(p for p in vacancy["placements"] if p["placement_id"] == placed.placement_id)

    async def sustained() -> dict[str, Any] | None:
        p = await placement()
        return p if p["sustained_weeks"] else None

    p = await poll(sustained, timeout=45, interval=0.5, what="13 weeks sustained")
    inbox = platform.as_("EB-01", "notifications")

    async def told() -> list[dict[str, Any]]:
        return [
            n
            for n in expect(await inbox.get("/inbox", limit=500), 200)
            if n["kind"] == "vacancies.placement.sustained"
            and n["event"]["data"]["placement_id"] == placed.placement_id
        ]

    notices = await poll(told, timeout=30, interval=0.5, what="EB-01 told of sustained work")
    weeks = [n["event"]["data"]["weeks"] for n in notices]
    times = "once" if len(notices) == 1 else f"{len(notices)} times"
    say(
        f"{placed.placement_id} sustained weeks {p['sustained_weeks']}: "
        f"vacancies.placement.sustained reached EB-01 {times}, weeks {weeks}"
    )
    async with JcpFeed(bootstrap) as feed:
        await feed.publish(
            "jcp.claimant.reclaimed",
            {"claimant_ref": claimant_ref, "reclaim_date": day.isoformat(), "benefit": "UC"},
        )
    say(f"JCP: C-1002 claims benefit again (UC) on {day:%a %d %b %Y}, still in the job")

    async def ended() -> dict[str, Any] | None:
        p = await placement()
        return p if p["ended"] else None

    p = await poll(ended, timeout=30, interval=0.5, what="the placement ended by the reclaim")
    say(
        f"{placed.placement_id} ended {p['ended']} as {p['end_reason']}, "
        f"revolving_door: {str(p['revolving_door']).lower()}"
    )
    return True


async def _mail(started: float, placed: Placed | None, expected: int) -> None:
    """The email EB-01 was sent during this run, as the local mail catcher kept it: in all,
    and about this run's placement (`expected` of those: started; sustained and ended when
    the clock moved)."""
    chapter("Email")
    if "SMTP_HOST" in os.environ or "SMTP_PORT" in os.environ:
        where = f"{os.environ.get('SMTP_HOST', '127.0.0.1')}:{os.environ.get('SMTP_PORT', '8025')}"
        say(f"EB-01's email went to the SMTP server at {where} (SMTP_HOST/SMTP_PORT)")
        return
    mail_dir = Path(os.environ.get("LOCAL_INFRA_DIR", REPO / ".local")) / "mail"
    if not mail_dir.is_dir():
        say(
            f"no local mail catcher kept mail ({mail_dir} does not exist): the notifications "
            "service sent EB-01's email to its SMTP_HOST:SMTP_PORT (127.0.0.1:8025 by default)"
        )
        return

    def kept() -> list[EmailMessage]:
        messages = []
        for path in sorted(mail_dir.glob("*.eml")):
            if path.stat().st_mtime < started:
                continue
            message = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
            if message["To"] == EMPLOYER_EMAIL:
                messages.append(message)
        return messages

    def about_the_placement(messages: list[EmailMessage]) -> list[str]:
        if placed is None:
            return []
        return [
            str(m["Subject"]).removeprefix("[Work brokerage] ")
            for m in messages
            if placed.placement_id in _text(m)
        ]

    async def arrived() -> bool:
        return len(about_the_placement(kept())) >= expected

    with contextlib.suppress(TimeoutError):
        await poll(arrived, timeout=20, interval=0.5, what="EB-01's email")
    messages = kept()
    subjects = about_the_placement(messages)
    total = len(list(mail_dir.glob("*.eml")))
    say(
        f"the local mail catcher kept {len(messages)} message(s) to {EMPLOYER_EMAIL} during "
        f"this run ({total} in all) under {mail_dir}"
    )
    if placed is not None:
        say(f"    about {placed.placement_id}: {', '.join(subjects) or 'none yet'}")


def _text(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    return body.get_content() if body is not None else ""


async def main() -> None:
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    # The services' ports as `make run` chose them (see PORT_OFFSET in run.py).
    offset = int(os.environ.get("PORT_OFFSET", "0").strip() or "0")
    urls = {name: f"http://127.0.0.1:{port + offset}" for name, port in SERVICES.items()}
    async with httpx.AsyncClient(timeout=10) as client:
        platform = Platform.with_dev_tokens(client, TOKENS, urls=urls)
        await platform.wait_ready()
        with (
            WebhookReceiver("demo-provider-secret-0001") as provider_hooks,
            WebhookReceiver("demo-employer-secret-0001") as employer_hooks,
        ):
            await run_demo(platform, bootstrap, provider_hooks, employer_hooks)


if __name__ == "__main__":
    asyncio.run(main())
