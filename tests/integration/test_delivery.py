"""At least once, one effect each, poison aside, a batch at a time: the consumer against real
Kafka and the real store, with the referrals service's own dispatcher over its clients."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, ConsumerRecord
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import ConnectionFailure

from runtime.backoff import Backoff
from runtime.consumer import BatchLimits, BatchProcessor, DeadLetters, EventConsumer
from runtime.handlers import Aggregates, Dispatcher, Effects, Item, Rejection
from runtime.kafka import EventProducer, OutRecord
from runtime.kafka_connection import KafkaConnection
from runtime.outbox import OutboxRelay
from runtime.persistence import Persistence
from schemas import jcp
from schemas.envelope import CloudEvent
from schemas.topics import REFERRAL_EVENTS, Topic
from services.referrals.clients import Client
from services.referrals.handlers import client_id_for, handlers
from services.referrals.store import ReferralsStore
from tests.conftest import Infrastructure
from tests.integration.conftest import (
    committed_offsets,
    end_offsets,
    eventually,
    persistence_of,
    read_topic,
)

KEY = "it-client-id-key"
SOURCE = "/services/referrals"
FAST = Backoff(base=0.05, cap=0.5)
CLAIM = {
    "benefit": "ESA",
    "claim_start": "2026-02-02",
    "jcp_office": "Aston",
    "local_authority": "Birmingham",
    "ward": "Aston",
    "postcode_district": "B6",
    "age_band": "50+",
    "priority_groups": ["over_50"],
}
HEADERS = [("trace", b"abc"), ("nothing", None), ("binary", b"\x00\xff")]


def registered(ref: str) -> CloudEvent:
    return CloudEvent.create(
        type="jcp.claimant.registered",
        source="/jcp/claimant-feed",
        subject=ref,
        data={**CLAIM, "claimant_ref": ref},
    )


def reclaimed(ref: str) -> CloudEvent:
    return CloudEvent.create(
        type="jcp.claimant.reclaimed",
        source="/jcp/claimant-feed",
        subject=ref,
        data={"claimant_ref": ref, "reclaim_date": "2026-03-01", "benefit": "JSA"},
    )


def benefit_changed(ref: str) -> CloudEvent:
    return CloudEvent.create(
        type="jcp.claimant.benefit-changed",
        source="/jcp/claimant-feed",
        subject=ref,
        data={
            "claimant_ref": ref,
            "from_benefit": "IB",
            "to_benefit": "ESA",
            "effective_date": "2026-03-01",
        },
    )


async def publish(
    producer: EventProducer,
    topic: Topic,
    values: Sequence[bytes | CloudEvent | None],
    key: bytes,
    headers: list[tuple[str, bytes | None]] | None = None,
) -> None:
    records = [
        OutRecord(
            topic.name,
            v.to_bytes() if isinstance(v, CloudEvent) else v,  # type: ignore[arg-type]
            key,
            list(headers or []),
        )
        for v in values
    ]
    errors = [e for e in await producer.send_many(records) if e is not None]
    assert not errors, errors


class Recording:
    """A dispatcher around the real one: notes each batch; can fail or hang as told."""

    def __init__(
        self,
        inner: Dispatcher,
        *,
        before: Callable[[Sequence[Item]], Awaitable[None]] | None = None,
        after: Callable[[Sequence[Item]], Awaitable[None]] | None = None,
    ) -> None:
        self.models = inner.models
        self._inner = inner
        self._before = before
        self._after = after
        self.batches: list[list[str]] = []
        self.times: list[float] = []

    async def handle(self, items: Sequence[Item]) -> list[Rejection]:
        self.batches.append([i.event.id for i in items])
        self.times.append(time.monotonic())
        if self._before:
            await self._before(items)
        rejected = await self._inner.handle(items)
        if self._after:
            await self._after(items)
        return rejected

    @property
    def handled(self) -> set[str]:
        return {i for batch in self.batches for i in batch}


def clients_dispatcher(persistence: Persistence) -> Aggregates[Client]:
    """The referrals service's dispatcher of JCP events, as its composition root builds it."""
    return Aggregates(ReferralsStore(persistence).clients, handlers(KEY), SOURCE)


