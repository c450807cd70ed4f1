from __future__ import annotations

from pathlib import Path

from runtime.settings import REPO_ROOT, ServiceSettings


class Settings(ServiceSettings):
    service_name: str = "referrals"
    http_port: int = 8101
    providers_file: Path = REPO_ROOT / "deploy" / "local" / "providers.json"
