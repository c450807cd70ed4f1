"""The referral lifecycle: one table of who may move a referral where, and one `apply`.

Pure rules: no Kafka, no MongoDB, no HTTP. Each rule either returns the events it causes or
raises a `runtime.errors` error that the HTTP layer maps to a status code.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, Field, computed_field

from runtime.errors import Conflict, Forbidden, Invalid, NotFound
from runtime.principal import Principal
from schemas import referrals as ev
from schemas.base import EventData
from schemas.types import (
    EntityId,
    ReferralStatus,
)
from services.referrals.clients import Client

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
