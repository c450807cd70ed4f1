"""Fault tests: the platform under kill -9, against the real broker and store.

One deployment for the whole folder: all four services, two replicas each, under the
`runtime.supervisor.Supervisor` (which restarts what dies), with a fresh `MONGODB_DB_PREFIX`
and consumer groups of their own. Before the services start, those groups' offsets are set to
the end of every topic they consume, so they read only what this session publishes and a lag
of zero means "everything of this session handled".

Each scenario publishes `FAULT_EVENTS` (5,000) `jcp.claimant.registered` events under refs of
its own (`FLT-<batch>-<i>`), strikes while the referrals group has handled part of them, and
waits (up to `FAULT_CATCH_UP_SECONDS`) until every group has caught up and every effect is
there; then every effect must be there exactly once:
- one client per claimant ref in `<prefix>_referrals.clients`;
- one distinct event id of type `referrals.client.registered` per client on
  `referrals.events.v1` (the same id twice is at-least-once delivery; two ids would be a twin);
- nothing dead-lettered by the deployment's groups, and zero lag for each group.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import socket
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from aiokafka.structs import OffsetAndMetadata
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from brokerage_client import Platform
from runtime.kafka import CLOUDEVENTS_CONTENT_TYPE
from runtime.mongo import connect
from runtime.supervisor import (
    REPLICA_PORT_STEP,
    SERVICES,
    Backoff,
    ServiceProcess,
    Supervisor,
    start_services,
    wait_ready,
)
from schemas import jcp, referrals
from schemas.envelope import CloudEvent
from schemas.topics import (
    JCP_CLAIMANT_EVENTS,
    REFERRAL_EVENTS,
    TOPICS,
    Topic,
)
from services import topics_of
from tests.conftest import REPO, TEST_INFRA_DIR, TEST_INFRA_ENV, Infrastructure, _infra
from tests.e2e.conftest import claimant

FAULT_EVENTS = int(os.environ.get("FAULT_EVENTS", "5000"))
CATCH_UP_SECONDS = float(os.environ.get("FAULT_CATCH_UP_SECONDS", "300"))
REPLICAS = 2
TOKENS = REPO / "deploy" / "local" / "dev-tokens.json"

# What each service's consumer group reads (its app.py's `CONSUMES`).
CONSUMES: dict[str, tuple[Topic, ...]] = {s: topics_of(s)[0] for s in SERVICES}

Offsets = dict[TopicPartition, int]


def partitions(topic: Topic, *, dlq: bool = False) -> list[TopicPartition]:
    name = topic.dlq if dlq else topic.name
    return [TopicPartition(name, p) for p in range(topic.partitions)]


# --- the broker, seen from outside ------------------------------------------------------------


class Cluster:
    """Offsets, groups and topic contents, read without joining any group. Every call retries
    while the broker is away (a restart test kills it), for up to `patience` seconds."""

    def __init__(self, bootstrap: str, patience: float = 120.0) -> None:
        self.bootstrap = bootstrap
        self.patience = patience
        self.admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="faults-probe")
        self.consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, client_id="faults-probe")

    async def start(self) -> None:
        await self.admin.start()
        await self.consumer.start()

    async def close(self) -> None:
        await self.consumer.stop()
        await self.admin.close()

    async def _retry(self, call: Callable[[], Awaitable[Any]]) -> Any:
        deadline = time.monotonic() + self.patience
        while True:
            try:
                return await call()
            except (KafkaError, OSError):
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.5)

    async def ends(self, tps: Iterable[TopicPartition]) -> Offsets:
        tps = list(tps)
        return dict(await self._retry(lambda: self.consumer.end_offsets(tps)))

    async def committed(self, group: str) -> Offsets:
        offsets = await self._retry(lambda: self.admin.list_consumer_group_offsets(group))
        return {tp: om.offset for tp, om in offsets.items() if om.offset >= 0}

    async def members(self, group: str) -> int:
        described = await self._retry(lambda: self.admin.describe_consumer_groups([group]))
        return sum(
            len(g["members"]) for response in described for g in response.to_object()["groups"]
        )

    async def lag(self, group: str, topics: Iterable[Topic]) -> int:
        tps = [tp for t in topics for tp in partitions(t)]
        ends, committed = await asyncio.gather(self.ends(tps), self.committed(group))
        return sum(max(0, ends[tp] - committed.get(tp, 0)) for tp in tps)

    async def start_group_at_end(self, group: str, topics: Iterable[Topic]) -> None:
        """Commit the current end of these topics for `group`, before any member joins."""
        tps = [tp for t in topics for tp in partitions(t)]
        ends = await self.ends(tps)
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap, group_id=group, enable_auto_commit=False
        )
        await consumer.start()
        try:
            consumer.assign(tps)
            await consumer.commit({tp: OffsetAndMetadata(ends[tp], "") for tp in tps})
        finally:
            await consumer.stop()

    async def read(self, start: Offsets, end: Offsets) -> list[tuple[TopicPartition, Any]]:
        """The records between two offsets per partition: (partition, record)."""
        wanted = {tp: (start.get(tp, 0), end[tp]) for tp in end if end[tp] > start.get(tp, 0)}
        if not wanted:
            return []
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap,
            client_id="faults-reader",
            enable_auto_commit=False,
            isolation_level="read_committed",
            max_partition_fetch_bytes=8 * 1024 * 1024,
            fetch_max_bytes=16 * 1024 * 1024,
        )
        await self._retry(consumer.start)
        records: list[tuple[TopicPartition, Any]] = []
        try:
            consumer.assign(list(wanted))
            for tp, (first, _) in wanted.items():
                consumer.seek(tp, first)
            pending = set(wanted)
            deadline = time.monotonic() + self.patience
            while pending:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"could not read {sorted(map(str, pending))} to the end")
                batch = await consumer.getmany(timeout_ms=500, max_records=10_000)
                for tp, msgs in batch.items():
                    last = wanted[tp][1]
                    records += [(tp, m) for m in msgs if m.offset < last]
                    if msgs and msgs[-1].offset + 1 >= last:
                        pending.discard(tp)
        finally:
            await consumer.stop()
        return records


# --- the deployment ---------------------------------------------------------------------------


def _free_base_port() -> int:
    """A port that is free, and so is the one a second replica takes (port + 10)."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        with contextlib.suppress(OSError), socket.socket() as s:
            s.bind(("127.0.0.1", port + REPLICA_PORT_STEP))
            return port


