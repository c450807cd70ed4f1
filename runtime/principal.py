"""Who is calling: an organisation acting in one role within one partnership.

Pure data, so domain rules can use it. A partnership is a City Strategy or employment-and-skills
partnership of local authorities (`runtime/partnerships.py`); `EVERY_PARTNERSHIP` is the national
operations view that reads them all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Role = Literal["jcp", "provider", "employer_brokerage", "operations"]

EVERY_PARTNERSHIP = "*"


@dataclass(frozen=True)
class Principal:
    org_id: str
    role: Role
    partnership: str

    def is_(self, *roles: Role) -> bool:
        return self.role in roles

    def sees(self, partnership: str | None) -> bool:
        """Whether records of this partnership are visible to the caller at all (404 if not)."""
        return self.partnership == EVERY_PARTNERSHIP or (
            partnership is not None and partnership == self.partnership
        )

    @property
    def national(self) -> bool:
        return self.partnership == EVERY_PARTNERSHIP
