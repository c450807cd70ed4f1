"""Capacity-aware allocation: which eligible pairs become shortlist places.

Among the eligible pairs, keep the set that maximises the total weight with each client on at
most `client_cap` shortlists and each vacancy within its shortlist size. That is a maximum-weight
b-matching, solved exactly as a min-cost flow (OR-Tools):

    source -> client (capacity: places left, cost 0)
    client -> vacancy (capacity 1, cost -weight)
    vacancy -> sink (capacity: shortlist size, cost 0)
    source -> sink (any capacity, cost 0: a place may stay empty)

Every unit of flow through a client-vacancy arc is a shortlist place. Weights are integers (the
solver's), scores times `SCALE`.

`prune` keeps the edges an optimum is made of in practice (each client's best few vacancies, each
vacancy's best few candidates: the candidates the engine keeps) and is what makes a large
re-solve fast; the benchmark measures the pruned solve against the exact optimum on every edge,
in the same run.

Pure: no I/O, no clock.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from ortools.graph.python import min_cost_flow

SCALE = 10_000
CLIENT_SHORTLISTS = 3
"""A client is on at most this many live shortlists (the contract)."""
CANDIDATES_PER_PLACE = 2
MIN_CANDIDATES = 8
"""Each vacancy keeps its best `CANDIDATES_PER_PLACE` x size eligible candidates (at least
`MIN_CANDIDATES`): enough for the allocation to spread clients, bounded whatever the pool.
Three per place instead of two adds half the edges (the solve takes a third longer) for 0.05%
of the optimal total at 10,000 x 10,000."""
CLIENT_CHOICES = 2 * CLIENT_SHORTLISTS
"""Each client's best `CLIENT_CHOICES` vacancies are candidates too. A vacancy's own best list
alone reaches about 92% of the optimal total at 10,000 x 10,000 (popular clients crowd every
list near them, and the others' best vacancies never see them); with each client's six best it
reaches 99.9% (`bench/allocation_bench.py` prints it)."""


@dataclass(frozen=True)
class Problem:
    """Edges `(client[i], vacancy[i], weight[i])` between `n_clients` and `n_vacancies` nodes."""

    client: np.ndarray  # int, index into client capacities
    vacancy: np.ndarray  # int, index into vacancy capacities
    weight: np.ndarray  # float, > 0
    client_cap: np.ndarray  # int per client
    vacancy_cap: np.ndarray  # int per vacancy

    @classmethod
    def of(
        cls,
        edges: list[tuple[int, int, float]],
        client_cap: list[int] | np.ndarray,
        vacancy_cap: list[int] | np.ndarray,
    ) -> Problem:
        arr = np.array(edges, dtype=float).reshape(-1, 3)
        return cls(
            arr[:, 0].astype(np.int64),
            arr[:, 1].astype(np.int64),
            arr[:, 2],
            np.asarray(client_cap, dtype=np.int64),
            np.asarray(vacancy_cap, dtype=np.int64),
        )

    def total(self, chosen: np.ndarray) -> float:
        return float(self.weight[chosen].sum())

    def feasible(self, chosen: np.ndarray) -> bool:
        c = np.bincount(self.client[chosen], minlength=len(self.client_cap))
        v = np.bincount(self.vacancy[chosen], minlength=len(self.vacancy_cap))
        return bool((c <= self.client_cap).all() and (v <= self.vacancy_cap).all())


def solve(p: Problem) -> np.ndarray:
    """The exact optimum: a boolean mask over the edges chosen."""
    n_e = len(p.weight)
    if n_e == 0:
        return np.zeros(0, dtype=bool)
    nc, nv = len(p.client_cap), len(p.vacancy_cap)
    source, sink = 0, 1
    c0, v0 = 2, 2 + nc
    supply = int(p.client_cap.sum())
    flow = min_cost_flow.SimpleMinCostFlow()
    tails = np.concatenate(
        [np.full(nc, source), c0 + p.client, v0 + np.arange(nv), [source]]
    ).astype(np.int32)
    heads = np.concatenate([c0 + np.arange(nc), v0 + p.vacancy, np.full(nv, sink), [sink]]).astype(
        np.int32
    )
    caps = np.concatenate([p.client_cap, np.ones(n_e, dtype=np.int64), p.vacancy_cap, [supply]])
    costs = np.concatenate([np.zeros(nc), -np.round(p.weight * SCALE), np.zeros(nv), [0]]).astype(
        np.int64
    )
    flow.add_arcs_with_capacity_and_unit_cost(tails, heads, caps, costs)
    flow.set_node_supply(source, supply)
    flow.set_node_supply(sink, -supply)
    for node in range(2, 2 + nc + nv):
        flow.set_node_supply(node, 0)
    status = flow.solve()
    if status != flow.OPTIMAL:
        raise RuntimeError(f"min-cost flow failed: status {status}")
    flows = flow.flows(np.arange(nc, nc + n_e, dtype=np.int32))
    return np.asarray(flows) > 0


def greedy(p: Problem) -> np.ndarray:
    """Best edge first while capacities allow: the baseline the solver is measured against."""
    chosen = np.zeros(len(p.weight), dtype=bool)
    c_left = p.client_cap.copy()
    v_left = p.vacancy_cap.copy()
    for e in np.argsort(-p.weight, kind="stable"):
        c, v = p.client[e], p.vacancy[e]
        if c_left[c] > 0 and v_left[v] > 0:
            chosen[e] = True
            c_left[c] -= 1
            v_left[v] -= 1
    return chosen


def greedy_per_vacancy(p: Problem) -> np.ndarray:
    """Each vacancy takes its own top candidates, blind to the others (the old behaviour)."""
    order = np.lexsort((-p.weight, p.vacancy))
    chosen = np.zeros(len(p.weight), dtype=bool)
    taken = np.zeros(len(p.vacancy_cap), dtype=np.int64)
    for e in order:
        v = p.vacancy[e]
        if taken[v] < p.vacancy_cap[v]:
            chosen[e] = True
            taken[v] += 1
    return chosen


def top_k_mask(group: np.ndarray, weight: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Edges among the `k[g]` heaviest of their group `g` (one sort of one key: the group, then
    the weight descending, folded into a float)."""
    if len(weight) == 0:
        return np.zeros(0, dtype=bool)
    span = float(weight.max() - weight.min()) + 1.0
    order = np.argsort(group * span - (weight - weight.min()), kind="stable")
    g = group[order]
    starts = np.r_[0, np.flatnonzero(np.diff(g)) + 1]
    first = np.repeat(starts, np.diff(np.r_[starts, len(g)]))
    position = np.arange(len(g)) - first
    keep = np.zeros(len(g), dtype=bool)
    keep[order] = position < k[g]
    return keep


def vacancy_keep(capacity: np.ndarray) -> np.ndarray:
    """How many of its best candidates a vacancy keeps: `CANDIDATES_PER_PLACE` per place,
    at least `MIN_CANDIDATES`."""
    return np.maximum(MIN_CANDIDATES, CANDIDATES_PER_PLACE * np.asarray(capacity))


def prune(p: Problem) -> tuple[Problem, np.ndarray]:
    """Only the edges among a client's `CLIENT_CHOICES` best or a vacancy's `vacancy_keep`
    best, the candidates the engine keeps (an optimum rarely uses any other; the benchmark
    measures how rarely), and their mask."""
    if len(p.weight) == 0:
        return p, np.zeros(0, dtype=bool)
    keep = top_k_mask(p.client, p.weight, np.full(len(p.client_cap), CLIENT_CHOICES)) | top_k_mask(
        p.vacancy, p.weight, vacancy_keep(p.vacancy_cap)
    )
    small = Problem(p.client[keep], p.vacancy[keep], p.weight[keep], p.client_cap, p.vacancy_cap)
    return small, keep


def solve_pruned(p: Problem) -> np.ndarray:
    """The optimum over the pruned edges, as a mask over all of `p`'s edges."""
    small, keep = prune(p)
    chosen = np.zeros(len(p.weight), dtype=bool)
    chosen[np.flatnonzero(keep)[solve(small)]] = True
    return chosen
