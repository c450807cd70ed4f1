from __future__ import annotations

from runtime.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: str = "vacancies"
    http_port: int = 8102
