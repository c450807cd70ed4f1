"""Document storage, the version guard and the outbox relay against the real store and broker."""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from runtime.cas import VersionGuard
from runtime.documents import AlreadyExists, DocumentStore, StaleAggregate
from runtime.errors import Conflict
from runtime.events import enveloper
from runtime.kafka import EventProducer, OutRecord
from runtime.kafka_connection import KafkaConnection
from runtime.mongo import connect
from runtime.outbox import OutboxRelay
from runtime.persistence import Persistence
from schemas import referrals as ev
from schemas.base import EventData
from schemas.envelope import CloudEvent
from schemas.topics import REFERRAL_EVENTS
from services.referrals.domain import Referral
from services.referrals.store import ReferralsStore
from tests.conftest import Infrastructure
from tests.integration.conftest import eventually, persistence_of, read_topic

SOURCE = "/it/storage"
wrap = enveloper(SOURCE)


def new_referral(referral_id: str, client_id: str = "CL-it") -> Referral:
    return Referral(
        referral_id=referral_id,
        client_id=client_id,
        provider_id="P-01",
        programme="retail-routeway",
        reason="test",
    )


def created(referral: Referral, programme: str | None = None) -> CloudEvent:
    (event,) = wrap(
        [
            ev.ReferralCreated(
                referral_id=referral.referral_id,
                client_id=referral.client_id,
                provider_id=referral.provider_id,
                programme=programme or referral.programme,
            )
        ]
    )
    return event


def referrals(persistence: Persistence) -> DocumentStore[Referral]:
    return persistence.documents("referrals", Referral, id_field="referral_id")


def relay_of(
    producer: EventProducer, persistence: Persistence, store: DocumentStore[Any], **kw: Any
) -> OutboxRelay:
    return OutboxRelay(
        producer, persistence.db, persistence.outbox, [store.collection], persistence.profile, **kw
    )


async def mutate_until_done(
    store: DocumentStore[Referral],
    doc_id: str,
    change: Callable[[Referral], Sequence[EventData]],
) -> None:
    """What an HTTP client does on 409: try again, a little later."""
    while True:
        try:
            await store.mutate({"_id": doc_id}, change, wrap)
            return
        except Conflict:
            await asyncio.sleep(random.uniform(0, 0.05))


def add_plus(r: Referral) -> list[EventData]:
    r.reason += "+"
    return []


async def published_records(
    infrastructure: Infrastructure, wanted: set[str], timeout: float = 20.0
) -> list[dict[str, Any]]:
    """The records of `referrals.events.v1` whose event ids are `wanted` (each at least once)."""

    found: set[str] = set()
    checked = 0

    def all_found(records: list[Any]) -> bool:
        # Only the records read since the last call: the shared topic may hold many.
        nonlocal checked
        found.update(json.loads(r.value)["id"] for r in records[checked:])
        checked = len(records)
        return wanted <= found

    records = await read_topic(
        infrastructure.kafka_bootstrap_servers,
        REFERRAL_EVENTS.name,
        until=all_found,
        timeout=timeout,
    )
    return [
        {"event": json.loads(r.value), "key": r.key, "headers": dict(r.headers)}
        for r in records
        if json.loads(r.value)["id"] in wanted
    ]


# --- versions ------------------------------------------------------------------------------


async def test_a_stale_save_changes_nothing(persistence: Persistence) -> None:
    store = referrals(persistence)
    await store.add(new_referral("RF-a"))
    first, second = await store.get("RF-a"), await store.get("RF-a")
    assert first is not None and second is not None
    first.aggregate.status = "accepted"
    await store.save(first)
    second.aggregate.status = "rejected"
    with pytest.raises(StaleAggregate):
        await store.save(second, [created(second.aggregate)])
    loaded = await store.get("RF-a")
    assert loaded is not None
    assert (loaded.aggregate.status, loaded.version) == ("accepted", 2)
    assert loaded.outbox == [], "nor are its events stored"
    with pytest.raises(AlreadyExists):
        await store.add(new_referral("RF-a"))


