"""The targets register and its RAG status, as the contract computes it (the Gloucester report's
Ref, Action, Task, Target, Position, Status, Planned action, Deadline). Pure: `now` is passed in.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from services.operations.kpis import DIMENSIONS, MEASURES

Status = Literal["green", "amber", "red"]
AMBER_SHARE = 0.8


class TargetBody(BaseModel):
    action: str = Field(min_length=1, max_length=200)
    task: str = Field(min_length=1, max_length=500)
    measure: str
    filters: dict[str, str] = Field(
        default_factory=dict,
        max_length=1,
        description='At most one dimension and its key, e.g. {"ward": "Bewsey & Whitecross"}.',
    )
    target: float = Field(ge=0)
    start: date
    deadline: date
    planned_action: str = Field(default="", max_length=500)

    @field_validator("measure")
    @classmethod
    def _known_measure(cls, v: str) -> str:
        if v not in MEASURES:
            raise ValueError("not a measure of the contract")
        return v

    @field_validator("filters")
    @classmethod
    def _known_dimension(cls, v: dict[str, str]) -> dict[str, str]:
        if any(k not in DIMENSIONS for k in v):
            raise ValueError(f"filters take one of {', '.join(DIMENSIONS)}")
        return v

    @model_validator(mode="after")
    def _period(self) -> TargetBody:
        if self.deadline <= self.start:
            raise ValueError("deadline must be after start")
        return self


class Target(TargetBody):
    ref: str
    partnership: str


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def elapsed_share(start: date, deadline: date, now: datetime) -> float:
    """How much of the period from `start` to `deadline` has passed, 0 to 1."""
    whole = (_midnight(deadline) - _midnight(start)).total_seconds()
    done = (now - _midnight(start)).total_seconds()
    return min(1.0, max(0.0, done / whole))


def trajectory(target: float, start: date, deadline: date, now: datetime) -> float:
    """Where the position should be by now: the target times the elapsed share of the period."""
    return target * elapsed_share(start, deadline, now)


def status(position: float, target: float, start: date, deadline: date, now: datetime) -> Status:
    """Before the deadline: green on or above trajectory, amber from 80% of it, else red. At or
    after the deadline: green when the target is met, else red."""
    if now.date() >= deadline:
        return "green" if position >= target else "red"
    planned = trajectory(target, start, deadline, now)
    if position >= planned:
        return "green"
    if position >= AMBER_SHARE * planned:
        return "amber"
    return "red"


def report(t: Target, position: float, now: datetime) -> dict[str, object]:
    return {
        "ref": t.ref,
        **t.model_dump(mode="json", exclude={"ref", "partnership"}),
        "partnership": t.partnership,
        "position": position,
        "trajectory": round(trajectory(t.target, t.start, t.deadline, now), 4),
        "status": status(position, t.target, t.start, t.deadline, now),
    }
