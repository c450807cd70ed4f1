"""The deployment files agree with the code: compose, dev tokens, topics."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from runtime.supervisor import SERVICES
from schemas.topics import TOPICS

REPO = Path(__file__).resolve().parents[2]


def test_compose_runs_each_service_from_one_image_on_its_contract_port() -> None:
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    services = compose["services"]
    for name, port in SERVICES.items():
        svc = services[name]
        assert svc["environment"]["SERVICE"] == name
        assert svc["environment"]["HTTP_PORT"] == str(port)
        assert svc["ports"] == [f"127.0.0.1:{port}:{port}"]
        assert svc["depends_on"]["topics"]["condition"] == "service_completed_successfully"
        assert svc["image"] == services["topics"]["image"]
    assert services["topics"]["command"][:3] == ["python", "-m", "runtime.topic_admin"]
    kafka_env = services["kafka"]["environment"]
    assert kafka_env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    assert services["kafka"]["image"].startswith("apache/kafka:4.1")


def test_dev_tokens_cover_every_role_and_the_contracts_organisations() -> None:
    tokens = json.loads((REPO / "deploy" / "local" / "dev-tokens.json").read_text())
    holders = {(t["org_id"], t["role"]) for t in tokens.values()}
    assert {("P-01", "provider"), ("P-02", "provider"), ("EB-01", "employer_brokerage")} <= holders
    assert {"jcp", "operations"} <= {role for _, role in holders}
    by_token = {
        token: (t["org_id"], t["role"], t.get("partnership")) for token, t in tokens.items()
    }
    assert by_token["dev-jcp-bcbc-token"] == ("JCP-BCBC", "jcp", "bcbc")
    assert by_token["dev-operations-bcbc-token"] == ("OPS-BCBC", "operations", "bcbc")
    assert by_token["dev-provider-p03-token"] == ("P-03", "provider", "bcbc")
    assert by_token["dev-operations-national-token"] == ("OPS-NATIONAL", "operations", "*")
    assert all(t.get("partnership") for t in tokens.values()), "every token has a partnership"


def test_every_topic_has_explicit_partitions_and_a_dlq_twin() -> None:
    for topic in TOPICS:
        assert topic.partitions >= 1
        assert topic.dlq == f"{topic.name}.dlq"
        assert topic.name.endswith(".v1")


def test_the_image_ships_no_dev_tokens_and_requires_the_keys_from_the_environment() -> None:
    dockerfile = (REPO / "Dockerfile").read_text()
    copies = [line for line in dockerfile.splitlines() if line.startswith("COPY")]
    assert not any("dev-tokens" in line for line in copies)
    assert "TOKENS_FILE=/nonexistent/" in dockerfile  # no static tokens: JWTs only
    assert "${CLIENT_ID_KEY:?" in dockerfile
    assert "${WEBHOOK_SECRET_KEY:?" in dockerfile


def test_compose_mounts_the_dev_tokens_and_authenticates_to_mongodb() -> None:
    services = yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"]
    assert "MONGO_INITDB_ROOT_PASSWORD" in services["mongo"]["environment"]
    for name in SERVICES:
        env = services[name]["environment"]
        assert "@mongo:27017" in env["MONGODB_URI"]
        assert any(v.endswith(f":{env['TOKENS_FILE']}:ro") for v in services[name]["volumes"])
        assert env["CLIENT_ID_KEY"] and env["WEBHOOK_SECRET_KEY"]
