"""Leases against the real store: replicas racing to overtake one lapsed lease, over separate
connections (no lock in common), get exactly one holder each time."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from pymongo.asynchronous.database import AsyncDatabase

from runtime.leases import Lease, Leases
from runtime.mongo import connect
from tests.conftest import Infrastructure
from tests.integration.conftest import persistence_of

REPLICAS = 8
ROUNDS = 15


async def test_racing_replicas_overtake_a_lapsed_lease_one_at_a_time(
    infrastructure: Infrastructure, db: AsyncDatabase
) -> None:
    now = [datetime.now(UTC)]
    clients = [connect(infrastructure.mongodb_uri) for _ in range(2)]
    try:
        replicas = []
        for n in range(REPLICAS):
            persistence = await persistence_of(clients[n % 2][db.name])
            documents = persistence.documents("leases", Lease, id_field="name")
            replicas.append(Leases(documents, seconds=15, clock=lambda: now[0]))
        epochs = []
        for _ in range(ROUNDS):
            now[0] += timedelta(seconds=20)  # whoever held it stopped renewing: it lapsed
            won = await asyncio.gather(
                *(
                    lease.take("cheshire-warrington", f"replica-{n}")
                    for n, lease in enumerate(replicas)
                )
            )
            winners = [n for n, epoch in enumerate(won) if epoch is not None]
            assert len(winners) == 1, f"{len(winners)} replicas hold the lease at once"
            epochs.append(won[winners[0]])
            holder = await replicas[0].holder("cheshire-warrington")
            assert holder == f"replica-{winners[0]}"
        assert epochs == sorted(epochs) and epochs[-1] <= ROUNDS
    finally:
        for client in clients:
            await client.close()
