"""The vacancies domain: the vacancy lifecycle, placements, sustainment and the revolving door.

Placements live inside their vacancy: "the last position filled" and the events it causes are
then one atomic change, without transactions. Pure: every rule is given the moment (`now`) or
the day (`today`) it applies at; nothing here reads a clock.

Statuses: `posted` (not yet scoped) -> `open` -> `partly-filled` (a placement started,
positions left) -> `filled`; `closed` by the brokerage from any status still taking people, and
`expired` when one of those is still taking people after its closing date.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from runtime.errors import Conflict, Invalid, NotFound
from runtime.principal import Principal
from runtime.working_days import end_of_day, london_date
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
    SkillsForLifeLevel,
    VacancyStatus,
    Wards,
)
from schemas.vacancies import MAX_POSITIONS, Guarantees

MAX_DESCRIPTION = 5000

SUSTAINMENT_WEEKS: tuple[Literal[13], Literal[26]] = (13, 26)
# The contract's window for a start date: within 90 days before or after today.
START_WINDOW = timedelta(days=90)
# A reclaim this soon after a placement ended marks it as a revolving door.
REVOLVING_DOOR_WINDOW = timedelta(weeks=26)
RETURNED_TO_BENEFIT = "returned-to-benefit"

# Statuses in which a vacancy still takes people: it can be placed into (once scoped), closed,
# and it expires after its closing date.
TAKING_PEOPLE: frozenset[str] = frozenset({"posted", "open", "partly-filled"})
PLACEABLE: frozenset[str] = frozenset({"open", "partly-filled"})


class PersonSpecification(BaseModel):
    """What the job needs, written when brokerage scopes the vacancy."""

    model_config = ConfigDict(extra="ignore")

    required_skills: Skills = Field(default_factory=list)
    desirable_skills: Skills = Field(default_factory=list)
    min_qualification_level: QualificationLevel = 0
    min_literacy: SkillsForLifeLevel | None = None
    min_numeracy: SkillsForLifeLevel | None = None
    target_priority_groups: PriorityGroups = Field(default_factory=list)
    target_wards: Wards = Field(default_factory=list)
    routeway: EntityId | None = Field(
        default=None, description="A programme id: clients who completed it rank first."
    )
    guarantees: Guarantees = Field(default_factory=Guarantees)
    shortlist_size: int | None = Field(
        default=None, ge=1, le=3 * MAX_POSITIONS, description="3 x positions when not set."
    )


class Placement(BaseModel):
    placement_id: EntityId
    client_id: EntityId
    start_date: date
    hours_per_week: float = Field(gt=0, le=48)
    lead_provider_id: EntityId | None = None
    match_id: EntityId | None = None
    submission_id: EntityId | None = None
    sustained_weeks: list[int] = Field(default_factory=list, max_length=len(SUSTAINMENT_WEEKS))
    ended: date | None = None
    end_reason: ShortText | None = None
    revolving_door: bool | None = Field(
        default=False, description="Not disclosed (null) to employers: it tells of a reclaim."
    )
    reclaim_date: date | None = None

    def sustainment_day(self, weeks: int) -> date:
        return self.start_date + timedelta(weeks=weeks)

    def in_work_on(self, day: date) -> bool:
        return self.start_date <= day and (self.ended is None or self.ended >= day)


def check_start_date(start_date: date, today: date) -> None:
    """422 for a start date more than 90 days either side of today (a typo such as 2000 or
    9999 would otherwise make sustainment fire at once, or never)."""
    if abs(start_date - today) > START_WINDOW:
        raise Invalid("start_date must lie within 90 days of today", field="start_date")


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
    positions_left: int | None = Field(
        default=None, ge=0, le=MAX_POSITIONS, description="Falls by one with each placement."
    )
    hours_per_week: float = Field(gt=0, le=48)
    location: Location
    closing_date: date
    description: str | None = Field(default=None, max_length=MAX_DESCRIPTION)
    status: VacancyStatus = "posted"
    spec: PersonSpecification | None = None
    placements: list[Placement] = Field(default_factory=list)
    closed_reason: ShortText | None = None
    posted_at: datetime

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

    @property
    def left(self) -> int:
        return self.positions if self.positions_left is None else self.positions_left

    @property
    def closes_at(self) -> datetime:
        """The end of the closing date in London: after it the vacancy expires."""
        return end_of_day(self.closing_date)

    @classmethod
    def post(
        cls,
        vacancy_id: str,
        brokerage_id: str,
        now: datetime | date,
        *,
        partnership: str | None = None,
        **fields: object,
    ) -> tuple[Vacancy, list[EventData]]:
        if not isinstance(now, datetime):  # a day alone: posted at its start (UTC)
            now = datetime.combine(now, time(0), tzinfo=UTC)
        vacancy = cls(
            vacancy_id=vacancy_id,
            brokerage_id=brokerage_id,
            partnership=partnership,
            posted_at=now,
            **fields,
        )
        vacancy.positions_left = vacancy.positions
        if vacancy.closing_date < london_date(now):
            raise Invalid("closing_date is in the past", field="closing_date")
        return vacancy, [ev.VacancyPosted(**vacancy._ids(), **vacancy._facts())]

    def scope(self, spec: PersonSpecification) -> list[EventData]:
        """Write or rewrite the person specification; the vacancy is then open for matching."""
        if self.status not in ("posted", "open"):
            raise Conflict(f"cannot scope a vacancy that is {self.status}")
        self.spec = spec
        self.status = "open"
        fields = spec.model_dump()
        fields["shortlist_size"] = spec.shortlist_size or min(3 * self.positions, 3 * MAX_POSITIONS)
        return [
            ev.VacancyScoped(**self._ids(), **self._facts(), **fields, positions_left=self.left)
        ]

    def close(self, reason: str) -> list[EventData]:
        if self.status not in TAKING_PEOPLE:
            raise Conflict(f"cannot close a vacancy that is {self.status}")
        self.status = "closed"
        self.closed_reason = reason
        return [ev.VacancyClosed(**self._ids(), reason=reason)]

    def expire(self, now: datetime) -> list[EventData]:
        """Past its closing date and still taking people: expired. Anything else (already
        filled, closed or expired, or not yet due) is left alone, so a timer firing twice, or
        early, has no effect."""
        if self.status not in TAKING_PEOPLE or now <= self.closes_at:
            return []
        self.status = "expired"
        return [ev.VacancyExpired(**self._ids(), closing_date=self.closing_date)]

    # --- placements ------------------------------------------------------------------------

    def placement(self, placement_id: str) -> Placement:
        for p in self.placements:
            if p.placement_id == placement_id:
                return p
        raise NotFound("no such placement")

    def has_placement(self, placement_id: str) -> bool:
        return any(p.placement_id == placement_id for p in self.placements)

    def _placement_ids(self, p: Placement) -> dict[str, str | None]:
        return {**self._ids(), "placement_id": p.placement_id, "client_id": p.client_id}

    def place(
        self,
        placement_id: str,
        client_id: str,
        start_date: date,
        hours_per_week: float,
        *,
        today: date,
        lead_provider_id: str | None = None,
        match_id: str | None = None,
        submission_id: str | None = None,
    ) -> list[EventData]:
        """A client starts work here: one position fewer, `partly-filled` or `filled`.

        Placing the same placement id again is a no-op (a retried accept)."""
        if self.has_placement(placement_id):
            return []
        check_start_date(start_date, today)
        if self.status not in PLACEABLE:
            raise Conflict(f"cannot place into a vacancy that is {self.status}")
        if any(p.client_id == client_id and not p.ended for p in self.placements):
            raise Conflict("this client already has a placement in this vacancy")
        placement = Placement(
            placement_id=placement_id,
            client_id=client_id,
            start_date=start_date,
            hours_per_week=hours_per_week,
            lead_provider_id=lead_provider_id,
            match_id=match_id,
            submission_id=submission_id,
        )
        self.placements.append(placement)
        self.positions_left = max(self.left - 1, 0)
        events: list[EventData] = [
            ev.PlacementStarted(
                **self._placement_ids(placement),
                start_date=start_date,
                hours_per_week=hours_per_week,
                lead_provider_id=lead_provider_id,
                match_id=match_id,
                submission_id=submission_id,
            )
        ]
        if self.positions_left == 0:
            self.status = "filled"
            events.append(ev.VacancyFilled(**self._ids()))
        else:
            self.status = "partly-filled"
            events.append(ev.VacancyPartlyFilled(**self._ids(), positions_left=self.left))
        return events

    def end_placement(
        self, placement_id: str, end_date: date, reason: str, *, revolving_door: bool = False
    ) -> list[EventData]:
        placement = self.placement(placement_id)
        if placement.ended:
            raise Conflict("the placement has already ended")
        if end_date < placement.start_date:
            raise Invalid("end_date is before the start date", field="end_date")
        placement.ended, placement.end_reason = end_date, reason
        placement.revolving_door = placement.revolving_door or revolving_door
        return [
            ev.PlacementEnded(
                **self._placement_ids(placement),
                end_date=end_date,
                reason=reason,
                revolving_door=placement.revolving_door,
            )
        ]

    def sustain(self, placement_id: str, weeks: int, today: date) -> list[EventData]:
        """`sustained` at 13 or 26 weeks, once: only when the point is reached, not recorded yet
        (the flag is stored with the event), and the client was still in the job on that day."""
        if weeks not in SUSTAINMENT_WEEKS or not self.has_placement(placement_id):
            return []
        placement = self.placement(placement_id)
        day = placement.sustainment_day(weeks)
        if weeks in placement.sustained_weeks or day > today or not placement.in_work_on(day):
            return []
        placement.sustained_weeks.append(weeks)
        return [ev.PlacementSustained(**self._placement_ids(placement), weeks=weeks)]  # type: ignore[arg-type]

    def reclaimed(self, client_id: str, reclaim_date: date) -> list[EventData]:
        """The client claimed benefit again. A placement of theirs still running ends as
        `returned-to-benefit`; one that ended at most 26 weeks before is marked. Each at most
        once: an ended or marked placement is not ended or marked again."""
        events: list[EventData] = []
        for p in self.placements:
            if p.client_id != client_id or p.revolving_door or reclaim_date < p.start_date:
                continue
            if p.ended is None:
                p.reclaim_date = reclaim_date
                events += self.end_placement(
                    p.placement_id, reclaim_date, RETURNED_TO_BENEFIT, revolving_door=True
                )
            elif p.ended <= reclaim_date <= p.ended + REVOLVING_DOOR_WINDOW:
                p.revolving_door, p.reclaim_date = True, reclaim_date
                events.append(
                    ev.PlacementRevolvingDoor(**self._placement_ids(p), reclaim_date=reclaim_date)
                )
        return events


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
    """The client must belong to the vacancy's partnership. A client this service has heard
    nothing of (no registration, move or job-ready event) belongs to none it can tell."""
    return client_partnership is not None and client_partnership == vacancy.partnership


# --- What this service knows of a client (the `candidates` projection) --------------------------


def lead_provider(candidate: dict[str, object]) -> str | None:
    """The provider of the client's active lead referral, the one a placement credits."""
    referrals = candidate.get("referrals") or {}
    assert isinstance(referrals, dict)
    for referral in referrals.values():
        if referral.get("lead") and referral.get("active"):
            return str(referral["provider_id"])
    return None


def has_employers_consent(candidate: dict[str, object]) -> bool:
    scopes = candidate.get("consent_scopes") or []
    assert isinstance(scopes, list)
    return "employers" in scopes
