"""The bulk rules (`columns.score_pairs` through the engine's index) agree with `rules.score`,
pair for pair: the same pairs eligible, the same scores."""

from __future__ import annotations

import random

import pytest

from services.matching.engine import Engine
from services.matching.rules import Client, ClientProfile, Vacancy, VacancySpec, score

SECTORS = ["retail", "care", "logistics"]
SKILLS = ["customer service", "Cash Handling", "stock control", "forklift licence", "safeguarding"]
GROUPS = ["lone_parent", "over_50", "carer"]
WARDS = ["north", "south", "east"]


def _location(rng: random.Random) -> dict[str, object]:
    return {
        "postcode_district": "WA1",
        "lat": 53.3 + rng.random() * 0.3,
        "lon": -2.7 + rng.random() * 0.4,
    }


def _client(i: int, rng: random.Random) -> Client:
    return Client.of(
        ClientProfile(
            client_id=f"CL-{i}",
            skills=rng.sample(SKILLS, rng.randint(0, 4)),
            qualification_level=rng.randint(0, 4),
            literacy=rng.choice([None, "entry_3", "level_1", "level_2"]),
            numeracy=rng.choice([None, "entry_3", "level_1"]),
            preferred_sectors=rng.sample(SECTORS, rng.randint(0, 2)),
            location=_location(rng),
            max_travel_km=rng.choice([3, 8, 15, 25]),
            available_hours_per_week=rng.choice([16, 24, 37.5]),
            priority_groups=rng.sample(GROUPS, rng.randint(0, 1)),
            ward=rng.choice(WARDS),
            partnership=rng.choice(["cw", "cw", "cw", "bcbc"]),
            consent_scopes=rng.choice([["providers"], ["providers", "employers"], []]),
            blocking_barriers=rng.choice([0, 0, 0, 1]),
        )
    )


def _vacancy(i: int, rng: random.Random) -> Vacancy:
    targeted = rng.random() < 0.2
    return Vacancy.of(
        VacancySpec(
            vacancy_id=f"VAC-{i}",
            employer_id="E",
            brokerage_id="EB",
            title="t",
            sector=rng.choice(SECTORS),
            hours_per_week=rng.choice([16, 24, 30]),
            location=_location(rng),
            required_skills=rng.sample(SKILLS, rng.randint(0, 3)),
            desirable_skills=rng.sample(SKILLS, rng.randint(0, 2)),
            min_qualification_level=rng.randint(0, 3),
            min_literacy=rng.choice([None, "entry_3", "level_1"]),
            min_numeracy=rng.choice([None, "entry_3"]),
            target_priority_groups=rng.sample(GROUPS, 1) if targeted else [],
            target_wards=rng.sample(WARDS, 1) if targeted and rng.random() < 0.5 else [],
            partnership=rng.choice(["cw", "cw", "bcbc"]),
        )
    )


@pytest.fixture(scope="module")
def pool() -> tuple[Engine, list[Client], list[Vacancy]]:
    rng = random.Random(5)
    clients = [_client(i, rng) for i in range(300)]
    vacancies = [_vacancy(i, rng) for i in range(120)]
    engine = Engine()
    for c in clients:
        engine.put_client(c)
    for v in vacancies:
        engine.put_vacancy(v)
    return engine, clients, vacancies


def _expected(clients: list[Client], vacancies: list[Vacancy]) -> dict[tuple[str, str], float]:
    found = {}
    for c in clients:
        for v in vacancies:
            s = score(c, v)
            if s is not None:
                found[(c.client_id, v.vacancy_id)] = s
    return found


def test_every_pair_in_bulk_is_the_rules_pair_by_pair(pool) -> None:
    engine, clients, vacancies = pool
    expected = _expected(clients, vacancies)
    assert len(expected) > 200  # the sample exercises real matches
    cids, vids, scores = engine.eligible_pairs()
    got = dict(zip(zip(cids, vids, strict=True), scores.tolist(), strict=True))
    assert got.keys() == expected.keys()
    assert all(got[k] == pytest.approx(expected[k], abs=1e-4) for k in expected)


def test_one_vacancy_and_one_client_read_the_same_pairs(pool) -> None:
    engine, clients, vacancies = pool
    expected = _expected(clients, vacancies)
    for v in vacancies:
        ids, scores = engine.eligible_clients(v)
        want = {c for c, vid in expected if vid == v.vacancy_id}
        assert set(ids) == want
        for cid, s in zip(ids, scores.tolist(), strict=True):
            assert s == pytest.approx(expected[(cid, v.vacancy_id)], abs=1e-4)
    for c in clients:
        ids, _ = engine.eligible_vacancies(c)
        assert set(ids) == {vid for cid, vid in expected if cid == c.client_id}


def test_a_client_who_changes_is_read_as_it_now_is(pool) -> None:
    engine, clients, vacancies = pool
    rng = random.Random(9)
    moved = [_client(i, rng) for i in range(0, 300, 7)]  # same ids, new profiles
    for c in moved:
        engine.put_client(c)
    now = {c.client_id: c for c in clients} | {c.client_id: c for c in moved}
    expected = _expected(list(now.values()), vacancies)
    cids, vids, _ = engine.eligible_pairs()
    assert set(zip(cids, vids, strict=True)) == expected.keys()
