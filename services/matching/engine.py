"""One partnership's allocation, kept in memory and changed incrementally as events arrive.

The engine holds the partnership's clients and vacancies, indexes them by area and hours so a
change reads only the pairs it can affect (never the whole pool), keeps each vacancy's best
eligible candidates, and the live shortlists. `settle` takes what changed and returns the
decisions (places to propose, matches to withdraw with their coded reason); the caller writes
them. Pure: no I/O, no clock.

Indexes. Clients and vacancies sit in grid cells of `CELL_DEG` degrees (about 5.5 km north-south)
and, for clients, a bucket of available hours. A vacancy reads the cells within the longest travel
limit of the pool, and only hours buckets that can take its hours; a client reads the cells within
its own travel limit. Sector is a factor, not a gate, so it does not prune.

Incremental re-solve. A change re-solves only the affected vacancies (those changed, those a
changed client is a candidate for or on) with every client of their candidate lists, holding the
rest of the partnership's shortlists fixed (a client's places elsewhere reduce what it has left).
`settle_all` re-solves the whole partnership (at start, after a rebuild).

Churn. A live match weighs `HYSTERESIS` more than its score in every re-solve: it is displaced only
by a set of places whose total is that much better per place moved. 0.05 is a twentieth of the
score range, about what one desirable skill or 5 km of a 20 km limit is worth: smaller differences
are within the noise of the inputs (district centroids, free-text skills), so moving a candidate
for them would cost the employer and the client a re-read for nothing.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from schemas.matching import WithdrawalReason
from services.matching import allocation
from services.matching.domain import WITHDRAWAL_OF_GATE
from services.matching.rules import Client, Vacancy, failed_gate, priority, score

CELL_DEG = 0.05
HOURS_BUCKET = 8.0
HYSTERESIS = 0.05
PRIORITY_BONUS = 1.0
"""A routeway graduate outweighs any score difference: they rank, and are kept, first."""
CANDIDATES_PER_PLACE = 3
"""Each vacancy keeps its best `CANDIDATES_PER_PLACE` x size eligible candidates (at least
`MIN_CANDIDATES`): enough for the allocation to spread clients, bounded whatever the pool."""
MIN_CANDIDATES = 12
_KM_PER_DEG_LAT = 111.2

_VACANCY_STATUS_REASON: dict[str, WithdrawalReason] = {
    "filled": "vacancy-filled",
    "expired": "vacancy-expired",
}


@dataclass(frozen=True)
class Place:
    """A pair on a shortlist: propose it (new, or its score changed)."""

    client_id: str
    vacancy_id: str
    score: float
    priority: bool
    rank: int


@dataclass(frozen=True)
class Drop:
    client_id: str
    vacancy_id: str
    reason: WithdrawalReason


@dataclass
class Decisions:
    places: list[Place] = field(default_factory=list)
    drops: list[Drop] = field(default_factory=list)


def _cell(lat: float, lon: float) -> tuple[int, int]:
    return (math.floor(lat / CELL_DEG), math.floor(lon / CELL_DEG))


def _cells_within(lat: float, lon: float, km: float) -> Iterable[tuple[int, int]]:
    cy, cx = _cell(lat, lon)
    dy = math.ceil(km / (_KM_PER_DEG_LAT * CELL_DEG))
    dx = math.ceil(km / (_KM_PER_DEG_LAT * max(math.cos(math.radians(lat)), 0.1) * CELL_DEG))
    for y in range(cy - dy, cy + dy + 1):
        for x in range(cx - dx, cx + dx + 1):
            yield (y, x)


def _hours_bucket(hours: float) -> int:
    return int(hours // HOURS_BUCKET)


class Engine:
    """The allocation of one partnership."""

    def __init__(self) -> None:
        self.clients: dict[str, Client] = {}
        self.vacancies: dict[str, Vacancy] = {}
        self.vacancy_status: dict[str, str] = {}
        self._client_cells: dict[tuple[int, int], dict[int, set[str]]] = defaultdict(
            lambda: defaultdict(set)
        )
        self._vacancy_cells: dict[tuple[int, int], set[str]] = defaultdict(set)
        self._max_travel_km = 0.0
        # vacancy -> {client: score} of its best eligible candidates; client -> those vacancies
        self.candidates: dict[str, dict[str, float]] = {}
        self._listed_on: dict[str, set[str]] = defaultdict(set)
        # the live shortlists: pair -> score, and both directions
        self.live: dict[tuple[str, str], float] = {}
        self._live_of_client: dict[str, set[str]] = defaultdict(set)
        self._live_of_vacancy: dict[str, set[str]] = defaultdict(set)

    # --- the pool ---------------------------------------------------------------------------

    def put_client(self, client: Client) -> None:
        self._unindex_client(client.client_id)
        self.clients[client.client_id] = client
        if client.eligible_gate is None:
            bucket = _hours_bucket(client.hours)
            self._client_cells[_cell(client.lat, client.lon)][bucket].add(client.client_id)
            self._max_travel_km = max(self._max_travel_km, client.max_travel_km)

    def put_vacancy(self, vacancy: Vacancy, status: str = "open") -> None:
        self._unindex_vacancy(vacancy.vacancy_id)
        self.vacancies[vacancy.vacancy_id] = vacancy
        self.vacancy_status[vacancy.vacancy_id] = status
        if vacancy.open:
            self._vacancy_cells[_cell(vacancy.lat, vacancy.lon)].add(vacancy.vacancy_id)

    def restore_live(self, client_id: str, vacancy_id: str, score_: float) -> None:
        """A match that is live in the store (at a rebuild): kept unless the re-solve drops it."""
        self._set_live(client_id, vacancy_id, score_)

    def _unindex_client(self, client_id: str) -> None:
        old = self.clients.get(client_id)
        if old is not None:
            cell = self._client_cells.get(_cell(old.lat, old.lon))
            if cell is not None:
                cell[_hours_bucket(old.hours)].discard(client_id)

    def _unindex_vacancy(self, vacancy_id: str) -> None:
        old = self.vacancies.get(vacancy_id)
        if old is not None:
            self._vacancy_cells[_cell(old.lat, old.lon)].discard(vacancy_id)

    def clients_in_reach(self, v: Vacancy) -> Iterable[Client]:
        """Clients whose area and hours could take the vacancy (the index, not the pool)."""
        lowest = _hours_bucket(v.hours)
        for cell in _cells_within(v.lat, v.lon, self._max_travel_km):
            buckets = self._client_cells.get(cell)
            if not buckets:
                continue
            for bucket, ids in buckets.items():
                if bucket >= lowest:
                    for cid in ids:
                        yield self.clients[cid]

    def vacancies_in_reach(self, c: Client) -> Iterable[Vacancy]:
        for cell in _cells_within(c.lat, c.lon, c.max_travel_km):
            for vid in self._vacancy_cells.get(cell, ()):
                yield self.vacancies[vid]

    # --- candidates -------------------------------------------------------------------------

    def _keep(self, v: Vacancy) -> int:
        return max(MIN_CANDIDATES, CANDIDATES_PER_PLACE * v.capacity)

    def _weight(self, c: Client, v: Vacancy, s: float) -> float:
        return s + (PRIORITY_BONUS if priority(c, v) else 0.0)

    def _refresh_vacancy(self, vid: str) -> None:
        for cid in self.candidates.pop(vid, {}):
            self._listed_on[cid].discard(vid)
        v = self.vacancies[vid]
        if not v.open:
            return
        scored: list[tuple[float, str]] = []
        for c in self.clients_in_reach(v):
            s = score(c, v)
            if s is not None:
                scored.append((self._weight(c, v, s), c.client_id, s))  # type: ignore[arg-type]
        scored.sort(reverse=True)
        keep = {cid: s for _, cid, s in scored[: self._keep(v)]}  # type: ignore[misc]
        self.candidates[vid] = keep
        for cid in keep:
            self._listed_on[cid].add(vid)

    def _refresh_client(self, cid: str) -> set[str]:
        """Re-score one client where it can go; the vacancies whose candidates changed."""
        touched = set(self._listed_on.pop(cid, set()))
        for vid in touched:
            self.candidates.get(vid, {}).pop(cid, None)
        c = self.clients.get(cid)
        if c is None or c.eligible_gate is not None:
            return touched
        for v in self.vacancies_in_reach(c):
            s = score(c, v)
            if s is None:
                continue
            listed = self.candidates.setdefault(v.vacancy_id, {})
            if len(listed) >= self._keep(v):
                worst = min(listed, key=lambda k: self._weight(self.clients[k], v, listed[k]))
                if self._weight(self.clients[worst], v, listed[worst]) >= self._weight(c, v, s):
                    continue
                del listed[worst]
                self._listed_on[worst].discard(v.vacancy_id)
            listed[cid] = s
            self._listed_on[cid].add(v.vacancy_id)
            touched.add(v.vacancy_id)
        return touched

    # --- live shortlists --------------------------------------------------------------------

    def _set_live(self, cid: str, vid: str, s: float) -> None:
        self.live[(cid, vid)] = s
        self._live_of_client[cid].add(vid)
        self._live_of_vacancy[vid].add(cid)

    def _unset_live(self, cid: str, vid: str) -> None:
        self.live.pop((cid, vid), None)
        self._live_of_client[cid].discard(vid)
        self._live_of_vacancy[vid].discard(cid)

    def shortlist(self, vid: str) -> list[tuple[str, float]]:
        """The live candidates, ranked: routeway graduates first, then by score."""
        v = self.vacancies[vid]
        ranked = sorted(
            self._live_of_vacancy.get(vid, ()),
            key=lambda cid: (-self._weight(self.clients[cid], v, self.live[(cid, vid)]), cid),
        )
        return [(cid, self.live[(cid, vid)]) for cid in ranked]

    def _gone_reason(self, cid: str, vid: str) -> WithdrawalReason:
        c, v = self.clients.get(cid), self.vacancies.get(vid)
        if v is None or not v.open:
            status = self.vacancy_status.get(vid, "closed")
            return _VACANCY_STATUS_REASON.get(status, "vacancy-closed")
        if c is None:
            return "not-job-ready"
        gate = failed_gate(c, v)
        if gate is None:
            return "rebalanced"
        return WITHDRAWAL_OF_GATE.get(gate, "gate-failed")

    # --- settling -----------------------------------------------------------------------------

    def settle(self, clients: Iterable[str] = (), vacancies: Iterable[str] = ()) -> Decisions:
        """Re-solve what these changes affect (after `put_client` / `put_vacancy`)."""
        affected: set[str] = set()
        for vid in vacancies:
            self._refresh_vacancy(vid)
            affected.add(vid)
        for cid in clients:
            affected |= self._refresh_client(cid)
            affected |= self._live_of_client.get(cid, set())
        return self._resolve(affected)

    def settle_all(self) -> Decisions:
        for vid in self.vacancies:
            self._refresh_vacancy(vid)
        return self._resolve(set(self.vacancies) | set(self._live_of_vacancy))

    def _resolve(self, affected: set[str]) -> Decisions:
        decisions = Decisions()
        # Live matches whose pair no longer passes the gates go first, with their reason.
        for vid in sorted(affected):
            for cid in sorted(self._live_of_vacancy.get(vid, set())):
                c, v = self.clients.get(cid), self.vacancies.get(vid)
                if c is None or v is None or score(c, v) is None:
                    decisions.drops.append(Drop(cid, vid, self._gone_reason(cid, vid)))
                    self._unset_live(cid, vid)
        vids = sorted(v for v in affected if v in self.candidates and self.vacancies[v].open)
        if not vids:
            return decisions
        cids = sorted({cid for vid in vids for cid in self.candidates[vid]})
        c_index = {cid: i for i, cid in enumerate(cids)}
        v_index = {vid: j for j, vid in enumerate(vids)}
        edges: list[tuple[int, int, float]] = []
        for vid in vids:
            v = self.vacancies[vid]
            for cid, s in self.candidates[vid].items():
                w = self._weight(self.clients[cid], v, s)
                if (cid, vid) in self.live:
                    w += HYSTERESIS
                edges.append((c_index[cid], v_index[vid], w))
        client_cap = [
            max(
                0,
                allocation.CLIENT_SHORTLISTS
                - len(self._live_of_client.get(cid, set()) - set(v_index)),
            )
            for cid in cids
        ]
        vacancy_cap = [self.vacancies[vid].capacity for vid in vids]
        problem = allocation.Problem.of(edges, client_cap, vacancy_cap)
        chosen = (
            allocation.solve_pruned(problem) if len(edges) > 50_000 else allocation.solve(problem)
        )
        kept: set[tuple[str, str]] = set()
        for e in np.flatnonzero(chosen):
            kept.add((cids[problem.client[e]], vids[problem.vacancy[e]]))
        new_or_rescored: set[tuple[str, str]] = set()
        for vid in vids:
            for cid in sorted(self._live_of_vacancy.get(vid, set())):
                if (cid, vid) not in kept:
                    decisions.drops.append(Drop(cid, vid, "rebalanced"))
                    self._unset_live(cid, vid)
        for cid, vid in kept:
            s = self.candidates[vid][cid]
            if self.live.get((cid, vid)) != s:
                new_or_rescored.add((cid, vid))
            self._set_live(cid, vid, s)
        for vid in vids:
            for rank, (cid, s) in enumerate(self.shortlist(vid), start=1):
                if (cid, vid) in new_or_rescored:
                    decisions.places.append(
                        Place(cid, vid, s, priority(self.clients[cid], self.vacancies[vid]), rank)
                    )
        return decisions

    def forget_vacancy(self, vid: str) -> None:
        """A shut vacancy, once its matches are withdrawn: nothing more to keep of it."""
        for cid in self.candidates.pop(vid, {}):
            self._listed_on[cid].discard(vid)
