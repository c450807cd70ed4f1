"""The client: a person out of work known by a pseudonymous id, created from JCP claimant events.

Pure rules: no Kafka, no MongoDB, no HTTP, no clock (the caller passes `at` or `now`). Each rule
returns the events it causes or raises a `runtime.errors` error that the HTTP layer maps to a
status. Besides the record itself the client keeps its partnership (which follows a move), a
bounded history of what JCP told us, the consent ledger and the action plan; who may see the
client is decided here too (`may_see_client`), from the client and its referrals.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time
from typing import Any, Literal, Protocol
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, model_validator

from runtime.errors import Conflict, Forbidden, Invalid, NotFound
from runtime.partnerships import UNASSIGNED
from runtime.principal import Principal
from schemas import jcp
from schemas import referrals as ev
from schemas.base import EventData
from schemas.types import (
    AgeBand,
    Benefit,
    Code,
    ConsentScope,
    EntityId,
    Location,
    PartnershipId,
    PriorityGroup,
    ProgrammeKind,
    QualificationLevel,
    ReferralStatus,
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


LONDON = ZoneInfo("Europe/London")
HISTORY_KEPT = 200
"""JCP events, moves and placements kept per client: enough for a timeline of years on benefit,
bounded so a feed that repeats itself cannot grow a document without limit."""
CONSENT_CHANGES_KEPT = 1000
"""The consent ledger keeps every change; the bound only stops a caller that records and
withdraws in a loop from growing the document past what the database accepts."""
PLAN_ITEMS_MAX = 50
ACTIVE_REFERRAL = ev.ACTIVE_REFERRAL_STATUSES


def london_date(moment: datetime) -> date:
    return moment.astimezone(LONDON).date()


def end_of_day(day: date) -> datetime:
    """23:59:59 Europe/London on `day`: when a right that runs to a date ends (the contract's
    deadlines fall at the same moment)."""
    return datetime.combine(day, time(23, 59, 59), tzinfo=LONDON)


def _same_area(a: str, b: str) -> bool:
    # JCP offices spell local authorities with varying case and spacing (as `Partnerships` does).
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


class HistoryEntry(BaseModel):
    """Something that happened to the client outside a referral (JCP's news, a move, a job),
    with the partnership the client belonged to then. Coded fields only, never free text."""

    model_config = ConfigDict(extra="allow")

    type: str
    at: datetime
    partnership: str


class ConsentGrant(BaseModel):
    """A scope in force: since when, until when (None: until withdrawn), on which form."""

    scope: ConsentScope
    since: datetime
    expires: date | None = None
    form_version: Code | None = None


class ConsentChange(BaseModel):
    """One entry of the consent ledger. `by_org` is None when a scope lapsed by itself."""

    action: Literal["recorded", "withdrawn", "expired"]
    scopes: list[ConsentScope]
    at: datetime
    by_org: str | None = None
    form_version: Code | None = None
    expires: date | None = None


class PlanItem(BaseModel):
    """One step of an action plan. `action` is the free text agreed with the client: it stays in
    this service and never reaches an event."""

    model_config = ConfigDict(extra="forbid")

    item_id: EntityId
    action: str = Field(min_length=1, max_length=500)
    kind: Literal["training", "support", "job-search", "other"]
    due: date
    status: Literal["open", "done", "dropped"]
    provider_id: EntityId | None = None


class ActionPlan(BaseModel):
    items: list[PlanItem] = Field(max_length=PLAN_ITEMS_MAX)
    agreed_by: EntityId
    agreed_at: datetime
    first_agreed_at: datetime


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
    partnership: PartnershipId = UNASSIGNED
    partnership_since: datetime | None = None
    history_visible_from: datetime | None = Field(
        default=None,
        description="Set by a move without `tracking` consent: the new partnership sees only "
        "what happened from then on.",
    )
    on_benefit: bool = True
    reclaims: int = 0
    history: list[HistoryEntry] = Field(default_factory=list)
    consent_scopes: list[ConsentScope] = Field(
        default_factory=list, description="The scopes in force now (see `consents`)."
    )
    consents: list[ConsentGrant] = Field(default_factory=list)
    consent_history: list[ConsentChange] = Field(default_factory=list)
    assessment: RecordedAssessment | None = None
    job_ready: bool = False
    action_plan: ActionPlan | None = None
    referral_ids: list[EntityId] = Field(default_factory=list)
    placement_started: bool = False
    sustained_13: bool = False
    registered_at: datetime

    @model_validator(mode="after")
    def _records_from_before_the_ledger(self) -> Client:
        # Clients stored before partnerships and the consent ledger: their scopes hold from
        # registration, with no expiry, and they belong to their partnership since then.
        if self.partnership_since is None:
            self.partnership_since = self.registered_at
        held = {g.scope for g in self.consents}
        for scope in self.consent_scopes:
            if scope not in held:
                self.consents.append(ConsentGrant(scope=scope, since=self.registered_at))
        self.consent_scopes = sorted(g.scope for g in self.consents)
        return self

    @classmethod
    def register(
        cls,
        client_id: str,
        claim: jcp.ClaimantRegistered,
        at: datetime,
        partnership: str = UNASSIGNED,
    ) -> tuple[Client, list[EventData]]:
        """`at` is when JCP registered the claim (its event's time), so that rebuilding the
        clients from the topic gives the same records; `partnership` covers the claimant's
        local authority."""
        client = cls(
            client_id=client_id,
            registered_at=at,
            partnership=partnership,
            partnership_since=at,
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
                partnership=partnership,
            )
        ]

    # --- Where the client lives, and what JCP tells us --------------------------------------

    def _remember(self, kind: str, at: datetime, **fields: Any) -> None:
        entry = HistoryEntry(
            type=kind,
            at=at,
            partnership=self.partnership,
            **{k: v for k, v in fields.items() if v is not None},
        )
        self.history = [*self.history, entry][-HISTORY_KEPT:]

    def register_again(
        self, claim: jcp.ClaimantRegistered, partnership: str, at: datetime
    ) -> list[EventData]:
        """JCP registering the claimant again: a repeat changes nothing; another local authority
        is a move."""
        return self.relocate(
            claim.local_authority, claim.ward, claim.postcode_district, partnership, at
        )

    def relocate(
        self,
        local_authority: str,
        ward: str | None,
        postcode_district: str | None,
        partnership: str,
        at: datetime,
    ) -> list[EventData]:
        """The claimant now lives in `local_authority` (of `partnership`). Another local
        authority is a move; the same one is not (JCP repeating itself).

        With `tracking` consent the client's history follows to the new partnership; without
        it, the new partnership sees only what happens from `at` on."""
        if _same_area(local_authority, self.local_authority):
            return []
        follows = "tracking" in self.consent_scopes
        before = self.partnership
        self.local_authority = local_authority
        # A feed may send the new authority without the ward or district (benefit-changed makes
        # them optional): the old ones are then the best we know until JCP sends more.
        self.ward = ward or self.ward
        self.postcode_district = postcode_district or self.postcode_district
        if partnership != before:
            self.partnership = partnership
            self.partnership_since = at
            if not follows:
                self.history_visible_from = at
        self._remember(
            "moved",
            at,
            from_partnership=before,
            to_partnership=partnership,
            local_authority=local_authority,
            ward=self.ward,
            history_follows=follows,
        )
        return [
            ev.ClientMoved(
                client_id=self.client_id,
                from_partnership=before,
                to_partnership=partnership,
                local_authority=local_authority,
                ward=self.ward,
                history_follows=follows,
            )
        ]

    def change_benefit(
        self, change: jcp.ClaimantBenefitChanged, at: datetime, partnership: str | None = None
    ) -> list[EventData]:
        """`partnership` covers `change.local_authority` when the feed sent one."""
        events: list[EventData] = []
        if change.local_authority and partnership:
            events += self.relocate(
                change.local_authority, change.ward, change.postcode_district, partnership, at
            )
        self.benefit = change.to_benefit
        self._remember(
            "benefit-changed",
            at,
            from_benefit=change.from_benefit,
            to_benefit=change.to_benefit,
            effective_date=change.effective_date,
        )
        return [
            *events,
            ev.ClientBenefitChanged(
                client_id=self.client_id,
                from_benefit=change.from_benefit,
                to_benefit=change.to_benefit,
                effective_date=change.effective_date,
                partnership=self.partnership,
            ),
        ]

    def off_flow(self, data: jcp.ClaimantOffFlowed, at: datetime) -> list[EventData]:
        self.on_benefit = False
        self._remember("off-flowed", at, off_flow_date=data.off_flow_date, reason=data.reason)
        return [
            ev.ClientOffFlowed(
                client_id=self.client_id,
                off_flow_date=data.off_flow_date,
                reason=data.reason,
                partnership=self.partnership,
            )
        ]

    def reclaim(self, claim: jcp.ClaimantReclaimed, at: datetime) -> list[EventData]:
        """A claim after leaving benefit: counted, because reclaims reveal the revolving door."""
        self.on_benefit = True
        self.benefit = claim.benefit
        self.reclaims += 1
        self._remember("reclaimed", at, reclaim_date=claim.reclaim_date, benefit=claim.benefit)
        return [
            ev.ClientReclaimed(
                client_id=self.client_id,
                reclaim_date=claim.reclaim_date,
                benefit=claim.benefit,
                partnership=self.partnership,
            )
        ]

    # --- Work, learned from the vacancies service -------------------------------------------

    def note_placement_started(
        self, placement_id: str, vacancy_id: str, start_date: date, at: datetime
    ) -> list[EventData]:
        self.placement_started = True
        self._remember(
            "placement-started",
            at,
            placement_id=placement_id,
            vacancy_id=vacancy_id,
            start_date=start_date,
        )
        return []  # the vacancies service announced it; we only keep the client's journey

    def note_placement_sustained(
        self, placement_id: str, weeks: int, at: datetime
    ) -> list[EventData]:
        if weeks >= 13:
            self.sustained_13 = True
        self._remember("placement-sustained", at, placement_id=placement_id, weeks=weeks)
        return []

    def note_referral(self, referral_id: str) -> list[EventData]:
        """Keep the ids of the client's referrals, so they are read by `_id`, never searched."""
        if referral_id not in self.referral_ids:
            self.referral_ids = [*self.referral_ids, referral_id]
        return []

    # --- The consent ledger -----------------------------------------------------------------

    def _grant(self, scope: str) -> ConsentGrant | None:
        return next((g for g in self.consents if g.scope == scope), None)

    def _set_grants(self, grants: list[ConsentGrant], change: ConsentChange) -> None:
        self.consents = sorted(grants, key=lambda g: g.scope)
        self.consent_scopes = [g.scope for g in self.consents]
        self.consent_history = [*self.consent_history, change][-CONSENT_CHANGES_KEPT:]

    def record_consent(
        self,
        scopes: list[ConsentScope],
        at: datetime | None = None,
        *,
        by_org: str | None = None,
        form_version: str | None = None,
        expires: date | None = None,
    ) -> list[EventData]:
        """Record (or renew, on another form or with another expiry) consent for `scopes`.

        A repeat of what is in force changes nothing. `expires` is the last day the consent
        holds; a day before `at`'s date (London) is refused. `at` falls back to the registration
        time only for callers that predate the ledger; every command passes it."""
        at = at or self.registered_at
        if expires is not None and expires < london_date(at):
            raise Invalid("the expiry date is in the past", field="expires")
        changed = [
            s
            for s in dict.fromkeys(scopes)
            if (g := self._grant(s)) is None
            or (g.form_version, g.expires) != (form_version, expires)
        ]
        if not changed:
            return []  # already in force: an idempotent repeat, nothing to tell anyone
        kept = [g for g in self.consents if g.scope not in changed]
        new = [
            ConsentGrant(scope=s, since=at, expires=expires, form_version=form_version)
            for s in changed
        ]
        self._set_grants(
            kept + new,
            ConsentChange(
                action="recorded",
                scopes=sorted(changed),
                at=at,
                by_org=by_org,
                form_version=form_version,
                expires=expires,
            ),
        )
        return [
            ev.ConsentRecorded(
                client_id=self.client_id,
                scopes=sorted(changed),
                current_scopes=self.consent_scopes,
                form_version=form_version,
                expires=expires,
            )
        ]

    def withdraw_consent(
        self, scopes: list[ConsentScope], at: datetime | None = None, *, by_org: str | None = None
    ) -> list[EventData]:
        return self._end_consent(
            [s for s in dict.fromkeys(scopes) if s in self.consent_scopes],
            at or self.registered_at,
            by_org,
            expired=False,
        )

    def expire_consent(self, now: datetime) -> list[EventData]:
        """Lapse every scope whose `expires` day has ended (see `consent_expiry_due`)."""
        lapsed = [g.scope for g in self.consents if g.expires and now >= end_of_day(g.expires)]
        return self._end_consent(lapsed, now, None, expired=True)

    def _end_consent(
        self, scopes: list[ConsentScope], at: datetime, by_org: str | None, *, expired: bool
    ) -> list[EventData]:
        if not scopes:
            return []
        self._set_grants(
            [g for g in self.consents if g.scope not in scopes],
            ConsentChange(
                action="expired" if expired else "withdrawn",
                scopes=sorted(scopes),
                at=at,
                by_org=by_org,
            ),
        )
        return [
            ev.ConsentWithdrawn(
                client_id=self.client_id,
                scopes=sorted(scopes),
                current_scopes=self.consent_scopes,
                expired=expired,
            )
        ]

    # --- Assessment, job-readiness and the action plan --------------------------------------

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
                partnership=self.partnership,
            )
        ]

    def agree_action_plan(
        self, items: Sequence[PlanItem], provider_id: str, at: datetime
    ) -> list[EventData]:
        """The lead provider records (or revises) the plan agreed with the client. The same
        plan again from the same provider changes nothing."""
        if len(items) > PLAN_ITEMS_MAX:
            raise Invalid(f"at most {PLAN_ITEMS_MAX} items", field="items")
        if len({i.item_id for i in items}) != len(items):
            raise Invalid("every item_id must be unique", field="items")
        plan = self.action_plan
        if plan is not None and plan.items == list(items) and plan.agreed_by == provider_id:
            return []
        self.action_plan = ActionPlan(
            items=list(items),
            agreed_by=provider_id,
            agreed_at=at,
            first_agreed_at=plan.first_agreed_at if plan else at,
        )
        return [
            ev.ActionPlanAgreed(
                client_id=self.client_id,
                provider_id=provider_id,
                items=[ev.ActionPlanItem(**i.model_dump(exclude={"action"})) for i in items],
                partnership=self.partnership,
            )
        ]