@dataclass
class Batch:
    """One scenario's registrations: their refs, and where every topic stood before them."""

    name: str
    refs: list[str]
    records: list[tuple[bytes, bytes]]
    before: Offsets  # ends of every topic and DLQ before publishing
    jcp_end: Offsets = field(default_factory=dict)
    at_fault: int | None = None  # registrations the referrals group had committed then
    marks: list[tuple[str, float]] = field(default_factory=list)

    @property
    def prefix(self) -> str:
        return f"FLT-{self.name}-"

    def mark(self, what: str) -> None:
        """Note when a step of the scenario happened (printed by `timeline`)."""
        self.marks.append((what, time.monotonic()))

    def timeline(self) -> str:
        if not self.marks:
            return ""
        t0 = self.marks[0][1]
        steps = ", ".join(f"{what} {t - t0:.1f} s" for what, t in self.marks[1:])
        return f"{len(self.refs)} registrations: {steps}; fault at {self.at_fault} handled"


@dataclass
class Registrations:
    """What the platform made of a batch, and everything about it that is wrong."""

    clients: Counter[str]
    event_ids: dict[str, set[str]]
    event_client_ids: dict[str, set[str]]
    client_ids: dict[str, set[str]]
    copies: int  # registered events read, duplicates of one id included

    def missing(self, refs: Iterable[str]) -> list[str]:
        return [r for r in refs if not self.clients[r] or not self.event_ids.get(r)]

    def problems(self, refs: Sequence[str]) -> list[str]:
        out = []
        no_client = [r for r in refs if not self.clients[r]]
        two_clients = sorted(r for r, n in self.clients.items() if n > 1)
        no_event = [r for r in refs if not self.event_ids.get(r)]
        two_events = sorted(r for r, ids in self.event_ids.items() if len(ids) > 1)
        wrong_id = sorted(
            r
            for r, ids in self.event_client_ids.items()
            if self.client_ids.get(r) and ids != self.client_ids[r]
        )
        strangers = sorted(set(self.clients) - set(refs))
        for label, found in (
            ("refs without a client (lost)", no_client),
            ("refs with two or more clients (doubled)", two_clients),
            ("clients without a referrals.client.registered event (lost)", no_event),
            ("clients with two or more distinct registered event ids (doubled)", two_events),
            ("registered events naming another client id than the stored one", wrong_id),
            ("clients of refs never published", strangers),
        ):
            if found:
                out.append(f"{len(found)} {label}, e.g. {found[:5]}")
        return out


