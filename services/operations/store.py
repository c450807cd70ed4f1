"""MongoDB adapter of the operations service: its read models (database `<prefix>_operations`),
all rebuildable from the topics, plus the caseloads and targets people define and the redrive
tasks' audit."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, Field
from pymongo.asynchronous.collection import AsyncCollection

from runtime.leases import Lease
from runtime.persistence import Persistence
from services.operations.clients import ClientView
from services.operations.counters import CounterReader, DayCounts, DayIndex
from services.operations.targets import Target
from services.operations.vacancies import VacancyView


class Caseload(BaseModel):
    key: str  # "<partnership>|<caseload_id>": each partnership names its own
    caseload_id: str
    partnership: str
    name: str
    local_authorities: list[str] = Field(default_factory=list)
    wards: list[str] = Field(default_factory=list)
    benefits: list[str] = Field(default_factory=list)
    priority_groups_any: list[str] = Field(default_factory=list)


class StoredTarget(Target):
    key: str  # "<partnership>|<ref>"


class Disparity(BaseModel):
    disparity_id: str  # "<partnership>|<group>|<measure>|<month>": raised once


class OperationsStore:
    """The projections (`clients`, `vacancies`, `counters`, `counter_days`) come from the log;
    `prefix` lets a rebuild write fresh collections beside the live ones."""

    def __init__(self, persistence: Persistence, prefix: str = "") -> None:
        self.persistence = persistence
        self.prefix = prefix
        self.clients = persistence.documents(f"{prefix}clients", ClientView, id_field="client_id")
        self.vacancies = persistence.documents(
            f"{prefix}vacancies", VacancyView, id_field="vacancy_id"
        )
        self.counts = persistence.documents(f"{prefix}counters", DayCounts, id_field="counter_id")
        self.indexes = persistence.documents(f"{prefix}counter_days", DayIndex, id_field="index_id")
        self.caseloads = persistence.documents("caseloads", Caseload, id_field="key")
        self.targets = persistence.documents("targets", StoredTarget, id_field="key")
        self.disparities = persistence.documents("disparities", Disparity, id_field="disparity_id")
        self.redrives: AsyncCollection = persistence.collection("redrive_tasks")
        self.leases = persistence.documents("leases", Lease, id_field="name")
        self.redriven: AsyncCollection = persistence.collection("redriven")
        self.reader = CounterReader(self.counts, self.indexes)

    PROJECTIONS = ("clients", "vacancies", "counters", "counter_days")

    @property
    def outbox_collections(self) -> list[AsyncCollection]:
        return [self.disparities.collection]

    async def clients_of(self, partnerships: Iterable[str] | None) -> list[ClientView]:
        """Every client of these partnerships (None: all), without their timelines.

        A scan: for an operator's question about a caseload, never on the event path."""
        query: dict[str, Any] = {}
        if partnerships is not None:
            query = {"partnership": {"$in": list(partnerships)}}
        cursor = self.clients.collection.find(query, {"timeline": 0, "outbox": 0, "applied": 0})
        return [ClientView.model_validate(d) async for d in cursor]

    async def targets_of(self, partnership: str) -> list[StoredTarget]:
        return await self.targets.find({"partnership": partnership}, sort=[("ref", 1)])
