"""The services on a Kafka secured as the Kubernetes manifests deploy it: SASL/SCRAM-SHA-512
over TLS, each service as its own Kafka user with the ACLs of `deploy/k8s/users.yaml` and
nothing else, configured by the same `KAFKA_*` settings the manifests set.

The referrals and operations services run as processes: a claimant published by the JCP feed
as its own user becomes a client (the referrals group reads, the relay writes, as `referrals`),
and operations reads every group's lag and the dead letters (as `operations`). What no ACL
allows is refused, and so are a wrong password, a plaintext client and a client that does not
trust the cluster's CA.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaConnectionError, TopicAuthorizationFailedError

from brokerage_client import JcpFeed
from brokerage_client.api import poll
from deploy.k8s.generate import users
from runtime.kafka import EventProducer, OutRecord
from runtime.kafka_connection import KafkaConnection
from runtime.supervisor import SERVICES
from runtime.topic_admin import ensure_topics
from schemas.topics import MATCH_EVENTS, REFERRAL_EVENTS
from tests.conftest import Infrastructure
from tests.e2e.conftest import OwnStack, claimant, own_services
from tests.e2e.secured_kafka import ADMIN, SecuredKafka

pytestmark = pytest.mark.e2e

JCP = {"Authorization": "Bearer dev-jcp-token"}
OPS = {"Authorization": "Bearer dev-operations-token"}
RUNNING = ("referrals", "operations")


@pytest.fixture(scope="module")
async def kafka(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[SecuredKafka]:
    # `infrastructure` (the tests' own Kafka and FerretDB) is up first: its jars start this one.
    broker = SecuredKafka(tmp_path_factory.mktemp("secured-kafka"), [*SERVICES, "jcp-feed"])
    broker.start()
    try:
        await broker.ready()
        await ensure_topics(broker.connection(ADMIN))
        assert await broker.apply_acls(users()) > 0
        yield broker
    finally:
        broker.stop()


@pytest.fixture(scope="module")
def stack(
    infrastructure: Infrastructure, kafka: SecuredKafka, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OwnStack]:
    with own_services(
        infrastructure,
        RUNNING,
        tmp_path_factory.mktemp("secured-logs"),
        name="secured",
        per_service_env={s: kafka.env(s) for s in RUNNING},
        groups_at_end=False,  # a broker of their own, empty: nothing to skip
    ) as started:
        yield started


async def test_services_work_as_their_own_kafka_users_with_the_manifests_acls(
    kafka: SecuredKafka, stack: OwnStack
) -> None:
    urls, groups = stack.urls, set(stack.groups.values())
    ref = f"CLM-{uuid.uuid4().hex[:10]}"
    jcp_feed = kafka.connection("jcp-feed")
    async with JcpFeed(jcp_feed.bootstrap_servers, **jcp_feed.security_options()) as feed:
        await feed.publish("jcp.claimant.registered", claimant(ref))
    async with httpx.AsyncClient(timeout=15) as http:

        async def registered() -> str | None:
            answer = await http.get(
                f"{urls['referrals']}/clients", params={"claimant_ref": ref}, headers=JCP
            )
            found = answer.json()
            return found[0]["client_id"] if found else None

        assert await poll(registered, timeout=60, what="the client")

        # Operations, as `operations`: every group's lag (its describe-any-group ACL), caught
        # up on the registration the referrals service published as `referrals`.
        async def caught_up() -> list[dict[str, object]] | None:
            rows = (await http.get(f"{urls['operations']}/streams/lag", headers=OPS)).json()
            ours = [r for r in rows if r["group"] in groups and r["topic"] == REFERRAL_EVENTS.name]
            seen = {r["group"] for r in ours}
            done = (
                seen == groups and any(r["end"] for r in ours) and not any(r["lag"] for r in ours)
            )
            return rows if done else None

        assert await poll(caught_up, timeout=60, what="both groups caught up")
        dead = await http.get(f"{urls['operations']}/dlq", headers=OPS)
        assert dead.status_code == 200 and dead.json() == []


async def test_what_no_acl_allows_is_refused(kafka: SecuredKafka) -> None:
    # The JCP feed writes claimant events and reads nothing.
    reader = AIOKafkaConsumer(
        REFERRAL_EVENTS.name,
        **kafka.connection("jcp-feed").options(),
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )

    async def read() -> None:  # refused at start, or at the first fetch
        await reader.start()
        await reader.getmany(timeout_ms=10_000)

    try:
        with pytest.raises(TopicAuthorizationFailedError):
            await read()
    finally:
        await reader.stop()
    # The referrals service writes its own topics, never matching's.
    producer = EventProducer(kafka.connection("referrals"), "referrals")
    await producer.start()
    try:
        record = [OutRecord(MATCH_EVENTS.name, b"{}", b"k", [])]
        (refused,) = await producer.send_many(record)
        assert isinstance(refused, TopicAuthorizationFailedError)
        own = [OutRecord(REFERRAL_EVENTS.name, b"{}", b"k", [])]
        assert await producer.send_many(own) == [None]
    finally:
        await producer.stop()


async def _bootstrap(connection: KafkaConnection) -> None:
    admin = AIOKafkaAdminClient(**connection.options(), request_timeout_ms=5_000)
    try:
        await admin.start()
        await admin.list_topics()
    finally:
        await admin.close()


@pytest.mark.parametrize("way", ["wrong password", "plaintext", "a CA it does not trust"])
async def test_a_client_without_the_right_credentials_or_tls_does_not_connect(
    kafka: SecuredKafka, way: str
) -> None:
    right = kafka.connection("referrals")
    await _bootstrap(right)  # the control: the same client with everything right connects
    wrong = {
        "wrong password": kafka.connection("referrals", "not-the-password"),
        "plaintext": KafkaConnection(kafka.bootstrap),
        "a CA it does not trust": KafkaConnection(
            kafka.bootstrap,
            security_protocol="SASL_SSL",
            sasl_username="referrals",
            sasl_password=kafka.passwords["referrals"],
        ),
    }[way]
    log = Path(kafka.directory) / "kafka" / "logs" / "server.log"
    failed_before = log.read_text(errors="replace").count("Failed authentication")
    with pytest.raises(KafkaConnectionError):
        await _bootstrap(wrong)
    if way == "wrong password":  # refused by the broker's SCRAM check, and it says so
        assert log.read_text(errors="replace").count("Failed authentication") > failed_before
