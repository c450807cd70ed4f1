"""Whether a client may be referred to a programme: every failing rule, named and explained.

Pure. Explanations name the rule and what the programme asks, never the client's own values
(they end up in logs and error bodies).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel

from schemas.types import AgeBand, Benefit, PriorityGroup
from services.referrals.directory import Programme, Provider

Rule = Literal[
    "benefit",
    "age_band",
    "priority_group",
    "qualification",
    "area",
    "programme_inactive",
    "repeat_support",
]

REPEAT_SUPPORT_WINDOW = timedelta(days=365)
"""The same programme completed within this long before is repeat support (refused)."""


class Failure(BaseModel):
    rule: Rule
    explanation: str


@dataclass(frozen=True)
class Applicant:
    """What eligibility looks at, whatever the client record holds besides."""

    benefit: Benefit
    age_band: AgeBand
    priority_groups: tuple[PriorityGroup, ...]
    qualification_level: int | None
    local_authority: str
    partnership: str
    completed: tuple[tuple[str, str, datetime], ...] = ()
    """(provider_id, programme_id, completed_at) of the client's completed referrals."""


def failures(
    applicant: Applicant, provider: Provider, programme: Programme, now: datetime
) -> list[Failure]:
    """Every rule the applicant fails; empty when eligible."""
    rules = programme.eligibility
    out: list[Failure] = []
    if programme.status != "active":
        out.append(
            Failure(rule="programme_inactive", explanation=f"the programme is {programme.status}")
        )
    if rules.benefits and applicant.benefit not in rules.benefits:
        out.append(
            Failure(
                rule="benefit",
                explanation="the programme admits claimants of "
                + ", ".join(rules.benefits)
                + " only",
            )
        )
    if rules.age_bands and applicant.age_band not in rules.age_bands:
        out.append(
            Failure(
                rule="age_band",
                explanation="the programme admits the age bands "
                + ", ".join(rules.age_bands)
                + " only",
            )
        )
    if rules.priority_groups_any and not set(rules.priority_groups_any) & set(
        applicant.priority_groups
    ):
        out.append(
            Failure(
                rule="priority_group",
                explanation="the programme is for clients in at least one of its priority groups",
            )
        )
    if (
        rules.max_qualification_level is not None
        and applicant.qualification_level is not None
        and applicant.qualification_level > rules.max_qualification_level
    ):
        out.append(
            Failure(
                rule="qualification",
                explanation="the programme is for clients qualified to "
                f"RQF level {rules.max_qualification_level} or below",
            )
        )
    outside_partnership = not provider.serves(applicant.partnership)
    outside_authorities = bool(
        rules.local_authorities
    ) and applicant.local_authority.casefold() not in {
        la.casefold() for la in rules.local_authorities
    }
    if outside_partnership or outside_authorities:
        out.append(
            Failure(rule="area", explanation="the programme does not serve the client's area")
        )
    if any(
        provider_id == provider.provider_id
        and programme_id == programme.programme_id
        and now - completed_at < REPEAT_SUPPORT_WINDOW
        for provider_id, programme_id, completed_at in applicant.completed
    ):
        out.append(
            Failure(
                rule="repeat_support",
                explanation="the client completed this programme in the last 12 months",
            )
        )
    return out
