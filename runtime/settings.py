"""Service settings from the environment, with the contract's local defaults."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from runtime.kafka_connection import KafkaSettings

REPO_ROOT = Path(__file__).resolve().parent.parent


class ServiceSettings(KafkaSettings):
    """What every service reads from its environment.

    Shared names (`KAFKA_BOOTSTRAP_SERVERS` and the other `KAFKA_*` of `KafkaSettings`,
    `MONGODB_URI`) are unprefixed so one shell or one compose file configures every service;
    `HTTP_PORT` is per process.
    """

    model_config = SettingsConfigDict(extra="ignore")

    service_name: str = Field(default="", description="Set by each service; also its group id.")
    kafka_group_id: str = Field(
        default="", description="Consumer group; the service's name unless set (tests isolate)."
    )
    mongodb_uri: str = "mongodb://127.0.0.1:27017"
    mongodb_db_prefix: str = Field(
        default="brokerage", description="Each service owns the database `<prefix>_<service>`."
    )
    http_host: str = "127.0.0.1"
    http_port: int = 0
    tokens_file: Path = REPO_ROOT / "deploy" / "local" / "dev-tokens.json"
    partnerships_file: Path = REPO_ROOT / "deploy" / "local" / "partnerships.json"
    allow_clock_control: bool = Field(
        default=False,
        description="Serve POST /admin/clock so demonstrations and acceptance tests can move "
        "this service's clock forward (never in production).",
    )
    timer_poll_seconds: float = Field(
        default=1.0, gt=0, le=5, description="How often due timers are looked for."
    )
    log_level: str = "INFO"
    log_format: str = Field(default="json", pattern="^(json|console)$")
    outbox_sweep_seconds: float = Field(
        default=10.0, gt=0, description="How often the relay looks for events a crash left."
    )
    handler_max_attempts: int = Field(
        default=5, ge=1, description="Tries of a failing handler before its record goes to the DLQ."
    )
    batch_max_records: int = Field(
        default=500, ge=1, description="At most this many records of a partition per batch."
    )
    batch_max_bytes: int = Field(
        default=8 * 1024 * 1024, ge=1024 * 1024, description="At most this many bytes per fetch."
    )
    batch_max_wait_ms: int = Field(
        default=100, ge=0, description="How long the broker may wait to fill a batch."
    )
    outbox_max_backlog_events: int = Field(
        default=20_000,
        ge=100,
        description="Written but unpublished events at which consumers pause (backpressure).",
    )

    @property
    def group_id(self) -> str:
        return self.kafka_group_id or self.service_name

    @property
    def database_name(self) -> str:
        return f"{self.mongodb_db_prefix}_{self.service_name}"
