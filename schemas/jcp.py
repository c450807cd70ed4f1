"""Events that Jobcentre Plus systems publish on `jcp.claimant-events.v1`: platform input."""

from __future__ import annotations

from datetime import date
from typing import Literal

from schemas.base import EventData
from schemas.types import (
    AgeBand,
    Benefit,
    ClaimantRef,
    PostcodeDistrict,
    PriorityGroups,
    ShortText,
)


class ClaimantRegistered(EventData):
    """A claim started. The claimant is known only by a pseudonymous reference."""

    event_type = "jcp.claimant.registered"

    claimant_ref: ClaimantRef
    benefit: Benefit
    claim_start: date
    jcp_office: ShortText
    local_authority: ShortText
    ward: ShortText
    postcode_district: PostcodeDistrict
    age_band: AgeBand
    priority_groups: PriorityGroups


class ClaimantBenefitChanged(EventData):
    """The claimant moved from one benefit to another (e.g. IB to ESA)."""

    event_type = "jcp.claimant.benefit-changed"

    claimant_ref: ClaimantRef
    from_benefit: Benefit
    to_benefit: Benefit
    effective_date: date
    # Not in the contract's minimum: a feed that sends the claimant's current area with a
    # benefit change lets the platform follow a move (see "Partnerships" in the contract).
    local_authority: ShortText | None = None
    ward: ShortText | None = None
    postcode_district: PostcodeDistrict | None = None


class ClaimantOffFlowed(EventData):
    """The claim ended."""

    event_type = "jcp.claimant.off-flowed"

    claimant_ref: ClaimantRef
    off_flow_date: date
    reason: Literal["job", "other", "unknown"]


class ClaimantReclaimed(EventData):
    """A claimant who had left benefit claimed again (the "revolving door")."""

    event_type = "jcp.claimant.reclaimed"

    claimant_ref: ClaimantRef
    reclaim_date: date
    benefit: Benefit
