"""The operations service end to end over real processes: journeys, KPIs, targets with RAG as
the clock moves, a client's timeline only with `tracking` consent, partnerships apart, a dead
letter redriven once its cause is fixed, and lag back to zero. (The CLI importing 10,000
claimants is in tests/load, last.)

"Cause fixed" for the dead letter: JCP sent `benefit-changed` for a claimant the referrals
service had never seen, so it was rejected to the DLQ; once the claimant's registration arrives
the same bytes apply, and redriving them changes the client's benefit exactly once.
"""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from brokerage_client import JcpFeed
from brokerage_client.api import poll
from runtime.supervisor import SERVICES
from schemas.topics import REFERRAL_EVENTS
from tests.conftest import Infrastructure
from tests.e2e.conftest import claimant, own_services, read_to_end

pytestmark = pytest.mark.e2e

OPS = {"Authorization": "Bearer dev-operations-token"}
OPS_BCBC = {"Authorization": "Bearer dev-operations-bcbc-token"}
OPS_NATIONAL = {"Authorization": "Bearer dev-operations-national-token"}
JCP = {"Authorization": "Bearer dev-jcp-token"}
P01 = {"Authorization": "Bearer dev-provider-p01-token"}


@pytest.fixture(scope="module")
def stack(
    infrastructure: Infrastructure, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    # Notifications plays no part here (its webhooks are tested elsewhere).
    with own_services(
        infrastructure,
        [name for name in SERVICES if name != "notifications"],
        tmp_path_factory.mktemp("operations-logs"),
        name="ops",
        env={
            "ALLOW_CLOCK_CONTROL": "true",
            "TIMER_POLL_SECONDS": "0.5",
            "FAIRNESS_CHECK_SECONDS": "1",
        },
    ) as own:
        yield {
            "urls": own.urls,
            "prefix": own.prefix,
            "bootstrap": infrastructure.kafka_bootstrap_servers,
            "processes": {p.name: p for p in own.processes},
        }


@pytest.fixture
async def http(stack: dict[str, Any]) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=30) as client:
        yield client


@pytest.fixture
async def feed(infrastructure: Infrastructure) -> AsyncIterator[JcpFeed]:
    async with JcpFeed(infrastructure.kafka_bootstrap_servers) as jcp:
        yield jcp


def _url(stack: dict[str, Any], service: str, path: str) -> str:
    return stack["urls"][service] + path


async def _client(http: httpx.AsyncClient, stack: dict[str, Any], ref: str) -> str:
    async def found() -> str | None:
        r = await http.get(
            _url(stack, "referrals", "/clients"), params={"claimant_ref": ref}, headers=JCP
        )
        return r.json()[0]["client_id"] if r.status_code == 200 and r.json() else None

    return await poll(found, timeout=30, what=f"client {ref}")


async def _ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


