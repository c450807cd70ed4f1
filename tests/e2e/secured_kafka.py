"""A Kafka broker secured as a deployment runs one: SASL/SCRAM-SHA-512 over TLS only, the
standard authorizer with nothing allowed that no ACL allows, a SCRAM user per service and the
JCP feed, and the ACLs of `deploy/k8s/users.yaml` (what Strimzi's User Operator would apply).

Started from the jars `deploy/local/infra.py` fetched (the tests' own infrastructure is up
first), on free loopback ports, in a directory of its own, with a certificate authority and a
broker certificate made here. The controller listener stays plaintext on loopback, as the
single process is its own controller.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import secrets
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from aiokafka.protocol.admin import CreateAclsRequest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from deploy.local import infra
from runtime.kafka_connection import KafkaConnection
from tests.e2e.conftest import free_port

ADMIN = "admin"
MECHANISM = "SCRAM-SHA-512"

# Kafka's wire codes for ACLs (org.apache.kafka.common.acl / resource).
RESOURCE_TYPE = {"topic": 2, "group": 3, "cluster": 4}
PATTERN_TYPE = {"literal": 3, "prefix": 4}
OPERATION = {"All": 2, "Read": 3, "Write": 4, "Create": 5, "Describe": 8}
ALLOW = 3


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def make_certificates(directory: Path) -> tuple[Path, Path]:
    """A CA (its certificate: what clients trust) and the broker's key and certificate for
    127.0.0.1 and localhost, signed by it, in one PEM file (Kafka's PEM key store)."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "brokerage test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    broker = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    cafile = directory / "ca.pem"
    cafile.write_bytes(_pem(ca))
    keystore = directory / "broker.pem"
    keystore.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        + _pem(broker)
        + _pem(ca)
    )
    keystore.chmod(0o600)
    return cafile, keystore


PROPERTIES = """\
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:{controller_port}
controller.listener.names=CONTROLLER
listeners=SASL_SSL://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}
advertised.listeners=SASL_SSL://127.0.0.1:{port}
listener.security.protocol.map=CONTROLLER:PLAINTEXT,SASL_SSL:SASL_SSL
inter.broker.listener.name=SASL_SSL
sasl.enabled.mechanisms={mechanism}
sasl.mechanism.inter.broker.protocol={mechanism}
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=\
org.apache.kafka.common.security.scram.ScramLoginModule required \
username="{admin}" password="{admin_password}";
ssl.keystore.type=PEM
ssl.keystore.location={keystore}
# The broker is a client of itself (inter-broker listener): it trusts the same CA.
ssl.truststore.type=PEM
ssl.truststore.location={cafile}
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
allow.everyone.if.no.acl.found=false
# The admin, and the controller listener (plaintext, loopback only: the principal ANONYMOUS).
super.users=User:{admin};User:ANONYMOUS
log.dirs={data}
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
share.coordinator.state.topic.num.partitions=1
group.initial.rebalance.delay.ms=0
"""


@dataclass
class SecuredKafka:
    directory: Path
    users: list[str]
    port: int = field(default_factory=free_port)
    controller_port: int = field(default_factory=free_port)
    passwords: dict[str, str] = field(default_factory=dict)
    cafile: Path | None = None
    process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def connection(self, user: str, password: str | None = None) -> KafkaConnection:
        return KafkaConnection(
            self.bootstrap,
            security_protocol="SASL_SSL",
            sasl_mechanism=MECHANISM,
            sasl_username=user,
            sasl_password=password or self.passwords[user],
            ssl_cafile=self.cafile,
        )

    def env(self, user: str) -> dict[str, str]:
        """A service's settings to connect as `user`, as deploy/k8s/services.yaml sets them."""
        return {
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
            "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            "KAFKA_SASL_MECHANISM": MECHANISM,
            "KAFKA_SASL_USERNAME": user,
            "KAFKA_SASL_PASSWORD": self.passwords[user],
            "KAFKA_SSL_CAFILE": str(self.cafile),
        }

    def start(self) -> None:
        # The tests' jars (their cache), with this broker's own directory for data and logs.
        local = infra.Config.from_env()
        cfg = infra.Config(
            self.directory, local.cache_dir, self.port, self.controller_port, local.mongo_port
        )
        java = infra.java_cmd()
        if java is None or not cfg.kafka_libs.is_dir():
            raise RuntimeError("no java, or no Kafka jars fetched by deploy/local/infra.py up")
        self.passwords = {u: secrets.token_urlsafe(18) for u in [ADMIN, *self.users]}
        self.cafile, keystore = make_certificates(self.directory)
        data = self.directory / "data"
        properties = self.directory / "server.properties"
        properties.write_text(
            PROPERTIES.format(
                port=self.port,
                controller_port=self.controller_port,
                mechanism=MECHANISM,
                admin=ADMIN,
                admin_password=self.passwords[ADMIN],
                keystore=keystore,
                cafile=self.cafile,
                data=data,
            )
        )
        cfg.kafka_logs.mkdir(parents=True)
        scram = [
            arg
            for user, password in self.passwords.items()
            for arg in ("--add-scram", f"{MECHANISM}=[name={user},password={password}]")
        ]
        subprocess.run(
            infra.kafka_java(
                cfg,
                java,
                "kafka.tools.StorageTool",
                "format",
                "-t",
                infra.kafka_cluster_id(),
                "-c",
                str(properties),
                *scram,
            ),
            check=True,
            capture_output=True,
        )
        with open(cfg.kafka_logs / "kafka.out", "ab") as out:
            self.process = subprocess.Popen(
                infra.kafka_java(cfg, java, "kafka.Kafka", str(properties)),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def log_tail(self, lines: int = 30) -> str:
        path = self.directory / "kafka" / "logs" / "server.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    async def admin(self) -> AIOKafkaAdminClient:
        client = AIOKafkaAdminClient(**self.connection(ADMIN).options(), client_id="tests-admin")
        await client.start()
        return client

    async def ready(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"the secured broker exited:\n{self.log_tail()}")
            try:
                client = await self.admin()
                try:
                    await client.list_topics()
                    return
                finally:
                    await client.close()
            except (KafkaError, OSError):
                if time.monotonic() > deadline:
                    tail = self.log_tail()
                    raise TimeoutError(f"the secured broker is not ready:\n{tail}") from None
                await asyncio.sleep(0.5)

    async def apply_acls(self, kafka_users: list[dict[str, Any]]) -> int:
        """The ACLs of Strimzi `KafkaUser` resources, created as its User Operator would (one
        CreateAcls request each: aiokafka's admin client has no call for it, so its request
        goes through the client's own send). How many were created."""
        client = await self.admin()
        created = 0
        try:
            for user in kafka_users:
                principal = f"User:{user['metadata']['name']}"
                for acl in user["spec"]["authorization"]["acls"]:
                    resource = acl["resource"]
                    for operation in acl["operations"]:
                        request = CreateAclsRequest(
                            RESOURCE_TYPE[resource["type"]],
                            resource["name"],
                            PATTERN_TYPE[resource.get("patternType", "literal")],
                            principal,
                            acl.get("host", "*"),
                            OPERATION[operation],
                            ALLOW,
                        )
                        response = await client._send_request(request)
                        (error_code, message) = response.creation_responses[0]
                        if error_code:
                            raise RuntimeError(f"CreateAcls {principal}: {error_code} {message}")
                        created += 1
        finally:
            await client.close()
        return created
