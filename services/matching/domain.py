"""A proposed match and its lifecycle: proposed, possibly re-scored, withdrawn, re-proposed."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel

from runtime.ids import derived_id
from runtime.principal import Principal
from schemas import matching as ev
from schemas.base import EventData
from schemas.matching import Reason, WithdrawalReason
from services.matching.rules import RULES_VERSION, ClientProfile, Evaluation, VacancySpec


def match_id_for(vacancy_id: str, client_id: str) -> str:
    """One match per vacancy and client, however often the pair is evaluated."""
    return derived_id("MT", vacancy_id, client_id)


WITHDRAWAL_OF_GATE: dict[str, WithdrawalReason] = {
    "in_work": "placed",
    "job_ready": "not-job-ready",
    "consent": "consent-withdrawn",
    "vacancy_open": "vacancy-closed",
}


def withdrawal_reason(evaluation: Evaluation) -> WithdrawalReason:
    """The contract's code for why a pair stopped being proposable; any other gate (or a score
    under the minimum) is `gate-failed`, which never names the gate."""
    return WITHDRAWAL_OF_GATE.get(evaluation.failed_gate or "", "gate-failed")


class Match(BaseModel):
    match_id: str
    vacancy_id: str
    client_id: str
    employer_id: str
    brokerage_id: str
    partnership: str | None = None
    score: float
    reasons: list[Reason]
    rules_version: str
    status: Literal["proposed", "withdrawn"] = "proposed"
    withdrawn_reason: str | None = None
    proposed_at: datetime
    rank: int | None = None
    priority: bool = False
    shortlist_size: int | None = None

    @classmethod
    def propose(
        cls,
        client: ClientProfile,
        vacancy: VacancySpec,
        evaluation: Evaluation,
        *,
        rank: int = 1,
        now: datetime | None = None,
    ) -> tuple[Match, list[EventData]]:
        """A match of one pair, outside an allocation (its first place on the shortlist)."""
        return cls.new(
            vacancy_id=vacancy.vacancy_id,
            client_id=client.client_id,
            employer_id=vacancy.employer_id,
            brokerage_id=vacancy.brokerage_id,
            partnership=vacancy.partnership,
            evaluation=evaluation,
            rank=rank,
            shortlist_size=vacancy.capacity,
            # Callers without a clock (tests, tools) may leave it to the wall clock.
            now=now or datetime.now(UTC),
        )

    @classmethod
    def new(
        cls,
        *,
        vacancy_id: str,
        client_id: str,
        employer_id: str,
        brokerage_id: str,
        partnership: str | None,
        evaluation: Evaluation,
        rank: int,
        shortlist_size: int,
        now: datetime,
    ) -> tuple[Match, list[EventData]]:
        match = cls(
            match_id=match_id_for(vacancy_id, client_id),
            vacancy_id=vacancy_id,
            client_id=client_id,
            employer_id=employer_id,
            brokerage_id=brokerage_id,
            partnership=partnership,
            score=evaluation.score,
            reasons=evaluation.reasons,
            rules_version=RULES_VERSION,
            proposed_at=now,
            rank=rank,
            priority=evaluation.priority,
            shortlist_size=shortlist_size,
        )
        return match, [match._proposed()]

    def _proposed(self) -> ev.MatchProposed:
        return ev.MatchProposed(
            **self.model_dump(
                include={
                    "match_id",
                    "vacancy_id",
                    "client_id",
                    "employer_id",
                    "brokerage_id",
                    "partnership",
                    "score",
                    "reasons",
                    "rules_version",
                    "rank",
                    "priority",
                    "shortlist_size",
                }
            )
        )

    def reevaluate(self, evaluation: Evaluation) -> list[EventData]:
        """Apply a fresh evaluation of the pair alone: withdraw, re-propose or re-score."""
        if not evaluation.proposable:
            return self.withdraw(withdrawal_reason(evaluation))
        return self.place(evaluation, self.rank or 1, self.shortlist_size or 1)

    def place(self, evaluation: Evaluation, rank: int, shortlist_size: int) -> list[EventData]:
        """On the shortlist (again, or re-scored): silent when nothing a reader sees changed."""
        unchanged = (
            self.status == "proposed"
            and self.score == evaluation.score
            and self.rules_version == RULES_VERSION
        )
        if unchanged:
            return []
        self.status, self.withdrawn_reason = "proposed", None
        self.score, self.reasons, self.rules_version = (
            evaluation.score,
            evaluation.reasons,
            RULES_VERSION,
        )
        self.rank, self.priority, self.shortlist_size = rank, evaluation.priority, shortlist_size
        return [self._proposed()]

    def withdraw(self, reason: WithdrawalReason) -> list[EventData]:
        if self.status == "withdrawn":
            return []
        self.status, self.withdrawn_reason = "withdrawn", reason
        return [
            ev.MatchWithdrawn(
                match_id=self.match_id,
                vacancy_id=self.vacancy_id,
                client_id=self.client_id,
                brokerage_id=self.brokerage_id,
                reason=reason,
                partnership=self.partnership,
            )
        ]


def may_see_match(principal: Principal, match: Match, client_providers: set[str]) -> bool:
    """Nobody outside the match's partnership (but national operations) sees it. Within it,
    operations and JCP see all; a provider its clients' matches (those it holds an active
    referral for); a brokerage its vacancies'."""
    if not principal.sees(match.partnership):
        return False
    if principal.is_("operations", "jcp"):
        return True
    if principal.is_("provider"):
        return principal.org_id in client_providers
    return principal.is_("employer_brokerage") and match.brokerage_id == principal.org_id