async def test_concurrent_mutations_are_serialised_by_the_version(
    infrastructure: Infrastructure, db: AsyncDatabase
) -> None:
    """Two processes (two clients, two persistences: no lock in common) each increment one
    document 20 times at once: on FerretDB only the claim makes that a compare-and-set."""
    other_client = connect(infrastructure.mongodb_uri)
    try:
        one = referrals(await persistence_of(db))
        two = referrals(await persistence_of(other_client[db.name]))
        await one.add(new_referral("RF-b"))
        await asyncio.gather(
            *(mutate_until_done(store, "RF-b", add_plus) for store in (one, two) for _ in range(20))
        )
        for store in (one, two):
            loaded = await store.get("RF-b")
            assert loaded is not None
            assert loaded.aggregate.reason == "test" + "+" * 40, "an increment was lost"
            assert loaded.version == 41
    finally:
        await other_client.close()
    assert await db["_version_claims"].count_documents({}) == 0, "every claim is released"


async def test_a_claim_left_by_a_writer_that_died_expires(db: AsyncDatabase) -> None:
    now = datetime.now(UTC)
    clock = {"now": now}
    persistence = await persistence_of(db)
    if persistence.profile.atomic_updates:
        pytest.skip("a store with atomic updates takes no claims")
    persistence.guard = VersionGuard(db, persistence.profile, clock=lambda: clock["now"])
    store = referrals(persistence)
    await store.add(new_referral("RF-d"))
    # A writer claimed version 2, then died before writing or releasing it.
    claim_id = VersionGuard._claim_id("referrals", "RF-d", 2)
    await db["_version_claims"].insert_one({"_id": claim_id, "at": now})

    with pytest.raises(Conflict):  # while the claim is young, every save is stale
        await store.mutate({"_id": "RF-d"}, add_plus, wrap, attempts=3)
    assert await db["_version_claims"].find_one({"_id": claim_id}) is not None

    clock["now"] = now + timedelta(seconds=31)  # the default expiry is 30 s
    await store.mutate({"_id": "RF-d"}, add_plus, wrap)
    loaded = await store.get("RF-d")
    assert loaded is not None
    assert (loaded.aggregate.reason, loaded.version) == ("test+", 2)
    assert await db["_version_claims"].find_one({"_id": claim_id}) is None


async def test_a_claim_expires_by_the_real_clock_too(db: AsyncDatabase) -> None:
    persistence = await persistence_of(db)
    if persistence.profile.atomic_updates:
        pytest.skip("a store with atomic updates takes no claims")
    persistence.guard = VersionGuard(db, persistence.profile, expire_after=0.5)
    store = referrals(persistence)
    await store.add(new_referral("RF-e"))
    await db["_version_claims"].insert_one(
        {
            "_id": VersionGuard._claim_id("referrals", "RF-e", 2),
            "at": datetime.now(UTC) - timedelta(hours=1),
        }
    )
    await store.mutate({"_id": "RF-e"}, add_plus, wrap)
    loaded = await store.get("RF-e")
    assert loaded is not None and loaded.version == 2


async def test_the_database_refuses_a_second_active_referral(persistence: Persistence) -> None:
    store = ReferralsStore(persistence)
    await store.ensure_indexes()
    await store.referrals.add(new_referral("RF-1"))
    with pytest.raises(AlreadyExists):
        await store.referrals.add(new_referral("RF-2"))
    ended = await store.referrals.get("RF-1")
    assert ended is not None
    ended.aggregate.status = "rejected"
    await store.referrals.save(ended)
    await store.referrals.add(new_referral("RF-2"))


async def _seed(db: AsyncDatabase, name: str, n: int) -> list[str]:
    docs = [
        {
            "_id": f"RF-{i}",
            **new_referral(f"RF-{i}", client_id=f"CL-{i}").model_dump(mode="json"),
            "version": 1,
            "applied": [],
            "outbox": [],
        }
        for i in range(n)
    ]
    await db[name].insert_many(docs)
    return [d["_id"] for d in docs]