def consent_expiry_due(client: Client) -> datetime | None:
    """The next moment a scope of the client lapses (the end of its `expires` day, London), or
    None when nothing in force expires: when to run `Client.expire_consent` next."""
    ends = [end_of_day(g.expires) for g in client.consents if g.expires is not None]
    return min(ends) if ends else None


# --- Who may see and do what with a client (named rules; the referral rules use them too) ----


class StatusFact(Protocol):
    @property
    def status(self) -> ReferralStatus: ...


class ReferralFacts(Protocol):
    """What these rules read of a referral (`domain.Referral` has it)."""

    @property
    def provider_id(self) -> str: ...
    @property
    def status(self) -> ReferralStatus: ...
    @property
    def history(self) -> Sequence[StatusFact]: ...


def is_lead(referral: ReferralFacts) -> bool:
    # Read leniently: referrals stored before the lead flag existed are not the lead.
    return bool(getattr(referral, "lead", False))


def programme_kind(referral: ReferralFacts) -> ProgrammeKind | None:
    return getattr(referral, "programme_kind", None)


def lead_provider(referrals: Sequence[ReferralFacts]) -> str | None:
    """The provider of the client's active lead referral: the one provider credited."""
    return next(
        (r.provider_id for r in referrals if r.status in ACTIVE_REFERRAL and is_lead(r)), None
    )


