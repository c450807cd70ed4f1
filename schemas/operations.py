"""Events published by the operations service on `operations.events.v1`, keyed by `partnership`.

Counts only: a disparity names a priority group and figures, never a person. A redrive names the
dead-letter topic and how many records moved, never what they carried.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from schemas.base import EventData
from schemas.types import Code, EntityId, PartnershipId, PriorityGroup

MAX_COUNT = 100_000_000

FairnessMeasure = Literal["shortlisted", "placed"]


class DisparityDetected(EventData):
    """A priority group's selection rate fell below four fifths of the highest group's rate
    (aequitas' rule), with at least the minimum group size; raised once per group, measure and
    month and notified to operations."""

    event_type = "operations.fairness.disparity-detected"
    # v1 (committed for an hour, never consumed) lacked the bounds every event must have.
    version = 2

    partnership: PartnershipId
    group: PriorityGroup | Literal["none"]
    measure: FairnessMeasure
    month: str = Field(min_length=7, max_length=7, description="YYYY-MM")
    clients: int = Field(ge=0, le=MAX_COUNT)
    selected: int = Field(ge=0, le=MAX_COUNT)
    rate: float = Field(ge=0, le=1)
    ratio: float = Field(ge=0, le=1)
    threshold: float = Field(default=0.8, ge=0, le=1)


class _RedriveEvent(EventData):
    task_id: EntityId
    partnership: PartnershipId = Field(description="The partnership of who asked ('*': national).")
    dlq_topic: Code
    by_org: EntityId


class RedriveStarted(_RedriveEvent):
    """Someone asked for dead letters to go back to their original topic (the audit record)."""

    event_type = "operations.redrive.started"
    version = 2  # v1 lacked upper bounds

    total: int = Field(ge=0, le=MAX_COUNT)
    max_per_second: float = Field(gt=0, le=10_000)


class RedriveFinished(_RedriveEvent):
    """A redrive task ended: all moved (`done`), stopped by an error, or cancelled (`failed`)."""

    event_type = "operations.redrive.finished"
    version = 2  # v1 lacked upper bounds

    status: Literal["done", "failed"]
    moved: int = Field(ge=0, le=MAX_COUNT)
    total: int = Field(ge=0, le=MAX_COUNT)
    cancelled: bool = False
