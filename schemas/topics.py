"""Every topic of the contract, what it carries and how it is keyed, in one registry.

Services use these objects (`REFERRAL_EVENTS.name`), never topic strings, so renaming or
versioning a topic is one edit here. Each topic has a `.dlq` twin with the same partition count,
so a dead-lettered record keeps its key's partition and order.
"""

from __future__ import annotations

from dataclasses import dataclass

from schemas import jcp, matching, notifications, operations, referrals, vacancies
from schemas.base import EventData


@dataclass(frozen=True)
class Topic:
    name: str
    key: str
    events: tuple[type[EventData], ...]
    partitions: int = 3
    written_by: str = ""

    @property
    def dlq(self) -> str:
        return f"{self.name}.dlq"

    @property
    def event_types(self) -> tuple[str, ...]:
        return tuple(e.event_type for e in self.events)


JCP_CLAIMANT_EVENTS = Topic(
    name="jcp.claimant-events.v1",
    key="claimant_ref",
    written_by="JCP systems (outside)",
    events=(
        jcp.ClaimantRegistered,
        jcp.ClaimantBenefitChanged,
        jcp.ClaimantOffFlowed,
        jcp.ClaimantReclaimed,
    ),
)
REFERRAL_EVENTS = Topic(
    name="referrals.events.v1",
    key="client_id",
    written_by="referrals",
    events=(
        referrals.ClientRegistered,
        referrals.ConsentRecorded,
        referrals.ConsentWithdrawn,
        referrals.ClientAssessed,
        referrals.ClientJobReady,
        referrals.ClientMoved,
        referrals.ClientBenefitChanged,
        referrals.ClientOffFlowed,
        referrals.ClientReclaimed,
        referrals.ActionPlanAgreed,
        *referrals.REFERRAL_LIFECYCLE,
        referrals.ReferralSlaBreached,
    ),
)
DIRECTORY_EVENTS = Topic(
    name="referrals.directory.v1",
    key="provider_id",
    written_by="referrals",
    events=(referrals.ProgrammeUpdated,),
)
VACANCY_EVENTS = Topic(
    name="vacancies.events.v1",
    key="vacancy_id",
    written_by="vacancies",
    events=(
        vacancies.VacancyPosted,
        vacancies.VacancyScoped,
        vacancies.VacancyClosed,
        vacancies.VacancyFilled,
        vacancies.VacancyPartlyFilled,
        vacancies.VacancyExpired,
        *vacancies.SUBMISSION_EVENTS,
        vacancies.PlacementStarted,
        vacancies.PlacementSustained,
        vacancies.PlacementEnded,
        vacancies.PlacementRevolvingDoor,
    ),
)
MATCH_EVENTS = Topic(
    name="matching.events.v1",
    key="vacancy_id",
    written_by="matching",
    events=(matching.MatchProposed, matching.MatchWithdrawn),
)
NOTIFICATION_EVENTS = Topic(
    name="notifications.events.v1",
    key="org_id",
    written_by="notifications",
    events=(notifications.NotificationDelivered, notifications.NotificationFailed),
)
OPERATIONS_EVENTS = Topic(
    name="operations.events.v1",
    key="partnership",
    written_by="operations",
    events=(operations.DisparityDetected, operations.RedriveStarted, operations.RedriveFinished),
)

TOPICS: tuple[Topic, ...] = (
    JCP_CLAIMANT_EVENTS,
    REFERRAL_EVENTS,
    DIRECTORY_EVENTS,
    VACANCY_EVENTS,
    MATCH_EVENTS,
    NOTIFICATION_EVENTS,
    OPERATIONS_EVENTS,
)

EVENT_MODELS: dict[str, type[EventData]] = {
    model.event_type: model for topic in TOPICS for model in topic.events
}
_TOPIC_OF_TYPE: dict[str, Topic] = {
    model.event_type: topic for topic in TOPICS for model in topic.events
}


def topic_for(event_type: str) -> Topic:
    """The topic an event type is published on (KeyError for a type the contract lacks)."""
    return _TOPIC_OF_TYPE[event_type]


__all__ = [
    "DIRECTORY_EVENTS",
    "EVENT_MODELS",
    "JCP_CLAIMANT_EVENTS",
    "MATCH_EVENTS",
    "NOTIFICATION_EVENTS",
    "OPERATIONS_EVENTS",
    "REFERRAL_EVENTS",
    "TOPICS",
    "VACANCY_EVENTS",
    "Topic",
    "topic_for",
]
