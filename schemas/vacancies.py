"""Events published by the vacancies service on `vacancies.events.v1`, keyed by `vacancy_id`."""

from __future__ import annotations

from datetime import date, datetime
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
    SkillsForLifeLevel,
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
    shortlist_size: int | None = Field(
        default=None,
        ge=1,
        le=3 * MAX_POSITIONS,
        description="Live candidates at most; 3 x positions when not set.",
    )
    min_literacy: SkillsForLifeLevel | None = None
    min_numeracy: SkillsForLifeLevel | None = None
    routeway: EntityId | None = Field(
        default=None,
        description="A programme id: clients who completed it rank first, and a `job` guarantee "
        "is honoured for them.",
    )
    positions_left: int | None = Field(default=None, ge=0, le=MAX_POSITIONS)


class VacancyClosed(_VacancyEvent):
    event_type = "vacancies.vacancy.closed"

    status: Literal["closed"] = "closed"
    reason: ShortText


class VacancyFilled(_VacancyEvent):
    """Every position has a placement."""

    event_type = "vacancies.vacancy.filled"

    status: Literal["filled"] = "filled"
    positions_left: int = Field(default=0, ge=0, le=0)


class VacancyPartlyFilled(_VacancyEvent):
    """A placement started and positions are left: the vacancy stays open for matching."""

    event_type = "vacancies.vacancy.partly-filled"

    status: Literal["partly-filled"] = "partly-filled"
    positions_left: int = Field(ge=1, le=MAX_POSITIONS)


class VacancyExpired(_VacancyEvent):
    """Still open after its closing date: no more matches, live ones are withdrawn."""

    event_type = "vacancies.vacancy.expired"

    status: Literal["expired"] = "expired"
    closing_date: date


SubmissionStatus = Literal[
    "submitted",
    "interview-scheduled",
    "work-trial",
    "offer",
    "no-offer",
    "no-show",
    "left-early",
    "declined",
    "placed",
]
LIVE_SUBMISSION_STATUSES: frozenset[str] = frozenset(
    {"submitted", "interview-scheduled", "work-trial", "offer"}
)
"""A submission is live until it ends; one live submission per client and vacancy."""


class _SubmissionEvent(EventData):
    submission_id: EntityId
    vacancy_id: EntityId
    client_id: EntityId
    match_id: EntityId | None = None
    brokerage_id: EntityId
    partnership: PartnershipId | None = _PARTNERSHIP


class SubmissionSubmitted(_SubmissionEvent):
    event_type = "vacancies.submission.submitted"

    status: Literal["submitted"] = "submitted"


class SubmissionInterviewScheduled(_SubmissionEvent):
    event_type = "vacancies.submission.interview-scheduled"

    status: Literal["interview-scheduled"] = "interview-scheduled"
    at: datetime


class SubmissionWorkTrial(_SubmissionEvent):
    event_type = "vacancies.submission.work-trial"

    status: Literal["work-trial"] = "work-trial"
    start: date
    end: date = Field(description="15 working days from `start`, inclusive.")


class SubmissionOffer(_SubmissionEvent):
    event_type = "vacancies.submission.offer"

    status: Literal["offer"] = "offer"


class SubmissionNoOffer(_SubmissionEvent):
    event_type = "vacancies.submission.no-offer"

    status: Literal["no-offer"] = "no-offer"


class SubmissionNoShow(_SubmissionEvent):
    event_type = "vacancies.submission.no-show"

    status: Literal["no-show"] = "no-show"


class SubmissionLeftEarly(_SubmissionEvent):
    event_type = "vacancies.submission.left-early"

    status: Literal["left-early"] = "left-early"


class SubmissionDeclined(_SubmissionEvent):
    event_type = "vacancies.submission.declined"

    status: Literal["declined"] = "declined"


class SubmissionPlaced(_SubmissionEvent):
    """The offer was accepted: the placement (`placement_id`) started from it."""

    event_type = "vacancies.submission.placed"

    status: Literal["placed"] = "placed"
    placement_id: EntityId


SUBMISSION_EVENTS: tuple[type[_SubmissionEvent], ...] = (
    SubmissionSubmitted,
    SubmissionInterviewScheduled,
    SubmissionWorkTrial,
    SubmissionOffer,
    SubmissionNoOffer,
    SubmissionNoShow,
    SubmissionLeftEarly,
    SubmissionDeclined,
    SubmissionPlaced,
)


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
    lead_provider_id: EntityId | None = Field(
        default=None, description="The client's lead provider at the start: the one credited."
    )
    match_id: EntityId | None = Field(
        default=None, description="The match that led here, so explanations join to outcomes."
    )
    submission_id: EntityId | None = None


class PlacementSustained(_PlacementEvent):
    """The client is still in the job 13 or 26 weeks after the start date."""

    event_type = "vacancies.placement.sustained"

    weeks: Literal[13, 26]


class PlacementEnded(_PlacementEvent):
    event_type = "vacancies.placement.ended"

    end_date: date
    reason: ShortText
    revolving_door: bool = Field(
        default=False, description="The client claimed benefit again during or soon after it."
    )


class PlacementRevolvingDoor(_PlacementEvent):
    """A reclaim within 26 weeks after a placement ended: the placement is marked."""

    event_type = "vacancies.placement.revolving-door"

    reclaim_date: date
    revolving_door: Literal[True] = True
