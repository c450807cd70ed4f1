"""The client side of the referral network over the real processes: JCP history as client
events, a move between partnerships, the consent ledger and the lead provider's action plan."""

from __future__ import annotations

import json
import uuid
from datetime import date, timedelta
from typing import Any

from aiokafka import AIOKafkaConsumer

from brokerage_client import JcpFeed, Platform
from brokerage_client.api import Api, poll
from schemas.topics import REFERRAL_EVENTS
from tests.conftest import Infrastructure
from tests.e2e.conftest import claimant


def jcp_bcbc(platform: Platform) -> Api:
    return Api(platform.client, platform.urls["referrals"], "dev-jcp-bcbc-token")


async def registered(platform: Platform, feed: JcpFeed, **overrides: Any) -> tuple[str, str]:
    """A claimant published as JCP does; (claimant_ref, client_id) once the client exists."""
    ref = f"CLM-{uuid.uuid4().hex[:10]}"
    await feed.publish("jcp.claimant.registered", claimant(ref, **overrides))
    reader = jcp_bcbc(platform) if overrides.get("local_authority") == "Birmingham" else None
    api = reader or platform.as_("jcp", "referrals")

    async def created() -> str | None:
        found = (await api.get("/clients", claimant_ref=ref)).json()
        return found[0]["client_id"] if found else None

    return ref, await poll(created, timeout=30, what=f"client for {ref}")


