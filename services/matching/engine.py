"""One partnership's allocation, kept in memory and changed incrementally as events arrive.

The engine holds the partnership's clients and vacancies, indexes them by area so a change
reads only the pairs it can affect (never the whole pool), keeps each vacancy's best eligible
candidates and each client's best vacancies, and the live shortlists. `settle` takes what
changed and returns the decisions (places to propose, matches to withdraw with their coded
reason); the caller writes them. Pure: no I/O, no clock.

Indexes. Matchable clients (every client-only gate passes) and open vacancies sit in grid cells
(`grid.py`) and in numpy columns (`columns.py`). A vacancy reads the cells within the longest
travel limit of the pool; a client reads the cells within its own; the rules then run in bulk
over the rows read (`columns.score_pairs`, held equal to `rules.score` by a test). A rebuild
joins the whole grid with itself at once (`eligible_pairs`). Hours, sector and the rest are
tested in bulk over what the area reads, so they need no index of their own.

Incremental re-solve. A change re-solves only the affected vacancies (those changed, those a
changed client is a candidate for or on) with every client of their candidate lists, holding the
rest of the partnership's shortlists fixed (a client's places elsewhere reduce what it has left).
A client who loses a place (a withdrawal, a rebalance) and has room left gets one more pass over
the other vacancies it is a candidate for. `settle_all` re-solves the whole partnership (at start,
after a rebuild). Candidates are each vacancy's best few and each client's best few vacancies
(`allocation.prune`, whose figures the benchmark prints).

Churn. A live match weighs `HYSTERESIS` more than its score in every re-solve: it is displaced only
by a set of places whose total is that much better per place moved. 0.05 is a twentieth of the
score range, about what one desirable skill or 5 km of a 20 km limit is worth: smaller differences
are within the noise of the inputs (district centroids, free-text skills), so moving a candidate
for them would cost the employer and the client a re-read for nothing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from schemas.matching import WithdrawalReason
from services.matching import allocation
from services.matching.columns import ClientColumns, VacancyColumns, Vocabulary, score_pairs
from services.matching.domain import WITHDRAWAL_OF_GATE
from services.matching.grid import Grid, pairs_within
from services.matching.rules import Client, Vacancy, failed_gate, priority, score

HYSTERESIS = 0.05
PRIORITY_BONUS = 1.0
"""A routeway graduate outweighs any score difference: they rank, and are kept, first."""
CANDIDATES_PER_PLACE = allocation.CANDIDATES_PER_PLACE
MIN_CANDIDATES = allocation.MIN_CANDIDATES
CLIENT_CHOICES = allocation.CLIENT_CHOICES
PAIRS_BUDGET = 2_000_000
"""Near pairs scored at once by `eligible_pairs` (about 100 MB of intermediate arrays)."""

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


class Engine:
    """The allocation of one partnership."""

    def __init__(self) -> None:
        self.clients: dict[str, Client] = {}
        self.vacancies: dict[str, Vacancy] = {}
        self.vacancy_status: dict[str, str] = {}
        vocabulary = Vocabulary()
        # Matchable clients (every client-only gate passes) and open vacancies, as columns,
        # and where they are.
        self._client_rows = ClientColumns(vocabulary)
        self._vacancy_rows = VacancyColumns(vocabulary)
        self._client_grid = Grid()
        self._vacancy_grid = Grid()
        self._max_travel_km = 0.0
        # vacancy -> {client: score} of its best eligible candidates; client -> those vacancies
        self.candidates: dict[str, dict[str, float]] = {}
        self._listed_on: dict[str, set[str]] = defaultdict(set)
        self._floor: dict[str, tuple[float, str]] = {}  # a full list's weakest (weight, client)
        self._truncated: set[str] = set()  # lists cut at their length: more wait in the pool
        # client -> {vacancy: (score, weight)} of its best vacancies; vacancy -> those clients;
        # per client row, the weakest weight of a full list (-inf while there is room)
        self._choices: dict[str, dict[str, tuple[float, float]]] = {}
        self._chosen_by: dict[str, set[str]] = defaultdict(set)
        self._choice_floor = np.full(0, -np.inf)
        self._choices_truncated: set[str] = set()
        # the live shortlists: pair -> score, and both directions
        self.live: dict[tuple[str, str], float] = {}
        self._live_of_client: dict[str, set[str]] = defaultdict(set)
        self._live_of_vacancy: dict[str, set[str]] = defaultdict(set)

    # --- the pool ---------------------------------------------------------------------------

    def put_client(self, client: Client) -> None:
        self.clients[client.client_id] = client
        if client.eligible_gate is None:
            row = self._client_rows.put(client)
            self._client_grid.put(row, client.lat, client.lon)
            self._max_travel_km = max(self._max_travel_km, client.max_travel_km)
        else:
            row = self._client_rows.remove(client.client_id)
            if row is not None:
                self._client_grid.remove(row)

    def put_vacancy(self, vacancy: Vacancy, status: str = "open") -> None:
        self.vacancies[vacancy.vacancy_id] = vacancy
        self.vacancy_status[vacancy.vacancy_id] = status
        if vacancy.open:
            row = self._vacancy_rows.put(vacancy)
            self._vacancy_grid.put(row, vacancy.lat, vacancy.lon)
        else:
            row = self._vacancy_rows.remove(vacancy.vacancy_id)
            if row is not None:
                self._vacancy_grid.remove(row)

    def restore_live(self, client_id: str, vacancy_id: str, score_: float) -> None:
        """A match that is live in the store (at a rebuild): kept unless the re-solve drops it."""
        self._set_live(client_id, vacancy_id, score_)

    def eligible_clients(self, v: Vacancy) -> tuple[list[str], np.ndarray]:
        """Every client eligible for the vacancy, with its score: the index, then the rules
        over the clients it reaches (never the pool)."""
        rows, scores = self._eligible_client_rows(v)
        ids = self._client_rows.id_at
        return [ids[r] for r in rows.tolist()], scores  # type: ignore[misc]

    def _eligible_client_rows(self, v: Vacancy) -> tuple[np.ndarray, np.ndarray]:
        row = self._vacancy_rows.row_of.get(v.vacancy_id)
        if row is None:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        rows = self._client_grid.within(v.lat, v.lon, self._max_travel_km)
        c, _, scores = score_pairs(
            self._client_rows, self._vacancy_rows, rows, np.full(len(rows), row)
        )
        return c, scores

    def eligible_vacancies(self, c: Client) -> tuple[list[str], np.ndarray]:
        row = self._client_rows.row_of.get(c.client_id)
        if row is None:
            return [], np.zeros(0)
        rows = self._vacancy_grid.within(c.lat, c.lon, c.max_travel_km)
        _, v, scores = score_pairs(
            self._client_rows, self._vacancy_rows, np.full(len(rows), row), rows
        )
        ids = self._vacancy_rows.id_at
        return [ids[r] for r in v.tolist()], scores  # type: ignore[misc]

    def eligible_pairs(self) -> tuple[list[str], list[str], np.ndarray]:
        """Every eligible pair of the partnership, as (client ids, vacancy ids, scores): the
        grid joined with itself in bulk, as many vacancies at a time as keep the near pairs
        within `PAIRS_BUDGET` (memory stays bounded), for a rebuild and the benchmark."""
        cr, vr = self._client_rows, self._vacancy_rows
        c_rows = np.fromiter(cr.row_of.values(), dtype=np.int64, count=len(cr.row_of))
        v_rows = np.fromiter(vr.row_of.values(), dtype=np.int64, count=len(vr.row_of))
        parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        c_lat, c_lon = cr.lat[c_rows], cr.lon[c_rows]
        start, size = 0, 64  # a first small chunk measures how many near pairs a vacancy has
        while start < len(v_rows):
            chunk = v_rows[start : start + size]
            i, j = pairs_within(c_lat, c_lon, vr.lat[chunk], vr.lon[chunk], self._max_travel_km)
            parts.append(score_pairs(cr, vr, c_rows[i], chunk[j]))
            start += len(chunk)
            size = max(1, PAIRS_BUDGET * len(chunk) // max(len(i), 1))
        if not parts:
            return [], [], np.zeros(0)
        c = np.concatenate([p[0] for p in parts])
        v = np.concatenate([p[1] for p in parts])
        scores = np.concatenate([p[2] for p in parts])
        return (
            [cr.id_at[r] for r in c.tolist()],  # type: ignore[misc]
            [vr.id_at[r] for r in v.tolist()],  # type: ignore[misc]
            scores,
        )

    # --- candidates -------------------------------------------------------------------------

    def _keep(self, v: Vacancy) -> int:
        return max(MIN_CANDIDATES, CANDIDATES_PER_PLACE * v.capacity)

    def _weight(self, c: Client, v: Vacancy, s: float) -> float:
        return s + (PRIORITY_BONUS if priority(c, v) else 0.0)

    def _refresh_vacancy(self, vid: str) -> None:
        for cid in self.candidates.pop(vid, {}):
            self._listed_on[cid].discard(vid)
        self._floor.pop(vid, None)
        refill = self._unchoose(vid)
        v = self.vacancies[vid]
        if v.open:
            rows, scores = self._eligible_client_rows(v)
            ids = [self._client_rows.id_at[r] for r in rows.tolist()]
            weights = scores
            if v.routeway is not None:
                bonus = [v.routeway in self.clients[i].programmes for i in ids]  # type: ignore[index]
                weights = scores + PRIORITY_BONUS * np.asarray(bonus, dtype=float)
            k = self._keep(v)
            best = np.argpartition(-weights, k - 1)[:k] if len(ids) > k else np.arange(len(ids))
            if len(ids) > k:
                self._truncated.add(vid)
            else:
                self._truncated.discard(vid)
            listed = self.candidates[vid] = {ids[n]: float(scores[n]) for n in best.tolist()}  # type: ignore[misc]
            for cid in listed:
                self._listed_on[cid].add(vid)
            # Clients for whom this vacancy is now among their best: only those above their
            # list's weakest are looked at one by one.
            floor = self._floors(rows)
            for n in np.flatnonzero(weights > floor).tolist():
                self._choose(ids[n], vid, float(scores[n]), float(weights[n]))  # type: ignore[arg-type]
        for cid in refill:
            self._refresh_choices(cid)

    # --- each client's best vacancies -------------------------------------------------------

    def _floors(self, rows: np.ndarray) -> np.ndarray:
        if len(self._choice_floor) < self._client_rows.size:
            grown = np.full(max(self._client_rows.size, 2 * len(self._choice_floor)), -np.inf)
            grown[: len(self._choice_floor)] = self._choice_floor
            self._choice_floor = grown
        return self._choice_floor[rows]

    def _set_floor(self, cid: str) -> None:
        row = self._client_rows.row_of.get(cid)
        if row is None:
            return
        self._floors(np.zeros(0, dtype=np.int64))  # grown to every row
        chosen = self._choices.get(cid, {})
        full = len(chosen) >= CLIENT_CHOICES
        self._choice_floor[row] = min(w for _, w in chosen.values()) if full else -np.inf

    def _choose(self, cid: str, vid: str, s: float, w: float) -> None:
        chosen = self._choices.setdefault(cid, {})
        chosen[vid] = (s, w)
        self._chosen_by[vid].add(cid)
        if len(chosen) > CLIENT_CHOICES:
            worst = min(chosen, key=lambda k: chosen[k][1])
            del chosen[worst]
            self._chosen_by[worst].discard(cid)
            self._choices_truncated.add(cid)
        self._set_floor(cid)

    def _unchoose(self, vid: str) -> list[str]:
        """Take the vacancy off its clients' best lists; the clients whose list to refill."""
        refill = []
        for cid in self._chosen_by.pop(vid, set()):
            chosen = self._choices.get(cid, {})
            chosen.pop(vid, None)
            self._set_floor(cid)
            if cid in self._choices_truncated and len(chosen) < 2 * CLIENT_CHOICES // 3:
                refill.append(cid)
        return refill

    def _refresh_choices(
        self, cid: str, found: tuple[list[str], np.ndarray] | None = None
    ) -> set[str]:
        """The client's best vacancies afresh; the vacancies whose lists it joined or left."""
        touched = set(self._choices.pop(cid, {}))
        for vid in touched:
            self._chosen_by[vid].discard(cid)
        self._choices_truncated.discard(cid)
        c = self.clients.get(cid)
        if c is not None and c.eligible_gate is None:
            vids, scores = found if found is not None else self.eligible_vacancies(c)
            weights = [
                self._weight(c, self.vacancies[vid], s)
                for vid, s in zip(vids, scores.tolist(), strict=True)
            ]
            order = sorted(range(len(vids)), key=lambda n: -weights[n])
            if len(order) > CLIENT_CHOICES:
                self._choices_truncated.add(cid)
            chosen = self._choices[cid] = {
                vids[n]: (float(scores[n]), weights[n]) for n in order[:CLIENT_CHOICES]
            }
            for vid in chosen:
                self._chosen_by[vid].add(cid)
            touched |= set(chosen)
        self._set_floor(cid)
        return touched

    def _refresh_all(self) -> None:
        """Every vacancy's candidates at once, from every eligible pair in bulk."""
        for vid in list(self.candidates):
            for cid in self.candidates.pop(vid):
                self._listed_on[cid].discard(vid)
        self._floor.clear()
        self._choices.clear()
        self._chosen_by.clear()
        self._choice_floor[:] = -np.inf
        cids, vids, scores = self.eligible_pairs()
        if not cids:
            return
        v_index = {vid: n for n, vid in enumerate(dict.fromkeys(vids))}
        group = np.fromiter((v_index[v] for v in vids), dtype=np.int64, count=len(vids))
        weights = scores.copy()
        for n, (cid, vid) in enumerate(zip(cids, vids, strict=True)):
            if self.vacancies[vid].routeway is not None:
                weights[n] = self._weight(self.clients[cid], self.vacancies[vid], scores[n])
        keep = np.array([self._keep(self.vacancies[vid]) for vid in v_index], dtype=np.int64)
        found = np.bincount(group, minlength=len(v_index))
        self._truncated = {vid for vid, n in v_index.items() if found[n] > keep[n]}
        for n in np.flatnonzero(allocation.top_k_mask(group, weights, keep)).tolist():
            cid, vid = cids[n], vids[n]
            self.candidates.setdefault(vid, {})[cid] = float(scores[n])
            self._listed_on[cid].add(vid)
        # Each client's best vacancies, from the same pairs.
        c_index = {cid: n for n, cid in enumerate(dict.fromkeys(cids))}
        c_group = np.fromiter((c_index[c] for c in cids), dtype=np.int64, count=len(cids))
        found = np.bincount(c_group, minlength=len(c_index))
        self._choices_truncated = {c for c, n in c_index.items() if found[n] > CLIENT_CHOICES}
        picks = np.full(len(c_index), CLIENT_CHOICES)
        for n in np.flatnonzero(allocation.top_k_mask(c_group, weights, picks)).tolist():
            cid, vid = cids[n], vids[n]
            self._choices.setdefault(cid, {})[vid] = (float(scores[n]), float(weights[n]))
            self._chosen_by[vid].add(cid)
        for cid in self._choices:
            self._set_floor(cid)

    def _weakest(self, vid: str) -> tuple[float, str]:
        found = self._floor.get(vid)
        if found is None:
            v, listed = self.vacancies[vid], self.candidates[vid]
            found = min((self._weight(self.clients[k], v, s), k) for k, s in listed.items())
            self._floor[vid] = found
        return found

    def _refresh_client(self, cid: str) -> set[str]:
        """Re-score one client where it can go; the vacancies whose candidates changed."""
        touched = set(self._listed_on.pop(cid, set()))
        for vid in touched:
            listed = self.candidates.get(vid, {})
            listed.pop(cid, None)
            self._floor.pop(vid, None)
        c = self.clients.get(cid)
        found = None
        if c is not None and c.eligible_gate is None:
            found = vids, scores = self.eligible_vacancies(c)
            for vid, s in zip(vids, scores.tolist(), strict=True):
                v = self.vacancies[vid]
                w = self._weight(c, v, s)
                listed = self.candidates.setdefault(vid, {})
                if len(listed) >= self._keep(v):
                    floor, worst = self._weakest(vid)
                    if floor >= w:
                        continue
                    del listed[worst]
                    self._listed_on[worst].discard(vid)
                    self._truncated.add(vid)
                listed[cid] = s
                self._floor.pop(vid, None)
                self._listed_on[cid].add(vid)
                touched.add(vid)
        # A list that lost a member is refilled from the pool only once it has lost a third:
        # a refill reads the vacancy's whole reach, and two-thirds of the list leave the
        # allocation room to spread clients meanwhile (other clients' events top it up too).
        touched |= self._refresh_choices(cid, found)
        for vid in touched & self._truncated:
            if len(self.candidates.get(vid, {})) < 2 * self._keep(self.vacancies[vid]) // 3:
                self._refresh_vacancy(vid)
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

    def unplace(self, cid: str, vid: str) -> None:
        """A place the caller did not write after all: not live, so the store and the engine
        agree."""
        self._unset_live(cid, vid)

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
        vacancies, clients = set(vacancies), set(clients)
        for vid in vacancies:
            self._refresh_vacancy(vid)
            affected.add(vid)
        for cid in clients:
            affected |= self._refresh_client(cid)
            affected |= self._live_of_client.get(cid, set())
        decisions = self._resolve(affected, clients | vacancies)
        # Clients who lost a place here and may take one elsewhere: one more pass over the
        # other vacancies they are candidates for (held fixed above), so a freed place is not
        # left empty until some later event happens to touch them.
        freed = {d.client_id for d in decisions.drops} - clients
        elsewhere: set[str] = set()
        for cid in freed:
            if len(self._live_of_client.get(cid, ())) < allocation.CLIENT_SHORTLISTS:
                elsewhere |= self._listed_on.get(cid, set()) | set(self._choices.get(cid, {}))
        if elsewhere - affected:
            more = self._resolve(elsewhere - affected, set())
            decisions.places += more.places
            decisions.drops += more.drops
        return decisions

    def settle_all(self) -> Decisions:
        self._refresh_all()
        return self._resolve(set(self.vacancies) | set(self._live_of_vacancy), None)

    def _resolve(self, affected: set[str], changed: set[str] | None) -> Decisions:
        """Re-solve the affected vacancies. Live pairs of which nothing `changed` (None: all
        may have) keep the score they were placed with; the others are scored again."""
        decisions = Decisions()
        # Live matches whose pair no longer passes the gates go first, with their reason; the
        # others stay in the re-solve with their current score, candidates or not (so a live
        # match pushed off the candidate list still has its hysteresis to defend it).
        current: dict[tuple[str, str], float] = {}
        for vid in sorted(affected):
            for cid in sorted(self._live_of_vacancy.get(vid, set())):
                if changed is not None and cid not in changed and vid not in changed:
                    current[(cid, vid)] = self.live[(cid, vid)]
                    continue
                c, v = self.clients.get(cid), self.vacancies.get(vid)
                s = None if c is None or v is None else score(c, v)
                if s is None:
                    decisions.drops.append(Drop(cid, vid, self._gone_reason(cid, vid)))
                    self._unset_live(cid, vid)
                else:
                    current[(cid, vid)] = s
        vids = sorted(v for v in affected if v in self.candidates and self.vacancies[v].open)
        if not vids:
            return decisions
        pool: dict[str, dict[str, float]] = {vid: dict(self.candidates[vid]) for vid in vids}
        for vid in vids:
            for cid in self._chosen_by.get(vid, ()):
                pool[vid].setdefault(cid, self._choices[cid][vid][0])
        for (cid, vid), s in current.items():
            if vid in pool:
                pool[vid][cid] = s
        cids = sorted({cid for vid in vids for cid in pool[vid]})
        c_index = {cid: i for i, cid in enumerate(cids)}
        v_index = {vid: j for j, vid in enumerate(vids)}
        edges: list[tuple[int, int, float]] = []
        for vid in vids:
            v = self.vacancies[vid]
            routeway = v.routeway is not None
            j = v_index[vid]
            for cid, s in pool[vid].items():
                w = self._weight(self.clients[cid], v, s) if routeway else s
                if (cid, vid) in self.live:
                    w += HYSTERESIS
                edges.append((c_index[cid], j, w))
        in_play = set(v_index)
        client_cap = [
            max(
                0,
                allocation.CLIENT_SHORTLISTS - len(self._live_of_client.get(cid, set()) - in_play),
            )
            for cid in cids
        ]
        vacancy_cap = [self.vacancies[vid].capacity for vid in vids]
        problem = allocation.Problem.of(edges, client_cap, vacancy_cap)
        chosen = allocation.solve(problem)
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
            s = pool[vid][cid]
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
        self._truncated.discard(vid)
        self._floor.pop(vid, None)
        self._unchoose(vid)
        for cid in self.candidates.pop(vid, {}):
            self._listed_on[cid].discard(vid)
