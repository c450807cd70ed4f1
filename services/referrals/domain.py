"""The referrals domain: clients, consent, the referral lifecycle, assessment and job-readiness.

Pure rules: no Kafka, no MongoDB, no HTTP. Each rule either returns the events it causes or
raises a `runtime.errors` error that the HTTP layer maps to a status code.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field

from runtime.errors import Conflict, Forbidden, Invalid, NotFound
from runtime.principal import Principal
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
    ReferralStatus,
    ShortText,
    SkillsForLifeLevel,
)

ACTIVE = ev.ACTIVE_REFERRAL_STATUSES

Action = Literal["accept", "reject", "start", "complete", "drop-out", "withdraw"]

# action -> (statuses it may leave, status it reaches, roles that may take it)
LIFECYCLE: dict[Action, tuple[frozenset[ReferralStatus], ReferralStatus, frozenset[str]]] = {
    "accept": (frozenset({"created"}), "accepted", frozenset({"provider"})),
    "reject": (frozenset({"created"}), "rejected", frozenset({"provider"})),
    "start": (frozenset({"accepted"}), "started", frozenset({"provider"})),
    "complete": (frozenset({"started"}), "completed", frozenset({"provider"})),
    "drop-out": (frozenset({"accepted", "started"}), "dropped-out", frozenset({"provider"})),
    "withdraw": (ACTIVE, "withdrawn", frozenset({"jcp"})),
}

_EVENT_FOR_STATUS: dict[ReferralStatus, type[ev._ReferralEvent]] = {
    "accepted": ev.ReferralAccepted,
    "rejected": ev.ReferralRejected,
    "started": ev.ReferralStarted,
    "completed": ev.ReferralCompleted,
    "dropped-out": ev.ReferralDroppedOut,
    "withdrawn": ev.ReferralWithdrawn,
}


def _now() -> datetime:
    return datetime.now(UTC)


class Provider(BaseModel):
    """An entry in the directory ("menu of provision") that JCP refers clients to."""

    provider_id: EntityId
    name: str
    programmes: list[str]


def load_directory(text: str) -> list[Provider]:
    return [Provider.model_validate(entry) for entry in json.loads(text)]


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

    def assess(self, assessment: Assessment, provider_id: str) -> list[EventData]:
        self.assessment = RecordedAssessment(
            **assessment.model_dump(), assessed_by=provider_id, assessed_at=_now()
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


class StatusChange(BaseModel):
    status: ReferralStatus
    at: datetime
    by: str
    note: str | None = None


class Referral(BaseModel):
    referral_id: EntityId
    client_id: EntityId
    provider_id: EntityId
    programme: str
    reason: str
    status: ReferralStatus = "created"
    history: list[StatusChange] = Field(default_factory=list)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def active_key(self) -> str:
        """Unique while active, so the database itself refuses a duplicate active referral."""
        if self.status in ACTIVE:
            return f"{self.client_id}|{self.provider_id}|{self.programme}"
        return f"ended|{self.referral_id}"

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE

    @classmethod
    def create(
        cls,
        *,
        referral_id: str,
        client: Client,
        provider: Provider | None,
        provider_id: str,
        programme: str,
        reason: str,
        existing: list[Referral],
        by: Principal,
    ) -> tuple[Referral, list[EventData]]:
        if provider is None:
            raise Invalid(f"no provider {provider_id!r} in the directory", field="provider_id")
        if programme not in provider.programmes:
            raise Invalid(
                f"provider {provider_id} offers no programme {programme!r}", field="programme"
            )
        if "providers" not in client.consent_scopes:
            raise Conflict("the client has not consented to sharing data with providers")
        if any(
            r.is_active and r.provider_id == provider_id and r.programme == programme
            for r in existing
        ):
            raise Conflict("the client already has an active referral to this programme")
        referral = cls(
            referral_id=referral_id,
            client_id=client.client_id,
            provider_id=provider_id,
            programme=programme,
            reason=reason,
            history=[StatusChange(status="created", at=_now(), by=by.org_id)],
        )
        return referral, [ev.ReferralCreated(**referral._event_fields())]

    def _event_fields(self) -> dict[str, str]:
        return {
            "referral_id": self.referral_id,
            "client_id": self.client_id,
            "provider_id": self.provider_id,
            "programme": self.programme,
        }

    def apply(self, action: Action, by: Principal, note: str | None = None) -> list[EventData]:
        """Move along the lifecycle; 403 for the wrong caller, 409 for a forbidden step."""
        sources, target, roles = LIFECYCLE[action]
        if by.role not in roles:
            raise Forbidden(f"only {', '.join(sorted(roles))} may {action} a referral")
        if self.status not in sources:
            raise Conflict(f"cannot {action} a referral that is {self.status}")
        self.status = target
        self.history.append(StatusChange(status=target, at=_now(), by=by.org_id, note=note))
        extra: dict[str, str] = {}
        if target == "completed":
            extra["outcome"] = note or ""
        elif target in ("rejected", "dropped-out", "withdrawn"):
            extra["reason"] = note or ""
        return [_EVENT_FOR_STATUS[target](**self._event_fields(), **extra)]


# --- Who may see and do what (named rules, tested in tests/unit/referrals) ---------------------


def may_see_referral(principal: Principal, referral: Referral) -> bool:
    """JCP and operations see every referral; a provider only those addressed to it."""
    if principal.is_("jcp", "operations"):
        return True
    return principal.is_("provider") and referral.provider_id == principal.org_id


def may_see_client(principal: Principal, referrals: list[Referral]) -> bool:
    """A provider sees a client only once the client has been referred to it."""
    if principal.is_("jcp", "operations"):
        return True
    return principal.is_("provider") and any(r.provider_id == principal.org_id for r in referrals)


def check_may_act_for_client(principal: Principal, referrals: list[Referral]) -> None:
    """Consent, assessment and job-readiness: JCP, or the provider of an active referral.

    A provider that cannot see the client gets 404 (it must not learn the client exists); one
    whose referrals have all ended gets 403.
    """
    if principal.is_("jcp"):
        return
    if not principal.is_("provider"):
        raise Forbidden(f"role {principal.role!r} may not act for a client")
    mine = [r for r in referrals if r.provider_id == principal.org_id]
    if not mine:
        raise NotFound("no such client")
    if not any(r.is_active for r in mine):
        raise Forbidden("only the provider of an active referral may act for this client")


def check_may_assess(principal: Principal, referrals: list[Referral]) -> None:
    """Only the provider of an active referral records an assessment: JCP does not assess."""
    if not principal.is_("provider"):
        raise Forbidden("only the provider of an active referral may record an assessment")
    check_may_act_for_client(principal, referrals)
