"""kill -9 of the broker or of the database mid-ingest, then `infra.py up` starts it again: the
services ride it out (or are restarted by the supervisor), nothing is lost or doubled.

Only with the tests' own local infrastructure (`deploy/local/infra.py`): an instance given by
KAFKA_BOOTSTRAP_SERVERS/MONGODB_URI, or testcontainers, is not ours to kill.
"""

from __future__ import annotations

import asyncio

import pytest

from tests.faults.conftest import Deployment, LocalInfra


@pytest.mark.parametrize("part", ["kafka", "ferretdb"])
async def test_a_restart_mid_ingest_loses_and_doubles_nothing(
    local_infra: LocalInfra, deployment: Deployment, part: str
) -> None:
    # `local_infra` first: where it skips, no deployment is started for nothing.
    await deployment.quiet()
    batch = deployment.batch()

    async def restart() -> None:
        await asyncio.to_thread(local_infra.restart, part)

    await deployment.strike(batch, restart)
    found = await deployment.settle(batch)
    await deployment.assert_exactly_once(batch, found)
    await deployment.ready(deployment.processes)
    await deployment.rejoined()
    batch.mark("rejoined")
    print(batch.timeline())
    await deployment.forget(batch)
