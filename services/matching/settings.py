from __future__ import annotations

from runtime.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: str = "matching"
    http_port: int = 8103
