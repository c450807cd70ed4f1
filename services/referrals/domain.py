"""The referral lifecycle: one table of who may move a referral where, and one `apply`.

Shaped after the HL7 SDOH closed-loop referral (statuses with who may set each, on-hold for
waitlists, coded reasons) and DWP's provider rules (acknowledge within 2 working days, start
within 15, an action plan within 20). Pure: no Kafka, no MongoDB, no HTTP, no clock; every
rule takes `at`/`now` from its caller.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field, computed_field

from runtime.errors import Conflict, Forbidden, Invalid, NotFound
from runtime.principal import Principal
from runtime.working_days import deadline_after
from schemas import referrals as ev
from schemas.base import EventData
from schemas.types import (
    EntityId,
    PartnershipId,
    ProgrammeKind,
    ReasonCode,
    ReferralStatus,
    ShortText,
    SlaName,
)
from services.referrals.clients import Client, lead_provider
from services.referrals.directory import SlaSettings

ACTIVE = ev.ACTIVE_REFERRAL_STATUSES
REASON_CODES = frozenset(ev.REASON_CODES)
MAX_NOTE = 500


@dataclass(frozen=True)
class SystemActor:
    """The platform itself: timers (expiry) and reactions (consent withdrawn, a place freed)."""

    org_id: str = "platform"
    role: Literal["system"] = "system"


SYSTEM = SystemActor()
Actor = Principal | SystemActor

Action = Literal[
    "accept", "reject", "start", "complete", "drop-out", "did-not-start", "withdraw", "expire",
    "release",
]  # fmt: skip


@dataclass(frozen=True)
class Step:
    sources: frozenset[ReferralStatus]
    target: ReferralStatus
    roles: frozenset[str]
    needs_reason: bool = False


# action -> the statuses it may leave, the status it reaches, who may take it
LIFECYCLE: dict[Action, Step] = {
    "accept": Step(frozenset({"created"}), "accepted", frozenset({"provider"})),
    "reject": Step(frozenset({"created"}), "rejected", frozenset({"provider"}), True),
    "start": Step(frozenset({"accepted"}), "started", frozenset({"provider"})),
    "complete": Step(frozenset({"started"}), "completed", frozenset({"provider"})),
    "drop-out": Step(
        frozenset({"accepted", "started"}), "dropped-out", frozenset({"provider"}), True
    ),
    "did-not-start": Step(frozenset({"accepted"}), "did-not-start", frozenset({"provider"}), True),
    "withdraw": Step(ACTIVE, "withdrawn", frozenset({"jcp", "system"}), True),
    "expire": Step(frozenset({"created"}), "expired", frozenset({"system"})),
    "release": Step(frozenset({"on-hold"}), "created", frozenset({"system"})),
}

_EVENT_FOR_ACTION: dict[Action, type[ev._ReferralEvent]] = {
    "accept": ev.ReferralAccepted,
    "reject": ev.ReferralRejected,
    "start": ev.ReferralStarted,
    "complete": ev.ReferralCompleted,
    "drop-out": ev.ReferralDroppedOut,
    "did-not-start": ev.ReferralDidNotStart,
    "withdraw": ev.ReferralWithdrawn,
    "expire": ev.ReferralExpired,
    "release": ev.ReferralReleased,
}

_MEETS: dict[Action, SlaName] = {"accept": "acknowledge", "reject": "acknowledge", "start": "start"}

# While a deadline can still be missed: an acknowledgement is owed only while nobody answered,
# a start only until the client starts or the referral ends.
_OWED_WHILE: dict[SlaName, frozenset[ReferralStatus]] = {
    "acknowledge": frozenset({"created"}),
    "start": frozenset({"created", "accepted"}),
    "action_plan": frozenset({"created", "accepted", "started"}),
}


def parse_reason(reason: str, note: str | None) -> tuple[ReasonCode, str | None]:
    """A coded reason and its optional note. A reason that is not a code (as old clients send)
    is kept as the note, with code `other`."""
    if reason in REASON_CODES:
        return reason, note  # type: ignore[return-value]
    kept = reason if note is None else f"{reason}: {note}"
    return "other", kept[:MAX_NOTE]


class HistoryEntry(BaseModel):
    status: ReferralStatus
    at: datetime
    by_org: str
    by_role: str
    reason: ReasonCode | None = None
    note: str | None = Field(default=None, max_length=MAX_NOTE)


class Sla(BaseModel):
    name: SlaName
    due: datetime
    met_at: datetime | None = None
    breached: bool = False


class Referral(BaseModel):
    referral_id: EntityId
    client_id: EntityId
    provider_id: EntityId
    programme: ShortText
    programme_kind: ProgrammeKind | None = None
    partnership: PartnershipId | None = None
    referred_by: EntityId | None = None
    reason: ShortText
    lead: bool = False
    status: ReferralStatus = "created"
    created_at: datetime | None = None
    history: list[HistoryEntry] = Field(default_factory=list)
    sla_settings: SlaSettings = Field(default_factory=SlaSettings)
    sla: list[Sla] = Field(default_factory=list)
    expires_at: datetime | None = None
    outcome: ShortText | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def active_key(self) -> str:
        """Unique while active, so the database itself refuses a duplicate active referral."""
        if self.status in ACTIVE:
            return f"{self.client_id}|{self.provider_id}|{self.programme}"
        return f"ended|{self.referral_id}"

    @computed_field  # type: ignore[prop-decorator]
    @property
    def lead_key(self) -> str:
        """Unique while an active lead: one case owner per client, enforced by the database."""
        if self.lead and self.status in ACTIVE:
            return f"lead|{self.client_id}"
        return f"none|{self.referral_id}"

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE

    @property
    def completed_at(self) -> datetime | None:
        return next((h.at for h in reversed(self.history) if h.status == "completed"), None)

    @classmethod
    def create(
        cls,
        *,
        referral_id: str,
        client_id: str,
        provider_id: str,
        programme_id: str,
        programme_kind: ProgrammeKind,
        sla_settings: SlaSettings,
        partnership: str,
        reason: str,
        lead: bool,
        status: Literal["created", "on-hold"],
        by: Principal,
        at: datetime,
    ) -> tuple[Referral, list[EventData]]:
        """A referral that took a place (`created`) or waits for one (`on-hold`). Deadlines
        start when the provider is actually asked: now, or when the referral is released."""
        referral = cls(
            referral_id=referral_id,
            client_id=client_id,
            provider_id=provider_id,
            programme=programme_id,
            programme_kind=programme_kind,
            partnership=partnership,
            referred_by=by.org_id,
            reason=reason,
            lead=lead,
            status=status,
            created_at=at,
            sla_settings=sla_settings,
            history=[HistoryEntry(status="created", at=at, by_org=by.org_id, by_role=by.role)],
        )
        if status == "created":
            referral._start_deadlines(at)
            return referral, [ev.ReferralCreated(**referral._event_fields())]
        # Made, then put on hold at once: both steps are history, and both are told, so a
        # count of referrals made includes the waitlisted ones.
        referral.history.append(
            HistoryEntry(status="on-hold", at=at, by_org=SYSTEM.org_id, by_role=SYSTEM.role)
        )
        return referral, [
            ev.ReferralCreated(**referral._event_fields()),
            ev.ReferralOnHold(**referral._event_fields()),
        ]

    def _start_deadlines(self, at: datetime) -> None:
        s = self.sla_settings
        self.sla = [
            Sla(name="acknowledge", due=deadline_after(at, s.acknowledge_working_days)),
            Sla(name="start", due=deadline_after(at, s.start_working_days)),
            Sla(name="action_plan", due=deadline_after(at, s.action_plan_working_days)),
        ]
        self.expires_at = deadline_after(at, s.expire_unacknowledged_working_days)

    def _event_fields(self) -> dict[str, object]:
        return {
            "referral_id": self.referral_id,
            "client_id": self.client_id,
            "provider_id": self.provider_id,
            "programme": self.programme,
            "programme_kind": self.programme_kind,
            "partnership": self.partnership,
            "lead": self.lead,
            "referred_by": self.referred_by,
        }

    def apply(
        self,
        action: Action,
        by: Actor,
        at: datetime,
        *,
        reason: ReasonCode | None = None,
        note: str | None = None,
        outcome: str | None = None,
    ) -> list[EventData]:
        """Move along the lifecycle: 403 for the wrong caller, 409 for a forbidden step."""
        step = LIFECYCLE[action]
        if by.role not in step.roles:
            raise Forbidden(f"only {', '.join(sorted(step.roles))} may {action} a referral")
        if self.status not in step.sources:
            raise Conflict(f"cannot {action} a referral that is {self.status}")
        if step.needs_reason and reason is None:
            raise Invalid(f"a reason is needed to {action} a referral", field="reason")
        self.status = step.target
        self.history.append(
            HistoryEntry(
                status=step.target, at=at, by_org=by.org_id, by_role=by.role, reason=reason,
                note=note,
            )
        )  # fmt: skip
        if action in _MEETS:
            self._meet(_MEETS[action], at)
        if action == "release":
            self._start_deadlines(at)
        extra: dict[str, object] = {}
        if action == "complete":
            self.outcome = outcome or "completed"
            extra["outcome"] = self.outcome
        if step.needs_reason:
            extra["reason"] = reason
        return [_EVENT_FOR_ACTION[action](**self._event_fields(), **extra)]

    def _meet(self, name: SlaName, at: datetime) -> None:
        for sla in self.sla:
            if sla.name == name and sla.met_at is None:
                sla.met_at = at

    def meet_action_plan(self, agreed_at: datetime) -> list[EventData]:
        """The client's action plan was agreed: met, if this referral was active then."""
        if self.is_active and self.created_at and agreed_at >= self.created_at:
            self._meet("action_plan", agreed_at)
        return []

    def check_deadlines(
        self, now: datetime, action_plan_agreed_at: datetime | None = None
    ) -> list[EventData]:
        """Deadlines that passed unmet become breaches, each emitted once (the flag is stored
        with the event); a referral nobody acknowledged in time expires."""
        if action_plan_agreed_at is not None:
            self.meet_action_plan(action_plan_agreed_at)
        events: list[EventData] = []
        for sla in self.sla:
            if (
                sla.met_at is None
                and not sla.breached
                and sla.due <= now
                and self.status in _OWED_WHILE[sla.name]
            ):
                sla.breached = True
                events.append(
                    ev.ReferralSlaBreached(
                        **self._event_fields(), status=self.status, sla=sla.name, due=sla.due
                    )
                )
        if self.status == "created" and self.expires_at is not None and self.expires_at <= now:
            events += self.apply("expire", SYSTEM, now)
        return events

    def deadlines(self) -> list[datetime]:
        """When this referral next needs looking at (for the timers): every unmet deadline."""
        owed = [s.due for s in self.sla if s.met_at is None and not s.breached]
        if self.status == "created" and self.expires_at is not None:
            owed.append(self.expires_at)
        return sorted(set(owed))


