"""Events published by the referrals service on `referrals.events.v1`, keyed by `client_id`.

They carry pseudonymous ids only. Priority groups (which can reveal health, disability or
ethnicity) travel to internal consumers that need them for targeting; no employer-facing surface
may show them (see `schemas.visibility`).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from schemas.base import EventData
from schemas.types import (
    AgeBand,
    Benefit,
    ClaimantRef,
    ConsentScopes,
    EntityId,
    Location,
    PostcodeDistrict,
    PriorityGroups,
    QualificationLevel,
    ReferralStatus,
    Sectors,
    ShortText,
    Skills,
    SkillsForLifeLevel,
)


class ClientRegistered(EventData):
    """A client record was created from a `jcp.claimant.registered` event."""

    event_type = "referrals.client.registered"

    client_id: EntityId
    claimant_ref: ClaimantRef
    benefit: Benefit
    local_authority: ShortText
    ward: ShortText
    postcode_district: PostcodeDistrict
    age_band: AgeBand


class ConsentRecorded(EventData):
    """The client agreed to share data with these recipients."""

    event_type = "referrals.client.consent-recorded"

    client_id: EntityId
    scopes: ConsentScopes = Field(min_length=1)
    current_scopes: ConsentScopes = Field(
        description="Every scope in force after this change, so a projection needs no history."
    )


class ConsentWithdrawn(EventData):
    """The client withdrew consent for these recipients."""

    event_type = "referrals.client.consent-withdrawn"

    client_id: EntityId
    scopes: ConsentScopes = Field(min_length=1)
    current_scopes: ConsentScopes


class ClientAssessed(EventData):
    """A provider recorded the one-to-one jobs and skills assessment (no barrier details)."""

    event_type = "referrals.client.assessed"

    client_id: EntityId
    provider_id: EntityId
    qualification_level: QualificationLevel
    literacy: SkillsForLifeLevel
    numeracy: SkillsForLifeLevel
    blocking_barriers: int = Field(
        ge=0, le=20, description="How many barriers block work right now."
    )


class ClientJobReady(EventData):
    """The client is ready for work: the profile matching needs to find them a job."""

    event_type = "referrals.client.job-ready"

    client_id: EntityId
    skills: Skills
    qualification_level: QualificationLevel
    literacy: SkillsForLifeLevel
    numeracy: SkillsForLifeLevel
    preferred_sectors: Sectors
    location: Location
    max_travel_km: float = Field(gt=0, le=200)
    available_hours_per_week: float = Field(gt=0, le=48)
    priority_groups: PriorityGroups
    ward: ShortText
    consent_scopes: ConsentScopes


class _ReferralEvent(EventData):
    referral_id: EntityId
    client_id: EntityId
    provider_id: EntityId
    status: ReferralStatus
    programme: ShortText


class ReferralCreated(_ReferralEvent):
    """JCP referred a client to a provider's programme."""

    event_type = "referrals.referral.created"
    status: Literal["created"] = "created"


class ReferralAccepted(_ReferralEvent):
    event_type = "referrals.referral.accepted"
    status: Literal["accepted"] = "accepted"


class ReferralRejected(_ReferralEvent):
    event_type = "referrals.referral.rejected"
    status: Literal["rejected"] = "rejected"
    reason: ShortText


class ReferralStarted(_ReferralEvent):
    event_type = "referrals.referral.started"
    status: Literal["started"] = "started"


class ReferralCompleted(_ReferralEvent):
    event_type = "referrals.referral.completed"
    status: Literal["completed"] = "completed"
    outcome: ShortText


class ReferralDroppedOut(_ReferralEvent):
    event_type = "referrals.referral.dropped-out"
    status: Literal["dropped-out"] = "dropped-out"
    reason: ShortText


class ReferralWithdrawn(_ReferralEvent):
    event_type = "referrals.referral.withdrawn"
    status: Literal["withdrawn"] = "withdrawn"
    reason: ShortText


REFERRAL_LIFECYCLE: tuple[type[_ReferralEvent], ...] = (
    ReferralCreated,
    ReferralAccepted,
    ReferralRejected,
    ReferralStarted,
    ReferralCompleted,
    ReferralDroppedOut,
    ReferralWithdrawn,
)
"""Every event of a referral's lifecycle: each carries the referral's new `status`."""

ACTIVE_REFERRAL_STATUSES: frozenset[ReferralStatus] = frozenset({"created", "accepted", "started"})
"""A referral is active until it ends. While active, its provider may act for the client and
hears of the client's matches, and no second referral to the same programme may be made."""
