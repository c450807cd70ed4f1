"""Document storage and the outbox relay against the real database and broker."""

from __future__ import annotations

import asyncio
import json

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from runtime.documents import AlreadyExists, DocumentStore, StaleAggregate
from runtime.events import to_cloudevents
from runtime.kafka import EventPublisher, create_broker
from runtime.outbox import OutboxRelay
from schemas import referrals as ev
from services.referrals.domain import Referral
from services.referrals.store import ReferralsStore
from tests.conftest import Infrastructure
from tests.integration.conftest import read_topic


def new_referral(referral_id: str, client_id: str = "CL-it") -> Referral:
    return Referral(
        referral_id=referral_id,
        client_id=client_id,
        provider_id="P-01",
        programme="retail-routeway",
        reason="test",
    )


async def test_a_stale_save_changes_nothing(db: AsyncDatabase) -> None:
    store = DocumentStore(db["referrals"], Referral, id_field="referral_id")
    await store.add(new_referral("RF-a"))
    first, second = await store.get("RF-a"), await store.get("RF-a")
    first.aggregate.status = "accepted"
    await store.save(first)
    second.aggregate.status = "rejected"
    with pytest.raises(StaleAggregate):
        await store.save(second)
    assert (await store.get("RF-a")).aggregate.status == "accepted"


async def test_concurrent_mutations_are_serialised_by_the_version(db: AsyncDatabase) -> None:
    store = DocumentStore(db["referrals"], Referral, id_field="referral_id")
    await store.add(new_referral("RF-b"))

    def add_note(r: Referral) -> list:
        r.reason += "+"
        return []

    await asyncio.gather(*(store.mutate({"_id": "RF-b"}, add_note, lambda e: []) for _ in range(4)))
    loaded = await store.get("RF-b")
    assert loaded.aggregate.reason == "test++++"
    assert loaded.version == 5


async def test_the_database_refuses_a_second_active_referral(db: AsyncDatabase) -> None:
    store = ReferralsStore(db, on_saved=lambda collection, doc_id: None)
    await store.ensure_indexes()
    await store.referrals.add(new_referral("RF-1"))
    with pytest.raises(AlreadyExists):
        await store.referrals.add(new_referral("RF-2"))
    ended = await store.referrals.get("RF-1")
    ended.aggregate.status = "rejected"
    await store.referrals.save(ended)
    await store.referrals.add(new_referral("RF-2"))


async def test_events_written_with_a_change_are_published_even_after_a_crash(
    infrastructure: Infrastructure, db: AsyncDatabase
) -> None:
    """The change and its event are one write; a relay started later (after a 'crash')
    publishes the event with the id it was stored with, and empties the outbox."""
    store = DocumentStore(db["referrals"], Referral, id_field="referral_id")
    referral = new_referral("RF-c", client_id="CL-outbox-it")
    (event,) = to_cloudevents(
        [
            ev.ReferralCreated(
                referral_id="RF-c",
                client_id="CL-outbox-it",
                provider_id="P-01",
                programme="retail-routeway",
            )
        ],
        source="/it",
    )
    await store.add(referral, [event])  # the process 'dies' here: nothing published yet
    assert len((await db["referrals"].find_one({"_id": "RF-c"}))["outbox"]) == 1

    broker = create_broker(infrastructure.kafka_bootstrap_servers, "it-relay")
    await broker.connect()
    try:
        relay = OutboxRelay(EventPublisher(broker), [db["referrals"]])
        assert await relay.relay_once() == 1
        assert await relay.relay_once() == 0
    finally:
        await broker.stop()
    assert (await db["referrals"].find_one({"_id": "RF-c"}))["outbox"] == []

    records = await read_topic(
        infrastructure.kafka_bootstrap_servers,
        "referrals.events.v1",
        until=lambda rs: any(json.loads(r.value)["id"] == event.id for r in rs),
    )
    (published,) = [r for r in records if json.loads(r.value)["id"] == event.id]
    assert published.key == b"CL-outbox-it"
    assert dict(published.headers)["content-type"] == b"application/cloudevents+json"


async def test_the_relay_never_undoes_a_concurrent_save(
    infrastructure: Infrastructure, db: AsyncDatabase
) -> None:
    """Saves append events while the relay publishes and removes earlier ones, on the same
    document: every state change survives and every event leaves the outbox exactly once."""
    broker = create_broker(infrastructure.kafka_bootstrap_servers, "it-race")
    await broker.connect()
    published: list[str] = []

    class Recording(EventPublisher):
        async def publish(self, event):  # type: ignore[no-untyped-def]
            published.append(event.id)
            await super().publish(event)

    relay = OutboxRelay(Recording(broker), [db["referrals"]])
    store = DocumentStore(db["referrals"], Referral, id_field="referral_id", on_saved=relay.wake)
    await store.add(new_referral("RF-race", client_id="CL-race"))

    def note(r: Referral) -> list:
        r.reason += "+"
        return [
            ev.ReferralCreated(
                referral_id="RF-race",
                client_id="CL-race",
                provider_id="P-01",
                programme=r.reason[-8:],
            )
        ]

    async def relay_until(done: asyncio.Event) -> None:
        while not done.is_set():
            await relay.relay_once()
            await asyncio.sleep(0)

    wrap = lambda events: to_cloudevents(events, source="/it")  # noqa: E731
    done = asyncio.Event()
    relaying = asyncio.create_task(relay_until(done))
    try:
        for _ in range(30):
            await asyncio.gather(*(store.mutate({"_id": "RF-race"}, note, wrap) for _ in range(3)))
        done.set()
        await relaying
        await relay.relay_once()
    finally:
        await broker.stop()
    doc = await db["referrals"].find_one({"_id": "RF-race"})
    assert doc["reason"] == "test" + "+" * 90, "a save was lost"
    assert doc["outbox"] == []
    assert len(published) == len(set(published)) == 90
