"""The engine under a random stream of events: its limits always hold, every live pair is
eligible, and incremental settling stays close to settling everything from scratch."""

from __future__ import annotations

import random

import pytest

from services.matching import allocation
from services.matching.engine import Engine
from services.matching.rules import score
from tests.unit.matching.test_columns import _client, _vacancy


def _check(engine: Engine) -> None:
    per_client: dict[str, int] = {}
    per_vacancy: dict[str, int] = {}
    for cid, vid in engine.live:
        per_client[cid] = per_client.get(cid, 0) + 1
        per_vacancy[vid] = per_vacancy.get(vid, 0) + 1
        assert score(engine.clients[cid], engine.vacancies[vid]) is not None, (cid, vid)
    assert max(per_client.values(), default=0) <= allocation.CLIENT_SHORTLISTS
    for vid, n in per_vacancy.items():
        assert n <= engine.vacancies[vid].capacity


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_limits_and_gates_hold_through_a_stream_of_events(seed: int) -> None:
    rng = random.Random(seed)
    engine = Engine()
    clients = [_client(i, rng) for i in range(150)]
    vacancies = [_vacancy(i, rng) for i in range(40)]
    for c in clients[:100]:
        engine.put_client(c)
    for v in vacancies[:30]:
        engine.put_vacancy(v)
    engine.settle_all()
    _check(engine)
    for _ in range(300):
        kind = rng.random()
        if kind < 0.5:
            c = _client(rng.randrange(150), rng)  # a new or changed client
            engine.put_client(c)
            engine.settle(clients=[c.client_id])
        elif kind < 0.8:
            v = _vacancy(rng.randrange(40), rng)  # a new or changed vacancy
            engine.put_vacancy(v)
            engine.settle(vacancies=[v.vacancy_id])
        else:
            vid = rng.choice(sorted(engine.vacancies))
            v = engine.vacancies[vid]
            shut = type(v)(**{**{f: getattr(v, f) for f in v.__slots__}, "open": False})
            engine.put_vacancy(shut, "filled")
            decisions = engine.settle(vacancies=[vid])
            assert all(d.reason == "vacancy-filled" for d in decisions.drops if d.vacancy_id == vid)
            engine.forget_vacancy(vid)
        _check(engine)

    # Incremental settling with hysteresis stays near a fresh allocation of the same pool.
    def total(e: Engine) -> float:
        return sum(e.live.values())

    fresh = Engine()
    for c in engine.clients.values():
        fresh.put_client(c)
    for vid, v in engine.vacancies.items():
        fresh.put_vacancy(v, engine.vacancy_status[vid])
    fresh.settle_all()
    _check(fresh)
    assert total(engine) >= 0.95 * total(fresh), (total(engine), total(fresh))
