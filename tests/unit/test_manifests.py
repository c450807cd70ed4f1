"""The Kubernetes manifests agree with the code: topics and their dead-letter twins from
`schemas/topics.py`, Kafka users whose ACLs are what each service reads and writes, TLS with
SASL/SCRAM for Kafka, authentication for MongoDB, and secrets only from Secrets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from deploy.k8s import generate
from runtime.supervisor import SERVICES
from schemas.topics import JCP_CLAIMANT_EVENTS, TOPICS
from services import topics_of

K8S = Path(generate.__file__).resolve().parent


def _docs(name: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((K8S / name).read_text()) if d]


def _acls(user: dict[str, Any]) -> dict[str, set[str]]:
    """operation -> topic names the user's ACLs allow it on."""
    found: dict[str, set[str]] = {}
    for acl in user["spec"]["authorization"]["acls"]:
        if acl["resource"]["type"] == "topic":
            for op in acl["operations"]:
                found.setdefault(op, set()).add(acl["resource"]["name"])
    return found


def test_the_generated_manifests_are_committed_as_generated() -> None:
    for name, text in generate.rendered().items():
        assert (K8S / name).read_text() == text, f"run `python -m deploy.k8s.generate` ({name})"


def test_a_topic_and_its_dead_letter_twin_for_every_topic_of_the_registry() -> None:
    topics = {d["spec"]["topicName"]: d["spec"] for d in _docs("topics.yaml")}
    expected = {t.name: t.partitions for t in TOPICS} | {t.dlq: t.partitions for t in TOPICS}
    assert {name: spec["partitions"] for name, spec in topics.items()} == expected
    assert all(spec["config"]["min.insync.replicas"] >= 2 for spec in topics.values())


def test_each_service_reads_what_it_consumes_and_writes_what_it_publishes() -> None:
    users = {d["metadata"]["name"]: d for d in _docs("users.yaml")}
    assert set(users) == {*SERVICES, "jcp-feed"}
    for service in SERVICES:
        consumed, published = topics_of(service)
        assert consumed and published, service
        acls = _acls(users[service])
        reads, writes = acls.get("Read", set()), acls.get("Write", set())
        assert {t.name for t in consumed} <= reads
        assert {t.name for t in published} | {t.dlq for t in consumed} <= writes
        if service != "operations":  # exactly these; operations' tools reach every topic
            assert reads == {t.name for t in consumed}
            assert writes == {t.name for t in published} | {t.dlq for t in consumed}
        assert users[service]["spec"]["authentication"]["type"] == "scram-sha-512"
    # Each topic is written by the service the registry names, and by no other but the redrive.
    for topic in TOPICS:
        writers = {n for n, u in users.items() if topic.name in _acls(u).get("Write", set())}
        owner = "jcp-feed" if topic is JCP_CLAIMANT_EVENTS else topic.written_by
        assert owner in writers and writers <= {owner, "operations"}, topic.name
    assert _acls(users["jcp-feed"]) == {
        "Write": {JCP_CLAIMANT_EVENTS.name},
        "Describe": {JCP_CLAIMANT_EVENTS.name},
    }


def test_kafka_takes_only_tls_with_scram_and_authorises_by_acl() -> None:
    kafka = next(d for d in _docs("kafka.yaml") if d["kind"] == "Kafka")["spec"]["kafka"]
    for listener in kafka["listeners"]:
        assert listener["tls"] is True
        assert listener["authentication"]["type"] == "scram-sha-512"
    assert kafka["authorization"]["type"] == "simple"
    assert kafka["config"]["auto.create.topics.enable"] is False
    assert kafka["config"]["allow.everyone.if.no.acl.found"] is False


def test_mongodb_requires_authentication() -> None:
    mongo = next(d for d in _docs("mongodb.yaml") if d["kind"] == "StatefulSet")
    container = mongo["spec"]["template"]["spec"]["containers"][0]
    assert "--auth" in container["args"]
    assert all("valueFrom" in e for e in container["env"]), "credentials from Secrets only"


def test_services_take_secrets_from_secrets_and_never_the_dev_tokens() -> None:
    deployments = [d for d in _docs("services.yaml") if d["kind"] == "Deployment"]
    assert {d["metadata"]["name"] for d in deployments} == set(SERVICES)
    for d in deployments:
        container = d["spec"]["template"]["spec"]["containers"][0]
        env = {e["name"]: e for e in container["env"]}
        assert "TOKENS_FILE" not in env
        assert env["KAFKA_SECURITY_PROTOCOL"]["value"] == "SASL_SSL"
        for name, entry in env.items():
            if any(s in name for s in ("KEY", "PASSWORD", "MONGODB_URI", "JWT")):
                assert "secretKeyRef" in entry.get("valueFrom", {}), name
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
    env_of = {
        d["metadata"]["name"]: {
            e["name"] for e in d["spec"]["template"]["spec"]["containers"][0]["env"]
        }
        for d in deployments
    }
    assert "CLIENT_ID_KEY" in env_of["referrals"]
    assert "WEBHOOK_SECRET_KEY" in env_of["notifications"]
