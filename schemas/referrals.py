"""Events published by the referrals service on `referrals.events.v1`, keyed by `client_id`.

They carry pseudonymous ids only. Priority groups (which can reveal health, disability or
ethnicity) travel to internal consumers that need them for targeting; no employer-facing surface
may show them (see `schemas.visibility`).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

from schemas.base import EventData
from schemas.types import (
    AgeBand,
    Benefit,
    ClaimantRef,
    Code,
    ConsentScopes,
    EntityId,
    Location,
    PartnershipId,
    PostcodeDistrict,
    PriorityGroups,
    ProgrammeKind,
    QualificationLevel,
    ReasonCode,
    ReferralStatus,
    Sectors,
    ShortText,
    Skills,
    SkillsForLifeLevel,
    SlaName,
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
    partnership: PartnershipId | None = Field(
        default=None, description="The partnership whose local authorities include the client's."
    )


class ClientMoved(EventData):
    """A later claimant event named another local authority: the client changed partnership.

    With `tracking` consent the new partnership sees the client's earlier history too; without
    it, only what happens from `at` on."""

    event_type = "referrals.client.moved"

    client_id: EntityId
    from_partnership: PartnershipId
    to_partnership: PartnershipId
    local_authority: ShortText
    ward: ShortText
    history_follows: bool


class ClientBenefitChanged(EventData):
    """JCP's `benefit-changed`, kept as client history and re-published under the client id."""

    event_type = "referrals.client.benefit-changed"

    client_id: EntityId
    from_benefit: Benefit
    to_benefit: Benefit
    effective_date: date | None = None
    partnership: PartnershipId | None = None


class ClientOffFlowed(EventData):
    """JCP's `off-flowed`: the claim ended (`reason` `job` counts as an off-flow into work)."""

    event_type = "referrals.client.off-flowed"

    client_id: EntityId
    off_flow_date: date
    reason: Literal["job", "other", "unknown"]
    partnership: PartnershipId | None = None


class ClientReclaimed(EventData):
    """JCP's `reclaimed`: a client who had left benefit claimed again (the revolving door)."""

    event_type = "referrals.client.reclaimed"

    client_id: EntityId
    reclaim_date: date
    benefit: Benefit
    partnership: PartnershipId | None = None


class ConsentRecorded(EventData):
    """The client agreed to share data with these recipients."""

    event_type = "referrals.client.consent-recorded"

    client_id: EntityId
    scopes: ConsentScopes = Field(min_length=1)
    current_scopes: ConsentScopes = Field(
        description="Every scope in force after this change, so a projection needs no history."
    )
    form_version: Code | None = None
    expires: date | None = None


class ConsentWithdrawn(EventData):
    """The client withdrew consent for these recipients."""

    event_type = "referrals.client.consent-withdrawn"

    client_id: EntityId
    scopes: ConsentScopes = Field(min_length=1)
    current_scopes: ConsentScopes
    expired: bool = Field(
        default=False, description="True when the scopes lapsed at their `expires` date."
    )


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
    partnership: PartnershipId | None = None


class ActionPlanItem(BaseModel):
    """One agreed step, without its free text (which stays in the referrals service)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    item_id: EntityId
    kind: Literal["training", "support", "job-search", "other"]
    due: date
    status: Literal["open", "done", "dropped"]
    provider_id: EntityId | None = None


class ActionPlanAgreed(EventData):
    """The lead provider recorded (or revised) the client's action plan."""

    event_type = "referrals.client.action-plan-agreed"

    client_id: EntityId
    provider_id: EntityId
    items: list[ActionPlanItem] = Field(max_length=50)
    partnership: PartnershipId | None = None


class _ReferralEvent(EventData):
    referral_id: EntityId
    client_id: EntityId
    provider_id: EntityId
    status: ReferralStatus
    programme: ShortText
    partnership: PartnershipId | None = None
    lead: bool = False
    referred_by: EntityId | None = Field(
        default=None, description="The JCP organisation that made the referral."
    )
    programme_kind: ProgrammeKind | None = None


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


class ReferralOnHold(_ReferralEvent):
    """The programme was full and waitlists: the referral waits for a place."""

    event_type = "referrals.referral.on-hold"
    status: Literal["on-hold"] = "on-hold"


class ReferralReleased(_ReferralEvent):
    """A place freed up and this waitlisted referral (the oldest) took it."""

    event_type = "referrals.referral.released"
    status: Literal["created"] = "created"


class ReferralDidNotStart(_ReferralEvent):
    event_type = "referrals.referral.did-not-start"
    status: Literal["did-not-start"] = "did-not-start"
    reason: ShortText


class ReferralExpired(_ReferralEvent):
    """Nobody acknowledged the referral within the programme's expiry period."""

    event_type = "referrals.referral.expired"
    status: Literal["expired"] = "expired"
    reason: ShortText = "expired"


class ReferralSlaBreached(_ReferralEvent):
    """A working-day deadline passed unmet. Emitted once per referral and deadline."""

    event_type = "referrals.referral.sla-breached"
    sla: SlaName
    due: datetime


class ProgrammeCapacity(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    maximum: int = Field(ge=0, le=100_000)
    available: int = Field(ge=0, le=100_000)
    when_full: Literal["waitlist", "refuse"]
    waiting: int = Field(default=0, ge=0, le=1_000_000)


class ProgrammeUpdated(EventData):
    """A programme of the provider directory was created, replaced, or its capacity changed.

    Keyed by `provider_id` on `referrals.directory.v1`, so other services (matching's routeways,
    operations' reports) keep their own copy of the directory."""

    event_type = "referrals.programme.updated"

    provider_id: EntityId
    programme_id: EntityId
    kind: ProgrammeKind
    status: Literal["active", "inactive", "temporarily-closed"]
    partnerships: list[PartnershipId] = Field(max_length=50)
    capacity: ProgrammeCapacity


REFERRAL_LIFECYCLE: tuple[type[_ReferralEvent], ...] = (
    ReferralCreated,
    ReferralAccepted,
    ReferralRejected,
    ReferralStarted,
    ReferralCompleted,
    ReferralDroppedOut,
    ReferralWithdrawn,
    ReferralOnHold,
    ReferralReleased,
    ReferralDidNotStart,
    ReferralExpired,
)
"""Every event of a referral's lifecycle: each carries the referral's new `status`."""

ACTIVE_REFERRAL_STATUSES: frozenset[ReferralStatus] = frozenset(
    {"created", "on-hold", "accepted", "started"}
)
"""A referral is active until it ends. While active, its provider may act for the client and
hears of the client's matches, and no second referral to the same programme may be made.
The one definition: every service imports it from here."""

REASON_CODES: tuple[ReasonCode, ...] = get_args(ReasonCode)
