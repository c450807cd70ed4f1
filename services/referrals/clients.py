"""The client: a person out of work known by a pseudonymous id, created from JCP claimant events.

Pure rules: no Kafka, no MongoDB, no HTTP, no clock (the caller passes `at`). Each rule returns
the events it causes or raises a `runtime.errors` error that the HTTP layer maps to a status.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from runtime.errors import Conflict
from schemas import jcp
from schemas import referrals as ev
from schemas.base import EventData
from schemas.types import (
    AgeBand,
    Benefit,
    ConsentScope,
    EntityId,
    Location,
    PriorityGroup,
    QualificationLevel,
    ShortText,
    SkillsForLifeLevel,
)


class Barrier(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal[
        "childcare",
        "travel",
        "health",
        "addiction",
        "debt",
        "housing",
        "confidence",
        "language",
        "caring",
        "other",
    ]
    blocking: bool


class Assessment(BaseModel):
    """The one-to-one jobs and skills assessment a provider records."""

    model_config = ConfigDict(extra="forbid")

    skills: list[ShortText] = Field(max_length=50)
    qualification_level: QualificationLevel
    literacy: SkillsForLifeLevel
    numeracy: SkillsForLifeLevel
    barriers: list[Barrier] = Field(default_factory=list, max_length=20)
    preferred_sectors: list[ShortText] = Field(default_factory=list, max_length=20)
    location: Location
    max_travel_km: float = Field(gt=0, le=200)
    available_hours_per_week: float = Field(gt=0, le=48)

    @property
    def blocking_barriers(self) -> int:
        return sum(1 for b in self.barriers if b.blocking)


class RecordedAssessment(Assessment):
    model_config = ConfigDict(extra="ignore")

    assessed_by: EntityId
    assessed_at: datetime


class Client(BaseModel):
    """A person out of work, known by a pseudonymous id; created from a JCP claimant event."""

    client_id: EntityId
    claimant_ref: str
    benefit: Benefit
    claim_start: date
    jcp_office: str
    local_authority: str
    ward: str
    postcode_district: str
    age_band: AgeBand
    priority_groups: list[PriorityGroup]
    on_benefit: bool = True
    reclaims: int = 0
    consent_scopes: list[ConsentScope] = Field(default_factory=list)
    assessment: RecordedAssessment | None = None
    job_ready: bool = False
    registered_at: datetime

    @classmethod
    def register(
        cls, client_id: str, claim: jcp.ClaimantRegistered, at: datetime
    ) -> tuple[Client, list[EventData]]:
        """`at` is when JCP registered the claim (its event's time), so that rebuilding the
        clients from the topic gives the same records."""
        client = cls(
            client_id=client_id,
            registered_at=at,
            **claim.model_dump(
                include={
                    "claimant_ref",
                    "benefit",
                    "claim_start",
                    "jcp_office",
                    "local_authority",
                    "ward",
                    "postcode_district",
                    "age_band",
                    "priority_groups",
                }
            ),
        )
        return client, [
            ev.ClientRegistered(
                client_id=client_id,
                claimant_ref=claim.claimant_ref,
                benefit=claim.benefit,
                local_authority=claim.local_authority,
                ward=claim.ward,
                postcode_district=claim.postcode_district,
                age_band=claim.age_band,
            )
        ]

    # The contract has no referrals event for these: the record changes, nobody is told.
    def change_benefit(self, change: jcp.ClaimantBenefitChanged) -> list[EventData]:
        self.benefit = change.to_benefit
        return []

    def off_flow(self) -> list[EventData]:
        self.on_benefit = False
        return []

    def reclaim(self, claim: jcp.ClaimantReclaimed) -> list[EventData]:
        """A claim after leaving benefit: counted, because reclaims reveal the revolving door."""
        self.on_benefit = True
        self.benefit = claim.benefit
        self.reclaims += 1
        return []

    def record_consent(self, scopes: list[ConsentScope]) -> list[EventData]:
        added = [s for s in dict.fromkeys(scopes) if s not in self.consent_scopes]
        if not added:
            return []  # already in force: an idempotent repeat, nothing to tell anyone
        self.consent_scopes = sorted({*self.consent_scopes, *added})
        return [
            ev.ConsentRecorded(
                client_id=self.client_id, scopes=added, current_scopes=self.consent_scopes
            )
        ]

    def withdraw_consent(self, scopes: list[ConsentScope]) -> list[EventData]:
        removed = [s for s in dict.fromkeys(scopes) if s in self.consent_scopes]
        if not removed:
            return []
        self.consent_scopes = [s for s in self.consent_scopes if s not in removed]
        return [
            ev.ConsentWithdrawn(
                client_id=self.client_id, scopes=removed, current_scopes=self.consent_scopes
            )
        ]

    def assess(self, assessment: Assessment, provider_id: str, at: datetime) -> list[EventData]:
        self.assessment = RecordedAssessment(
            **assessment.model_dump(), assessed_by=provider_id, assessed_at=at
        )
        # A new assessment supersedes the old readiness: the provider confirms it again.
        self.job_ready = False
        return [
            ev.ClientAssessed(
                client_id=self.client_id,
                provider_id=provider_id,
                qualification_level=assessment.qualification_level,
                literacy=assessment.literacy,
                numeracy=assessment.numeracy,
                blocking_barriers=assessment.blocking_barriers,
            )
        ]

    def mark_job_ready(self) -> list[EventData]:
        if self.assessment is None:
            raise Conflict("the client has no assessment yet")
        if self.assessment.blocking_barriers:
            raise Conflict("a blocking barrier is still open; resolve it in a new assessment")
        self.job_ready = True
        a = self.assessment
        return [
            ev.ClientJobReady(
                client_id=self.client_id,
                skills=a.skills,
                qualification_level=a.qualification_level,
                literacy=a.literacy,
                numeracy=a.numeracy,
                preferred_sectors=a.preferred_sectors,
                location=a.location,
                max_travel_km=a.max_travel_km,
                available_hours_per_week=a.available_hours_per_week,
                priority_groups=self.priority_groups,
                ward=self.ward,
                consent_scopes=self.consent_scopes,
            )
        ]
