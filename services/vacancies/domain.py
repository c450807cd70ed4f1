"""The vacancies domain: posting, scoping, closing, placements and 13/26-week sustainment.

Placements live inside their vacancy: "every position filled" and the events it causes are then
one atomic change, without transactions.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from runtime.errors import Conflict, Invalid, NotFound
from runtime.principal import Principal
from schemas import vacancies as ev
from schemas.base import EventData
from schemas.types import (
    EntityId,
    Location,
    PartnershipId,
    PriorityGroups,
    QualificationLevel,
    ShortText,
    Skills,
    VacancyStatus,
    Wards,
)
from schemas.vacancies import MAX_POSITIONS, Guarantees

MAX_DESCRIPTION = 5000

SUSTAINMENT_WEEKS: tuple[Literal[13], Literal[26]] = (13, 26)


class PersonSpecification(BaseModel):
    """What the job needs, written when brokerage scopes the vacancy."""

    model_config = ConfigDict(extra="ignore")

    required_skills: Skills = Field(default_factory=list)
    desirable_skills: Skills = Field(default_factory=list)
    min_qualification_level: QualificationLevel = 0
    target_priority_groups: PriorityGroups = Field(default_factory=list)
    target_wards: Wards = Field(default_factory=list)
    guarantees: Guarantees = Field(default_factory=Guarantees)


class Placement(BaseModel):
    placement_id: EntityId
    client_id: EntityId
    start_date: date
    hours_per_week: float = Field(gt=0, le=48)
    sustained_weeks: list[int] = Field(default_factory=list, max_length=len(SUSTAINMENT_WEEKS))
    ended: date | None = None
    end_reason: ShortText | None = None
    next_check: date | None = Field(
        default=None, description="When the next sustainment check falls due; None when done."
    )

    def due_checks(self, today: date) -> list[int]:
        if self.ended:
            return []
        return [
            w
            for w in SUSTAINMENT_WEEKS
            if w not in self.sustained_weeks and self.start_date + timedelta(weeks=w) <= today
        ]

    def schedule_next_check(self) -> None:
        pending = [w for w in SUSTAINMENT_WEEKS if w not in self.sustained_weeks]
        self.next_check = (
            self.start_date + timedelta(weeks=pending[0]) if pending and not self.ended else None
        )


class Vacancy(BaseModel):
    vacancy_id: EntityId
    employer_id: EntityId
    brokerage_id: EntityId
    partnership: PartnershipId | None = Field(
        default=None,
        description="The partnership of the brokerage that posted it: nobody outside it sees it. "
        "None only on vacancies posted before partnerships, which national operations alone sees.",
    )
    title: ShortText
    sector: ShortText
    positions: int = Field(ge=1, le=MAX_POSITIONS)
    hours_per_week: float = Field(gt=0, le=48)
    location: Location
    closing_date: date
    description: str | None = Field(default=None, max_length=MAX_DESCRIPTION)
    status: VacancyStatus = "posted"
    spec: PersonSpecification | None = None
    placements: list[Placement] = Field(default_factory=list)
    closed_reason: ShortText | None = None
    posted_at: datetime
    next_check: date | None = Field(default=None, description="Earliest placement check due.")

    def _ids(self) -> dict[str, str | None]:
        return {
            "vacancy_id": self.vacancy_id,
            "employer_id": self.employer_id,
            "brokerage_id": self.brokerage_id,
            "partnership": self.partnership,
        }

    def _facts(self) -> dict[str, object]:
        return self.model_dump(
            include={"title", "sector", "positions", "hours_per_week", "location", "closing_date"}
        )

    @classmethod
    def post(
        cls,
        vacancy_id: str,
        brokerage_id: str,
        today: date,
        *,
        partnership: str | None = None,
        **fields: object,
    ) -> tuple[Vacancy, list[EventData]]:
        vacancy = cls(
            vacancy_id=vacancy_id,
            brokerage_id=brokerage_id,
            partnership=partnership,
            posted_at=datetime.now(UTC),
            **fields,
        )
        if vacancy.closing_date < today:
            raise Invalid("closing_date is in the past", field="closing_date")
        return vacancy, [ev.VacancyPosted(**vacancy._ids(), **vacancy._facts())]

    def scope(self, spec: PersonSpecification) -> list[EventData]:
        """Write or rewrite the person specification; the vacancy is then open for matching."""
        if self.status not in ("posted", "open"):
            raise Conflict(f"cannot scope a vacancy that is {self.status}")
        self.spec = spec
        self.status = "open"
        return [ev.VacancyScoped(**self._ids(), **self._facts(), **spec.model_dump())]

    def close(self, reason: str) -> list[EventData]:
        if self.status not in ("posted", "open"):
            raise Conflict(f"cannot close a vacancy that is {self.status}")
        self.status = "closed"
        self.closed_reason = reason
        return [ev.VacancyClosed(**self._ids(), reason=reason)]

    def _placement(self, placement_id: str) -> Placement:
        for p in self.placements:
            if p.placement_id == placement_id:
                return p
        raise NotFound("no such placement")

    def _placement_ids(self, p: Placement) -> dict[str, str | None]:
        return {**self._ids(), "placement_id": p.placement_id, "client_id": p.client_id}

    def place(
        self, placement_id: str, client_id: str, start_date: date, hours_per_week: float
    ) -> list[EventData]:
        if self.status != "open":
            raise Conflict(f"cannot place into a vacancy that is {self.status}")
        if any(p.client_id == client_id and not p.ended for p in self.placements):
            raise Conflict("this client already has a placement in this vacancy")
        placement = Placement(
            placement_id=placement_id,
            client_id=client_id,
            start_date=start_date,
            hours_per_week=hours_per_week,
        )
        placement.schedule_next_check()
        self.placements.append(placement)
        self._reschedule()
        events: list[EventData] = [
            ev.PlacementStarted(
                **self._placement_ids(placement),
                start_date=start_date,
                hours_per_week=hours_per_week,
            )
        ]
        if sum(1 for p in self.placements if not p.ended) >= self.positions:
            self.status = "filled"
            events.append(ev.VacancyFilled(**self._ids()))
        return events

    def end_placement(self, placement_id: str, end_date: date, reason: str) -> list[EventData]:
        placement = self._placement(placement_id)
        if placement.ended:
            raise Conflict("the placement has already ended")
        if end_date < placement.start_date:
            raise Invalid("end_date is before the start date", field="end_date")
        placement.ended, placement.end_reason = end_date, reason
        placement.schedule_next_check()
        self._reschedule()
        return [
            ev.PlacementEnded(**self._placement_ids(placement), end_date=end_date, reason=reason)
        ]

    def check_sustainment(self, today: date) -> list[EventData]:
        """Emit `sustained` for every 13- or 26-week point reached by a placement still running."""
        events: list[EventData] = []
        for placement in self.placements:
            for weeks in placement.due_checks(today):
                placement.sustained_weeks.append(weeks)
                events.append(ev.PlacementSustained(**self._placement_ids(placement), weeks=weeks))
            placement.schedule_next_check()
        self._reschedule()
        return events

    def _reschedule(self) -> None:
        due = [p.next_check for p in self.placements if p.next_check]
        self.next_check = min(due) if due else None


# --- Who may see and do what --------------------------------------------------------------------


def may_see_vacancy(principal: Principal, vacancy: Vacancy) -> bool:
    """Only callers of the vacancy's partnership (or national operations) see it at all; within
    it, an employer brokerage sees its own vacancies and JCP, providers and operations see all."""
    if not principal.sees(vacancy.partnership):
        return False
    if principal.is_("employer_brokerage"):
        return vacancy.brokerage_id == principal.org_id
    return True


def may_manage_vacancy(principal: Principal, vacancy: Vacancy) -> bool:
    return (
        principal.is_("employer_brokerage")
        and vacancy.brokerage_id == principal.org_id
        and principal.sees(vacancy.partnership)
    )


def vacancy_query(principal: Principal, status: str | None = None) -> dict[str, str]:
    """The filter of `GET /vacancies`: the caller's partnership (every one for national
    operations), and an employer brokerage's own vacancies only."""
    query: dict[str, str] = {}
    if status:
        query["status"] = status
    if not principal.national:
        query["partnership"] = principal.partnership
    if principal.is_("employer_brokerage"):
        query["brokerage_id"] = principal.org_id
    return query


def client_may_be_placed(vacancy: Vacancy, client_partnership: str | None) -> bool:
    """The client must belong to the vacancy's partnership; a client this service has not heard
    of yet (no job-ready event seen) is given the benefit of the doubt."""
    return client_partnership is None or client_partnership == vacancy.partnership
