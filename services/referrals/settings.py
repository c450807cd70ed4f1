from __future__ import annotations

from pathlib import Path

from pydantic import Field

from runtime.settings import REPO_ROOT, ServiceSettings


class Settings(ServiceSettings):
    service_name: str = "referrals"
    http_port: int = 8101
    providers_file: Path = REPO_ROOT / "deploy" / "local" / "providers.json"
    client_id_key: str = Field(
        default="local-development-only-client-id-key",
        min_length=16,
        description="Secret that derives client ids from claimant references (CLIENT_ID_KEY). "
        "Keep it stable: changing it changes every client id on the next rebuild.",
    )
    seats_reconcile_seconds: float = Field(
        default=60.0, gt=0, description="How often held places are checked against referrals."
    )
