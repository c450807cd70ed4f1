"""Partnerships: which local authorities each one covers, so a client's area names its partnership.

Loaded from `deploy/local/partnerships.json` (`PARTNERSHIPS_FILE`), shaped
`{"<partnership_id>": {"name": "...", "local_authorities": ["Warrington", ...]}}`. Local authority
names are compared without regard to case or surrounding spaces, as JCP offices spell them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

UNASSIGNED = "unassigned"
"""The partnership of a client whose local authority no partnership covers: only national
operations sees it, and nothing is lost while the directory of partnerships catches up."""


def _norm(name: str) -> str:
    return " ".join(name.split()).casefold()


@dataclass(frozen=True)
class Partnerships:
    names: dict[str, str]
    local_authorities: dict[str, tuple[str, ...]]

    @classmethod
    def load(cls, path: Path) -> Partnerships:
        return cls.parse(path.read_text())

    @classmethod
    def parse(cls, text: str) -> Partnerships:
        raw = json.loads(text)
        return cls(
            names={pid: entry.get("name", pid) for pid, entry in raw.items()},
            local_authorities={
                pid: tuple(entry["local_authorities"]) for pid, entry in raw.items()
            },
        )

    def of(self, local_authority: str) -> str:
        """The partnership covering this local authority, or `UNASSIGNED`."""
        wanted = _norm(local_authority)
        for pid, authorities in self.local_authorities.items():
            if any(_norm(la) == wanted for la in authorities):
                return pid
        return UNASSIGNED

    def __contains__(self, partnership_id: object) -> bool:
        return partnership_id in self.names
