"""The demo `make run` loads: the referral network across two partnerships, told as a story.

Everything goes through the contract exactly as JCP, providers, operations and employer
brokerage would: claimants from the seed plans' example data (shared/reference/domain-digest.md,
section 9) in Cheshire and Warrington and in Birmingham, the provider directory, eligibility,
a programme that fills up and keeps a waitlist, a lead provider with a specialist alongside, an
action plan, a referral's history and deadlines, then vacancies, matches, a shortlist, a
placement and signed webhooks. Last, when the referrals service lets its clock be moved
(`CLOCK_CONTROL=1 make run`), it jumps past an acknowledgement deadline nobody met and shows
the breach reaching the provider and the referring JCP. The jump comes last because it moves
the referrals service's clock only: everything before it runs on the real date.

Re-runnable against the same platform: claimant references are unique per run, the one-place
programme is reset at the start, and what an earlier run left open (its vacancies, a referral
still waiting for a place) is tidied away first, so this run's clients match this run's
vacancies. Run on its own against running services with `python deploy/local/demo.py` (with
the same `PORT_OFFSET` and `KAFKA_BOOTSTRAP_SERVERS` as `make run`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from brokerage_client import JcpFeed, Platform, WebhookReceiver
from brokerage_client.api import Api, poll
from runtime.supervisor import SERVICES

TOKENS = Path(__file__).resolve().parent / "dev-tokens.json"
SOON = (date.today() + timedelta(days=45)).isoformat()
LONDON = ZoneInfo("Europe/London")

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
            "location": {"postcode_district": "WA7", "lat": 53.34, "lon": -2.73},
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
DEMO_EMPLOYERS = frozenset(v["post"]["employer_id"] for v in VACANCIES)


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
    await _employer_side(platform, clients, provider_hooks, employer_hooks)
    await _breach(platform, specialist)


async def _subscribe(
    platform: Platform, provider_hooks: WebhookReceiver, employer_hooks: WebhookReceiver
) -> None:
    for org, receiver, types in (
        ("P-01", provider_hooks, ["referrals.referral.created", "matching.match.proposed"]),
        ("EB-01", employer_hooks, ["matching.match.proposed", "vacancies.placement.started"]),
    ):
        expect(
            await platform.as_(org, "notifications").post(
                "/subscriptions",
                {"url": receiver.url, "secret": receiver.secret.decode(), "event_types": types},
            ),
            201,
        )
        say(f"{org} subscribed its webhook {receiver.url}")


async def _tidy_earlier_runs(platform: Platform) -> None:
    """An earlier run's open vacancies would compete for this run's clients, and a referral it
    left waiting for the taster's one place would take it: end both first."""
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
    old = []
    for status in ("open", "partly-filled"):
        listed = await brokerage.get("/vacancies", status=status)
        if listed.status_code == 422:
            continue  # a vacancies service that does not know this status yet
        old += [v for v in expect(listed, 200) if v["employer_id"] in DEMO_EMPLOYERS]
    for v in old:
        closing = await brokerage.post(f"/vacancies/{v['vacancy_id']}/close", {"reason": "demo"})
        expect(closing, 200, 409)
    if stale or old:
        say(
            f"tidied an earlier demo run: closed {len(old)} of its vacancies, withdrew "
            f"{len(stale)} of its waiting referrals"
        )


async def _register(platform: Platform, bootstrap: str, run: str) -> dict[str, str]:
    chapter("Claimants arrive from JCP, each in the partnership of their local authority")
    clients: dict[str, str] = {}
    async with JcpFeed(bootstrap) as feed:
        for person, data in CLAIMANTS.items():
            ref = f"CLM-DEMO-{run}-{person}"
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
    platform: Platform,
    clients: dict[str, str],
    provider_hooks: WebhookReceiver,
    employer_hooks: WebhookReceiver,
) -> None:
    chapter("Employer brokerage: vacancies, matches with their reasons, a shortlist, a placement")
    brokerage = platform.as_("EB-01", "vacancies")
    vacancy_ids = []
    for vacancy in VACANCIES:
        posted = expect(await brokerage.post("/vacancies", vacancy["post"]), 201)
        vacancy_id = posted["vacancy_id"]
        expect(await brokerage.put(f"/vacancies/{vacancy_id}/scope", vacancy["scope"]), 200)
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

    shortlist = expect(await brokerage.get(f"/vacancies/{vacancy_ids[0]}/shortlist"), 200)
    say(f"EB-01's shortlist for {vacancy_ids[0]}, as an employer may see it:")
    for c in shortlist:
        factors = ", ".join(r["factor"] for r in c["reasons"])
        say(
            f"    {c['client_id']} score {c['score']} reasons [{factors}] "
            f"details {c.get('details', '(no employers consent)')}"
        )
    if shortlist:
        chosen = next((c for c in shortlist if c["client_id"] == clients["C-1002"]), shortlist[0])
        placement = expect(
            await brokerage.post(
                f"/vacancies/{vacancy_ids[0]}/placements",
                {
                    "client_id": chosen["client_id"],
                    "start_date": date.today().isoformat(),
                    "hours_per_week": 16,
                },
            ),
            201,
        )
        say(
            f"EB-01 recorded placement {placement['placement_id']} for {chosen['client_id']}; "
            "sustainment checks fall due at 13 and 26 weeks"
        )

    async def delivered() -> bool:
        told = {p["kind"] for p in employer_hooks.payloads()}
        placed = "vacancies.placement.started" in told or not shortlist
        return len(provider_hooks.received) >= 2 and len(employer_hooks.received) >= 2 and placed

    with contextlib.suppress(TimeoutError):
        await poll(delivered, timeout=20, what="webhooks")
    for name, receiver in (("P-01", provider_hooks), ("EB-01", employer_hooks)):
        kinds = sorted(p["kind"] for p in receiver.payloads())
        say(f"{name}'s webhook received {len(kinds)} signed notifications: {kinds}")


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