# --- Who may see and do what (named rules, tested in tests/unit/referrals) ---------------------


def may_see_referral(
    principal: Principal, referral: Referral, client: Client | None = None
) -> bool:
    """A provider sees referrals addressed to it, from any partnership it serves; JCP and
    operations see their own partnership's referrals and, once a client has moved to them with
    `tracking` consent, the client's earlier ones too (the history follows the client); an
    employer never sees one."""
    if principal.is_("provider"):
        return referral.provider_id == principal.org_id
    if principal.is_("jcp", "operations"):
        if principal.sees(referral.partnership):
            return True
        return (
            client is not None
            and principal.sees(client.partnership)
            and "tracking" in client.consent_scopes
        )
    return False


def check_may_move(principal: Principal, referral: Referral) -> None:
    """404 for a referral the caller may not see; the lifecycle table decides the rest."""
    if not may_see_referral(principal, referral):
        raise NotFound("no such referral")


def decide_lead(requested: bool | None, referrals: list[Referral]) -> bool:
    """The first referral of a client without an active lead is the lead unless asked not to
    be; asking to be lead while another active lead exists is a conflict."""
    has_lead = lead_provider(referrals) is not None
    if requested is True and has_lead:
        raise Conflict("the client already has an active lead referral")
    if requested is None:
        return not has_lead
    return requested


def check_not_duplicate(referrals: list[Referral], provider_id: str, programme_id: str) -> None:
    if any(
        r.is_active and r.provider_id == provider_id and r.programme == programme_id
        for r in referrals
    ):
        raise Conflict("the client already has an active referral to this programme")