async def test_journeys_kpis_targets_timeline_and_partnerships(
    stack: dict[str, Any], http: httpx.AsyncClient, feed: JcpFeed
) -> None:
    ward = f"Ward {uuid.uuid4().hex[:6]}"
    refs = [f"CLM-{uuid.uuid4().hex[:10]}" for _ in range(2)]
    for ref in refs:
        await feed.publish("jcp.claimant.registered", claimant(ref, ward=ward))
    tracked, untracked = [await _client(http, stack, r) for r in refs]
    ref_api = lambda p: _url(stack, "referrals", p)  # noqa: E731
    await _ok(
        await http.post(
            ref_api(f"/clients/{tracked}/consent"),
            json={"scopes": ["providers", "tracking"]},
            headers=JCP,
        )
    )
    await _ok(
        await http.post(
            ref_api(f"/clients/{untracked}/consent"), json={"scopes": ["providers"]}, headers=JCP
        )
    )
    referral = await _ok(
        await http.post(
            ref_api("/referrals"),
            json={
                "client_id": tracked,
                "provider_id": "P-01",
                "programme": "retail-routeway",
                "reason": "x",
            },
            headers=JCP,
        ),
        201,
    )
    rid = referral["referral_id"]
    for step, body in (("accept", None), ("start", None), ("complete", {"outcome": "completed"})):
        await _ok(await http.post(ref_api(f"/referrals/{rid}/{step}"), json=body, headers=P01))

    ops = lambda p: _url(stack, "operations", p)  # noqa: E731

    async def journeys() -> dict[str, int] | None:
        j = (await http.get(ops("/journeys"), params={"ward": ward}, headers=OPS)).json()
        return j if j.get("trained") == 1 else None

    answer = await poll(journeys, timeout=30, what="journeys")
    assert answer == {
        "clients": 2,
        "engaged": 1,
        "supported": 0,
        "trained": 1,
        "job": 0,
        "sustained": 0,
    }

    kpi = await _ok(
        await http.get(
            ops("/kpis"), params={"measure": "referrals_created", "by": "ward"}, headers=OPS
        )
    )
    assert {"key": ward, "value": 1} in kpi
    conv = await _ok(
        await http.get(
            ops("/kpis"), params={"measure": "referral_conversion", "by": "ward"}, headers=OPS
        )
    )
    assert {"key": ward, "value": 1.0} in conv
    csv_text = (
        await http.get(
            ops("/kpis.csv"), params={"measure": "referrals_created", "by": "ward"}, headers=OPS
        )
    ).text
    assert f"referrals_created,ward,{ward},1" in csv_text

    members = await _ok(
        await http.put(
            ops("/caseloads/target-wards"),
            json={"name": "Target wards", "wards": [ward]},
            headers=OPS,
        )
    )
    assert members["wards"] == [ward]
    listed = await _ok(await http.get(ops("/caseloads/target-wards/members"), headers=OPS))
    assert {m["client_id"]: m["stage"] for m in listed} == {
        tracked: "in-support",
        untracked: "identified",
    }

    timeline = await _ok(await http.get(ops(f"/clients/{tracked}/timeline"), headers=OPS))
    types = [t["type"] for t in timeline]
    assert types[0] == "referrals.client.registered" and "referrals.referral.completed" in types
    assert (await http.get(ops(f"/clients/{untracked}/timeline"), headers=OPS)).status_code == 404

    # Another partnership sees none of it; national operations sees it.
    assert (
        await http.get(ops(f"/clients/{tracked}/timeline"), headers=OPS_BCBC)
    ).status_code == 404
    other = await _ok(await http.get(ops("/journeys"), params={"ward": ward}, headers=OPS_BCBC))
    assert other["clients"] == 0
    other_kpi = await _ok(
        await http.get(
            ops("/kpis"), params={"measure": "referrals_created", "by": "ward"}, headers=OPS_BCBC
        )
    )
    assert ward not in {r["key"] for r in other_kpi}
    national = await _ok(
        await http.get(ops("/journeys"), params={"ward": ward}, headers=OPS_NATIONAL)
    )
    assert national["clients"] == 2

    # Targets with RAG: ten days, half gone.
    today = datetime.now(UTC).date()
    start, deadline = today - timedelta(days=5), today + timedelta(days=5)
    for ref, target in (("T-GREEN", 1), ("T-RED", 4)):
        body = {
            "action": "Engage",
            "task": "Refer clients",
            "measure": "referrals_created",
            "filters": {"ward": ward},
            "target": target,
            "start": start.isoformat(),
            "deadline": deadline.isoformat(),
            "planned_action": "more outreach",
        }
        await _ok(await http.put(ops(f"/targets/{ref}"), json=body, headers=OPS))
    board = {t["ref"]: t for t in await _ok(await http.get(ops("/targets"), headers=OPS))}
    assert board["T-GREEN"]["position"] == 1 and board["T-GREEN"]["status"] == "green"
    assert board["T-RED"]["status"] == "red"
    assert 1.9 < board["T-RED"]["trajectory"] < 2.5
    assert await _ok(await http.get(ops("/targets"), headers=OPS_BCBC)) == []
    # Past the deadline: green only on target.
    later = datetime.combine(deadline + timedelta(days=1), datetime.min.time(), UTC)
    await _ok(await http.post(ops("/admin/clock"), json={"now": later.isoformat()}, headers=OPS))
    board = {t["ref"]: t for t in await _ok(await http.get(ops("/targets"), headers=OPS))}
    assert board["T-GREEN"]["status"] == "green" and board["T-RED"]["status"] == "red"
    assert board["T-RED"]["trajectory"] == 4


