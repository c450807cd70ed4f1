"""The fairness monitor: selection rates per priority group and the four-fifths rule (aequitas;
fairlearn's selection-rate ratio). Pure, and counts only: never a person.

`clients` of a group: distinct clients first made job-ready in the period (the matching's
population); `selected`: distinct clients first shortlisted (a match proposed) or first placed
in the period. A client in several priority groups counts in each; one in none counts as
`none`. `ratio` is the group's rate over the highest group's rate. A group with at least
`MIN_GROUP_SIZE` clients and a ratio under `THRESHOLD` is a disparity.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

THRESHOLD = 0.8
MIN_GROUP_SIZE = 20


@dataclass(frozen=True)
class GroupRate:
    group: str
    clients: int
    selected: int
    rate: float
    ratio: float

    def as_dict(self) -> dict[str, object]:
        return {
            "group": self.group,
            "clients": self.clients,
            "selected": self.selected,
            "rate": self.rate,
            "ratio": self.ratio,
        }

    @property
    def disparate(self) -> bool:
        return self.clients >= MIN_GROUP_SIZE and self.ratio < THRESHOLD


def rates(pool: Mapping[str, int], selected: Mapping[str, int]) -> list[GroupRate]:
    groups = sorted(set(pool) | set(selected))
    rate = {g: min(1.0, selected.get(g, 0) / pool[g]) if pool.get(g) else 0.0 for g in groups}
    best = max(rate.values(), default=0.0)
    return [
        GroupRate(
            group=g,
            clients=pool.get(g, 0),
            selected=selected.get(g, 0),
            rate=round(rate[g], 4),
            ratio=round(rate[g] / best, 4) if best else 1.0,
        )
        for g in groups
    ]


def disparities(table: list[GroupRate]) -> list[GroupRate]:
    return [r for r in table if r.disparate]
