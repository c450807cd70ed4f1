"""How every Kafka client of the platform connects: the brokers' addresses and, in a deployment,
SASL/SCRAM over TLS as the service's own Kafka user.

One definition, so the producer, the consumer group, the topic bootstrap and the operations
service's own readers (lag, tail, dead letters, rebuild) cannot connect differently. Locally
everything is `PLAINTEXT` on loopback; the Kubernetes manifests (`deploy/k8s/`) set
`KAFKA_SECURITY_PROTOCOL=SASL_SSL`, `KAFKA_SASL_MECHANISM=SCRAM-SHA-512`, the user and its
password, and `KAFKA_SSL_CAFILE` (the cluster's CA), which `KafkaSettings` reads.

The password is a `SecretStr` in settings and never part of a repr, a log line or an error.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from aiokafka.helpers import create_ssl_context
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"]


@dataclass(frozen=True)
class KafkaConnection:
    bootstrap_servers: str
    security_protocol: SecurityProtocol = "PLAINTEXT"
    sasl_mechanism: SaslMechanism = "SCRAM-SHA-512"
    sasl_username: str | None = None
    sasl_password: str | None = field(default=None, repr=False)
    ssl_cafile: Path | None = None

    def __post_init__(self) -> None:
        if self.uses_sasl and not (self.sasl_username and self.sasl_password):
            raise ValueError(
                f"KAFKA_SECURITY_PROTOCOL={self.security_protocol} needs KAFKA_SASL_USERNAME "
                "and KAFKA_SASL_PASSWORD"
            )

    @property
    def uses_sasl(self) -> bool:
        return self.security_protocol.startswith("SASL_")

    @property
    def uses_tls(self) -> bool:
        return self.security_protocol in ("SSL", "SASL_SSL")

    def security_options(self) -> dict[str, Any]:
        """What an aiokafka client needs besides the addresses (producer, consumer, admin)."""
        options: dict[str, Any] = {"security_protocol": self.security_protocol}
        if self.uses_tls:
            options["ssl_context"] = self.ssl_context()
        if self.uses_sasl:
            options.update(
                sasl_mechanism=self.sasl_mechanism,
                sasl_plain_username=self.sasl_username,
                sasl_plain_password=self.sasl_password,
            )
        return options

    def options(self) -> dict[str, Any]:
        return {"bootstrap_servers": self.bootstrap_servers, **self.security_options()}

    def ssl_context(self) -> ssl.SSLContext:
        """Verifies the brokers' certificates and host names against `ssl_cafile` (or, without
        one, the system's certificate authorities)."""
        return create_ssl_context(cafile=str(self.ssl_cafile) if self.ssl_cafile else None)


class KafkaSettings(BaseSettings):
    """The Kafka settings every service and tool reads from its environment (`KAFKA_*`)."""

    model_config = SettingsConfigDict(extra="ignore")

    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    kafka_security_protocol: SecurityProtocol = Field(
        default="PLAINTEXT", description="SASL_SSL in a deployment (deploy/k8s)."
    )
    kafka_sasl_mechanism: SaslMechanism = "SCRAM-SHA-512"
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_cafile: Path | None = Field(
        default=None, description="The brokers' certificate authority (PEM); else the system's."
    )

    @property
    def kafka(self) -> KafkaConnection:
        """The connection; a ValueError naming the missing setting (never a value) when SASL
        lacks its user or password. Checked here, not by a pydantic validator, whose error
        would print the raw input, password included."""
        password = self.kafka_sasl_password
        return KafkaConnection(
            bootstrap_servers=self.kafka_bootstrap_servers,
            security_protocol=self.kafka_security_protocol,
            sasl_mechanism=self.kafka_sasl_mechanism,
            sasl_username=self.kafka_sasl_username,
            sasl_password=password.get_secret_value() if password else None,
            ssl_cafile=self.kafka_ssl_cafile,
        )


def kafka_from_env(bootstrap_servers: str | None = None) -> KafkaConnection:
    """The connection the `KAFKA_*` environment describes, for a tool (topic bootstrap, CLI),
    its brokers' addresses replaced when the tool was given them."""
    settings = KafkaSettings()
    if bootstrap_servers:
        settings = settings.model_copy(update={"kafka_bootstrap_servers": bootstrap_servers})
    return settings.kafka