@dataclass
class Deployment:
    infra: Infrastructure
    run: str
    prefix: str
    groups: dict[str, str]  # service -> consumer group
    processes: list[ServiceProcess]
    supervisor: Supervisor
    reports: list[str]  # the supervisor's restart lines
    cluster: Cluster
    mongo: AsyncMongoClient
    http: httpx.AsyncClient
    platform: Platform
    producer: AIOKafkaProducer

    def replicas(self, service: str) -> list[ServiceProcess]:
        return [p for p in self.processes if p.service == service]

    def db(self, service: str) -> AsyncDatabase:
        return self.mongo[f"{self.prefix}_{service}"]

    # --- processes ---

    async def ready(self, processes: Iterable[ServiceProcess], timeout: float = 120.0) -> None:
        """Every process answers /readyz with 200 (a supervisor may restart them meanwhile)."""
        pending = list(processes)
        deadline = time.monotonic() + timeout
        while pending:
            for proc in list(pending):
                with contextlib.suppress(httpx.HTTPError):
                    if (await self.http.get(f"{proc.url}/readyz", timeout=2)).status_code == 200:
                        pending.remove(proc)
            if pending and time.monotonic() > deadline:
                names = ", ".join(p.name for p in pending)
                raise TimeoutError(f"not ready after {timeout:.0f} s: {names}\n{self.tails()}")
            await asyncio.sleep(0.3)

    def kill(self, proc: ServiceProcess) -> int:
        """kill -9 one replica; the restart count to wait beyond."""
        restarts = proc.restarts
        os.kill(proc.pid, signal.SIGKILL)
        return restarts

    async def restarted(self, proc: ServiceProcess, beyond: int, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while proc.restarts <= beyond:
            if time.monotonic() > deadline:
                raise TimeoutError(f"the supervisor did not restart {proc.name}")
            await asyncio.sleep(0.2)
        await self.ready([proc], timeout)

    def tails(self, names: Iterable[str] | None = None, lines: int = 15) -> str:
        wanted = set(names) if names is not None else None
        out = []
        for proc in self.processes:
            if wanted is not None and proc.name not in wanted:
                continue
            text = [
                line
                for line in proc.log_path.read_text(errors="replace").splitlines()
                if not any(noise in line for noise in _RECONNECT_NOISE)
            ][-lines:]
            out.append(f"--- {proc.name} ({proc.log_path}):\n" + "\n".join(text))
        return "\n".join(out)

    # --- the broker ---

    async def lags(self) -> dict[str, int]:
        values = await asyncio.gather(
            *(self.cluster.lag(self.groups[s], CONSUMES[s]) for s in SERVICES)
        )
        return dict(zip(SERVICES, values, strict=True))

    async def members(self) -> dict[str, int]:
        values = await asyncio.gather(*(self.cluster.members(self.groups[s]) for s in SERVICES))
        return dict(zip(SERVICES, values, strict=True))

    async def rejoined(self, timeout: float = 90.0) -> None:
        """Every group has all its replicas as members, and keeps them for a few seconds."""
        deadline = time.monotonic() + timeout
        stable_since: float | None = None
        while True:
            members = await self.members()
            now = time.monotonic()
            if all(n == REPLICAS for n in members.values()):
                stable_since = stable_since or now
                if now - stable_since >= 5.0:
                    return
            else:
                stable_since = None
            if now > deadline:
                raise AssertionError(
                    f"groups did not settle with {REPLICAS} members each in {timeout:.0f} s: "
                    f"{members}\n{self.tails()}"
                )
            await asyncio.sleep(0.5)

    async def quiet(self, timeout: float = CATCH_UP_SECONDS) -> None:
        """Before a scenario: every replica ready, in its group, and nothing left to consume."""
        await self.ready(self.processes, timeout)
        deadline = time.monotonic() + timeout
        while True:
            lags, members = await asyncio.gather(self.lags(), self.members())
            if not any(lags.values()) and all(n == REPLICAS for n in members.values()):
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"not quiet: lags {lags}, members {members}")
            await asyncio.sleep(0.5)

    def batch(self, n: int = FAULT_EVENTS) -> Batch:
        name = uuid.uuid4().hex[:8]
        refs = [f"FLT-{name}-{i}" for i in range(n)]
        records = [
            (ref.encode(), registration(ref, ward=WARDS[i % len(WARDS)]).to_bytes())
            for i, ref in enumerate(refs)
        ]
        return Batch(name, refs, records, before={})

    async def begin(self, batch: Batch) -> None:
        """Note where every watched topic stands: the batch's effects are counted from here.
        A scenario whose own work starts before publishing (the flows) begins before that work,
        so nothing it makes falls ahead of the count however long the broker takes to answer."""
        batch.before = await self.cluster.ends(WATCHED)

    async def publish(self, batch: Batch) -> None:
        """Send every record without awaiting each ack, then await them all."""
        if not batch.before:
            await self.begin(batch)
        batch.mark("publish")
        headers = [("content-type", CLOUDEVENTS_CONTENT_TYPE.encode())]
        futures = []
        for i, (key, value) in enumerate(batch.records):
            futures.append(
                await self.producer.send(
                    JCP_CLAIMANT_EVENTS.name, value=value, key=key, headers=headers
                )
            )
            if i % 500 == 499:
                await asyncio.sleep(0)
        ends: Offsets = {}
        for meta in await asyncio.gather(*futures):
            tp = TopicPartition(meta.topic, meta.partition)
            ends[tp] = max(ends.get(tp, 0), meta.offset + 1)
        batch.jcp_end = ends
        batch.mark("published")

    async def handled(self, batch: Batch) -> int:
        """How many of the batch's records the referrals group has committed."""
        committed = await self.cluster.committed(self.groups["referrals"])
        return sum(
            max(0, min(committed.get(tp, 0), end) - batch.before.get(tp, 0))
            for tp, end in batch.jcp_end.items()
        )

    async def when_handled(self, batch: Batch, share: float, timeout: float = 300.0) -> int:
        """Wait until the referrals group has committed `share` of the batch; that count."""
        target = max(1, int(len(batch.refs) * share))
        deadline = time.monotonic() + timeout
        while True:
            done = await self.handled(batch)
            if done >= target:
                return done
            if time.monotonic() > deadline:
                raise TimeoutError(f"referrals handled {done} of {len(batch.refs)} in {timeout} s")
            await asyncio.sleep(0.05)

    async def strike(
        self,
        batch: Batch,
        fault: Callable[[], Awaitable[None]],
        share: float = 0.3,
        when: Callable[[], Awaitable[object]] | None = None,
    ) -> None:
        """Publish the batch, and strike once the referrals group has handled `share` of it
        (mid-ingest: the rest is still to be consumed, relayed and committed), or once `when`
        returns (the batch is then load around other work, which `when` says is under way)."""
        await self.publish(batch)
        if when is None:
            await self.when_handled(batch, share)
        else:
            await when()
        batch.at_fault = await self.handled(batch)
        batch.mark("fault")
        await fault()
        batch.mark("fault over")
        if when is None:
            assert batch.at_fault < len(batch.refs), (
                f"the fault came after the whole batch was handled ({batch.at_fault}); "
                "nothing was mid-ingest"
            )

    # --- the effects ---

    async def registrations(self, batch: Batch) -> Registrations:
        clients: Counter[str] = Counter()
        client_ids: dict[str, set[str]] = defaultdict(set)
        async for doc in self.db("referrals")["clients"].find({}, {"claimant_ref": 1}):
            ref = doc.get("claimant_ref", "")
            if ref.startswith(batch.prefix):
                clients[ref] += 1
                client_ids[ref].add(doc["_id"])
        tps = partitions(REFERRAL_EVENTS)
        end = await self.cluster.ends(tps)
        event_ids: dict[str, set[str]] = defaultdict(set)
        event_client_ids: dict[str, set[str]] = defaultdict(set)
        copies = 0
        for _, record in await self.cluster.read({tp: batch.before[tp] for tp in tps}, end):
            event = json.loads(record.value)
            if event.get("type") != referrals.ClientRegistered.event_type:
                continue
            ref = event["data"]["claimant_ref"]
            if ref.startswith(batch.prefix):
                event_ids[ref].add(event["id"])
                event_client_ids[ref].add(event["data"]["client_id"])
                copies += 1
        return Registrations(clients, event_ids, event_client_ids, client_ids, copies)

    async def forget(self, batch: Batch) -> None:
        """Delete a verified batch's clients, so later scenarios do not pay for them: on
        FerretDB every update by `_id` and `version` (each write through the API) scans the
        whole collection. Nothing refers to these clients again."""
        pattern = "^" + re.escape(batch.prefix)
        await self.db("referrals")["clients"].delete_many({"claimant_ref": {"$regex": pattern}})

    async def dead_letters(self, batch: Batch) -> list[str]:
        """What this deployment's groups dead-lettered since the batch began."""
        dlq = [tp for tp in WATCHED if tp.topic.endswith(".dlq")]
        end = await self.cluster.ends(dlq)
        ours = {g.encode() for g in self.groups.values()}
        found = []
        for tp, record in await self.cluster.read({tp: batch.before[tp] for tp in dlq}, end):
            headers = dict(record.headers or ())
            if headers.get("x-dlq-consumer-group") in ours:
                found.append(
                    f"{tp.topic}: {headers.get('x-dlq-reason')!r} {headers.get('x-dlq-error')!r}"
                )
        return found

    async def settle(
        self,
        batch: Batch,
        also: Callable[[], Awaitable[list[str]]] | None = None,
        timeout: float = CATCH_UP_SECONDS,
    ) -> Registrations:
        """Wait until every group has caught up and every registration (and whatever `also`
        still misses) is there, then report what is wrong; fail if it never comes."""
        deadline = time.monotonic() + timeout
        lags: dict[str, int] = {}
        waiting = "the referrals group to handle the batch"
        while time.monotonic() < deadline:
            done = await self.handled(batch)
            if done < len(batch.refs):
                waiting = f"referrals: {done} of {len(batch.refs)} handled"
            elif any((lags := await self.lags()).values()):
                waiting = f"groups to catch up: {lags}"
            else:
                found = await self.registrations(batch)
                missing = found.missing(batch.refs)
                more = await also() if also else []
                if not missing and not more:
                    batch.mark("settled")
                    return found
                waiting = f"{len(missing)} registrations (e.g. {missing[:3]}); {more[:3]}"
                await asyncio.sleep(1.0)
            await asyncio.sleep(0.5)
        found = await self.registrations(batch)
        raise AssertionError(
            f"not settled after {timeout:.0f} s, still waiting for {waiting}; "
            f"problems: {found.problems(batch.refs)}; dead letters: "
            f"{(await self.dead_letters(batch))[:5]}\n{self.tails()}"
        )

    async def assert_exactly_once(self, batch: Batch, found: Registrations) -> None:
        problems = found.problems(batch.refs)
        dead = await self.dead_letters(batch)
        if dead:
            problems.append(f"{len(dead)} records dead-lettered, e.g. {dead[:3]}")
        lags = await self.lags()
        if any(lags.values()):
            problems.append(f"groups lag at the end: {lags}")
        assert not problems, "\n".join(problems) + "\n" + self.tails()


