from __future__ import annotations

from pydantic import Field

from runtime.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: str = "notifications"
    http_port: int = 8104
    webhook_max_attempts: int = Field(default=8, ge=1)
    webhook_backoff_seconds: float = Field(
        default=2.0, gt=0, description="First retry delay; doubles per attempt, capped at 5 min."
    )
    webhook_timeout_seconds: float = Field(default=5.0, gt=0)
