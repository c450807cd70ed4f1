"""Submissions: employer brokerage puts a matched client forward for a vacancy.

One table says which call moves a submission from which statuses to which, and one `apply`
runs it (like the referral lifecycle). A submission is *live* until it ends (`no-offer`,
`no-show`, `left-early`, `declined`, `placed`); `live_key` is unique in the database while it is
live, so the database itself refuses a second live submission of a client to a vacancy.
Pure: the moment of each change is passed in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field, computed_field

from runtime.errors import Conflict, Invalid
from runtime.principal import Principal
from runtime.working_days import nth_working_day_from
from schemas import vacancies as ev
from schemas.base import EventData
from schemas.types import EntityId, PartnershipId
from schemas.vacancies import LIVE_SUBMISSION_STATUSES, Guarantees, SubmissionStatus

WORK_TRIAL_WORKING_DAYS = 15

Action = Literal[
    "interview", "work-trial", "offer", "no-offer", "no-show", "left-early", "declined", "accept"
]
OUTCOMES: tuple[str, ...] = ("offer", "no-offer", "no-show", "left-early", "declined")


@dataclass(frozen=True)
class Step:
    sources: frozenset[str]
    target: SubmissionStatus


def _from(*statuses: str) -> frozenset[str]:
    return frozenset(statuses)


LIFECYCLE: dict[str, Step] = {
    # An interview may be rescheduled; a work trial may follow an interview or replace it.
    "interview": Step(_from("submitted", "interview-scheduled"), "interview-scheduled"),
    "work-trial": Step(_from("submitted", "interview-scheduled"), "work-trial"),
    "offer": Step(_from("submitted", "interview-scheduled", "work-trial"), "offer"),
    "no-offer": Step(_from("submitted", "interview-scheduled", "work-trial"), "no-offer"),
    "no-show": Step(_from("interview-scheduled", "work-trial"), "no-show"),
    "left-early": Step(_from("work-trial"), "left-early"),
    "declined": Step(_from(*LIVE_SUBMISSION_STATUSES), "declined"),
    "accept": Step(_from("offer"), "placed"),
}

_EVENT: dict[str, type[ev._SubmissionEvent]] = {
    model.model_fields["status"].default: model for model in ev.SUBMISSION_EVENTS
}


class HistoryEntry(BaseModel):
    status: SubmissionStatus
    at: datetime


class Submission(BaseModel):
    submission_id: EntityId
    vacancy_id: EntityId
    client_id: EntityId
    match_id: EntityId | None = None
    brokerage_id: EntityId
    partnership: PartnershipId | None = None
    status: SubmissionStatus = "submitted"
    interview_at: datetime | None = None
    work_trial_start: date | None = None
    work_trial_end: date | None = None
    placement_id: EntityId | None = None
    created_at: datetime
    history: list[HistoryEntry] = Field(default_factory=list)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def live_key(self) -> str:
        """Unique while live: one live submission per client and vacancy."""
        if self.is_live:
            return f"{self.client_id}|{self.vacancy_id}"
        return f"ended|{self.submission_id}"

    @property
    def is_live(self) -> bool:
        return self.status in LIVE_SUBMISSION_STATUSES

    def _fields(self) -> dict[str, object]:
        return self.model_dump(
            include={
                "submission_id", "vacancy_id", "client_id", "match_id", "brokerage_id",
                "partnership",
            }
        )  # fmt: skip

    @classmethod
    def submit(
        cls,
        *,
        submission_id: str,
        vacancy_id: str,
        client_id: str,
        match_id: str,
        brokerage_id: str,
        partnership: str | None,
        at: datetime,
    ) -> tuple[Submission, list[EventData]]:
        submission = cls(
            submission_id=submission_id,
            vacancy_id=vacancy_id,
            client_id=client_id,
            match_id=match_id,
            brokerage_id=brokerage_id,
            partnership=partnership,
            created_at=at,
            history=[HistoryEntry(status="submitted", at=at)],
        )
        return submission, [ev.SubmissionSubmitted(**submission._fields())]

    def apply(
        self,
        action: str,
        at: datetime,
        *,
        interview_at: datetime | None = None,
        start: date | None = None,
        placement_id: str | None = None,
    ) -> list[EventData]:
        """Move along the lifecycle: 409 for a move it forbids; one event naming the status."""
        step = LIFECYCLE.get(action)
        if step is None:
            raise Invalid(f"unknown action {action!r}", field="outcome")
        if self.status not in step.sources:
            raise Conflict(f"cannot {action} a submission that is {self.status}")
        extra: dict[str, object] = {}
        if action == "interview":
            if interview_at is None:
                raise Invalid("the interview needs a moment", field="at")
            self.interview_at = extra["at"] = interview_at
        elif action == "work-trial":
            if start is None:
                raise Invalid("the work trial needs a start date", field="start")
            self.work_trial_start = extra["start"] = start
            self.work_trial_end = extra["end"] = work_trial_end(start)
        elif action == "accept":
            if placement_id is None:
                raise Invalid("a placement is needed", field="placement_id")
            self.placement_id = extra["placement_id"] = placement_id
        self.status = step.target
        self.history.append(HistoryEntry(status=step.target, at=at))
        return [_EVENT[step.target](**self._fields(), **extra)]


def check_guarantees(
    action: str, submission: Submission, guarantees: Guarantees, routeway_graduate: bool
) -> None:
    """What the employer committed to when scoping (the seed plans' guaranteed interviews, work
    trials, and jobs for those who completed the vacancy's routeway): a `no-offer` before the
    promised step, or to a routeway graduate under a job guarantee, is refused (409). The
    candidate may still decline, not show, or leave a trial early."""
    if action != "no-offer":
        return
    reached = {h.status for h in submission.history}
    if guarantees.interview and "interview-scheduled" not in reached:
        raise Conflict("the vacancy guarantees an interview: hold one before a no-offer")
    if guarantees.work_trial and "work-trial" not in reached:
        raise Conflict("the vacancy guarantees a work trial: offer one before a no-offer")
    if guarantees.job and routeway_graduate:
        raise Conflict("the vacancy guarantees a job to clients who completed its routeway")


def work_trial_end(start: date) -> date:
    """15 working days from `start`, counting it (bank holidays are not working days)."""
    return nth_working_day_from(start, WORK_TRIAL_WORKING_DAYS)


def may_see_submission(principal: Principal, submission: Submission) -> bool:
    """Its vacancy's brokerage, and JCP and operations of its partnership; nobody else (404)."""
    if not principal.sees(submission.partnership):
        return False
    if principal.is_("employer_brokerage"):
        return submission.brokerage_id == principal.org_id
    return principal.is_("jcp", "operations")


def may_manage_submission(principal: Principal, submission: Submission) -> bool:
    return (
        principal.is_("employer_brokerage")
        and submission.brokerage_id == principal.org_id
        and principal.sees(submission.partnership)
    )