async def test_a_dead_letter_redriven_once_its_cause_is_fixed_applies_once(
    stack: dict[str, Any], http: httpx.AsyncClient, feed: JcpFeed
) -> None:
    ref = f"CLM-{uuid.uuid4().hex[:10]}"
    await feed.publish(
        "jcp.claimant.benefit-changed",
        {
            "claimant_ref": ref,
            "from_benefit": "IS_LP",
            "to_benefit": "UC",
            "effective_date": "2026-01-05",
            "local_authority": "Warrington",
        },
    )
    ops = lambda p: _url(stack, "operations", p)  # noqa: E731
    group = f"referrals-{stack['prefix']}"

    async def dead() -> dict[str, Any] | None:
        letters = (
            await http.get(
                ops("/dlq"), params={"dlq_topic": "jcp.claimant-events.v1.dlq"}, headers=OPS
            )
        ).json()
        mine = [x for x in letters if x["key"] == ref and x["group"] == group]
        return mine[0] if mine else None

    letter = await poll(dead, timeout=30, what="the dead letter")
    assert letter["reason"] == "rejected" and letter["original_topic"] == "jcp.claimant-events.v1"
    assert (await http.get(ops("/dlq"), headers=OPS_BCBC)).json() == [] or all(
        x["key"] != ref for x in (await http.get(ops("/dlq"), headers=OPS_BCBC)).json()
    )

    # The cause fixed: the claimant is registered now.
    await feed.publish("jcp.claimant.registered", claimant(ref))
    client_id = await _client(http, stack, ref)
    body = {
        "dlq_topic": "jcp.claimant-events.v1.dlq",
        "offsets": [{"partition": letter["partition"], "offset": letter["offset"]}],
    }
    task = await _ok(await http.post(ops("/dlq/redrive"), json=body, headers=OPS), 202)

    async def finished() -> dict[str, Any] | None:
        state = (await http.get(ops(f"/dlq/redrive/{task['task_id']}"), headers=OPS)).json()
        return state if state["status"] != "running" else None

    state = await poll(finished, timeout=30, what="the redrive")
    assert (state["status"], state["moved"], state["total"]) == ("done", 1, 1)
    assert (
        await http.get(ops(f"/dlq/redrive/{task['task_id']}"), headers=OPS_BCBC)
    ).status_code == 404
    await _ok(
        await http.post(
            _url(stack, "referrals", f"/clients/{client_id}/consent"),
            json={"scopes": ["tracking"]},
            headers=JCP,
        )
    )

    async def changed() -> list[dict[str, Any]] | None:
        r = await http.get(ops(f"/clients/{client_id}/timeline"), headers=OPS)
        if r.status_code != 200:
            return None
        hits = [t for t in r.json() if t["type"] == "referrals.client.benefit-changed"]
        return hits or None

    assert len(await poll(changed, timeout=30, what="benefit changed")) == 1
    # Redriven already: `all` leaves it alone, and asking again for the same topic is allowed.
    again = await _ok(
        await http.post(
            ops("/dlq/redrive"),
            json={"dlq_topic": "jcp.claimant-events.v1.dlq", "all": True},
            headers=OPS,
        ),
        202,
    )
    assert "task_id" in again
    # Never onto a DLQ, nor from a topic that is not one.
    bad = await http.post(
        ops("/dlq/redrive"), json={"dlq_topic": "jcp.claimant-events.v1", "all": True}, headers=OPS
    )
    assert bad.status_code == 422

    # Lag of this stack's groups returns to zero.
    async def settled() -> list[dict[str, Any]] | None:
        rows = (await http.get(ops("/streams/lag"), headers=OPS)).json()
        mine = [r for r in rows if r["group"].endswith(stack["prefix"])]
        return mine if mine and all(r["lag"] == 0 for r in mine) else None

    assert await poll(settled, timeout=30, what="lag back to zero")


async def test_lag_rises_while_a_consumer_is_held_and_returns_to_zero(
    stack: dict[str, Any], http: httpx.AsyncClient, feed: JcpFeed
) -> None:
    """The referrals process is stopped (SIGSTOP) while JCP publishes a burst: its group's lag
    on the claimant topic shows the burst; resumed, it catches up and the lag is zero again."""
    group = f"referrals-{stack['prefix']}"
    ops = _url(stack, "operations", "/streams/lag")

    async def lag_of_group() -> int:
        rows = (await http.get(ops, headers=OPS)).json()
        return sum(r["lag"] for r in rows if r["group"] == group)

    async def settled() -> bool | None:
        return True if await lag_of_group() == 0 else None

    await poll(settled, timeout=30, what="no lag before the burst")
    burst = 25
    process = stack["processes"]["referrals"].process
    os.kill(process.pid, signal.SIGSTOP)
    try:
        for _ in range(burst):
            ref = f"CLM-{uuid.uuid4().hex[:10]}"
            await feed.publish("jcp.claimant.registered", claimant(ref, ward="Lag ward"))

        async def risen() -> int | None:
            lag = await lag_of_group()
            return lag if lag >= burst else None

        assert await poll(risen, timeout=30, what="the lag of the held group") >= burst
    finally:
        os.kill(process.pid, signal.SIGCONT)
    assert await poll(settled, timeout=60, what="lag back to zero once resumed")


async def test_every_service_serves_prometheus_metrics_without_a_token(
    stack: dict[str, Any], http: httpx.AsyncClient, feed: JcpFeed
) -> None:
    await feed.publish("jcp.claimant.registered", claimant(f"CLM-{uuid.uuid4().hex[:10]}"))

    async def counted() -> str | None:
        text = (await http.get(_url(stack, "referrals", "/metrics"))).text
        wanted = (
            'events_handled_total{topic="jcp.claimant-events.v1",type="jcp.claimant.registered"}'
        )
        return text if wanted in text else None

    text = await poll(counted, timeout=30, what="referrals' handled counter")
    assert 'events_published_total{topic="referrals.events.v1"}' in text
    for name in stack["urls"]:
        r = await http.get(_url(stack, name, "/metrics"))
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
        assert "handler_batch_seconds" in r.text and "outbox_backlog_events" in r.text


