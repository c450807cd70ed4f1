"""The provider directory: programmes, who they admit, how many places they have, their SLAs.

Shaped after Open Referral HSDS (service, eligibility, service area, capacity with available /
maximum / updated). Pure rules, no I/O; the caller passes `at`.

A provider's places are counted in its own document, so taking, freeing and releasing a place
is one compare-and-set on one aggregate: `available` can never go below zero or count a
referral twice. Each place held through the platform names its referral (`holders`), and so
does each waiting referral (`waitlist`, oldest first); that is what lets the reconciler
(`seats.py`) repair a place whose referral was never stored because of a crash.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from runtime.errors import Conflict, Invalid
from schemas import referrals as ev
from schemas.base import EventData
from schemas.types import (
    AgeBand,
    Benefit,
    EntityId,
    PartnershipId,
    PriorityGroup,
    ProgrammeKind,
    ShortText,
)

ProgrammeStatus = Literal["active", "inactive", "temporarily-closed"]


class Eligibility(BaseModel):
    """Who a programme admits. An empty list means "any"."""

    model_config = ConfigDict(extra="forbid")

    benefits: list[Benefit] = Field(default_factory=list, max_length=6)
    age_bands: list[AgeBand] = Field(default_factory=list, max_length=3)
    priority_groups_any: list[PriorityGroup] = Field(default_factory=list, max_length=10)
    max_qualification_level: int | None = Field(default=None, ge=0, le=8)
    local_authorities: list[ShortText] = Field(default_factory=list, max_length=50)


class Capacity(BaseModel):
    model_config = ConfigDict(extra="forbid")

    maximum: int = Field(ge=0, le=100_000)
    available: int = Field(ge=0, le=100_000)
    when_full: Literal["waitlist", "refuse"] = "waitlist"
    updated: datetime | None = None


class SlaSettings(BaseModel):
    """Working days allowed for each step; the defaults are DWP's provider guidance."""

    model_config = ConfigDict(extra="forbid")

    acknowledge_working_days: int = Field(default=2, ge=1, le=60)
    start_working_days: int = Field(default=15, ge=1, le=120)
    action_plan_working_days: int = Field(default=20, ge=1, le=120)
    expire_unacknowledged_working_days: int = Field(default=5, ge=1, le=120)


class ProgrammeBody(BaseModel):
    """A programme as an operations team writes it (`PUT .../programmes/{programme_id}`)."""

    model_config = ConfigDict(extra="forbid")

    name: ShortText
    kind: ProgrammeKind
    status: ProgrammeStatus = "active"
    eligibility: Eligibility = Field(default_factory=Eligibility)
    capacity: Capacity
    sla: SlaSettings = Field(default_factory=SlaSettings)


class Seat(BaseModel):
    referral_id: EntityId
    at: datetime


class Programme(ProgrammeBody):
    programme_id: EntityId
    holders: list[Seat] = Field(default_factory=list)
    waitlist: list[Seat] = Field(default_factory=list)

    def holds(self, referral_id: str) -> bool:
        return any(s.referral_id == referral_id for s in self.holders)

    def waiting(self, referral_id: str) -> bool:
        return any(s.referral_id == referral_id for s in self.waitlist)