def may_see_client(
    principal: Principal, client: Client, referrals: Sequence[ReferralFacts]
) -> bool:
    """JCP and operations see the clients of their partnership (after a move, the new one's
    only); a provider sees a client while it holds `providers` consent and was referred to that
    provider; nobody else sees clients. Everyone who may not see one gets 404."""
    if principal.is_("jcp", "operations"):
        return principal.sees(client.partnership)
    if principal.is_("provider"):
        return "providers" in client.consent_scopes and any(
            r.provider_id == principal.org_id for r in referrals
        )
    return False


def check_may_see_client(
    principal: Principal, client: Client, referrals: Sequence[ReferralFacts]
) -> None:
    if not may_see_client(principal, client, referrals):
        raise NotFound("no such client")


def check_may_read_consent(
    principal: Principal, client: Client, referrals: Sequence[ReferralFacts]
) -> None:
    """The consent ledger: JCP and operations of the partnership, and the lead provider."""
    check_may_see_client(principal, client, referrals)
    if principal.is_("provider") and lead_provider(referrals) != principal.org_id:
        raise Forbidden("only the lead provider may read the client's consent")


def check_may_read_action_plan(
    principal: Principal, client: Client, referrals: Sequence[ReferralFacts]
) -> None:
    """JCP and operations of the partnership, and providers of the client's active referrals."""
    check_may_see_client(principal, client, referrals)
    if principal.is_("provider") and not any(
        r.provider_id == principal.org_id and r.status in ACTIVE_REFERRAL for r in referrals
    ):
        raise Forbidden("only providers of an active referral may read the action plan")


def check_may_agree_action_plan(
    principal: Principal, client: Client, referrals: Sequence[ReferralFacts]
) -> None:
    """Only the lead provider agrees the action plan (403 for anyone else who sees the client)."""
    check_may_see_client(principal, client, referrals)
    if not principal.is_("provider") or lead_provider(referrals) != principal.org_id:
        raise Forbidden("only the lead provider may agree the action plan")


def visible_history(principal: Principal, client: Client) -> list[HistoryEntry]:
    """The client's history as the caller may read it: after a move without `tracking`
    consent, only what happened since (national operations reads it all)."""
    since = client.history_visible_from
    if since is None or principal.national:
        return list(client.history)
    return [h for h in client.history if h.at >= since]