async def test_a_skewed_shortlisting_raises_one_disparity_event(
    stack: dict[str, Any], http: httpx.AsyncClient
) -> None:
    """25 carers and 25 refugees made job-ready; only the refugees shortlisted. The carers'
    rate is 0 of the refugees' 1: below four fifths with at least 20 clients, so one
    `operations.fairness.disparity-detected`, once however often the monitor checks. The
    services' events are published as the services would (the topics are the contract), in
    the `unassigned` partnership, which no other test's clients reach."""
    import json

    from aiokafka import AIOKafkaProducer

    from runtime.events import to_cloudevent
    from schemas import matching, referrals
    from schemas.topics import topic_for
    from services.operations.fairness import MIN_GROUP_SIZE
    from tests.integration.conftest import read_topic

    run = uuid.uuid4().hex[:8]
    profile = {
        "skills": ["customer service"], "qualification_level": 2, "literacy": "level_1",
        "numeracy": "level_1", "preferred_sectors": ["retail"],
        "location": {"postcode_district": "WA1", "lat": 53.39, "lon": -2.59},
        "max_travel_km": 10, "available_hours_per_week": 30, "ward": "Nowhere",
        "consent_scopes": ["providers"], "partnership": "unassigned",
    }  # fmt: skip
    job_ready, proposed = [], []
    for group in ("carer", "refugee"):
        for n in range(25):
            client_id = f"CL-FAIR-{run}-{group}-{n}"
            job_ready.append(
                referrals.ClientJobReady(client_id=client_id, priority_groups=[group], **profile)
            )
            if group == "refugee":
                proposed.append(
                    matching.MatchProposed(
                        match_id=f"MT-FAIR-{run}-{n}", vacancy_id=f"VAC-FAIR-{run}",
                        client_id=client_id, employer_id="E-FAIR", brokerage_id="EB-FAIR",
                        score=0.9, reasons=[], rules_version="test", partnership="unassigned",
                    )
                )  # fmt: skip
    producer = AIOKafkaProducer(bootstrap_servers=stack["bootstrap"], acks="all")
    await producer.start()

    async def publish(events: list) -> None:
        for data in events:
            event = to_cloudevent(data, source="/tests/fairness")
            await producer.send_and_wait(
                topic_for(event.type).name,
                event.model_dump_json(exclude_none=True).encode(),
                key=event.subject.encode(),
            )

    try:
        await publish(job_ready)
        # As in the platform, where matching proposes only clients it has read as job-ready:
        # operations reads the two topics side by side, with no order between them, and counts
        # a shortlisting for fairness only for a client it already knows.
        await read_to_end(
            http,
            _url(stack, "operations", ""),
            OPS,
            group=f"operations-{stack['prefix']}",
            topic=REFERRAL_EVENTS.name,
            bootstrap=stack["bootstrap"],
        )
        await publish(proposed)
    finally:
        await producer.stop()

    month = datetime.now(UTC).strftime("%Y-%m")

    def ours(records: list) -> list[dict]:
        found = {}
        for r in records:
            e = json.loads(r.value)
            d = e["data"]
            if e["type"] == "operations.fairness.disparity-detected" and (
                d["partnership"] == "unassigned" and d["month"] == month
            ):
                found[e["id"]] = d
        return list(found.values())

    records = await read_topic(
        stack["bootstrap"],
        "operations.events.v1",
        until=lambda rs: any(d["group"] == "carer" for d in ours(rs)),
        timeout=60,
    )
    carers = [d for d in ours(records) if d["group"] == "carer" and d["measure"] == "shortlisted"]
    assert len(carers) == 1, "one disparity per group, measure and month"
    # Raised at the first check that counts the minimum group size, which may come before all
    # 25 carers are in: once, with the figures of that moment.
    carer = carers[0]
    assert carer["clients"] >= MIN_GROUP_SIZE and carer["selected"] == 0 and carer["ratio"] < 0.8
    assert not [d for d in ours(records) if d["group"] == "refugee"], "the top group is not one"
    # Checked again and again by the monitor (every second here): still one.
    await asyncio.sleep(3)
    again = await read_topic(
        stack["bootstrap"], "operations.events.v1", until=lambda rs: len(rs) >= len(records)
    )
    assert len([d for d in ours(again) if d["group"] == "carer"]) == 1

    table = await _ok(
        await http.get(
            _url(stack, "operations", "/fairness"),
            params={"measure": "shortlisted"},
            headers=OPS_NATIONAL,
        )
    )
    assert all(set(row) >= {"group", "clients", "selected", "rate", "ratio"} for row in table)
