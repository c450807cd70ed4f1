"""The `brokerage` CLI importing a 10,000-row claimants CSV, as a JCP feed would: a progress bar,
a summary of the rows refused by field, and every valid claimant a client the operations
service counts in its ward's journeys.

The last tests of `make test` (`testpaths`), because 10,000 registrations on the session's JCP
topic keep every service still reading it busy for a while: nothing runs after them to be
delayed. Their own referrals and operations services start where the topics end now, so they
read the import and nothing else.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from brokerage_client.api import poll
from schemas.jcp import ClaimantRegistered
from tests.conftest import REPO, Infrastructure
from tests.e2e.conftest import OwnStack, own_services

pytestmark = pytest.mark.load

OPS = {"Authorization": "Bearer dev-operations-token"}
ROWS = int(os.environ.get("CLI_IMPORT_ROWS", "10000"))
COLUMNS = list(ClaimantRegistered.model_fields)  # the CSV's columns are the event's fields


@pytest.fixture(scope="module")
def stack(
    infrastructure: Infrastructure, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OwnStack]:
    with own_services(
        infrastructure,
        ("referrals", "operations"),
        tmp_path_factory.mktemp("import-logs"),
        name="import",
    ) as started:
        yield started


def _csv(path: Path, ward: str) -> None:
    """`ROWS` valid claimants, then two rows the CLI must refuse: a National Insurance number
    for a claimant reference, and a benefit and date that are not."""
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(COLUMNS)
        for _ in range(ROWS):
            ref = f"CLM-{uuid.uuid4().hex[:12]}"
            w.writerow(
                [ref, "UC", "2026-01-05", "Warrington", "Warrington", ward, "WA5", "25-49",
                 "carer;lone_parent"]
            )  # fmt: skip
        w.writerow(
            ["AB123456C", "UC", "2026-01-05", "Warrington", "Warrington", ward, "WA5", "25-49", ""]
        )
        w.writerow(
            ["CLM-BAD", "XX", "not a date", "Warrington", "Warrington", ward, "WA5", "25-49", ""]
        )


async def test_the_cli_imports_a_claimants_csv_and_the_clients_appear(
    infrastructure: Infrastructure, stack: OwnStack, tmp_path: Path
) -> None:
    ward = f"Import {uuid.uuid4().hex[:6]}"
    path = tmp_path / "claimants.csv"
    _csv(path, ward)
    result = subprocess.run(  # noqa: ASYNC221 - the CLI as a user runs it, awaited in full
        [
            sys.executable,
            "-m",
            "brokerage_cli",
            "import-claimants",
            str(path),
            "--bootstrap",
            infrastructure.kafka_bootstrap_servers,
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert f"published {ROWS}, refused 2" in result.stdout
    assert "publishing claimants" in result.stdout, "the progress bar"
    assert "claimant_ref 1" in result.stdout and "benefit 1" in result.stdout, "refused by field"
    assert "AB123456C" not in result.stdout + result.stderr, "no input value is echoed"

    async with httpx.AsyncClient(timeout=30) as http:

        async def arrived() -> int | None:
            journeys = await http.get(
                f"{stack.urls['operations']}/journeys", params={"ward": ward}, headers=OPS
            )
            clients = journeys.json()["clients"]
            return clients if clients == ROWS else None

        assert await poll(arrived, timeout=300, what="imported clients", interval=2) == ROWS
