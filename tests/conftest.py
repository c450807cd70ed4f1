"""Real infrastructure for integration and end-to-end tests.

Where it comes from, in this order:
1. `KAFKA_BOOTSTRAP_SERVERS` and `MONGODB_URI` from the environment (CI with services, compose);
2. the project's own local infrastructure (`deploy/local/infra.py`: Apache Kafka in KRaft mode
   from Maven Central jars and FerretDB built with Go), as an instance of its own: other ports
   and data in `.local/test` (emptied before each session, so every run starts from empty
   topics as CI does), sharing only the jars and binary with `make run`'s instance, which the
   tests therefore never pollute; started here and stopped afterwards;
3. testcontainers, where a Docker engine answers.
Whichever it is, every topic of the contract is created first, as production's bootstrap does.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer

from runtime.kafka_connection import KafkaConnection
from runtime.topic_admin import ensure_topics
from schemas.topics import JCP_CLAIMANT_EVENTS
from services import topics_of

# A test that hangs fails with where each asyncio task waits (see hang_report.py).
pytest_plugins = ["tests.hang_report"]

REPO = Path(__file__).resolve().parent.parent
INFRA = [sys.executable, str(REPO / "deploy" / "local" / "infra.py")]
TEST_INFRA_DIR = Path(os.environ.get("TEST_INFRA_DIR", REPO / ".local" / "test"))
TEST_INFRA_ENV = {
    "LOCAL_INFRA_DIR": str(TEST_INFRA_DIR),
    "LOCAL_INFRA_CACHE_DIR": str(REPO / ".local"),
    "LOCAL_KAFKA_PORT": os.environ.get("TEST_KAFKA_PORT", "19092"),
    "LOCAL_KAFKA_CONTROLLER_PORT": os.environ.get("TEST_KAFKA_CONTROLLER_PORT", "19093"),
    "LOCAL_MONGO_PORT": os.environ.get("TEST_MONGO_PORT", "27018"),
    # Never a Kafka or FerretDB this session did not start (and empty) itself.
    "LOCAL_INFRA_OWN_ONLY": "1",
}


@dataclass(frozen=True)
class Infrastructure:
    kafka_bootstrap_servers: str
    mongodb_uri: str
    origin: str


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark tests by folder, so `-m "not e2e"` and friends select what they say."""
    for item in items:
        for kind in ("integration", "e2e", "faults", "load"):
            if f"tests/{kind}/" in item.nodeid:
                item.add_marker(getattr(pytest.mark, kind))


def _infra(command: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*INFRA, command], env={**os.environ, **TEST_INFRA_ENV}, text=True, check=False, **kwargs
    )  # type: ignore[call-overload]


def _local_addresses() -> tuple[str, str]:
    """What `infra.py env` prints, so LOCAL_KAFKA_PORT / LOCAL_MONGO_PORT are honoured."""
    out = _infra("env", capture_output=True).stdout
    env = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    return env["KAFKA_BOOTSTRAP_SERVERS"], env["MONGODB_URI"]


def _docker_answers() -> bool:
    if not shutil.which("docker"):
        return False
    probe = subprocess.run(["docker", "info"], capture_output=True, check=False, timeout=20)
    return probe.returncode == 0


async def _prepare(bootstrap: str) -> None:
    """Every topic of the contract, and a group coordinator that answers.

    A fresh broker creates `__consumer_offsets` on the first group that asks for it; until
    then groups get "coordinator not available" for several seconds, which a first test with
    a short deadline would otherwise pay for.
    """
    await ensure_topics(KafkaConnection(bootstrap))
    consumer = AIOKafkaConsumer(
        JCP_CLAIMANT_EVENTS.name,
        bootstrap_servers=bootstrap,
        group_id="tests-warm-up",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        deadline = time.monotonic() + 60
        while not consumer.assignment() and time.monotonic() < deadline:
            await consumer.getmany(timeout_ms=500)
    finally:
        await consumer.stop()


@pytest.fixture(scope="session")
def infrastructure() -> Iterator[Infrastructure]:
    kafka, mongo = os.environ.get("KAFKA_BOOTSTRAP_SERVERS"), os.environ.get("MONGODB_URI")
    if kafka and mongo:
        infra = Infrastructure(kafka, mongo, "environment")
        asyncio.run(_prepare(infra.kafka_bootstrap_servers))
        yield infra
        return

    if os.environ.get("LOCAL_INFRA", "1") != "0":
        _infra("down", capture_output=True)  # a previous session that was killed
        for data in ("kafka/data", "ferretdb/data"):
            shutil.rmtree(TEST_INFRA_DIR / data, ignore_errors=True)
        if _infra("up").returncode == 0:
            infra = Infrastructure(*_local_addresses(), "local")
            asyncio.run(_prepare(infra.kafka_bootstrap_servers))
            try:
                yield infra
            finally:
                _infra("down")
            return
        if not _docker_answers():
            pytest.fail(
                "the local infrastructure did not start (see its message above) and "
                "no Docker engine answers for testcontainers"
            )

    from testcontainers.kafka import KafkaContainer
    from testcontainers.mongodb import MongoDbContainer

    with KafkaContainer().with_kraft() as kafka_c, MongoDbContainer("mongo:7") as mongo_c:
        infra = Infrastructure(
            kafka_c.get_bootstrap_server(), mongo_c.get_connection_url(), "testcontainers"
        )
        asyncio.run(_prepare(infra.kafka_bootstrap_servers))
        yield infra


# --- Consumer groups of a test's own services --------------------------------------------------


def consumed_topics(service: str) -> set[str]:
    """What the service's consumer group reads (its app.py's `CONSUMES`): services also read
    their own topic, where they react to their own events (deadlines, places, sustainment)."""
    consumed, _ = topics_of(service)
    return {t.name for t in consumed}


def start_groups_at_end(bootstrap: str, groups: dict[str, str]) -> None:
    """Commit the current end of what each service consumes for its (new) group, before it
    starts: a test's own services then begin where the topics end now, instead of working
    through every earlier test's events first (a new group in production starts at the
    beginning, which is right there and slow here). `groups` maps service to group id."""

    async def commit_ends() -> None:
        from aiokafka import TopicPartition
        from aiokafka.structs import OffsetAndMetadata

        from schemas.topics import TOPICS

        partitions = {t.name: t.partitions for t in TOPICS}
        probe = AIOKafkaConsumer(bootstrap_servers=bootstrap)
        await probe.start()
        try:
            everything = [
                TopicPartition(n, p) for n, count in partitions.items() for p in range(count)
            ]
            ends = await probe.end_offsets(everything)
        finally:
            await probe.stop()
        for service, group in groups.items():
            tps = [tp for tp in everything if tp.topic in consumed_topics(service)]
            consumer = AIOKafkaConsumer(
                bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False
            )
            await consumer.start()
            try:
                consumer.assign(tps)
                await consumer.commit({tp: OffsetAndMetadata(ends[tp], "") for tp in tps})
            finally:
                await consumer.stop()

    # In a thread of its own: a fixture may run while the session's event loop is set.
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, commit_ends()).result()
