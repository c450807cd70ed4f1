"""Who is calling: an organisation acting in one role. Pure data, so domain rules can use it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Role = Literal["jcp", "provider", "employer_brokerage", "operations"]


@dataclass(frozen=True)
class Principal:
    org_id: str
    role: Role

    def is_(self, *roles: Role) -> bool:
        return self.role in roles
