"""`python -m services.operations.rebuild [clients|vacancies|counters|all]` (also
`brokerage rebuild`): rebuild the read models from offset 0 into fresh collections
(`rebuild_<stamp>_<name>`), then compare their answers with the live ones.

The projections feed one another (counters take a client's ward and groups from the client
projection), so all three are rebuilt together; the argument says which to compare. Records are
fed in the order they were produced across topics (each partition in its own order, partitions
merged by event time), as the live consumer saw them.
"""

from __future__ import annotations

import asyncio
import heapq
import sys
import time
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from pydantic import ValidationError

from runtime.decoding import Poison, decode_envelope
from runtime.handlers import Item
from runtime.kafka_connection import KafkaConnection
from runtime.mongo import connect
from runtime.persistence import Persistence
from services.operations import kpis, projections
from services.operations.settings import Settings
from services.operations.store import OperationsStore

_CHUNK = 500


async def _records(kafka: KafkaConnection, topics: list[str]) -> list[list[Any]]:
    consumer = AIOKafkaConsumer(**kafka.options(), group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [
            TopicPartition(t, p)
            for t in topics
            for p in sorted(consumer.partitions_for_topic(t) or ())
        ]
        consumer.assign(tps)
        ends = await consumer.end_offsets(tps)
        await consumer.seek_to_beginning(*tps)
        out: dict[TopicPartition, list[Any]] = {tp: [] for tp in tps}
        wanted = {tp for tp in tps if ends[tp] > 0}
        while wanted:
            batches = await consumer.getmany(*wanted, timeout_ms=2000, max_records=5000)
            if not batches:
                break
            for tp, records in batches.items():
                out[tp] += [r for r in records if r.offset < ends[tp]]
                if records and records[-1].offset + 1 >= ends[tp]:
                    wanted.discard(tp)
        return list(out.values())
    finally:
        await consumer.stop()


def _items(partitions: list[list[Any]], models: dict[str, Any]) -> list[Item]:
    decoded = []
    for records in partitions:
        part = []
        for r in records:
            event = decode_envelope(r.value)
            if isinstance(event, Poison) or event.type not in models:
                continue
            try:
                data = models[event.type].model_validate(event.data)
            except ValidationError:
                continue  # poison: dead-lettered by the live consumer, not counted there either
            part.append(Item(event, data, (f"{r.topic}/{r.partition}", r.offset)))
        decoded.append(part)
    return list(heapq.merge(*decoded, key=lambda i: i.event.time))


async def rebuild(settings: Settings, prefix: str) -> OperationsStore:
    client = connect(settings.mongodb_uri)
    persistence = Persistence.of(client[settings.database_name])
    await persistence.profile.detect(persistence.db)
    store = OperationsStore(persistence, prefix=prefix)
    dispatcher = projections.dispatcher(store)
    topics = [t.name for t in projections.TOPICS_CONSUMED]
    items = _items(await _records(settings.kafka, topics), dispatcher.models)
    for start in range(0, len(items), _CHUNK):
        await dispatcher.handle(items[start : start + _CHUNK])
    return store


async def compare(live: OperationsStore, rebuilt: OperationsStore, projection: str) -> list[str]:
    """What differs between the live answers and the rebuilt ones (empty: the same)."""
    differences = []
    if projection in ("clients", "all"):
        a = {
            c.client_id: (c.stage, c.journey(), c.partnership) for c in await live.clients_of(None)
        }
        b = {
            c.client_id: (c.stage, c.journey(), c.partnership)
            for c in await rebuilt.clients_of(None)
        }
        if a != b:
            differing = sum(1 for k in set(a) | set(b) if a.get(k) != b.get(k))
            differences.append(f"clients: {differing} differ")
    if projection in ("counters", "all"):
        partnerships = {c.partnership or "unassigned" for c in await live.clients_of(None)}
        partnerships |= {"unassigned"}
        for measure in kpis.COUNTED:
            for by in ("month", "ward", "priority_group", "provider", "sector"):
                a2 = kpis.add_up(await live.reader.days(measure, partnerships), by)
                b2 = kpis.add_up(await rebuilt.reader.days(measure, partnerships), by)
                if a2 != b2:
                    differences.append(f"{measure} by {by}: live {a2} rebuilt {b2}")
    return differences


async def main(projection: str = "all") -> int:
    if projection not in ("clients", "vacancies", "counters", "all"):
        print("projection: clients, vacancies, counters or all", file=sys.stderr)
        return 2
    settings = Settings()
    prefix = f"rebuild_{int(time.time())}_"
    rebuilt = await rebuild(settings, prefix)
    live = OperationsStore(rebuilt.persistence)
    differences = await compare(live, rebuilt, projection)
    names = ", ".join(prefix + n for n in OperationsStore.PROJECTIONS)
    print(f"rebuilt from offset 0 into {names}")
    for d in differences:
        print("differs:", d)
    print("same answers as the live read models" if not differences else "answers differ")
    return 0 if not differences else 1


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main(*sys.argv[1:2])))