# aiokafka's lines while the broker is away: many a second, and they say nothing new.
_RECONNECT_NOISE = ("Unable connect to node", "Unable to update metadata", "Failed fetch messages")
WATCHED = [tp for t in TOPICS for dlq in (False, True) for tp in partitions(t, dlq=dlq)]
WARDS = ("Bewsey & Whitecross", "Blacon Lodge", "Stainsby Hill", "Aston", "Grosvenor")


def registration(ref: str, **overrides: Any) -> CloudEvent:
    data = claimant(ref, **overrides)
    jcp.ClaimantRegistered.model_validate(data)  # never publish poison by accident
    return CloudEvent.create(
        type=jcp.ClaimantRegistered.event_type,
        source="/jcp/claimant-feed",
        subject=ref,
        data=data,
    )


@pytest.fixture(scope="session")
async def deployment(
    infrastructure: Infrastructure, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Deployment]:
    run = uuid.uuid4().hex[:8]
    prefix = f"faults_{run}"
    groups = {name: f"{name}-faults-{run}" for name in SERVICES}
    cluster = Cluster(infrastructure.kafka_bootstrap_servers)
    await cluster.start()
    for name in SERVICES:
        await cluster.start_group_at_end(groups[name], CONSUMES[name])
    ports = {name: _free_base_port() for name in SERVICES}
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": infrastructure.kafka_bootstrap_servers,
        "MONGODB_URI": infrastructure.mongodb_uri,
        "MONGODB_DB_PREFIX": prefix,
        "TOKENS_FILE": str(TOKENS),
        "WEBHOOK_BACKOFF_SECONDS": "0.3",
        # A killed replica's unpublished outbox is found by a sweep: look every 2 s, not 10.
        "OUTBOX_SWEEP_SECONDS": "2",
    }
    per_service = {name: {"KAFKA_GROUP_ID": groups[name]} for name in SERVICES}
    log_dir = Path(tmp_path_factory.mktemp("fault-service-logs"))
    processes = start_services(
        log_dir,
        ports=ports,
        env=env,
        per_service_env=per_service,
        replicas=dict.fromkeys(SERVICES, REPLICAS),
    )
    reports: list[str] = []
    supervisor = Supervisor(
        processes, backoff=Backoff(initial=0.5, maximum=5.0), report=reports.append
    )
    mongo = connect(infrastructure.mongodb_uri)
    producer = AIOKafkaProducer(
        bootstrap_servers=infrastructure.kafka_bootstrap_servers,
        client_id="faults-jcp-feed",
        acks="all",
        enable_idempotence=True,
        linger_ms=10,
        max_batch_size=256 * 1024,
    )
    # Generous: on FerretDB an update by `_id` and `version` scans the collection, so a write
    # through the API slows down as the registrations of earlier scenarios pile up.
    async with httpx.AsyncClient(timeout=120) as http:
        urls = {p.service: p.url for p in processes if p.name == p.service}
        deployment = Deployment(
            infrastructure,
            run,
            prefix,
            groups,
            processes,
            supervisor,
            reports,
            cluster,
            mongo,
            http,
            Platform.with_dev_tokens(http, TOKENS, urls=urls),
            producer,
        )
        try:
            await asyncio.to_thread(wait_ready, processes, 180)
            supervisor.start()
            await producer.start()
            yield deployment
        finally:
            supervisor.stop()
            with contextlib.suppress(Exception):
                await producer.stop()
            for name in SERVICES:  # on a shared instance (CI's), leave nothing behind
                with contextlib.suppress(Exception):
                    await mongo.drop_database(f"{prefix}_{name}")
            await mongo.close()
            await cluster.close()
            for p in processes:
                if p.process.returncode not in (0, -15) or p.restarts:
                    print(f"--- {p.name}: {p.restarts} restarts, exited {p.process.returncode}")
            if reports:
                print("supervisor:", *reports, sep="\n  ")


