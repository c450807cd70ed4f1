"""Writes the Kubernetes manifests of `deploy/k8s/` from the code, so they cannot drift from it.

`python -m deploy.k8s.generate` rewrites `topics.yaml` (a Strimzi `KafkaTopic` per topic of
`schemas/topics.py` and its `.dlq` twin), `users.yaml` (a `KafkaUser` per service with ACLs for
exactly what it reads and writes, and one for the JCP feed outside) and `services.yaml` (a
Deployment and a Service per service, every secret from a Kubernetes Secret).

What a service reads and writes is what its composition root, `services/<name>/app.py`,
declares: `CONSUMES` (read, and their `.dlq` twins written) and `PUBLISHES` (written). The
operations service's tools add what they touch directly: every topic and dead-letter topic read
(tail, dead letters, rebuild), every topic written (redrive) and every consumer group described
(lag). `tests/unit/test_manifests.py` checks the
committed files equal this output.

The other manifests (`kafka.yaml`, `mongodb.yaml`) are written by hand.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from runtime.supervisor import SERVICES
from schemas.topics import JCP_CLAIMANT_EVENTS, TOPICS
from services import topics_of

HERE = Path(__file__).resolve().parent
CLUSTER = "brokerage"
NAMESPACE = "brokerage"
REPLICAS = 3  # brokers; each topic keeps min.insync.replicas=2 so acks=all survives one loss


def access(service: str) -> dict[str, set[str]]:
    """Topic names the service reads and writes, and the groups it describes."""
    consumed, published = topics_of(service)
    reads = {t.name for t in consumed}
    writes = {t.name for t in published} | {t.dlq for t in consumed}
    groups = set()
    if service == "operations":  # its tools: tail, dead letters, rebuild, redrive, lag
        reads |= {t.name for t in TOPICS} | {t.dlq for t in TOPICS}
        writes |= {t.name for t in TOPICS}
        groups.add("*")
    return {"read": reads, "write": writes, "describe_groups": groups}


def _topic(name: str, partitions: int, source: str) -> dict[str, Any]:
    return {
        "apiVersion": "kafka.strimzi.io/v1beta2",
        "kind": "KafkaTopic",
        "metadata": {
            "name": name.replace(".", "-").replace("_", "-"),
            "namespace": NAMESPACE,
            "labels": {"strimzi.io/cluster": CLUSTER},
            "annotations": {"brokerage/source": source},
        },
        "spec": {
            "topicName": name,
            "partitions": partitions,
            "replicas": REPLICAS,
            "config": {"min.insync.replicas": 2, "retention.ms": -1, "cleanup.policy": "delete"},
        },
    }


def topics() -> list[dict[str, Any]]:
    out = []
    for t in TOPICS:
        out.append(_topic(t.name, t.partitions, f"schemas/topics.py {t.name}"))
        out.append(_topic(t.dlq, t.partitions, f"schemas/topics.py {t.name} (dead letters)"))
    return out


def _acl(kind: str, name: str, operations: list[str], pattern: str = "literal") -> dict[str, Any]:
    return {
        "resource": {"type": kind, "name": name, "patternType": pattern},
        "operations": operations,
        "host": "*",
    }


def _user(name: str, acls: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": "kafka.strimzi.io/v1beta2",
        "kind": "KafkaUser",
        "metadata": {
            "name": name,
            "namespace": NAMESPACE,
            "labels": {"strimzi.io/cluster": CLUSTER},
        },
        "spec": {
            "authentication": {"type": "scram-sha-512"},  # password in Secret `<name>`
            "authorization": {"type": "simple", "acls": acls},
        },
    }


def users() -> list[dict[str, Any]]:
    out = []
    for service in SERVICES:
        a = access(service)
        acls = [_acl("topic", t, ["Read", "Describe"]) for t in sorted(a["read"])]
        acls += [_acl("topic", t, ["Write", "Describe"]) for t in sorted(a["write"])]
        # Its consumer group is named after it (KAFKA_GROUP_ID may add a suffix).
        acls.append(_acl("group", service, ["Read", "Describe"], "prefix"))
        acls += [_acl("group", g, ["Describe"]) for g in sorted(a["describe_groups"])]
        out.append(_user(service, acls))
    jcp = [_acl("topic", JCP_CLAIMANT_EVENTS.name, ["Write", "Describe"])]
    out.append(_user("jcp-feed", jcp))  # the JCP systems outside, writing claimant events
    return out


IMAGE = "ghcr.io/work-brokerage/work-brokerage:1"  # the Dockerfile's image; pin a digest

# Secrets each service needs beyond Kafka and MongoDB: (variable, Secret, key).
SERVICE_SECRETS = {
    "referrals": [("CLIENT_ID_KEY", "brokerage-keys", "client-id-key")],
    "notifications": [("WEBHOOK_SECRET_KEY", "brokerage-keys", "webhook-secret-key")],
}


# Settings each service reads from the ConfigMap `brokerage-config`: (variable, key). Notifications
# needs to know the operations organisations that a JWT-only deployment names nowhere else.
SERVICE_CONFIG = {
    "notifications": [("OPERATIONS_ORGANISATIONS", "operations-organisations")],
}


def _config(variable: str, key: str) -> dict[str, Any]:
    return {
        "name": variable,
        "valueFrom": {"configMapKeyRef": {"name": "brokerage-config", "key": key}},
    }


def _secret(variable: str, secret: str, key: str) -> dict[str, Any]:
    return {"name": variable, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}


def _env(service: str, port: int) -> list[dict[str, Any]]:
    plain = {
        "SERVICE": service,
        "HTTP_PORT": str(port),
        "LOG_FORMAT": "json",
        # TLS with the cluster's CA and SASL/SCRAM as the service's own KafkaUser.
        "KAFKA_BOOTSTRAP_SERVERS": f"{CLUSTER}-kafka-bootstrap:9093",
        "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "KAFKA_SASL_USERNAME": service,
        "KAFKA_SSL_CAFILE": "/etc/kafka-ca/ca.crt",
        # No TOKENS_FILE: signed JWTs only (runtime/jwt_tokens.py).
        "WEBHOOK_ALLOWED_HOSTS": "",
    }
    env = [{"name": k, "value": v} for k, v in plain.items()]
    env += [
        _secret("KAFKA_SASL_PASSWORD", service, "password"),  # written by the User Operator
        _secret("MONGODB_URI", "brokerage-mongodb-uris", service),
        _secret("JWT_JWKS_URL", "brokerage-jwt", "jwks-url"),
        _secret("JWT_ISSUER", "brokerage-jwt", "issuer"),
        _secret("JWT_AUDIENCE", "brokerage-jwt", "audience"),
    ]
    env += [_secret(*s) for s in SERVICE_SECRETS.get(service, [])]
    env += [_config(*c) for c in SERVICE_CONFIG.get(service, [])]
    return env


def _deployment(service: str, port: int) -> dict[str, Any]:
    probe = {"httpGet": {"path": "/readyz", "port": port}, "periodSeconds": 10}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": service, "namespace": NAMESPACE, "labels": {"app": service}},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": service}},
            "template": {
                "metadata": {"labels": {"app": service}},
                "spec": {
                    "automountServiceAccountToken": False,
                    "securityContext": {"runAsNonRoot": True, "runAsUser": 10001},
                    "terminationGracePeriodSeconds": 30,
                    "containers": [
                        {
                            "name": service,
                            "image": IMAGE,
                            "ports": [{"containerPort": port, "name": "http"}],
                            "env": _env(service, port),
                            "readinessProbe": probe,
                            "livenessProbe": {
                                **probe,
                                "httpGet": {"path": "/healthz", "port": port},
                            },
                            "securityContext": {
                                "allowPrivilegeEscalation": False,
                                "readOnlyRootFilesystem": True,
                                "capabilities": {"drop": ["ALL"]},
                            },
                            "volumeMounts": [
                                {
                                    "name": "kafka-ca",
                                    "mountPath": "/etc/kafka-ca",
                                    "readOnly": True,
                                },
                                {"name": "tmp", "mountPath": "/tmp"},
                            ],
                        }
                    ],
                    "volumes": [
                        {
                            "name": "kafka-ca",
                            "secret": {"secretName": f"{CLUSTER}-cluster-ca-cert"},
                        },
                        {"name": "tmp", "emptyDir": {}},
                    ],
                },
            },
        },
    }


def _service(service: str, port: int) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": service, "namespace": NAMESPACE},
        "spec": {"selector": {"app": service}, "ports": [{"name": "http", "port": port}]},
    }


def deployments() -> list[dict[str, Any]]:
    return [
        doc
        for service, port in SERVICES.items()
        for doc in (_deployment(service, port), _service(service, port))
    ]


def _dump(documents: list[dict[str, Any]], title: str) -> str:
    header = f"# {title}\n# Generated by `python -m deploy.k8s.generate`; do not edit by hand.\n"
    return header + yaml.safe_dump_all(documents, sort_keys=False, explicit_start=True)


def rendered() -> dict[str, str]:
    return {
        "topics.yaml": _dump(topics(), "Every topic of schemas/topics.py and its .dlq twin."),
        "users.yaml": _dump(users(), "A Kafka user per service, ACLs from services/*/app.py."),
        "services.yaml": _dump(
            deployments(),
            "A Deployment and a Service per service; secrets from Secrets: the KafkaUser's\n"
            "# (by the User Operator), brokerage-mongodb-uris (a key per service, each URI with\n"
            "# that service's user), brokerage-jwt (jwks-url, issuer, audience) and\n"
            "# brokerage-keys (client-id-key, webhook-secret-key); and from the ConfigMap\n"
            "# brokerage-config, operations-organisations (`<partnership>=<org>,...;*=<org>`).",
        ),
    }


def main() -> None:
    for name, text in rendered().items():
        (HERE / name).write_text(text)
        print(f"wrote deploy/k8s/{name}")


if __name__ == "__main__":
    main()
