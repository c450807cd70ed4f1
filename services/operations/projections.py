"""The read models fed from the log, wired once for the live consumer and for a rebuild."""

from __future__ import annotations

from runtime.handlers import Aggregates
from schemas import matching, referrals, vacancies
from schemas.topics import MATCH_EVENTS, REFERRAL_EVENTS, VACANCY_EVENTS
from services.operations.clients import client_handlers
from services.operations.counters import Counters
from services.operations.dispatch import Fanned
from services.operations.store import OperationsStore
from services.operations.vacancies import vacancy_handlers

SOURCE = "/services/operations"

# The topics whose events feed the read models. The others (JCP's, notifications', our own,
# every `.dlq`) are read raw, on request (tail, lag, dead letters): consuming them in this group
# would only dead-letter again, under our name, poison that their consumers dead-letter already.
TOPICS_CONSUMED = (REFERRAL_EVENTS, VACANCY_EVENTS, MATCH_EVENTS)
COUNTED = (
    referrals.ReferralCreated,
    referrals.ReferralStarted,
    referrals.ReferralSlaBreached,
    referrals.ClientJobReady,
    matching.MatchProposed,
    vacancies.SubmissionSubmitted,
    vacancies.SubmissionInterviewScheduled,
    vacancies.PlacementStarted,
    vacancies.PlacementSustained,
    vacancies.PlacementEnded,
    vacancies.PlacementRevolvingDoor,
    vacancies.VacancyPosted,
    vacancies.VacancyFilled,
)


def dispatcher(store: OperationsStore, touched: set[tuple[str, str]] | None = None) -> Fanned:
    return Fanned(
        Aggregates(store.vacancies, vacancy_handlers(), SOURCE),
        Aggregates(store.clients, client_handlers(), SOURCE),
        Counters(store.counts, store.indexes, store.clients, store.vacancies, COUNTED, touched),
    )
