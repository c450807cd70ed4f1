"""The thin path through all four services, driven only through the external contract."""

from __future__ import annotations

import json
import uuid
from datetime import date, datetime

from brokerage_client import JcpFeed, Platform, WebhookReceiver
from brokerage_client.api import poll
from tests.e2e.conftest import ASSESSMENT, SCOPE, VACANCY, claimant, register_client


async def subscribe(
    platform: Platform, org: str, receiver: WebhookReceiver, types: list[str]
) -> None:
    response = await platform.as_(org, "notifications").post(
        "/subscriptions",
        {"url": receiver.url, "secret": receiver.secret.decode(), "event_types": types},
    )
    assert response.status_code == 201, response.text


async def test_a_claimant_is_matched_placed_and_everyone_is_told(
    platform: Platform, jcp_feed: JcpFeed
) -> None:
    with (
        WebhookReceiver("provider-secret-0123456789") as provider_hooks,
        WebhookReceiver("employer-secret-0123456789", fail_first=2) as employer_hooks,
    ):
        await subscribe(
            platform,
            "P-01",
            provider_hooks,
            ["referrals.referral.created", "matching.match.proposed"],
        )
        await subscribe(
            platform,
            "EB-01",
            employer_hooks,
            ["matching.match.proposed", "vacancies.placement.started"],
        )

        # JCP: a claimant registers; the referrals service creates the client.
        client_id = await register_client(platform, jcp_feed)
        jcp = platform.as_("jcp", "referrals")
        consent = await jcp.post(
            f"/clients/{client_id}/consent", {"scopes": ["providers", "employers"]}
        )
        assert consent.status_code == 200, consent.text

        # JCP refers; the provider accepts and starts, assesses, marks job-ready.
        created = await jcp.post(
            "/referrals",
            {
                "client_id": client_id,
                "provider_id": "P-01",
                "programme": "retail-routeway",
                "reason": "wants part-time retail work",
            },
        )
        assert created.status_code == 201, created.text
        assert created.json()["status"] == "created"
        referral_id = created.json()["referral_id"]
        provider = platform.as_("P-01", "referrals")
        for step in ("accept", "start"):
            moved = await provider.post(f"/referrals/{referral_id}/{step}")
            assert moved.status_code == 200, moved.text
        assert moved.json()["status"] == "started"
        assessed = await provider.put(f"/clients/{client_id}/assessment", ASSESSMENT)
        assert assessed.status_code == 200, assessed.text
        ready = await provider.post(f"/clients/{client_id}/job-ready")
        assert ready.status_code == 200, ready.text

        # Employer brokerage posts and scopes a vacancy targeted at lone parents.
        brokerage = platform.as_("EB-01", "vacancies")
        posted = await brokerage.post("/vacancies", VACANCY)
        assert posted.status_code == 201, posted.text
        assert posted.json()["status"] == "posted"
        vacancy_id = posted.json()["vacancy_id"]
        scoped = await brokerage.put(f"/vacancies/{vacancy_id}/scope", SCOPE)
        assert scoped.status_code == 200, scoped.text
        assert scoped.json()["status"] == "open"

        # Matching proposes the pair, with a score and the reasons that make it up.
        operations = platform.as_("operations", "matching")

        async def proposed() -> list:
            found = (await operations.get("/matches", vacancy_id=vacancy_id)).json()
            return [m for m in found if m["client_id"] == client_id]

        (match,) = await poll(proposed, timeout=90, what="the match")
        assert match["status"] == "proposed"
        assert 0.5 <= match["score"] <= 1
        assert abs(sum(r["weight"] * r["value"] for r in match["reasons"]) - match["score"]) < 1e-3
        assert {"skills", "distance", "hours", "target_group"} <= {
            r["factor"] for r in match["reasons"]
        }

        # The employer's shortlist: pseudonymous id, score, job-related reasons only, and the
        # consented details; never priority groups, benefit or health.
        # Other runs' clients may be shortlisted too: the consumer groups of this run read
        # the topics from the beginning, as a new deployment would.
        async def shortlisted() -> list:
            # The consent and profile arrive on another topic than the match, so the details
            # may follow the candidate by a moment: wait for the converged view.
            shortlist = (await brokerage.get(f"/vacancies/{vacancy_id}/shortlist")).json()
            return [c for c in shortlist if c["client_id"] == client_id and "details" in c]

        (candidate,) = await poll(shortlisted, timeout=90, what="the shortlist")
        assert candidate["client_id"] == client_id and candidate["score"] == match["score"]
        assert "target_group" not in {r["factor"] for r in candidate["reasons"]}
        assert candidate["details"]["skills"] == ["Customer Service", "cash handling"]
        employer_text = json.dumps(candidate)
        for never in ("lone_parent", "health_condition", "IS_LP", "Bewsey", "priority"):
            assert never not in employer_text

        # The employer's view of /matches is reduced in the same way.
        employer_matches = (
            await platform.as_("EB-01", "matching").get("/matches", vacancy_id=vacancy_id)
        ).json()
        assert client_id in [m["client_id"] for m in employer_matches]
        assert "target_group" not in json.dumps(employer_matches)
        assert "lone_parent" not in json.dumps(employer_matches)

        # The employer records a placement start.
        placed = await brokerage.post(
            f"/vacancies/{vacancy_id}/placements",
            {"client_id": client_id, "start_date": date.today().isoformat(), "hours_per_week": 24},
        )
        assert placed.status_code == 201, placed.text

        # Signed webhooks reach both organisations; the employer's after two failed tries.
        def kinds(receiver: WebhookReceiver) -> set[str]:
            return {p["kind"] for p in receiver.payloads()}

        async def provider_told() -> bool:
            return {"referrals.referral.created", "matching.match.proposed"} <= kinds(
                provider_hooks
            )

        def of_this_pair(p: dict) -> bool:
            """The proposal of this client for this vacancy: the client, job-ready before the
            vacancy was scoped, may also be proposed for other open vacancies of EB-01 that
            earlier tests left in the session's platform."""
            data = p["event"]["data"]
            return (
                p["kind"] == "matching.match.proposed"
                and data["client_id"] == client_id
                and data["vacancy_id"] == vacancy_id
            )

        async def employer_told() -> bool:
            placement = "vacancies.placement.started" in kinds(employer_hooks)
            return placement and any(of_this_pair(p) for p in employer_hooks.payloads())

        await poll(provider_told, timeout=90, what="provider webhooks")
        await poll(employer_told, timeout=90, what="employer webhooks (after retries)")
        assert employer_hooks.deliveries >= 4, "the two refused deliveries were retried"
        for receiver in (provider_hooks, employer_hooks):
            assert receiver.bad_signatures == 0
            assert receiver.changed_content == []

        employer_match = next(p for p in employer_hooks.payloads() if of_this_pair(p))
        assert employer_match["org_id"] == "EB-01"
        assert "target_group" not in json.dumps(employer_match)
        assert "details" not in employer_match["event"]["data"]
        provider_referral = next(
            p for p in provider_hooks.payloads() if p["kind"] == "referrals.referral.created"
        )
        assert provider_referral["event"]["data"]["referral_id"] == referral_id

        # The inbox lists the same notifications, newest first.
        inbox = (await platform.as_("EB-01", "notifications").get("/inbox")).json()
        # As times, not strings: a time on a whole second is written without a fraction.
        times = [datetime.fromisoformat(n["created_at"]) for n in inbox]
        assert times == sorted(times, reverse=True)
        ids = {n["notification_id"] for n in inbox}
        assert {p["notification_id"] for p in employer_hooks.payloads()} <= ids


async def test_a_redelivered_claimant_event_creates_no_second_client(
    platform: Platform, jcp_feed: JcpFeed
) -> None:
    ref = f"CLM-{uuid.uuid4().hex[:10]}"
    event = await jcp_feed.publish("jcp.claimant.registered", claimant(ref))
    await jcp_feed.send_raw(event.to_bytes(), key=ref)  # the same id again
    await jcp_feed.publish("jcp.claimant.registered", claimant(ref))  # a new id, same person
    await jcp_feed.send_raw(b"{this is not json", key=ref)  # poison must not stop the rest
    # Same key, so the same partition: once this is applied, everything above has been.
    await jcp_feed.publish(
        "jcp.claimant.benefit-changed",
        {
            "claimant_ref": ref,
            "from_benefit": "IS_LP",
            "to_benefit": "UC",
            "effective_date": date.today().isoformat(),
        },
    )
    jcp = platform.as_("jcp", "referrals")

    async def benefit_changed() -> list:
        found = (await jcp.get("/clients", claimant_ref=ref)).json()
        return found if found and found[0]["benefit"] == "UC" else []

    found = await poll(benefit_changed, timeout=30, what="the benefit change")
    assert len(found) == 1