async def test_a_bulk_read_by_id_costs_no_more_in_a_larger_collection(
    persistence: Persistence, db: AsyncDatabase
) -> None:
    """`runtime.bulk`: 'read many documents by `_id` at a cost that does not grow with the
    collection': the consumer reads every aggregate of a batch this way."""
    if persistence.profile.name != "ferretdb":
        pytest.skip("the lookup strategy under test is FerretDB's")
    timings = {}
    for name, size, runs in (("small", 50, 2), ("large", 3000, 1)):
        ids = await _seed(db, name, size)
        # The local FerretDB gives a new collection's table its `_id` path index within
        # 300 ms (deploy/local/ferretdb/main.go); services create theirs once, at start.
        await asyncio.sleep(1.0)
        store = persistence.documents(name, Referral, id_field="referral_id")
        wanted = ids[:: size // 50]
        took = []
        for _ in range(runs):
            started = time.monotonic()
            assert len(await store.get_many(wanted)) == 50
            took.append(time.monotonic() - started)
        timings[name] = min(took)
    plan = await db.command("explain", {"find": "large", "filter": {"_id": "RF-7"}})
    assert timings["large"] < 3 * timings["small"] + 0.25, (timings, plan.get("queryPlanner"))


# --- the outbox ----------------------------------------------------------------------------


async def test_the_events_of_a_write_are_published_and_a_crash_before_publishing_is_recovered(
    infrastructure: Infrastructure, db: AsyncDatabase, producer: EventProducer
) -> None:
    # With a relay: the write hints it, and it publishes at once.
    persistence = await persistence_of(db)
    store = referrals(persistence)
    relay = relay_of(producer, persistence, store)
    hinted = new_referral("RF-hint", client_id="CL-hint")
    hinted_event = created(hinted)
    await store.add(hinted, [hinted_event])
    assert await db["outbox_markers"].count_documents({}) == 1
    assert await relay.relay_hinted() == 1
    assert await db["outbox_markers"].count_documents({}) == 0

    # Without one: the process 'dies' after the write, before publishing anything.
    doomed = await persistence_of(db)
    crashed = new_referral("RF-crash", client_id="CL-crash")
    crashed_event = created(crashed)
    await referrals(doomed).add(crashed, [crashed_event])
    assert await db["outbox_markers"].count_documents({}) == 1

    # A fresh process's relay sweeps at start and publishes what was left behind.
    fresh = await persistence_of(db)
    successor = relay_of(producer, fresh, referrals(fresh), settle_seconds=0.0)
    successor.start()
    try:
        # Markers go once their events are published.
        await eventually(lambda: _count(db["outbox_markers"], 0), timeout=10)
    finally:
        await successor.stop()

    records = await published_records(infrastructure, {hinted_event.id, crashed_event.id})
    by_id = {r["event"]["id"]: r for r in records}
    assert by_id[crashed_event.id]["event"] == json.loads(crashed_event.to_bytes())
    assert by_id[hinted_event.id]["key"] == b"CL-hint"
    assert by_id[crashed_event.id]["key"] == b"CL-crash"
    assert by_id[crashed_event.id]["headers"]["content-type"] == b"application/cloudevents+json"

    # Published entries stay in their document until its next write, which drops them.
    loaded = await store.get("RF-crash")
    assert loaded is not None and len(loaded.outbox) == 1
    await store.save(loaded)
    assert (await db["referrals"].find_one({"_id": "RF-crash"}))["outbox"] == []


async def _count(collection: Any, n: int) -> bool:
    return await collection.count_documents({}) == n


class RecordingProducer(EventProducer):
    """The real producer, noting the id of every event it is handed."""

    sent: list[str]

    async def send_many(self, records: Sequence[OutRecord]) -> list[BaseException | None]:
        self.sent += [json.loads(r.value)["id"] for r in records]
        return await super().send_many(records)


async def test_the_relay_never_undoes_a_concurrent_save(
    infrastructure: Infrastructure, persistence: Persistence, db: AsyncDatabase
) -> None:
    """Saves add events to one document while the relay publishes them: every state change
    survives and every event is published, with the content it was stored with."""
    producer = RecordingProducer(KafkaConnection(infrastructure.kafka_bootstrap_servers), "it-race")
    producer.sent = []
    await producer.start()
    store = referrals(persistence)
    relay = relay_of(producer, persistence, store, sweep_seconds=0.2)
    await store.add(new_referral("RF-race", client_id="CL-race"))

    def note(r: Referral) -> list[EventData]:
        r.reason += "+"
        return [
            ev.ReferralCreated(
                referral_id="RF-race",
                client_id="CL-race",
                provider_id="P-01",
                programme=f"n{len(r.reason)}",
            )
        ]

    relay.start()
    try:
        for _ in range(30):
            await asyncio.gather(*(mutate_until_done(store, "RF-race", note) for _ in range(3)))
        await eventually(lambda: len(set(producer.sent)) >= 90, timeout=10)
    finally:
        await relay.stop()
        await producer.stop()

    doc = await db["referrals"].find_one({"_id": "RF-race"})
    assert doc["reason"] == "test" + "+" * 90, "a save was lost"
    assert doc["version"] == 91
    assert len(set(producer.sent)) == 90, "only stored events are published"
    records = await published_records(infrastructure, set(producer.sent))
    by_id: dict[str, list[dict[str, Any]]] = {}
    for r in records:
        by_id.setdefault(r["event"]["id"], []).append(r["event"])
    assert all(all(e == copies[0] for e in copies) for copies in by_id.values())
    programmes = sorted(copies[0]["data"]["programme"] for copies in by_id.values())
    assert programmes == sorted(f"n{n}" for n in range(5, 95)), "each save's own event"
    # What is left of the markers are those of lost races (nothing of theirs was written),
    # which the sweep drops after `orphan_seconds`: none names an event still waiting.
    waiting = {entry["m"] for entry in doc["outbox"]}
    assert not waiting & {m["_id"] async for m in db["outbox_markers"].find()}
    loaded = await store.get("RF-race")
    assert loaded is not None
    await store.save(loaded)  # the next write drops what was published
    assert (await db["referrals"].find_one({"_id": "RF-race"}))["outbox"] == []


async def test_an_event_is_published_once_when_its_document_is_written_again_meanwhile(
    infrastructure: Infrastructure, persistence: Persistence
) -> None:
    kafka = KafkaConnection(infrastructure.kafka_bootstrap_servers)
    producer = RecordingProducer(kafka, "it-twice")
    producer.sent = []
    await producer.start()
    try:
        store = referrals(persistence)
        relay = relay_of(producer, persistence, store)
        referral = new_referral("RF-twice", client_id="CL-twice")
        first = created(referral, programme="first")
        await store.add(referral, [first])
        loaded = await store.get("RF-twice")
        assert loaded is not None
        second = created(referral, programme="second")
        await store.save(loaded, [second])  # before the relay got round to `first`
        await relay.relay_hinted()
    finally:
        await producer.stop()
    assert producer.sent == [first.id, second.id]


async def test_an_event_the_broker_refuses_is_parked_and_the_relay_carries_on(
    infrastructure: Infrastructure, persistence: Persistence, producer: EventProducer
) -> None:
    """Bounds at the HTTP door keep events small; one that slipped through must not stop the
    relay: it is parked with its error type, and the next event is published."""
    store = referrals(persistence)
    relay = relay_of(producer, persistence, store)
    big = new_referral("RF-big", client_id="CL-big")
    big_event = CloudEvent.create(
        type=ev.ReferralCreated.event_type,
        source=SOURCE,
        subject="CL-big",
        data={**created(big).data, "programme": "x" * (2 * 1024 * 1024)},
    )
    after = new_referral("RF-after", client_id="CL-after")
    after_event = created(after)
    relay.start()
    try:
        await store.add(big, [big_event])
        await store.add(after, [after_event])
        await published_records(infrastructure, {after_event.id})
        await eventually(lambda: _count(persistence.db["outbox_markers"], 0), timeout=10)
        assert relay.healthy
    finally:
        await relay.stop()
    (parked,) = await relay.parked()
    assert parked["_id"] == big_event.id
    assert parked["error"] == "MessageSizeTooLargeError"
    assert parked["topic"] == REFERRAL_EVENTS.name
    assert parked["bytes"] > 2 * 1024 * 1024
    assert "event" not in parked, "listed without its content"
    stored = await persistence.db["outbox_parked"].find_one({"_id": big_event.id})
    assert stored["event"]["data"]["programme"] == big_event.data["programme"], "kept to replay"


async def test_an_event_of_a_type_outside_the_contract_is_parked_and_the_relay_carries_on(
    infrastructure: Infrastructure, persistence: Persistence, producer: EventProducer
) -> None:
    """Another event that can never be published: no topic is assigned to its type."""
    store = referrals(persistence)
    relay = relay_of(producer, persistence, store)
    stray = new_referral("RF-stray", client_id="CL-stray")
    stray_event = CloudEvent.create(
        type="referrals.referral.misspelt", source=SOURCE, subject="CL-stray", data={}
    )
    after = new_referral("RF-after-stray", client_id="CL-after-stray")
    after_event = created(after)
    relay.start()
    try:
        await store.add(stray, [stray_event])
        await store.add(after, [after_event])
        await published_records(infrastructure, {after_event.id}, timeout=20)
    finally:
        await relay.stop()
    assert [p["_id"] for p in await relay.parked()] == [stray_event.id]
