"""Events published by the vacancies service on `vacancies.events.v1`, keyed by `vacancy_id`."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from schemas.base import EventData
from schemas.types import (
    EntityId,
    Location,
    PartnershipId,
    PriorityGroups,
    QualificationLevel,
    ShortText,
    Skills,
    Wards,
)

MAX_POSITIONS = 1000


class Guarantees(BaseModel):
    """What the employer commits to for candidates put forward (LEP-style guarantees)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    interview: bool = False
    work_trial: bool = False
    job: bool = False


_PARTNERSHIP = Field(
    default=None,
    description="The partnership of the employer brokerage that posted the vacancy; only callers "
    "of that partnership (and national operations) see it.",
)


class _VacancyEvent(EventData):
    vacancy_id: EntityId
    employer_id: EntityId
    brokerage_id: EntityId = Field(description="The employer-brokerage organisation that owns it.")
    partnership: PartnershipId | None = _PARTNERSHIP


class VacancyPosted(_VacancyEvent):
    event_type = "vacancies.vacancy.posted"

    status: Literal["posted"] = "posted"
    title: ShortText
    sector: ShortText
    positions: int = Field(ge=1, le=MAX_POSITIONS)
    hours_per_week: float = Field(gt=0, le=48)
    location: Location
    closing_date: date


class VacancyScoped(_VacancyEvent):
    """The person specification is written and the vacancy is open for matching.

    Carries the vacancy facts matching needs too, so matching never has to join two events.
    """

    event_type = "vacancies.vacancy.scoped"

    status: Literal["open"] = "open"
    title: ShortText
    sector: ShortText
    positions: int = Field(ge=1, le=MAX_POSITIONS)
    hours_per_week: float = Field(gt=0, le=48)
    location: Location
    closing_date: date
    required_skills: Skills
    desirable_skills: Skills
    min_qualification_level: QualificationLevel
    target_priority_groups: PriorityGroups
    target_wards: Wards
    guarantees: Guarantees


class VacancyClosed(_VacancyEvent):
    event_type = "vacancies.vacancy.closed"

    status: Literal["closed"] = "closed"
    reason: ShortText


class VacancyFilled(_VacancyEvent):
    """Every position has a placement."""

    event_type = "vacancies.vacancy.filled"

    status: Literal["filled"] = "filled"


class _PlacementEvent(EventData):
    placement_id: EntityId
    vacancy_id: EntityId
    client_id: EntityId
    employer_id: EntityId
    brokerage_id: EntityId
    partnership: PartnershipId | None = _PARTNERSHIP


class PlacementStarted(_PlacementEvent):
    event_type = "vacancies.placement.started"

    start_date: date
    hours_per_week: float = Field(gt=0, le=48)


class PlacementSustained(_PlacementEvent):
    """The client is still in the job 13 or 26 weeks after the start date."""

    event_type = "vacancies.placement.sustained"

    weeks: Literal[13, 26]


class PlacementEnded(_PlacementEvent):
    event_type = "vacancies.placement.ended"

    end_date: date
    reason: ShortText