async def client_events(
    infrastructure: Infrastructure, client_id: str, wanted: set[str], timeout: float = 30
) -> list[dict[str, Any]]:
    """The events on `referrals.events.v1` about one client, once every wanted type is there."""
    consumer = AIOKafkaConsumer(
        REFERRAL_EVENTS.name,
        bootstrap_servers=infrastructure.kafka_bootstrap_servers,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    found: list[dict[str, Any]] = []

    async def read() -> bool:
        batch = await consumer.getmany(timeout_ms=500)
        for records in batch.values():
            for record in records:
                if record.key == client_id.encode():
                    found.append(json.loads(record.value))
        return wanted <= {e["type"] for e in found}

    try:
        await poll(read, timeout=timeout, interval=0, what=f"events {sorted(wanted)}")
    finally:
        await consumer.stop()
    return found


async def test_off_flow_and_reclaim_become_client_history_and_client_events(
    platform: Platform, jcp_feed: JcpFeed, infrastructure: Infrastructure
) -> None:
    ref, client_id = await registered(platform, jcp_feed)
    await jcp_feed.publish(
        "jcp.claimant.off-flowed",
        {"claimant_ref": ref, "off_flow_date": "2026-11-20", "reason": "job"},
    )
    await jcp_feed.publish(
        "jcp.claimant.reclaimed",
        {"claimant_ref": ref, "reclaim_date": "2026-12-01", "benefit": "UC"},
    )
    jcp = platform.as_("jcp", "referrals")

    async def with_history() -> dict[str, Any] | None:
        body = (await jcp.get(f"/clients/{client_id}")).json()
        return body if len(body["history"]) == 2 else None

    client = await poll(with_history, what="the client's history")
    assert [h["type"] for h in client["history"]] == ["off-flowed", "reclaimed"]
    assert client["history"][0]["reason"] == "job"
    assert client["history"][1]["partnership"] == "cheshire-warrington"
    assert client["on_benefit"] is True and client["benefit"] == "UC"
    assert client["partnership"] == "cheshire-warrington" and client["lead_provider"] is None
    assert client["journey"] == {
        "engaged": False,
        "supported": False,
        "trained": False,
        "job": False,
        "sustained": False,
    }

    events = await client_events(
        infrastructure, client_id, {"referrals.client.off-flowed", "referrals.client.reclaimed"}
    )
    by_type = {e["type"]: e["data"] for e in events}
    assert by_type["referrals.client.off-flowed"]["off_flow_date"] == "2026-11-20"
    assert by_type["referrals.client.off-flowed"]["reason"] == "job"
    assert by_type["referrals.client.reclaimed"] == {
        "client_id": client_id,
        "reclaim_date": "2026-12-01",
        "benefit": "UC",
        "partnership": "cheshire-warrington",
    }
    assert len(events) == len({e["id"] for e in events}) == 3, "registered, off-flowed, reclaimed"


async def test_a_move_to_birmingham_hands_the_client_to_bcbc(
    platform: Platform, jcp_feed: JcpFeed
) -> None:
    ref, client_id = await registered(platform, jcp_feed)
    jcp_cw, bcbc = platform.as_("jcp", "referrals"), jcp_bcbc(platform)
    assert (await bcbc.get(f"/clients/{client_id}")).status_code == 404

    await jcp_feed.publish(
        "jcp.claimant.registered",
        claimant(
            ref,
            jcp_office="Birmingham Washwood Heath",
            local_authority="Birmingham",
            ward="Aston",
            postcode_district="B6",
        ),
    )

    async def seen_by_bcbc() -> dict[str, Any] | None:
        response = await bcbc.get(f"/clients/{client_id}")
        return response.json() if response.status_code == 200 else None

    client = await poll(seen_by_bcbc, what="the move")
    assert client["partnership"] == "bcbc" and client["local_authority"] == "Birmingham"
    assert [h["type"] for h in client["history"]] == ["moved"]
    assert (await jcp_cw.get(f"/clients/{client_id}")).status_code == 404
    assert (await jcp_cw.get("/clients", claimant_ref=ref)).json() == []
    assert [c["client_id"] for c in (await bcbc.get("/clients", claimant_ref=ref)).json()] == [
        client_id
    ]


async def test_the_consent_ledger_keeps_every_change_with_its_form_version(
    platform: Platform, jcp_feed: JcpFeed
) -> None:
    _, client_id = await registered(platform, jcp_feed)
    jcp = platform.as_("jcp", "referrals")
    expires = (date.today() + timedelta(days=365)).isoformat()
    recorded = await jcp.post(
        f"/clients/{client_id}/consent",
        {"scopes": ["providers", "tracking"], "form_version": "CF-2026-1", "expires": expires},
    )
    assert recorded.status_code == 200, recorded.text
    assert recorded.json()["consent_scopes"] == ["providers", "tracking"]
    past = await jcp.post(
        f"/clients/{client_id}/consent",
        {"scopes": ["employers"], "expires": (date.today() - timedelta(days=2)).isoformat()},
    )
    assert past.status_code == 422 and "expires" in past.text
    withdrawn = await jcp.post(f"/clients/{client_id}/consent/withdraw", {"scopes": ["tracking"]})
    assert withdrawn.status_code == 200 and withdrawn.json()["consent_scopes"] == ["providers"]

    ledger = await jcp.get(f"/clients/{client_id}/consent")
    assert ledger.status_code == 200, ledger.text
    (current,) = ledger.json()["current"]
    assert (current["scope"], current["form_version"], current["expires"]) == (
        "providers",
        "CF-2026-1",
        expires,
    )
    history = ledger.json()["history"]
    assert [(h["action"], h["scopes"], h["by_org"]) for h in history] == [
        ("recorded", ["providers", "tracking"], "JCP-CW"),
        ("withdrawn", ["tracking"], "JCP-CW"),
    ]
    assert history[0]["form_version"] == "CF-2026-1" and history[0]["expires"] == expires
    assert (await jcp_bcbc(platform).get(f"/clients/{client_id}/consent")).status_code == 404


async def test_the_lead_provider_agrees_the_action_plan_and_others_may_not(
    platform: Platform, jcp_feed: JcpFeed, infrastructure: Infrastructure
) -> None:
    _, client_id = await registered(platform, jcp_feed)
    jcp = platform.as_("jcp", "referrals")
    p01, p02 = platform.as_("P-01", "referrals"), platform.as_("P-02", "referrals")
    consent = await jcp.post(f"/clients/{client_id}/consent", {"scopes": ["providers"]})
    assert consent.status_code == 200, consent.text
    for provider_id, programme, lead in (
        ("P-01", "retail-routeway", True),
        ("P-02", "skills-for-life", False),
    ):
        made = await jcp.post(
            "/referrals",
            {
                "client_id": client_id,
                "provider_id": provider_id,
                "programme": programme,
                "reason": "wants retail work",
                "lead": lead,
            },
        )
        assert made.status_code == 201, made.text
    client = (await jcp.get(f"/clients/{client_id}")).json()
    assert client["lead_provider"] == "P-01"

    due = (date.today() + timedelta(days=21)).isoformat()
    plan = {
        "items": [
            {
                "item_id": "I-1",
                "action": "Enrol on the retail routeway's customer service module",
                "kind": "training",
                "due": due,
                "status": "open",
            },
            {
                "item_id": "I-2",
                "action": "Apply to two jobs a week",
                "kind": "job-search",
                "due": due,
                "status": "open",
                "provider_id": "P-01",
            },
        ]
    }
    assert (await p02.put(f"/clients/{client_id}/action-plan", plan)).status_code == 403
    assert (await jcp.put(f"/clients/{client_id}/action-plan", plan)).status_code == 403
    twice = {"items": [plan["items"][0], plan["items"][0]]}
    assert (await p01.put(f"/clients/{client_id}/action-plan", twice)).status_code == 422
    agreed = await p01.put(f"/clients/{client_id}/action-plan", plan)
    assert agreed.status_code == 200, agreed.text
    assert agreed.json()["action_plan"]["agreed_by"] == "P-01"
    assert [i["item_id"] for i in agreed.json()["action_plan"]["items"]] == ["I-1", "I-2"]

    for reader in (jcp, p02):
        read = await reader.get(f"/clients/{client_id}/action-plan")
        assert read.status_code == 200 and read.json()["action_plan"]["items"][1]["kind"] == (
            "job-search"
        )
    assert (await p01.get(f"/clients/{client_id}/consent")).status_code == 200, "the lead"
    assert (await p02.get(f"/clients/{client_id}/consent")).status_code == 403

    events = await client_events(infrastructure, client_id, {"referrals.client.action-plan-agreed"})
    (announced,) = [e for e in events if e["type"] == "referrals.client.action-plan-agreed"]
    assert announced["data"]["provider_id"] == "P-01"
    assert "action" not in json.dumps(announced["data"]["items"]), "no free text in events"

    # Without `providers` consent, providers no longer see the client at all.
    withdrawn = await jcp.post(f"/clients/{client_id}/consent/withdraw", {"scopes": ["providers"]})
    assert withdrawn.status_code == 200, withdrawn.text
    assert (await p01.get(f"/clients/{client_id}")).status_code == 404
    assert (await jcp.get(f"/clients/{client_id}")).status_code == 200
