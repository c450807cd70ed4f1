"""The allocation: limits never exceeded, the solver at least as good as greedy, the vocabulary."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from services.matching import allocation
from services.matching.vocabulary import canonical


@st.composite
def problems(draw: st.DrawFn) -> allocation.Problem:
    nc = draw(st.integers(1, 12))
    nv = draw(st.integers(1, 8))
    pairs = draw(
        st.lists(
            st.tuples(st.integers(0, nc - 1), st.integers(0, nv - 1)), max_size=60, unique=True
        )
    )
    weights = draw(st.lists(st.floats(0.5, 2.0), min_size=len(pairs), max_size=len(pairs)))
    client_cap = draw(st.lists(st.integers(0, 3), min_size=nc, max_size=nc))
    vacancy_cap = draw(st.lists(st.integers(1, 4), min_size=nv, max_size=nv))
    edges = [(c, v, w) for (c, v), w in zip(pairs, weights, strict=True)]
    return allocation.Problem.of(edges, client_cap, vacancy_cap)


@settings(max_examples=200, deadline=None)
@given(problems())
def test_limits_are_never_exceeded_and_the_solver_beats_greedy(p: allocation.Problem) -> None:
    for chosen in (allocation.solve(p), allocation.solve_pruned(p)):
        assert p.feasible(chosen)
    exact = allocation.solve(p)
    assert p.total(exact) >= p.total(allocation.greedy(p)) - 1e-3
    assert p.total(exact) >= p.total(allocation.solve_pruned(p)) - 1e-3


def test_the_solver_spreads_where_greedy_per_vacancy_piles_up() -> None:
    # One strong client, two vacancies of one place and a second client good for one only.
    p = allocation.Problem.of([(0, 0, 0.9), (0, 1, 0.8), (1, 0, 0.85)], [1, 1], [1, 1])
    chosen = allocation.solve(p)
    assert np.isclose(p.total(chosen), 0.8 + 0.85)


def test_the_vocabulary_folds_case_spacing_plurals_and_synonyms() -> None:
    assert canonical("  Customer   Services ") == canonical("customer service")
    assert canonical("Till operation") == canonical("cash handling")
    assert canonical("FLT licence") == canonical("forklift licence")
    assert canonical("CSCS card") == "cscs card"
    assert canonical("Underwater basket weaving") == "underwater basket weaving"