@asynccontextmanager
async def running_consumer(
    infrastructure: Infrastructure,
    topic: Topic,
    group: str,
    dispatcher: Dispatcher,
    producer: EventProducer,
    *,
    limits: BatchLimits | None = None,
    before_batch: Callable[[], Awaitable[None]] | None = None,
) -> AsyncIterator[EventConsumer]:
    consumer = EventConsumer(
        connection=KafkaConnection(infrastructure.kafka_bootstrap_servers),
        group_id=group,
        topics=[topic],
        processor=BatchProcessor(
            dispatcher, DeadLetters(producer, group), max_attempts=3, backoff=FAST
        ),
        limits=limits,
        backoff=FAST,
        before_batch=before_batch,
    )
    await consumer.start()
    try:
        yield consumer
    finally:
        await consumer.stop()


async def client_of(db: AsyncDatabase, ref: str) -> dict[str, Any] | None:
    return await db["clients"].find_one({"_id": client_id_for(KEY, ref)})


async def all_committed(bootstrap: str, group: str, topic: str) -> bool:
    ends = {p: o for p, o in (await end_offsets(bootstrap, topic)).items() if o}
    committed = await committed_offsets(bootstrap, group)
    return bool(ends) and all(committed.get(p) == o for p, o in ends.items())


async def dlq_size(bootstrap: str, topic: Topic) -> int:
    return sum((await end_offsets(bootstrap, topic.dlq)).values())


def dlq_headers(record: ConsumerRecord) -> dict[str, bytes]:
    return {k: v for k, v in record.headers if k.startswith("x-dlq-") and v is not None}


# --- poison, duplicates, offsets -----------------------------------------------------------


