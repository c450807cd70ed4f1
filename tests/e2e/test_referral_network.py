"""The referral network end to end, driven only through the contract, with the clock moved on.

Its own set of services (two referrals replicas, `ALLOW_CLOCK_CONTROL=true`), so moving time
forward here never disturbs the other end-to-end tests. The clock is first set to Wednesday
23 December 2026, so every deadline below crosses the Christmas and New Year bank holidays;
the expected dates are worked out by hand in the comments, not by the code under test.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from brokerage_client import JcpFeed, Platform
from brokerage_client.api import poll
from runtime.supervisor import SERVICES
from tests.conftest import Infrastructure
from tests.e2e.conftest import TOKENS, claimant, own_services
from tests.integration.conftest import read_topic

pytestmark = pytest.mark.e2e

WEDNESDAY_BEFORE_CHRISTMAS = "2026-12-23T10:00:00+00:00"
# Working days after Wed 23 Dec 2026: Thu 24 (1); Fri 25 and Mon 28 are bank holidays;
# Tue 29 (2), Wed 30 (3), Thu 31 (4); Fri 1 Jan is a bank holiday; Mon 4 Jan (5).
ACKNOWLEDGE_DUE = "2026-12-29T23:59:59Z"
EXPIRES = "2027-01-04T23:59:59Z"


NETWORK_ENV = {
    "ALLOW_CLOCK_CONTROL": "true",
    "TIMER_POLL_SECONDS": "0.5",
    "SEATS_RECONCILE_SECONDS": "2",
}


@pytest.fixture(scope="module")
def network(
    infrastructure: Infrastructure, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, str]]:
    with own_services(
        infrastructure,
        SERVICES,
        tmp_path_factory.mktemp("network-logs"),
        name="net",
        env=NETWORK_ENV,
        replicas={"referrals": 2},
    ) as stack:
        yield stack.urls


@pytest.fixture
async def platform(network: dict[str, str]) -> AsyncIterator[Platform]:
    async with httpx.AsyncClient(timeout=15) as client:
        yield Platform.with_dev_tokens(client, TOKENS, urls=network)


@pytest.fixture
async def feed(infrastructure: Infrastructure) -> AsyncIterator[JcpFeed]:
    async with JcpFeed(infrastructure.kafka_bootstrap_servers) as jcp:
        yield jcp


async def _client(platform: Platform, feed: JcpFeed, caller: str = "jcp", **claim: Any) -> str:
    ref = f"CLM-{uuid.uuid4().hex[:10]}"
    await feed.publish("jcp.claimant.registered", claimant(ref, **claim))
    api = platform.as_(caller, "referrals")

    async def created() -> str | None:
        found = (await api.get("/clients", claimant_ref=ref)).json()
        return found[0]["client_id"] if found else None

    client_id = await poll(created, timeout=60, what=f"client for {ref}")
    consent = await api.post(f"/clients/{client_id}/consent", {"scopes": ["providers"]})
    assert consent.status_code == 200, consent.text
    return client_id


async def _refer(platform: Platform, client_id: str, provider: str, programme: str, **kw: Any):
    return await platform.as_(kw.pop("caller", "jcp"), "referrals").post(
        "/referrals",
        {"client_id": client_id, "provider_id": provider, "programme": programme,
         "reason": "JCP adviser referral", **kw},
    )  # fmt: skip


async def _referral(platform: Platform, referral_id: str, caller: str = "jcp") -> dict:
    response = await platform.as_(caller, "referrals").get(f"/referrals/{referral_id}")
    assert response.status_code == 200, response.text
    return response.json()


async def _set_clock(platform: Platform, now: str) -> None:
    response = await platform.as_("operations", "referrals").post("/admin/clock", {"now": now})
    assert response.status_code == 200, response.text


async def test_the_referral_network_from_eligibility_to_expiry(
    platform: Platform, feed: JcpFeed, infrastructure: Infrastructure
) -> None:
    referrals = platform.as_("jcp", "referrals")
    await _set_clock(platform, WEDNESDAY_BEFORE_CHRISTMAS)
    back = await platform.as_("operations", "referrals").post(
        "/admin/clock", {"now": "2026-11-01T00:00:00+00:00"}
    )
    assert back.status_code == 409, "the clock never runs backwards"

    # --- Eligibility: every failing rule named ---------------------------------------------
    young = await _client(platform, feed, age_band="16-24", local_authority="Cheshire East")
    refused = await _refer(platform, young, "P-01", "care-routeway")
    assert refused.status_code == 422
    assert refused.json()["error"] == "ineligible"
    assert {r["rule"] for r in refused.json()["rules"]} == {"age_band", "area"}
    benefit = await _refer(platform, young, "P-02", "construction-routeway")  # IS_LP claimant
    assert [r["rule"] for r in benefit.json()["rules"]] == ["benefit"]

    # --- Places: two on care-routeway, then a waitlist released oldest first ------------------
    clients = [await _client(platform, feed) for _ in range(4)]
    made = [await _refer(platform, c, "P-01", "care-routeway") for c in clients]
    assert [m.status_code for m in made] == [201] * 4
    assert [m.json()["status"] for m in made] == ["created", "created", "on-hold", "on-hold"]
    ids = [m.json()["referral_id"] for m in made]
    programme = (await referrals.get("/providers/P-01")).json()["programmes"]
    care = next(p for p in programme if p["programme_id"] == "care-routeway")
    assert care["capacity"]["available"] == 0 and care["capacity"]["waiting"] == 2

    first = await _referral(platform, ids[0])
    assert first["lead"] is True
    assert [s["due"] for s in first["sla"] if s["name"] == "acknowledge"] == [ACKNOWLEDGE_DUE]

    provider = platform.as_("P-01", "referrals")
    rejected = await provider.post(
        f"/referrals/{ids[0]}/reject", {"reason": "declined-by-client", "note": "prefers retail"}
    )
    assert rejected.status_code == 200, rejected.text

    # Released by whichever gets there first: this request, or the reaction to the event in
    # the other replica, which may still be writing the referral when the response arrives.
    async def status_of(referral_id: str, status: str) -> dict | None:
        referral = await _referral(platform, referral_id)
        return referral if referral["status"] == status else None

    released = await poll(
        lambda: status_of(ids[2], "created"), timeout=10, what="the oldest waiting referral"
    )
    assert [h["status"] for h in released["history"]] == ["created", "on-hold", "created"]
    assert (await _referral(platform, ids[3]))["status"] == "on-hold"

    # A full programme that refuses says so.
    jsa = await _client(platform, feed, benefit="JSA")
    assert (await _refer(platform, jsa, "P-02", "construction-routeway")).status_code == 201
    other_jsa = await _client(platform, feed, benefit="JSA")
    full = await _refer(platform, other_jsa, "P-02", "construction-routeway")
    assert full.status_code == 409 and full.json()["error"] == "no-capacity"

    # --- The lifecycle: who may do what, and a history of every change ------------------
    second = ids[1]
    assert (await provider.post(f"/referrals/{second}/start")).status_code == 409
    assert (await referrals.post(f"/referrals/{second}/accept")).status_code == 403
    p02 = platform.as_("P-02", "referrals")
    assert (await p02.post(f"/referrals/{second}/accept")).status_code == 404
    assert (await provider.post(f"/referrals/{second}/accept")).status_code == 200
    dns = await provider.post(f"/referrals/{second}/did-not-start", {"reason": "health"})
    assert dns.status_code == 200 and dns.json()["status"] == "did-not-start"
    history = (await _referral(platform, second))["history"]
    assert [(h["status"], h["by_org"], h["by_role"], h["reason"]) for h in history] == [
        ("created", "JCP-CW", "jcp", None),
        ("accepted", "P-01", "provider", None),
        ("did-not-start", "P-01", "provider", "health"),
    ]
    await poll(lambda: status_of(ids[3], "created"), timeout=10, what="freed again: released")

    # --- Lead provider: one case owner, specialists alongside, repeat asks refused ----------
    lead_client = clients[2]
    specialist = await _refer(platform, lead_client, "P-01", "iag-enhanced-guidance")
    assert specialist.status_code == 201 and specialist.json()["lead"] is False
    second_lead = await _refer(platform, lead_client, "P-02", "skills-for-life", lead=True)
    assert second_lead.status_code == 409
    duplicate = await _refer(platform, lead_client, "P-01", "iag-enhanced-guidance")
    assert duplicate.status_code == 409
    shown = (await referrals.get(f"/clients/{lead_client}")).json()
    assert shown["lead_provider"] == "P-01" and shown["partnership"] == "cheshire-warrington"

    # --- Deadlines: breached once after the clock moves, notified; then expiry ----------
    await _set_clock(platform, "2026-12-30T00:00:30+00:00")

    async def breached() -> bool:
        sla = (await _referral(platform, ids[3]))["sla"]
        return any(s["name"] == "acknowledge" and s["breached"] for s in sla)

    await poll(breached, timeout=15, what="the acknowledgement deadline to be breached")

    async def notified(caller: str) -> bool:
        inbox = (await platform.as_(caller, "notifications").get("/inbox")).json()
        return any(
            n["kind"] == "referrals.referral.sla-breached"
            and n["event"]["data"]["referral_id"] == ids[3]
            for n in inbox
        )

    await poll(lambda: notified("P-01"), timeout=15, what="P-01 told of the breach")
    await poll(lambda: notified("JCP-CW"), timeout=15, what="JCP-CW told of the breach")

    await _set_clock(platform, "2027-01-05T00:00:30+00:00")

    async def expired() -> bool:
        return (await _referral(platform, ids[3]))["status"] == "expired"

    await poll(expired, timeout=15, what="the unacknowledged referral to expire")

    def breaches_of(records: list) -> list[tuple[str, str]]:
        return [
            (e["data"]["referral_id"], e["data"]["sla"])
            for e in (json.loads(r.value) for r in records)
            if e["type"] == "referrals.referral.sla-breached" and e["data"]["referral_id"] == ids[3]
        ]

    records = await read_topic(
        infrastructure.kafka_bootstrap_servers,
        "referrals.events.v1",
        until=lambda rs: any(
            json.loads(r.value)["type"] == "referrals.referral.expired"
            and json.loads(r.value)["data"]["referral_id"] == ids[3]
            for r in rs
        ),
    )
    found = breaches_of(records)
    assert len(found) == len(set(found)), "each breach emitted once, by two replicas"
    assert (ids[3], "acknowledge") in found


async def test_consent_withdrawal_ends_referrals_and_provider_access(
    platform: Platform, feed: JcpFeed
) -> None:
    client_id = await _client(platform, feed)
    made = await _refer(platform, client_id, "P-01", "retail-routeway")
    referral_id = made.json()["referral_id"]
    provider = platform.as_("P-01", "referrals")
    assert (await provider.get(f"/clients/{client_id}")).status_code == 200
    withdrawn = await platform.as_("jcp", "referrals").post(
        f"/clients/{client_id}/consent/withdraw", {"scopes": ["providers"]}
    )
    assert withdrawn.status_code == 200
    assert (await provider.get(f"/clients/{client_id}")).status_code == 404

    async def ended() -> dict | None:
        referral = await _referral(platform, referral_id)
        return referral if referral["status"] == "withdrawn" else None

    referral = await poll(ended, timeout=10, what="the referral to end on consent withdrawal")
    assert referral["history"][-1]["reason"] == "consent-withdrawn"
    assert referral["history"][-1]["by_role"] == "system"


async def test_a_consent_past_its_expiry_date_lapses_when_the_clock_passes_it(
    platform: Platform, feed: JcpFeed
) -> None:
    jcp = platform.as_("jcp", "referrals")
    client_id = await _client(platform, feed)
    # After the first test the clock reads early January 2027; alone, it reads today.
    recorded = await jcp.post(
        f"/clients/{client_id}/consent",
        {"scopes": ["employers"], "form_version": "CW-2026-03", "expires": "2027-02-01"},
    )
    assert recorded.status_code == 200, recorded.text
    await _set_clock(platform, "2027-02-02T00:00:30+00:00")

    async def lapsed() -> dict | None:
        ledger = (await jcp.get(f"/clients/{client_id}/consent")).json()
        return ledger if ledger["history"][-1]["action"] == "expired" else None

    ledger = await poll(lapsed, timeout=15, what="the employers consent to lapse")
    assert ledger["history"][-1]["scopes"] == ["employers"]
    assert [c["scope"] for c in ledger["current"]] == ["providers"]
    recorded_entry = next(h for h in ledger["history"] if "employers" in h["scopes"])
    assert recorded_entry["form_version"] == "CW-2026-03" and recorded_entry["by_org"] == "JCP-CW"


async def test_partnerships_see_only_their_own_clients_and_referrals(
    platform: Platform, feed: JcpFeed
) -> None:
    birmingham = await _client(
        platform, feed, caller="JCP-BCBC", local_authority="Birmingham", jcp_office="Birmingham",
        ward="Ladywood", postcode_district="B1", benefit="ESA",
    )  # fmt: skip
    warrington = await _client(platform, feed)
    cw, bcbc = platform.as_("jcp", "referrals"), platform.as_("JCP-BCBC", "referrals")
    assert (await cw.get(f"/clients/{birmingham}")).status_code == 404
    assert (await bcbc.get(f"/clients/{warrington}")).status_code == 404
    assert (await bcbc.get(f"/clients/{birmingham}")).json()["partnership"] == "bcbc"
    national = platform.as_("OPS-NATIONAL", "referrals")
    assert (await national.get(f"/clients/{birmingham}")).status_code == 200

    here = await _refer(platform, birmingham, "P-03", "bcbc-employment-support", caller="JCP-BCBC")
    assert here.status_code == 201, here.text
    referral_id = here.json()["referral_id"]
    assert (await cw.get(f"/referrals/{referral_id}")).status_code == 404
    assert referral_id not in {r["referral_id"] for r in (await cw.get("/referrals")).json()}
    assert (await bcbc.get(f"/referrals/{referral_id}")).status_code == 200
    # JCP-CW may not refer a client it cannot see, and P-01 serves no bcbc area.
    assert (await _refer(platform, birmingham, "P-01", "retail-routeway")).status_code == 404
    out = await _refer(platform, birmingham, "P-01", "retail-routeway", caller="JCP-BCBC")
    assert out.status_code == 422 and [r["rule"] for r in out.json()["rules"]] == ["area"]


async def test_client_ids_are_the_same_after_a_rebuild_from_the_topics(
    platform: Platform,
    feed: JcpFeed,
    infrastructure: Infrastructure,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    ref = f"CLM-{uuid.uuid4().hex[:10]}"
    await feed.publish("jcp.claimant.registered", claimant(ref))
    jcp = platform.as_("jcp", "referrals")

    async def client_id_at(api: Any) -> str | None:
        found = (await api.get("/clients", claimant_ref=ref)).json()
        return found[0]["client_id"] if found else None

    original = await poll(lambda: client_id_at(jcp), timeout=60, what="the client")
    # A referrals service with an empty database and a new consumer group: a rebuild. It reads
    # every claimant event of the whole test session from the start (thousands when the
    # operations tests have imported their CSV), hence the generous wait.
    with own_services(
        infrastructure,
        ["referrals"],
        tmp_path_factory.mktemp("rebuild-logs"),
        name="rebuilt",
        env=NETWORK_ENV,
        groups_at_end=False,  # a rebuild reads the topics from the start
    ) as rebuilt:
        fresh = Platform.with_dev_tokens(platform.client, TOKENS, urls=rebuilt.urls)
        again = await poll(
            lambda: client_id_at(fresh.as_("jcp", "referrals")), timeout=240, what="the rebuild"
        )
        assert again == original
