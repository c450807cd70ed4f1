"""How fast the matching rules evaluate one vacancy against a pool of job-ready clients.

The baseline is the same loop with a trivial score, so the ratio is the rules' own cost. Then
the same pool through the engine's bulk rules (`columns.score_pairs` over numpy columns, every
client in the pool put in reach), which is what the allocation runs: the ratio is the speed-up,
and the pairs it finds eligible are the ones `evaluate` proposes.
"""

from __future__ import annotations

import os
import random
import time

from services.matching.engine import Engine
from services.matching.rules import Client, ClientProfile, Vacancy, VacancySpec, evaluate

POOL = int(os.environ.get("BENCH_CLIENTS", "20000"))
SKILLS = [
    "customer service",
    "cash handling",
    "stock control",
    "forklift licence",
    "manual handling",
    "cscs card",
    "personal care",
    "food hygiene",
    "teamwork",
]


def pool(n: int, rng: random.Random) -> list[ClientProfile]:
    return [
        ClientProfile(
            client_id=f"CL-{i}",
            skills=rng.sample(SKILLS, 3),
            qualification_level=rng.randint(0, 4),
            preferred_sectors=rng.sample(["retail", "care", "construction", "logistics"], 2),
            location={
                "postcode_district": "WA5",
                "lat": 53.3 + rng.random() / 5,
                "lon": -2.7 + rng.random() / 5,
            },
            max_travel_km=rng.choice([5, 10, 15, 25]),
            available_hours_per_week=rng.choice([16, 25, 37.5]),
            priority_groups=[],
            ward="Bewsey & Whitecross",
        )
        for i in range(n)
    ]


def main() -> None:
    rng = random.Random(7)
    clients = pool(POOL, rng)
    vacancy = VacancySpec(
        vacancy_id="VAC-1",
        employer_id="E-1",
        brokerage_id="EB-01",
        title="Sales Assistant",
        sector="retail",
        hours_per_week=16,
        location={"postcode_district": "WA1", "lat": 53.39, "lon": -2.59},
        required_skills=["customer service"],
        desirable_skills=["cash handling"],
        min_qualification_level=1,
    )

    start = time.perf_counter()
    trivial = sum(1 for c in clients if c.qualification_level >= 0)
    baseline = POOL / (time.perf_counter() - start)
    start = time.perf_counter()
    results = [evaluate(c, vacancy) for c in clients]
    rules = POOL / (time.perf_counter() - start)
    proposed = sum(r.proposable for r in results)
    print(f"matching_bench: one vacancy against {POOL} clients ({trivial} scanned)")
    print(f"  trivial loop (baseline) {baseline:12.0f} pairs/s")
    print(f"  evaluate()              {rules:12.0f} pairs/s   {proposed} proposable")
    print(f"  ratio evaluate/baseline {rules / baseline:12.4f}")

    engine = Engine()
    for c in clients:
        engine.put_client(Client.of(c))
    bulk_vacancy = Vacancy.of(vacancy)
    engine.put_vacancy(bulk_vacancy)
    start = time.perf_counter()
    ids, _ = engine.eligible_clients(bulk_vacancy)
    bulk = POOL / (time.perf_counter() - start)
    same = set(ids) == {c.client_id for c, r in zip(clients, results, strict=True) if r.proposable}
    print(f"  bulk rules (engine)     {bulk:12.0f} pairs/s   {len(ids)} eligible, same: {same}")
    print(f"  ratio bulk/evaluate     {bulk / rules:12.1f}")


if __name__ == "__main__":
    main()