async def test_poison_of_every_kind_is_dead_lettered_and_the_next_record_is_handled(
    infrastructure: Infrastructure,
    db: AsyncDatabase,
    claimant_topic: Topic,
    producer: EventProducer,
    group_id: str,
) -> None:
    bootstrap = infrastructure.kafka_bootstrap_servers
    ref = "CLM-poison"
    envelope = json.loads(registered(ref).to_bytes())
    # Values that must never be repeated in a dead letter's headers: they may be personal.
    secret_ref, secret_office, secret_date = "QQ123456C", 987654321, "SECRET-DATE-77"
    poison: dict[bytes | None, str] = {
        b"[" * 10_000: "not-json",  # deep nesting
        b'{"id": "\xff\xfe\xfa", "data": {}}': "not-json",  # invalid UTF-8
        b"[1, 2, 3]": "not-a-cloudevent",  # a JSON array
        b"42": "not-a-cloudevent",
        json.dumps({"hello": "world"}).encode(): "not-a-cloudevent",
        json.dumps({**envelope, "id": "p-1", "data": [1, 2]}).encode(): "not-a-cloudevent",
        json.dumps(  # wrong data types
            {
                **envelope,
                "id": "p-2",
                "data": {
                    **envelope["data"],
                    "jcp_office": secret_office,
                    "claim_start": secret_date,
                },
            }
        ).encode(): "invalid-data",
        json.dumps(  # a National Insurance number where a pseudonymous ref belongs
            {**envelope, "id": "p-3", "data": {**envelope["data"], "claimant_ref": secret_ref}}
        ).encode(): "invalid-data",
        None: "no-value",  # a tombstone
    }
    # Valid, but can never apply: no client yet for a change of benefit (rule 5).
    orphan_change = benefit_changed(ref)
    unknown = CloudEvent.create(  # a type this service does not handle: skipped quietly
        type="jcp.claimant.moved-house", source="/jcp", subject=ref, data={"anything": 1}
    )
    good, again, later = registered(ref), reclaimed(ref), reclaimed(ref)

    async with running_consumer(
        infrastructure,
        claimant_topic,
        group_id,
        clients_dispatcher(await persistence_of(db)),
        producer,
    ):
        await publish(producer, claimant_topic, [orphan_change], ref.encode())
        await publish(producer, claimant_topic, list(poison), ref.encode(), HEADERS)
        started = time.monotonic()
        await publish(producer, claimant_topic, [unknown, good, good, again, again], ref.encode())
        await eventually(lambda: client_of(db, ref), timeout=10)
        assert time.monotonic() - started < 10
        await eventually(lambda: all_committed(bootstrap, group_id, claimant_topic.name), 10)
        # The same reclaim once more, in a later batch, and a new one.
        await publish(producer, claimant_topic, [again, later], ref.encode())
        await eventually(lambda: _reclaims(db, ref, 2), timeout=10)
        await eventually(lambda: all_committed(bootstrap, group_id, claimant_topic.name), 10)

    # One effect per event id: registered once, reclaimed twice (three copies, two ids).
    doc = await client_of(db, ref)
    assert doc is not None
    assert doc["reclaims"] == 2
    assert sorted(doc["applied"]) == sorted([good.id, again.id, later.id])
    registrations = [e for e in doc["outbox"] if e["e"]["type"] == "referrals.client.registered"]
    assert len(registrations) <= 1

    dead = await read_topic(
        bootstrap, claimant_topic.dlq, until=lambda rs: len(rs) >= len(poison) + 1
    )
    assert len(dead) == len(poison) + 1, "the unknown type is not dead-lettered"
    by_value = {r.value: r for r in dead}
    rejected = by_value.pop(orphan_change.to_bytes())
    assert dlq_headers(rejected)["x-dlq-reason"] == b"rejected"
    for value, reason in poison.items():
        letter = by_value[value]  # a tombstone stays a tombstone (no value)
        assert letter.key == ref.encode()
        assert list(letter.headers[: len(HEADERS)]) == HEADERS, "original headers as they came"
        why = dlq_headers(letter)
        assert why["x-dlq-reason"] == reason.encode()
        assert why["x-dlq-consumer-group"] == group_id.encode()
        assert why["x-dlq-source-topic"] == claimant_topic.name.encode()
        assert {"x-dlq-error", "x-dlq-source-partition", "x-dlq-source-offset"} <= set(why)
        for secret in (secret_ref, str(secret_office), secret_date):
            assert all(secret.encode() not in v for v in why.values()), "no input value"

    # Every offset is committed: a new consumer in the group reads nothing more.
    latecomer = AIOKafkaConsumer(
        claimant_topic.name,
        bootstrap_servers=bootstrap,
        group_id=group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await latecomer.start()
    leftovers: list[ConsumerRecord] = []
    try:
        deadline = time.monotonic() + 10
        while not latecomer.assignment() and time.monotonic() < deadline:  # joined the group
            for records in (await latecomer.getmany(timeout_ms=200)).values():
                leftovers += records
        for records in (await latecomer.getmany(timeout_ms=1000)).values():
            leftovers += records
        ends = await end_offsets(bootstrap, claimant_topic.name)
        positions = {tp.partition: await latecomer.position(tp) for tp in latecomer.assignment()}
    finally:
        await latecomer.stop()
    assert leftovers == []
    assert positions == ends, "it starts where the consumer committed: after the last record"


async def _reclaims(db: AsyncDatabase, ref: str, n: int) -> bool:
    doc = await client_of(db, ref)
    return doc is not None and doc["reclaims"] >= n


# --- failures ------------------------------------------------------------------------------


async def test_a_store_that_is_away_for_a_while_is_waited_for_and_nothing_is_lost(
    infrastructure: Infrastructure,
    db: AsyncDatabase,
    claimant_topic: Topic,
    producer: EventProducer,
    group_id: str,
) -> None:
    """Three batches fail before touching the store, the fourth after storing its effects
    (the acknowledgement was lost): retried with backoff, never dead-lettered, one effect."""
    bootstrap = infrastructure.kafka_bootstrap_servers
    failures = {"before": 3, "after": 1}

    async def away(_: Sequence[Item]) -> None:
        if failures["before"]:
            failures["before"] -= 1
            raise ConnectionFailure("the store is unreachable")

    async def ack_lost(_: Sequence[Item]) -> None:
        if failures["after"]:
            failures["after"] -= 1
            raise ConnectionFailure("connection closed before the reply")

    dispatcher = Recording(
        clients_dispatcher(await persistence_of(db)), before=away, after=ack_lost
    )
    ref = "CLM-away"
    events = [registered(ref), reclaimed(ref)]
    await publish(producer, claimant_topic, events, ref.encode())
    async with running_consumer(infrastructure, claimant_topic, group_id, dispatcher, producer):
        await eventually(lambda: len(dispatcher.batches) >= 5, timeout=15)
        await eventually(lambda: all_committed(bootstrap, group_id, claimant_topic.name), 10)

    assert failures == {"before": 0, "after": 0}
    gaps = [b - a for a, b in zip(dispatcher.times, dispatcher.times[1:], strict=False)]
    assert all(g >= 0.02 for g in gaps[:4]), f"retried with backoff, not in a loop: {gaps}"
    assert dispatcher.handled == {e.id for e in events}
    doc = await client_of(db, ref)
    assert doc is not None
    assert doc["reclaims"] == 1, "the batch handled again had no second effect"
    assert len([e for e in doc["outbox"] if e["e"]["type"].endswith("registered")]) == 1
    assert await dlq_size(bootstrap, claimant_topic) == 0, "nothing was dead-lettered"


@pytest.mark.parametrize("dies", ["before storing", "after storing"])
async def test_a_consumer_that_dies_mid_batch_leaves_it_to_its_successor(
    infrastructure: Infrastructure,
    db: AsyncDatabase,
    claimant_topic: Topic,
    producer: EventProducer,
    group_id: str,
    dies: str,
) -> None:
    """It takes a batch and dies before committing, before or after storing its effects:
    the next consumer of the group is handed the same records and stores each effect once
    (what was stored already is recognised by the event ids in the documents)."""
    bootstrap = infrastructure.kafka_bootstrap_servers
    entered = asyncio.Event()

    async def die(_: Sequence[Item]) -> None:
        entered.set()
        await asyncio.sleep(3600)  # until stopped, offsets uncommitted

    persistence = await persistence_of(db)
    doomed = Recording(
        clients_dispatcher(persistence),
        before=die if dies == "before storing" else None,
        after=die if dies == "after storing" else None,
    )
    refs = ["CLM-d1", "CLM-d2"]
    events = {ref: [registered(ref), reclaimed(ref), reclaimed(ref)] for ref in refs}
    for ref in refs:
        await publish(producer, claimant_topic, events[ref], ref.encode())
    async with running_consumer(infrastructure, claimant_topic, group_id, doomed, producer):
        await asyncio.wait_for(entered.wait(), timeout=15)
    assert await committed_offsets(bootstrap, group_id) == {}
    before = {ref: await client_of(db, ref) for ref in refs}
    assert any(before.values()) == (dies == "after storing")

    successor = Recording(clients_dispatcher(await persistence_of(db)))
    async with running_consumer(infrastructure, claimant_topic, group_id, successor, producer):
        await eventually(lambda: all_committed(bootstrap, group_id, claimant_topic.name), 15)

    assert successor.handled >= doomed.handled, "the same records, handed over"
    for ref in refs:
        doc = await client_of(db, ref)
        assert doc is not None
        assert doc["reclaims"] == 2
        assert sorted(doc["applied"]) == sorted(e.id for e in events[ref])
        assert len([e for e in doc["outbox"] if e["e"]["type"].endswith("registered")]) == 1
        if before[ref] is not None:
            assert doc["version"] == before[ref]["version"], "no second write of the same"


async def test_a_consumer_that_dies_mid_effects_leaves_no_second_effect_with_an_inbox(
    infrastructure: Infrastructure,
    db: AsyncDatabase,
    claimant_topic: Topic,
    producer: EventProducer,
    group_id: str,
) -> None:
    """The same with an `Effects` dispatcher: its inbox recognises the batch as handled."""
    bootstrap = infrastructure.kafka_bootstrap_servers
    persistence = await persistence_of(db)
    stored = asyncio.Event()

    async def count(event: CloudEvent, _: Any) -> None:
        await db["effects"].update_one({"_id": event.id}, {"$inc": {"n": 1}}, upsert=True)

    async def die(_: Sequence[Item]) -> None:
        stored.set()
        await asyncio.sleep(3600)

    def effects() -> Effects:
        return Effects({jcp.ClaimantRegistered: count}, persistence.inbox)

    # One key, so one partition and one batch: the consumer dies after the handler returned
    # (its inbox written). Killed *inside* a handler, only the handler's own idempotence
    # (a derived id, a conditional update) stands between a redelivery and a second effect.
    events = [registered(f"CLM-e{n}") for n in range(5)]
    await publish(producer, claimant_topic, events, b"CLM-e")
    doomed = Recording(effects(), after=die)
    async with running_consumer(infrastructure, claimant_topic, group_id, doomed, producer):
        await asyncio.wait_for(stored.wait(), timeout=15)
    successor = Recording(effects())
    async with running_consumer(infrastructure, claimant_topic, group_id, successor, producer):
        await eventually(lambda: all_committed(bootstrap, group_id, claimant_topic.name), 15)
    assert successor.handled & doomed.handled, "records handled before were handed over"
    counts = {d["_id"]: d["n"] async for d in db["effects"].find()}
    assert counts == {e.id: 1 for e in events}
    assert {d["_id"] async for d in db["inbox"].find()} == {e.id for e in events}


async def test_a_poison_record_at_the_size_limit_does_not_stall_its_partition(
    infrastructure: Infrastructure,
    db: AsyncDatabase,
    claimant_topic: Topic,
    producer: EventProducer,
    group_id: str,
) -> None:
    """A record the broker accepted, just under its limit: with the x-dlq-* headers added its
    dead letter is larger than the producer may send. The next record must still be handled."""
    ref = "CLM-limit"
    huge = b"x" * 1_048_400  # not JSON; under 1 MiB with its record overhead
    await publish(producer, claimant_topic, [huge, registered(ref)], ref.encode())
    async with running_consumer(
        infrastructure,
        claimant_topic,
        group_id,
        clients_dispatcher(await persistence_of(db)),
        producer,
    ):
        await eventually(lambda: client_of(db, ref), timeout=4)


async def test_more_events_for_one_aggregate_than_it_keeps_ids_of_have_one_effect_each(
    infrastructure: Infrastructure,
    db: AsyncDatabase,
    claimant_topic: Topic,
    producer: EventProducer,
    group_id: str,
) -> None:
    """One claimant's 80 events in one batch (a burst; a batch holds up to 500), stored, then
    the consumer dies before committing: its successor is handed all 80 again."""
    bootstrap = infrastructure.kafka_bootstrap_servers
    entered = asyncio.Event()

    async def die(_: Sequence[Item]) -> None:
        entered.set()
        await asyncio.sleep(3600)

    ref = "CLM-burst"
    events = [registered(ref)] + [reclaimed(ref) for _ in range(79)]
    await publish(producer, claimant_topic, events, ref.encode())
    doomed = Recording(clients_dispatcher(await persistence_of(db)), after=die)
    async with running_consumer(infrastructure, claimant_topic, group_id, doomed, producer):
        await asyncio.wait_for(entered.wait(), timeout=15)
    successor = Recording(clients_dispatcher(await persistence_of(db)))
    async with running_consumer(infrastructure, claimant_topic, group_id, successor, producer):
        await eventually(lambda: all_committed(bootstrap, group_id, claimant_topic.name), 15)
    assert successor.handled & doomed.handled
    doc = await client_of(db, ref)
    assert doc is not None
    assert doc["reclaims"] == 79, "a redelivered reclaim was counted again"


# --- rebalancing and batching --------------------------------------------------------------


async def test_a_rebalance_in_the_middle_of_a_batch_leaves_one_client_per_claimant(
    infrastructure: Infrastructure,
    db: AsyncDatabase,
    claimant_topic: Topic,
    producer: EventProducer,
    group_id: str,
) -> None:
    """Two replicas of the service (each its own persistence and relay) in one group; the
    second joins while the first is handling a slow batch."""
    bootstrap = infrastructure.kafka_bootstrap_servers
    handling = asyncio.Event()

    async def slow(_: Sequence[Item]) -> None:
        handling.set()
        await asyncio.sleep(0.3)

    run = uuid.uuid4().hex[:6]
    refs = [f"R{run}-{n}" for n in range(2000)]
    for start in range(0, len(refs), 500):
        await publish_many(producer, claimant_topic, refs[start : start + 500])

    limits = BatchLimits(max_records=100)
    replicas = []
    for _ in range(2):
        persistence = await persistence_of(db)
        store = ReferralsStore(persistence)
        relay = OutboxRelay(
            producer, db, persistence.outbox, store.outbox_collections, persistence.profile
        )
        dispatcher = Recording(Aggregates(store.clients, handlers(KEY), SOURCE), before=slow)
        replicas.append((relay, dispatcher))
    (relay_a, first), (relay_b, second) = replicas
    relay_a.start()
    relay_b.start()
    try:
        async with running_consumer(
            infrastructure,
            claimant_topic,
            group_id,
            first,
            producer,
            limits=limits,
            before_batch=relay_a.capacity,
        ):
            await asyncio.wait_for(handling.wait(), timeout=15)
            async with running_consumer(
                infrastructure,
                claimant_topic,
                group_id,
                second,
                producer,
                limits=limits,
                before_batch=relay_b.capacity,
            ):
                await eventually(lambda: _count(db, len(refs)), timeout=40)
                await eventually(
                    lambda: all_committed(bootstrap, group_id, claimant_topic.name), 10
                )
    finally:
        await relay_a.stop()
        await relay_b.stop()

    assert first.batches and second.batches, "both replicas handled records"
    docs = [d async for d in db["clients"].find({}, {"claimant_ref": 1, "outbox": 1})]
    assert sorted(d["claimant_ref"] for d in docs) == sorted(refs), "one client each"
    assert all(d["_id"] == client_id_for(KEY, d["claimant_ref"]) for d in docs)
    outbox_ids: dict[str, set[str]] = {}
    for d in docs:
        for entry in d["outbox"]:
            if entry["e"]["type"] == "referrals.client.registered":
                outbox_ids.setdefault(d["_id"], set()).add(entry["e"]["id"])
    assert all(len(ids) == 1 for ids in outbox_ids.values())
    assert len(outbox_ids) == len(refs)

    wanted = {d["_id"] for d in docs}
    published: dict[str, set[str]] = {}
    read = [0]

    def all_seen(records: list[ConsumerRecord]) -> bool:
        for r in records[read[0] :]:
            event = json.loads(r.value)
            if event["subject"] in wanted and event["type"] == "referrals.client.registered":
                published.setdefault(event["subject"], set()).add(event["id"])
        read[0] = len(records)
        return set(published) == wanted

    await read_topic(bootstrap, REFERRAL_EVENTS.name, until=all_seen, timeout=20)
    assert published == outbox_ids, "one event id per client, the one its document holds"
    assert await dlq_size(bootstrap, claimant_topic) == 0


async def publish_many(producer: EventProducer, topic: Topic, refs: Sequence[str]) -> None:
    records = [OutRecord(topic.name, registered(r).to_bytes(), r.encode(), []) for r in refs]
    assert not [e for e in await producer.send_many(records) if e is not None]


async def _count(db: AsyncDatabase, n: int) -> bool:
    return await db["clients"].count_documents({}) >= n


async def test_records_waiting_are_handled_in_batches(
    infrastructure: Infrastructure,
    db: AsyncDatabase,
    claimant_topic: Topic,
    producer: EventProducer,
    group_id: str,
) -> None:
    refs = [f"B{uuid.uuid4().hex[:6]}-{n}" for n in range(1000)]
    await publish_many(producer, claimant_topic, refs)
    dispatcher = Recording(clients_dispatcher(await persistence_of(db)))
    async with running_consumer(infrastructure, claimant_topic, group_id, dispatcher, producer):
        await eventually(lambda: _count(db, len(refs)), timeout=20)
    sizes = [len(b) for b in dispatcher.batches]
    assert max(sizes) > 1, sizes
    assert len(sizes) < len(refs) / 10, f"{len(sizes)} calls for {len(refs)} records"
    assert await db["clients"].count_documents({}) == len(refs)
