"""How the Kafka clients connect: plaintext locally, SASL/SCRAM over TLS in a deployment, and
the password never in a repr or an error."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from runtime.kafka_connection import KafkaConnection, KafkaSettings, kafka_from_env
from runtime.settings import ServiceSettings

SECRET = "s3cr3t-not-to-be-seen"


def test_locally_a_client_connects_in_plaintext() -> None:
    assert KafkaConnection("127.0.0.1:9092").options() == {
        "bootstrap_servers": "127.0.0.1:9092",
        "security_protocol": "PLAINTEXT",
    }


def test_a_deployment_connects_as_its_user_over_tls(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "KAFKA_BOOTSTRAP_SERVERS": "brokerage-kafka-bootstrap:9093",
        "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "KAFKA_SASL_USERNAME": "referrals",
        "KAFKA_SASL_PASSWORD": SECRET,
    }.items():
        monkeypatch.setenv(name, value)
    options = ServiceSettings(service_name="referrals").kafka.options()
    context = options.pop("ssl_context")
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert options == {
        "bootstrap_servers": "brokerage-kafka-bootstrap:9093",
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "referrals",
        "sasl_plain_password": SECRET,
    }


def test_sasl_without_its_user_or_password_is_refused_naming_the_settings_only() -> None:
    settings = KafkaSettings(kafka_security_protocol="SASL_SSL", kafka_sasl_password=SECRET)
    with pytest.raises(ValueError, match="KAFKA_SASL_USERNAME") as refused:
        settings.kafka  # noqa: B018
    assert SECRET not in str(refused.value)


def test_the_password_is_in_no_repr() -> None:
    settings = KafkaSettings(
        kafka_security_protocol="SASL_PLAINTEXT",
        kafka_sasl_username="referrals",
        kafka_sasl_password=SECRET,
    )
    assert SECRET not in repr(settings) and SECRET not in repr(settings.kafka)


def test_a_ca_file_that_is_not_there_fails_at_start(tmp_path: Path) -> None:
    connection = KafkaConnection("b:9093", security_protocol="SSL", ssl_cafile=tmp_path / "no.pem")
    with pytest.raises(FileNotFoundError):
        connection.options()


def test_a_tool_given_brokers_keeps_the_rest_of_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT")
    monkeypatch.setenv("KAFKA_SASL_USERNAME", "jcp-feed")
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", SECRET)
    given = kafka_from_env("broker:9093")
    assert given.bootstrap_servers == "broker:9093" and given.sasl_username == "jcp-feed"
    assert kafka_from_env().bootstrap_servers == "127.0.0.1:9092"
