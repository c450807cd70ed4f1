from __future__ import annotations

from pydantic import Field

from runtime.settings import ServiceSettings
from services.notifications.secret_box import DEV_ONLY_INSECURE_KEY
from services.notifications.url_policy import DEV_ALLOWED_HOSTS


class Settings(ServiceSettings):
    service_name: str = "notifications"
    http_port: int = 8104
    webhook_max_attempts: int = Field(default=8, ge=1)
    webhook_backoff_seconds: float = Field(
        default=2.0, gt=0, description="First retry delay; doubles per attempt, capped at 5 min."
    )
    webhook_connect_timeout_seconds: float = Field(default=3.0, gt=0, le=30)
    webhook_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        le=60,
        description="Total deadline of one delivery (connecting, sending, the status line and "
        "headers, and at most `webhook_max_response_bytes` of body), however slowly the "
        "receiver answers.",
    )
    webhook_max_response_bytes: int = Field(default=64 * 1024, ge=0)
    webhook_concurrency_per_endpoint: int = Field(default=2, ge=1, le=32)
    webhook_breaker_failures: int = Field(
        default=5, ge=1, description="Failures in a row that open an endpoint's circuit."
    )
    webhook_breaker_seconds: float = Field(
        default=30.0, gt=0, description="First cool-down of an open circuit; doubles, 5 min cap."
    )
    webhook_allowed_hosts: str = Field(
        default=",".join(DEV_ALLOWED_HOSTS),
        description="Comma-separated hosts exempt from the address policy (local development: "
        "127.0.0.1 and localhost). A deployment sets it, usually to nothing.",
    )
    webhook_secret_key: str = Field(
        default=DEV_ONLY_INSECURE_KEY,
        description="Encrypts webhook secrets at rest; comma-separated, the first encrypting. "
        "The default is public and for local development only.",
    )
    webhook_secret_overlap_hours: float = Field(
        default=24.0, ge=0, le=24 * 30, description="Default overlap of a secret rotation."
    )
    operations_organisations: str = Field(
        default="",
        description="Who hears of fairness disparities besides the operations organisations "
        "of the tokens file (a deployment with JWTs only has none): "
        "`<partnership>=<org>[,<org>];...`, `*` for national operations.",
    )
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 8025
    smtp_timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    email_from: str = "notifications@work-brokerage.invalid"
    delivery_poll_seconds: float = Field(default=0.5, gt=0, le=10)
