"""A client as the operations team follows them: where they live, their consent, and how far
their journey has gone, folded from every service's events. Pure: no I/O, no clock.

One document per client (`_id` = client id), so a batch reads the clients it touches by `_id`
and a client's timeline is one lookup. Priority groups come from `referrals.client.job-ready`,
the one event that carries them (registration does not: they are special category data), so a
client's groups are known from the moment they are job-ready; before that they count as `none`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from runtime.handlers import Apply
from schemas import matching, referrals, vacancies
from schemas.base import EventData
from schemas.envelope import CloudEvent

TIMELINE_KEPT = 500  # a client's whole history is far shorter; a bound all the same

STAGES = (
    "identified",
    "referred",
    "in-support",
    "job-ready",
    "matched",
    "in-work",
    "sustained",
    "off-benefit",
)
SUPPORT_KINDS = frozenset({"support", "iag", "assessment"})
TRAINING_KINDS = frozenset({"skills", "routeway"})
JOURNEY = ("engaged", "supported", "trained", "job", "sustained")


class TimelineEntry(BaseModel):
    at: datetime
    type: str
    service: str
    summary: str


class ClientView(BaseModel):
    client_id: str
    partnership: str | None = None
    # After a move without `tracking` consent the new partnership sees only what follows it.
    visible_from: datetime | None = None
    local_authority: str | None = None
    ward: str | None = None
    benefit: str | None = None
    on_benefit: bool = True
    priority_groups: list[str] = Field(default_factory=list)
    scopes: list[str] = Field(default_factory=list)
    registered_at: datetime | None = None
    # Journey milestones: when each was first reached.
    referred_at: datetime | None = None
    in_support_at: datetime | None = None
    engaged_at: datetime | None = None
    supported_at: datetime | None = None
    trained_at: datetime | None = None
    job_ready_at: datetime | None = None
    shortlisted_at: datetime | None = None
    job_at: datetime | None = None
    sustained_at: datetime | None = None
    # The id of the event that first reached a milestone: counted once per client by it.
    firsts: dict[str, str] = Field(default_factory=dict)
    live_matches: list[str] = Field(default_factory=list)
    live_placements: list[str] = Field(default_factory=list)
    sustained_placements: list[str] = Field(default_factory=list)
    # placement id -> the lead provider credited with it (sustainments carry no provider)
    placement_providers: dict[str, str] = Field(default_factory=dict)
    timeline: list[TimelineEntry] = Field(default_factory=list)

    @property
    def stage(self) -> str:
        return stage_of(self)

    def journey(self) -> dict[str, bool]:
        return {
            "engaged": self.engaged_at is not None,
            "supported": self.supported_at is not None,
            "trained": self.trained_at is not None,
            "job": self.job_at is not None,
            "sustained": self.sustained_at is not None,
        }

    def groups(self) -> list[str]:
        return list(self.priority_groups) or ["none"]


def stage_of(c: ClientView) -> str:
    """The furthest stage the client is in now (a stage left behind no longer counts)."""
    if not c.on_benefit:
        return "off-benefit"
    if c.live_placements and any(p in c.sustained_placements for p in c.live_placements):
        return "sustained"
    if c.live_placements:
        return "in-work"
    if c.live_matches:
        return "matched"
    if c.job_ready_at:
        return "job-ready"
    if c.in_support_at:
        return "in-support"
    if c.referred_at:
        return "referred"
    return "identified"


def _first(c: ClientView, milestone: str, at: datetime, event: CloudEvent) -> None:
    if getattr(c, f"{milestone}_at") is None:
        setattr(c, f"{milestone}_at", at)
        c.firsts[milestone] = event.id


def _service(event_type: str) -> str:
    return event_type.split(".", 1)[0]


def summary(event_type: str, data: dict[str, Any]) -> str:
    """What happened, in ids and codes only (never free text or a person's details)."""
    kind = event_type.split(".", 1)[1]
    ids = [
        f"{name} {data[name]}"
        for name in (
            "referral_id",
            "provider_id",
            "programme",
            "vacancy_id",
            "match_id",
            "submission_id",
            "placement_id",
        )
        if data.get(name)
    ]
    extra = [
        f"{name} {data[name]}"
        for name in ("status", "reason", "sla", "weeks", "to_partnership")
        if data.get(name) not in (None, "")
    ]
    if "scopes" in data:
        extra.append("scopes " + ",".join(data["scopes"]))
    return "; ".join([kind, *ids, *extra])[:300]


def _record(c: ClientView, event: CloudEvent) -> None:
    entry = TimelineEntry(
        at=event.time,
        type=event.type,
        service=_service(event.type),
        summary=summary(event.type, event.data if isinstance(event.data, dict) else {}),
    )
    c.timeline = [*c.timeline, entry][-TIMELINE_KEPT:]


# --- the rule per event type ---------------------------------------------------------------


def _registered(c: ClientView, d: referrals.ClientRegistered, e: CloudEvent) -> None:
    c.partnership = d.partnership or c.partnership
    c.local_authority, c.ward, c.benefit = d.local_authority, d.ward, d.benefit
    c.registered_at = c.registered_at or e.time


def _moved(c: ClientView, d: referrals.ClientMoved, e: CloudEvent) -> None:
    c.partnership, c.local_authority, c.ward = d.to_partnership, d.local_authority, d.ward
    if not d.history_follows:
        c.visible_from = e.time


def _consent(c: ClientView, d: Any, e: CloudEvent) -> None:
    c.scopes = sorted(d.current_scopes)


def _job_ready(c: ClientView, d: referrals.ClientJobReady, e: CloudEvent) -> None:
    c.priority_groups = sorted(d.priority_groups)
    c.ward = d.ward or c.ward
    c.partnership = d.partnership or c.partnership
    _first(c, "job_ready", e.time, e)


def _benefit_changed(c: ClientView, d: referrals.ClientBenefitChanged, e: CloudEvent) -> None:
    c.benefit = d.to_benefit


def _off_flowed(c: ClientView, d: referrals.ClientOffFlowed, e: CloudEvent) -> None:
    c.on_benefit = False


def _reclaimed(c: ClientView, d: referrals.ClientReclaimed, e: CloudEvent) -> None:
    c.on_benefit, c.benefit = True, d.benefit


def _referral_created(c: ClientView, d: Any, e: CloudEvent) -> None:
    c.partnership = c.partnership or d.partnership
    _first(c, "referred", e.time, e)


def _accepted(c: ClientView, d: Any, e: CloudEvent) -> None:
    _first(c, "engaged", e.time, e)


def _started(c: ClientView, d: referrals.ReferralStarted, e: CloudEvent) -> None:
    _first(c, "in_support", e.time, e)
    if d.programme_kind in SUPPORT_KINDS:
        _first(c, "supported", e.time, e)


def _completed(c: ClientView, d: referrals.ReferralCompleted, e: CloudEvent) -> None:
    if d.programme_kind in TRAINING_KINDS:
        _first(c, "trained", e.time, e)


def _match_proposed(c: ClientView, d: matching.MatchProposed, e: CloudEvent) -> None:
    if d.match_id not in c.live_matches:
        c.live_matches = [*c.live_matches, d.match_id]
    _first(c, "shortlisted", e.time, e)


def _match_withdrawn(c: ClientView, d: matching.MatchWithdrawn, e: CloudEvent) -> None:
    c.live_matches = [m for m in c.live_matches if m != d.match_id]


def _placement_started(c: ClientView, d: vacancies.PlacementStarted, e: CloudEvent) -> None:
    if d.placement_id not in c.live_placements:
        c.live_placements = [*c.live_placements, d.placement_id]
    if d.lead_provider_id:
        c.placement_providers = {**c.placement_providers, d.placement_id: d.lead_provider_id}
    c.live_matches = []  # starting work withdraws every other live match
    _first(c, "job", e.time, e)


def _placement_sustained(c: ClientView, d: vacancies.PlacementSustained, e: CloudEvent) -> None:
    if d.weeks == 13:
        if d.placement_id not in c.sustained_placements:
            c.sustained_placements = [*c.sustained_placements, d.placement_id]
        _first(c, "sustained", e.time, e)


def _placement_ended(c: ClientView, d: vacancies.PlacementEnded, e: CloudEvent) -> None:
    c.live_placements = [p for p in c.live_placements if p != d.placement_id]


def _nothing(c: ClientView, d: Any, e: CloudEvent) -> None:
    """On the timeline only."""


Rule = Callable[[ClientView, Any, CloudEvent], None]

RULES: dict[type[EventData], Rule] = {
    referrals.ClientRegistered: _registered,
    referrals.ClientMoved: _moved,
    referrals.ConsentRecorded: _consent,
    referrals.ConsentWithdrawn: _consent,
    referrals.ClientAssessed: _nothing,
    referrals.ClientJobReady: _job_ready,
    referrals.ClientBenefitChanged: _benefit_changed,
    referrals.ClientOffFlowed: _off_flowed,
    referrals.ClientReclaimed: _reclaimed,
    referrals.ActionPlanAgreed: _nothing,
    referrals.ReferralCreated: _referral_created,
    referrals.ReferralAccepted: _accepted,
    referrals.ReferralStarted: _started,
    referrals.ReferralCompleted: _completed,
    referrals.ReferralSlaBreached: _nothing,
    matching.MatchProposed: _match_proposed,
    matching.MatchWithdrawn: _match_withdrawn,
    vacancies.PlacementStarted: _placement_started,
    vacancies.PlacementSustained: _placement_sustained,
    vacancies.PlacementEnded: _placement_ended,
    vacancies.PlacementRevolvingDoor: _nothing,
    **{model: _nothing for model in vacancies.SUBMISSION_EVENTS},
    **{
        model: _nothing
        for model in referrals.REFERRAL_LIFECYCLE
        if model
        not in (
            referrals.ReferralCreated,
            referrals.ReferralAccepted,
            referrals.ReferralStarted,
            referrals.ReferralCompleted,
        )
    },
}


def apply(rule: Rule) -> Callable[[ClientView | None, Any, CloudEvent], tuple[ClientView, list]]:
    def run(view: ClientView | None, data: Any, event: CloudEvent) -> tuple[ClientView, list]:
        view = view or ClientView(client_id=data.client_id)
        rule(view, data, event)
        _record(view, event)
        return view, []

    return run


def client_handlers() -> dict[type[EventData], Apply[ClientView]]:
    """The client projection's handlers: every event about a client, keyed by its id."""
    return {
        model: Apply(aggregate_id=lambda d: d.client_id, apply=apply(rule))
        for model, rule in RULES.items()
    }


def visible_timeline(view: ClientView) -> list[TimelineEntry]:
    """Oldest first; after a move without `tracking` consent, only what followed the move."""
    entries = sorted(view.timeline, key=lambda t: t.at)
    if view.visible_from is not None:
        entries = [t for t in entries if t.at >= view.visible_from]
    return entries
