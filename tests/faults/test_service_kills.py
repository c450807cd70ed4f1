"""kill -9 of one replica of a service mid-ingest, two replicas per consumer group: the
supervisor restarts it, it rejoins its group, every group catches up, nothing is lost or doubled.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import pytest

from brokerage_client import WebhookReceiver
from schemas import matching, notifications
from schemas.topics import MATCH_EVENTS, NOTIFICATION_EVENTS
from tests.e2e.conftest import ASSESSMENT, SCOPE, VACANCY
from tests.faults.conftest import Batch, Deployment, partitions, registration

# --- vacancies, matching, notifications: a small flow gives them work mid-ingest ------------

FLOW_CLIENTS = 20
FLOW_VACANCIES = 2
PROVIDER, BROKERAGE = "P-01", "EB-01"
REFERRAL_STEPS = ("created", "accepted", "started")


@dataclass
class Flow:
    """Job-ready clients and scoped vacancies: matching proposes every pair, vacancies
    shortlists them, notifications tells the provider of each referral step and the employer
    brokerage (by webhook too) of each match."""

    deployment: Deployment
    receiver: WebhookReceiver
    name: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    vacancies: list[str] = field(default_factory=list)
    clients: list[str] = field(default_factory=list)
    referrals: dict[str, str] = field(default_factory=dict)  # client id -> referral id
    subscription: str = ""
    job_ready: int = 0  # clients made job-ready so far

    @property
    def ward(self) -> str:
        """The flow's own ward, which its vacancies target (and nothing else): no other flow's
        clients match them."""
        return f"Faults {self.name}"

    @property
    def pairs(self) -> set[tuple[str, str]]:
        return {(v, c) for v in self.vacancies for c in self.clients}

    async def prepare(self) -> None:
        """Vacancies open and known to matching; clients registered; the brokerage subscribed."""
        platform = self.deployment.platform
        subscribed = await platform.as_(BROKERAGE, "notifications").post(
            "/subscriptions",
            {
                "url": self.receiver.url,
                "secret": self.receiver.secret.decode(),
                "event_types": [matching.MatchProposed.event_type],
            },
        )
        assert subscribed.status_code == 201, subscribed.text
        self.subscription = subscribed.json()["subscription_id"]
        brokerage = platform.as_(BROKERAGE, "vacancies")
        for _ in range(FLOW_VACANCIES):
            posted = await brokerage.post("/vacancies", VACANCY)
            assert posted.status_code == 201, posted.text
            vacancy_id = posted.json()["vacancy_id"]
            # Room on the shortlist for every flow client: the allocation keeps each vacancy
            # within its shortlist size (3 x positions unless set), and the test counts a
            # match for every pair. The ward alone is targeted: a vacancy targets groups OR
            # wards, and every flow's clients are lone parents, so targeting the group too let
            # a later flow's clients take places on an earlier flow's vacancies (each client is
            # on 3 shortlists at most) and leave pairs of their own flow unmatched.
            scope = {
                **SCOPE,
                "target_priority_groups": [],
                "target_wards": [self.ward],
                "shortlist_size": FLOW_CLIENTS,
            }
            scoped = await brokerage.put(f"/vacancies/{vacancy_id}/scope", scope)
            assert scoped.status_code == 200, scoped.text
            self.vacancies.append(vacancy_id)
        # The clients: registered as JCP does, before the main batch.
        refs = [f"FLOW-{self.name}-{i}" for i in range(FLOW_CLIENTS)]
        for ref in refs:
            event = registration(ref, ward=self.ward)
            await self.deployment.producer.send(
                "jcp.claimant-events.v1", value=event.to_bytes(), key=ref.encode()
            )
        await self.deployment.producer.flush()
        jcp = platform.as_("jcp", "referrals")
        for ref in refs:
            for _ in range(600):
                found = (await jcp.get("/clients", claimant_ref=ref)).json()
                if found:
                    self.clients.append(found[0]["client_id"])
                    break
                await asyncio.sleep(0.2)
            else:
                raise TimeoutError(f"no client for {ref}")
        await self.deployment.quiet()  # matching knows the vacancies

    async def make_job_ready(self) -> None:
        gate = asyncio.Semaphore(4)

        async def one(client_id: str) -> None:
            async with gate:
                await self._job_ready(client_id)

        await asyncio.gather(*(one(c) for c in self.clients))

    async def _job_ready(self, client_id: str) -> None:
        platform = self.deployment.platform
        jcp = platform.as_("jcp", "referrals")
        provider = platform.as_(PROVIDER, "referrals")
        consent = await jcp.post(
            f"/clients/{client_id}/consent", {"scopes": ["providers", "employers"]}
        )
        assert consent.status_code == 200, consent.text
        created = await jcp.post(
            "/referrals",
            {
                "client_id": client_id,
                "provider_id": PROVIDER,
                "programme": "retail-routeway",
                "reason": "wants part-time retail work",
            },
        )
        assert created.status_code == 201, created.text
        referral_id = created.json()["referral_id"]
        self.referrals[client_id] = referral_id
        for step in ("accept", "start"):
            moved = await provider.post(f"/referrals/{referral_id}/{step}")
            assert moved.status_code == 200, moved.text
        assessed = await provider.put(f"/clients/{client_id}/assessment", ASSESSMENT)
        assert assessed.status_code == 200, assessed.text
        ready = await provider.post(f"/clients/{client_id}/job-ready")
        assert ready.status_code == 200, ready.text
        self.job_ready += 1

    async def half_job_ready(self, timeout: float = 300.0) -> None:
        """Wait until half the clients are job-ready: matching is proposing, vacancies and
        notifications are taking the matches in, and half the flow is still to come."""
        deadline = time.monotonic() + timeout
        while self.job_ready < len(self.clients) // 2:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.job_ready} of {len(self.clients)} job-ready")
            await asyncio.sleep(0.05)

    async def finish(self) -> None:
        if self.subscription:
            await self.deployment.platform.as_(BROKERAGE, "notifications").request(
                "DELETE", f"/subscriptions/{self.subscription}"
            )

    # --- what the services made of it ---

    async def effects(self, batch: Batch) -> dict[str, Counter[object]]:
        """Each expected effect, counted; keys of a counter are what should be there once."""
        d = self.deployment
        counts: dict[str, Counter[object]] = defaultdict(Counter)
        async for doc in d.db("matching")["matches"].find(
            {"vacancy_id": {"$in": self.vacancies}}, {"vacancy_id": 1, "client_id": 1}
        ):
            counts["matches stored by matching"][(doc["vacancy_id"], doc["client_id"])] += 1
        brokerage = d.platform.as_(BROKERAGE, "vacancies")
        for vacancy_id in self.vacancies:
            for entry in (await brokerage.get(f"/vacancies/{vacancy_id}/shortlist")).json():
                counts["shortlist entries in vacancies"][(vacancy_id, entry["client_id"])] += 1
        notes = d.db("notifications")["notifications"].find(
            {"org_id": {"$in": [PROVIDER, BROKERAGE]}}, {"org_id": 1, "kind": 1, "body": 1}
        )
        by_referral = {r: c for c, r in self.referrals.items()}
        match_notes: dict[str, tuple[str, str]] = {}
        async for doc in notes:
            data = json.loads(doc["body"])["event"]["data"]
            if doc["kind"] == matching.MatchProposed.event_type and doc["org_id"] == BROKERAGE:
                pair = (data["vacancy_id"], data["client_id"])
                if pair in self.pairs:
                    counts["brokerage notifications of matches"][pair] += 1
                    match_notes[doc["_id"]] = pair
            elif doc["org_id"] == PROVIDER and data.get("referral_id") in by_referral:
                step = doc["kind"].rsplit(".", 1)[1]
                counts["provider notifications of referral steps"][
                    (by_referral[data["referral_id"]], step)
                ] += 1
        for payload in self.receiver.payloads():
            if payload["notification_id"] in match_notes:
                counts["webhooks received"][match_notes[payload["notification_id"]]] += 1
        # Distinct event ids on the topics: one id per pair, or per notification delivered.
        tps = [tp for t in (MATCH_EVENTS, NOTIFICATION_EVENTS) for tp in partitions(t)]
        ids: dict[tuple[str, object], set[str]] = defaultdict(set)
        end = await d.cluster.ends(tps)
        for _, record in await d.cluster.read({tp: batch.before[tp] for tp in tps}, end):
            event = json.loads(record.value)
            data = event["data"]
            if event["type"] == matching.MatchProposed.event_type:
                pair = (data["vacancy_id"], data["client_id"])
                if pair in self.pairs:
                    ids[("match.proposed events", pair)].add(event["id"])
            elif (
                event["type"] == notifications.NotificationDelivered.event_type
                and data["notification_id"] in match_notes
            ):
                pair = match_notes[data["notification_id"]]
                ids[("notification.delivered events", pair)].add(event["id"])
        for (label, key), found in ids.items():
            counts[label][key] = len(found)
        return counts

    def expected(self) -> dict[str, set[object]]:
        pairs: set[object] = set(self.pairs)
        steps: set[object] = {(c, s) for c in self.clients for s in REFERRAL_STEPS}
        return {
            "matches stored by matching": pairs,
            "match.proposed events": pairs,
            "shortlist entries in vacancies": pairs,
            "brokerage notifications of matches": pairs,
            "provider notifications of referral steps": steps,
            "notification.delivered events": pairs,
            "webhooks received": pairs,
        }

    async def missing(self, batch: Batch) -> list[str]:
        counts = await self.effects(batch)
        return [
            f"{label}: {len(wanted - set(counts[label]))} of {len(wanted)} missing"
            for label, wanted in self.expected().items()
            if wanted - set(counts[label])
        ]

    async def problems(self, batch: Batch) -> list[str]:
        counts = await self.effects(batch)
        out = await self.missing(batch)
        for label, counter in counts.items():
            twice = {k: n for k, n in counter.items() if n > 1 and label != "webhooks received"}
            if twice:
                out.append(f"{label}: {len(twice)} doubled, e.g. {list(twice.items())[:3]}")
            strangers = set(counter) - self.expected()[label]
            if strangers:
                out.append(f"{label}: {len(strangers)} unexpected, e.g. {list(strangers)[:3]}")
        if self.receiver.changed_content or self.receiver.bad_signatures:
            out.append(
                f"webhooks: {len(self.receiver.changed_content)} changed content, "
                f"{self.receiver.bad_signatures} bad signatures"
            )
        return out


@pytest.mark.parametrize("service", ["vacancies", "matching", "notifications"])
async def test_a_killed_replica_rejoins_catches_up_and_doubles_nothing(
    deployment: Deployment, service: str
) -> None:
    await deployment.quiet()
    with WebhookReceiver("brokerage-secret-0123456789") as receiver:
        flow = Flow(deployment, receiver)
        try:
            await flow.prepare()
            batch = deployment.batch()
            victim = deployment.replicas(service)[1]
            restarts = job_ready_at_kill = 0

            async def kill() -> None:
                nonlocal restarts, job_ready_at_kill
                restarts, job_ready_at_kill = deployment.kill(victim), flow.job_ready

            # Counted from before the first client is job-ready: a match proposed while the
            # broker was still answering `ends` once fell outside the count ("1 of 40 missing").
            await deployment.begin(batch)
            job_ready = asyncio.create_task(flow.make_job_ready())
            await deployment.strike(batch, kill, when=flow.half_job_ready)
            await job_ready
            assert job_ready_at_kill < FLOW_CLIENTS, "the flow was over before the kill"
            batch.mark("job-ready")
            await deployment.restarted(victim, restarts)
            batch.mark("restarted")
            found = await deployment.settle(batch, also=lambda: flow.missing(batch))
            await deployment.assert_exactly_once(batch, found)
            problems = await flow.problems(batch)
            assert not problems, "\n".join(problems) + "\n" + deployment.tails([victim.name])
            await deployment.rejoined()
            batch.mark("rejoined")
            print(f"{batch.timeline()}; {job_ready_at_kill} of {FLOW_CLIENTS} job-ready then")
            await deployment.forget(batch)
        finally:
            await flow.finish()


# --- referrals: the registrations themselves ---------------------------------------------------


async def test_a_killed_referrals_replica_loses_and_doubles_nothing(
    deployment: Deployment,
) -> None:
    await deployment.quiet()
    batch = deployment.batch()
    victim = deployment.replicas("referrals")[1]
    restarts = 0

    async def kill() -> None:
        nonlocal restarts
        restarts = deployment.kill(victim)

    await deployment.strike(batch, kill)
    await deployment.restarted(victim, restarts)
    batch.mark("restarted")
    found = await deployment.settle(batch)
    await deployment.assert_exactly_once(batch, found)
    await deployment.rejoined()
    batch.mark("rejoined")
    print(batch.timeline())
    await deployment.forget(batch)