class Provider(BaseModel):
    """An entry in the directory ("menu of provision") that JCP refers clients to."""

    provider_id: EntityId
    name: ShortText
    partnerships: list[PartnershipId] = Field(default_factory=list)
    programmes: list[Programme] = Field(default_factory=list)

    def programme(self, programme_id: str) -> Programme | None:
        return next((p for p in self.programmes if p.programme_id == programme_id), None)

    def serves(self, partnership: str) -> bool:
        return partnership in self.partnerships

    # --- Writing the directory --------------------------------------------------------------

    def put_programme(
        self, programme_id: str, body: ProgrammeBody, at: datetime
    ) -> list[EventData]:
        """Create or replace a programme. Places held and the waitlist stay with it; when the
        new capacity has places free, waiting referrals are released (see `release_waiting`)."""
        old = self.programme(programme_id)
        capacity = body.capacity.model_copy(update={"updated": at})
        if capacity.available > capacity.maximum:
            raise Invalid("available cannot exceed maximum", field="capacity.available")
        new = Programme(
            programme_id=programme_id,
            **body.model_dump(exclude={"capacity"}),
            capacity=capacity,
            holders=old.holders if old else [],
            waitlist=old.waitlist if old else [],
        )
        self.programmes = [p for p in self.programmes if p.programme_id != programme_id] + [new]
        return [self.updated_event(new)]

    def set_available(self, programme_id: str, available: int, at: datetime) -> list[EventData]:
        programme = self._existing(programme_id)
        if available > programme.capacity.maximum:
            raise Invalid("available cannot exceed the programme's maximum", field="available")
        programme.capacity.available = available
        programme.capacity.updated = at
        return [self.updated_event(programme)]

    # --- Places ----------------------------------------------------------------------------

    def take_place(
        self, programme_id: str, referral_id: str, at: datetime
    ) -> tuple[Literal["created", "on-hold"], list[EventData]]:
        """A new referral takes a place, joins the waitlist, or is refused (409 no-capacity).

        Idempotent per referral: asking again answers what was decided the first time."""
        programme = self._existing(programme_id)
        if programme.holds(referral_id):
            return "created", []
        if programme.waiting(referral_id):
            return "on-hold", []
        if programme.capacity.available > 0 and not programme.waitlist:
            programme.capacity.available -= 1
            programme.capacity.updated = at
            programme.holders.append(Seat(referral_id=referral_id, at=at))
            return "created", [self.updated_event(programme)]
        if programme.capacity.when_full == "refuse":
            raise NoCapacity("the programme is full and does not keep a waitlist")
        programme.waitlist.append(Seat(referral_id=referral_id, at=at))
        return "on-hold", [self.updated_event(programme)]

    def free_place(self, programme_id: str, referral_id: str, at: datetime) -> list[EventData]:
        """A referral ended: its place is free again (or it leaves the waitlist). Idempotent."""
        programme = self.programme(programme_id)
        if programme is None:
            return []
        if programme.holds(referral_id):
            programme.holders = [s for s in programme.holders if s.referral_id != referral_id]
            programme.capacity.available = min(
                programme.capacity.available + 1, programme.capacity.maximum
            )
        elif programme.waiting(referral_id):
            programme.waitlist = [s for s in programme.waitlist if s.referral_id != referral_id]
        else:
            return []
        programme.capacity.updated = at
        return [self.updated_event(programme)]

    def release_waiting(self, programme_id: str, at: datetime) -> tuple[list[str], list[EventData]]:
        """Give free places to waiting referrals, oldest first; returns the ids released."""
        programme = self.programme(programme_id)
        if programme is None or programme.status != "active":
            return [], []
        released: list[str] = []
        while programme.capacity.available > 0 and programme.waitlist:
            seat = programme.waitlist.pop(0)
            programme.holders.append(Seat(referral_id=seat.referral_id, at=at))
            programme.capacity.available -= 1
            released.append(seat.referral_id)
        if not released:
            return [], []
        programme.capacity.updated = at
        return released, [self.updated_event(programme)]

    def reconcile(
        self,
        programme_id: str,
        statuses: Mapping[str, str | None],
        now: datetime,
        grace: timedelta,
    ) -> tuple[list[str], list[EventData]]:
        """Give back places and waitlist entries whose referral ended, or was never stored
        (a crash between taking the place and storing the referral; `grace` lets a referral
        being made right now finish). `statuses` maps each referral id to its status, None
        for no such referral. Then release waiting referrals into free places."""
        programme = self.programme(programme_id)
        if programme is None:
            return [], []

        def gone(seat: Seat) -> bool:
            status = statuses.get(seat.referral_id, "unknown")
            if status is None:
                return now - seat.at > grace
            return status not in ev.ACTIVE_REFERRAL_STATUSES and status != "unknown"

        freed = [s for s in programme.holders if gone(s)]
        dropped = [s for s in programme.waitlist if gone(s)]
        programme.holders = [s for s in programme.holders if not gone(s)]
        programme.waitlist = [s for s in programme.waitlist if not gone(s)]
        programme.capacity.available = min(
            programme.capacity.available + len(freed), programme.capacity.maximum
        )
        released, events = self.release_waiting(programme_id, now)
        if (freed or dropped) and not events:
            programme.capacity.updated = now
            events = [self.updated_event(programme)]
        return released, events

    def _existing(self, programme_id: str) -> Programme:
        programme = self.programme(programme_id)
        if programme is None:
            raise Invalid(
                f"provider {self.provider_id} offers no such programme", field="programme"
            )
        return programme

    def updated_event(self, programme: Programme) -> ev.ProgrammeUpdated:
        return ev.ProgrammeUpdated(
            provider_id=self.provider_id,
            programme_id=programme.programme_id,
            kind=programme.kind,
            status=programme.status,
            partnerships=self.partnerships,
            capacity=ev.ProgrammeCapacity(
                maximum=programme.capacity.maximum,
                available=programme.capacity.available,
                when_full=programme.capacity.when_full,
                waiting=len(programme.waitlist),
            ),
        )


class NoCapacity(Conflict):
    error = "no-capacity"


# --- Views: what every role reads of the directory (no referral ids) ------------------------


class CapacityView(Capacity):
    waiting: int = Field(description="Referrals on the waitlist, released oldest first.")


class ProgrammeView(ProgrammeBody):
    programme_id: EntityId
    capacity: CapacityView  # type: ignore[assignment]


class ProviderView(BaseModel):
    provider_id: EntityId
    name: ShortText
    partnerships: list[PartnershipId]
    programmes: list[ProgrammeView]

    @classmethod
    def of(cls, provider: Provider) -> ProviderView:
        return cls(
            provider_id=provider.provider_id,
            name=provider.name,
            partnerships=provider.partnerships,
            programmes=[
                ProgrammeView(
                    **p.model_dump(exclude={"holders", "waitlist", "capacity"}),
                    capacity=CapacityView(**p.capacity.model_dump(), waiting=len(p.waitlist)),
                )
                for p in provider.programmes
            ],
        )


def load_directory(text: str) -> list[Provider]:
    """The seed directory (`deploy/local/providers.json`), in the shape `GET /providers` shows."""
    return [Provider.model_validate(entry) for entry in json.loads(text)]
