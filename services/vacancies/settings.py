from __future__ import annotations

from pydantic import Field

from runtime.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: str = "vacancies"
    http_port: int = 8102
    sustainment_check_seconds: float = Field(
        default=3600, gt=0, description="How often placements are checked for 13/26 weeks."
    )
