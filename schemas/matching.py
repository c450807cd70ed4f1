"""Events published by the matching service on `matching.events.v1`, keyed by `vacancy_id`."""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

from schemas.base import EventData
from schemas.types import Code, EntityId, LongText, PartnershipId, ShortText

MAX_SHORTLIST = 3000
"""3 x the most positions a vacancy may have (`schemas.vacancies.MAX_POSITIONS`)."""

Factor = Literal[
    "skills",
    "desirable_skills",
    "qualification",
    "distance",
    "hours",
    "sector",
    "target_group",
    "target_ward",
]


class Reason(BaseModel):
    """One line of a score's explanation: `weight * value` is this factor's share of the score."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    factor: Factor
    weight: float = Field(ge=0, le=1)
    value: float = Field(ge=0, le=1)
    explanation: LongText


class MatchProposed(EventData):
    event_type = "matching.match.proposed"

    match_id: EntityId
    vacancy_id: EntityId
    client_id: EntityId
    employer_id: EntityId
    brokerage_id: EntityId
    score: float = Field(ge=0, le=1)
    reasons: list[Reason] = Field(max_length=len(get_args(Factor)), description="One per factor.")
    rules_version: Code
    partnership: PartnershipId | None = Field(
        default=None, description="The vacancy's partnership, which is also the client's."
    )
    rank: int | None = Field(
        default=None,
        ge=1,
        le=MAX_SHORTLIST,
        description="Place on the vacancy's shortlist when proposed: clients who completed the "
        "vacancy's routeway first, then by score. Later proposals may shift it; order a "
        "shortlist by (`priority` desc, `score` desc).",
    )
    priority: bool = Field(
        default=False, description="Completed the routeway the vacancy names: ranks first."
    )
    shortlist_size: int | None = Field(
        default=None,
        ge=1,
        le=MAX_SHORTLIST,
        description="The vacancy's shortlist size the allocation kept to.",
    )


WithdrawalReason = Literal[
    "placed",
    "vacancy-closed",
    "vacancy-filled",
    "vacancy-expired",
    "consent-withdrawn",
    "not-job-ready",
    "gate-failed",
    "rebalanced",
]
"""Why a match was withdrawn (the contract's codes). An employer reads `gate-failed` and
`not-job-ready` as `no-longer-available`, never the name of the gate."""


class MatchWithdrawn(EventData):
    event_type = "matching.match.withdrawn"

    match_id: EntityId
    vacancy_id: EntityId
    client_id: EntityId
    brokerage_id: EntityId
    reason: ShortText = Field(description="One of `WithdrawalReason`'s codes.")
    partnership: PartnershipId | None = None
