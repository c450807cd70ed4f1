from __future__ import annotations

from pydantic import Field

from runtime.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: str = "operations"
    http_port: int = 8105
    fairness_check_seconds: float = Field(
        default=30.0, gt=0, description="How often months with new fairness figures are checked."
    )
    redrive_max_per_second: float = Field(
        default=100.0, gt=0, le=10_000, description="The redrive rate when a request names none."
    )
    redrive_lock_seconds: float = Field(
        default=60.0,
        gt=0,
        description="A redrive task's lock lapses this long after its last "
        "sign of life (a crashed process), so the DLQ topic can be redriven again.",
    )