# --- the infrastructure itself ------------------------------------------------------------------


# The settings (in tests/conftest.py's TEST_INFRA_ENV) naming each part's ports.
INFRA_PORTS = {
    "kafka": ("LOCAL_KAFKA_PORT", "LOCAL_KAFKA_CONTROLLER_PORT"),
    "ferretdb": ("LOCAL_MONGO_PORT",),
}


@dataclass(frozen=True)
class LocalInfra:
    """kill -9 and `infra.py up` for the tests' own local Kafka and FerretDB."""

    directory: Path

    def pid(self, part: str) -> int:
        return int((self.directory / part / f"{part}.pid").read_text().strip())

    def kill(self, part: str) -> None:
        """kill -9 `kafka` or `ferretdb`, and wait until it is gone and its ports are closed
        (a JVM's threads outlive its main thread's exit by a moment)."""
        pid = self.pid(part)
        os.kill(pid, signal.SIGKILL)
        ports = [int(TEST_INFRA_ENV[name]) for name in INFRA_PORTS[part]]
        deadline = time.monotonic() + 60
        while _alive(pid) or any(_listening(port) for port in ports):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{part} (pid {pid}) still there 60 s after kill -9")
            time.sleep(0.05)

    def up(self, attempts: int = 5) -> None:
        """Start again what is not running (infra.py waits until it answers)."""
        for attempt in range(1, attempts + 1):
            done = _infra("up", capture_output=True)
            if done.returncode == 0:
                return
            if attempt == attempts:
                raise AssertionError(f"infra.py up failed:\n{done.stdout}\n{done.stderr}")
            time.sleep(5.0)

    def restart(self, part: str) -> None:
        """kill -9 `part`, then `up`: whatever happens, it is started again."""
        try:
            self.kill(part)
        finally:
            self.up()


def _alive(pid: int) -> bool:
    """Any thread of it still running (a zombie main thread alone does not count)."""
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return len(tasks) > 1 or stat.rsplit(")", 1)[1].split()[0] != "Z"


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="session")
def local_infra(infrastructure: Infrastructure) -> LocalInfra:
    if infrastructure.origin != "local":
        pytest.skip(
            f"restarting the broker or the database needs the tests' own local instance "
            f"(deploy/local/infra.py); this session uses {infrastructure.origin}'s "
            "(KAFKA_BOOTSTRAP_SERVERS/MONGODB_URI set, or testcontainers)"
        )
    return LocalInfra(TEST_INFRA_DIR)
