"""Start all four services as separate processes against the real broker and database."""

from __future__ import annotations

import json
import socket
import uuid
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from brokerage_client import JcpFeed, Platform
from brokerage_client.api import poll
from runtime.supervisor import SERVICES, ServiceProcess, start_services, stop_services, wait_ready
from tests.conftest import REPO, Infrastructure, start_groups_at_end
from tests.integration.conftest import end_offsets

TOKENS = REPO / "deploy" / "local" / "dev-tokens.json"
# Organisations the dev tokens lack, so the authorization matrix has another organisation of
# the same partnership for every role (tests/e2e/test_authorization_matrix.py).
EXTRA_TOKENS = {
    "e2e-jcp-cw2-token": {"org_id": "JCP-CW2", "role": "jcp", "partnership": "cheshire-warrington"},
    "e2e-employer-eb03-token": {
        "org_id": "EB-03",
        "role": "employer_brokerage",
        "partnership": "cheshire-warrington",
    },
    "e2e-operations-cw2-token": {
        "org_id": "OPS-CW2",
        "role": "operations",
        "partnership": "cheshire-warrington",
    },
}

# A provider's assessment, an employer's vacancy and its person specification that match.
ASSESSMENT = {
    "skills": ["Customer Service", "cash handling"],
    "qualification_level": 2,
    "literacy": "level_1",
    "numeracy": "entry_3",
    "barriers": [{"type": "childcare", "blocking": False}],
    "preferred_sectors": ["retail"],
    "location": {"postcode_district": "WA5", "lat": 53.39, "lon": -2.62},
    "max_travel_km": 15,
    "available_hours_per_week": 30,
}
VACANCY = {
    "employer_id": "E-GOLDEN-SQ",
    "title": "Sales Assistant",
    "sector": "retail",
    "positions": 3,
    "hours_per_week": 24,
    "location": {"postcode_district": "WA1", "lat": 53.39, "lon": -2.59},
    "closing_date": (date.today() + timedelta(days=30)).isoformat(),
}
SCOPE = {
    "required_skills": ["customer service"],
    "desirable_skills": ["cash handling"],
    "min_qualification_level": 1,
    "target_priority_groups": ["lone_parent"],
    "target_wards": [],
    "guarantees": {"interview": True, "work_trial": False},
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def tokens_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The dev tokens and the extra organisations above, as the services read them."""
    path = tmp_path_factory.mktemp("tokens") / "tokens.json"
    path.write_text(json.dumps({**json.loads(TOKENS.read_text()), **EXTRA_TOKENS}))
    return path


@dataclass(frozen=True)
class OwnStack:
    """A test module's own services: a database prefix and consumer groups nobody else uses."""

    prefix: str
    groups: dict[str, str]  # service -> its consumer group
    processes: list[ServiceProcess]

    @property
    def urls(self) -> dict[str, str]:
        """By service, its first process (`referrals`, not `referrals-2`)."""
        return {p.name: p.url for p in self.processes if p.name in SERVICES}


@contextmanager
def own_services(
    infrastructure: Infrastructure,
    services: Iterable[str],
    log_dir: Path,
    *,
    name: str,
    env: Mapping[str, str] | None = None,
    per_service_env: Mapping[str, Mapping[str, str]] | None = None,
    replicas: Mapping[str, int] | None = None,
    groups_at_end: bool = True,
) -> Iterator[OwnStack]:
    """Start these services for one test module, each on a free port, with fresh databases
    (`<name>_<random>`) and consumer groups of their own; stop them afterwards.

    With `groups_at_end` the groups begin where the topics end now (`start_groups_at_end`), so
    the services do not first work through every earlier test's events; a rebuild from the
    log, or a broker of the module's own, starts them at the beginning instead."""
    SharedPlatform.stop_running()  # never two stacks on one broker's topics
    prefix = f"{name}_{uuid.uuid4().hex[:8]}"
    ports = {service: free_port() for service in services}
    groups = {service: f"{service}-{prefix}" for service in ports}
    base = {
        "KAFKA_BOOTSTRAP_SERVERS": infrastructure.kafka_bootstrap_servers,
        "MONGODB_URI": infrastructure.mongodb_uri,
        "MONGODB_DB_PREFIX": prefix,
        "TOKENS_FILE": str(TOKENS),
    }
    per_service = {
        service: {"KAFKA_GROUP_ID": groups[service], **(per_service_env or {}).get(service, {})}
        for service in ports
    }
    if groups_at_end:
        start_groups_at_end(infrastructure.kafka_bootstrap_servers, groups)
    processes = start_services(
        log_dir,
        ports=ports,
        env={**base, **(env or {})},
        per_service_env=per_service,
        replicas=replicas,
    )
    try:
        wait_ready(processes, timeout=120)
        yield OwnStack(prefix, groups, processes)
    finally:
        stop_services(processes)


@pytest.fixture(scope="session")
def service_log_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the session's services log (read by tests/e2e/test_zz_personal_data_scan.py)."""
    return Path(tmp_path_factory.mktemp("service-logs"))


class SharedPlatform:
    """The session's shared services (`services`, `platform`): fresh databases per run and
    consumer groups apart from `make run`'s; started when a test first asks for them.

    Never running beside services of another stack on the same broker: every stack reads the
    same topics, so each registers the other's claimants under the same pseudonymous ids and
    allocates the other's vacancies, and both publish matches with the same ids for one pair
    (a flaky shortlist in the matching engine's test; "40 doubled" in the fault tests). So
    `own_services` stops it first, the shared tests run before the modules with stacks of
    their own (`order_shared_first`), and the last test (the personal-data scan) starts it
    again: same ports, databases and groups, so it carries on where it stopped."""

    running: SharedPlatform | None = None

    def __init__(self, infrastructure: Infrastructure, tokens_file: Path, log_dir: Path) -> None:
        run = uuid.uuid4().hex[:8]
        self._log_dir = log_dir
        self._ports = {name: free_port() for name in SERVICES}
        self._env = {
            "KAFKA_BOOTSTRAP_SERVERS": infrastructure.kafka_bootstrap_servers,
            "MONGODB_URI": infrastructure.mongodb_uri,
            "MONGODB_DB_PREFIX": f"e2e_{run}",
            "TOKENS_FILE": str(tokens_file),
            "WEBHOOK_BACKOFF_SECONDS": "0.3",
        }
        # Groups of their own (not `make run`'s), stable across runs so a rerun reads only new
        # events; the fresh database prefix keeps each run's data apart.
        self._groups = {name: {"KAFKA_GROUP_ID": f"{name}-e2e"} for name in SERVICES}
        self._processes: list[ServiceProcess] = []

    def urls(self) -> dict[str, str]:
        if not self._processes:
            self._processes = start_services(
                self._log_dir, ports=self._ports, env=self._env, per_service_env=self._groups
            )
            SharedPlatform.running = self
            try:
                wait_ready(self._processes, timeout=120)
            except BaseException:
                self.stop()
                raise
        return {p.name: p.url for p in self._processes}

    def stop(self) -> None:
        processes, self._processes = self._processes, []
        if SharedPlatform.running is self:
            SharedPlatform.running = None
        stop_services(processes)
        for p in processes:
            if p.process.returncode not in (0, -15):
                print(f"--- {p.name} exited {p.process.returncode}; last log lines:")
                print("\n".join(p.log_path.read_text().splitlines()[-30:]))

    @classmethod
    def stop_running(cls) -> None:
        if cls.running is not None:
            cls.running.stop()


@pytest.fixture(scope="package")
def shared_platform(
    infrastructure: Infrastructure, tokens_file: Path, service_log_dir: Path
) -> Iterator[SharedPlatform]:
    """Stopped with the last end-to-end test at the latest (package scope), before the fault
    tests, which start stacks of their own."""
    shared = SharedPlatform(infrastructure, tokens_file, service_log_dir)
    try:
        yield shared
    finally:
        shared.stop()


@pytest.fixture
def services(shared_platform: SharedPlatform) -> dict[str, str]:
    """The shared services' URLs by service name (started if they are not running)."""
    return shared_platform.urls()


def order_shared_first(items: list[pytest.Item]) -> None:
    """The end-to-end tests on the shared services first, then the modules with stacks of
    their own, then the personal-data scan (which reads what all of them wrote): the shared
    services then stop once and start once more, never beside another stack."""

    def rank(item: pytest.Item) -> int:
        if "test_zz_" in item.nodeid:
            return 2
        return 0 if "services" in getattr(item, "fixturenames", ()) else 1

    e2e = [n for n, item in enumerate(items) if "tests/e2e/" in item.nodeid]
    if e2e:
        first, last = e2e[0], e2e[-1] + 1
        items[first:last] = sorted(items[first:last], key=rank)


@pytest.fixture
async def platform(services: dict[str, str]) -> AsyncIterator[Platform]:
    async with httpx.AsyncClient(timeout=10) as client:
        yield Platform.with_dev_tokens(client, TOKENS, urls=services)


@pytest.fixture
async def jcp_feed(infrastructure: Infrastructure) -> AsyncIterator[JcpFeed]:
    async with JcpFeed(infrastructure.kafka_bootstrap_servers) as feed:
        yield feed


def claimant(ref: str, **overrides: Any) -> dict[str, Any]:
    return {
        "claimant_ref": ref,
        "benefit": "IS_LP",
        "claim_start": "2024-11-01",
        "jcp_office": "Warrington",
        "local_authority": "Warrington",
        "ward": "Bewsey & Whitecross",
        "postcode_district": "WA5",
        "age_band": "25-49",
        "priority_groups": ["lone_parent", "health_condition"],
        **overrides,
    }


async def register_client(platform: Platform, feed: JcpFeed, **overrides: Any) -> str:
    """Publish a claimant as JCP does and wait for the referrals service to create the client."""
    ref = f"CLM-{uuid.uuid4().hex[:10]}"
    await feed.publish("jcp.claimant.registered", claimant(ref, **overrides))
    jcp = platform.as_("jcp", "referrals")

    async def created() -> str | None:
        found = (await jcp.get("/clients", claimant_ref=ref)).json()
        return found[0]["client_id"] if found else None

    return await poll(created, timeout=30, what=f"client for {ref}")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    order_shared_first(items)


async def read_to_end(
    client: httpx.AsyncClient,
    operations_url: str,
    headers: Mapping[str, str],
    *,
    group: str,
    topic: str,
    bootstrap: str,
) -> None:
    """Until `group` has committed every record now on `topic`, as operations' /streams/lag
    reports it: a service commits a record only after storing what it changed, so what the
    group knows then includes everything on the topic now (events on different topics have no
    order between them, and a test that needs one must wait like this)."""
    ends = await end_offsets(bootstrap, topic)

    async def read() -> bool:
        rows = (await client.get(f"{operations_url}/streams/lag", headers=headers)).json()
        committed = {
            r["partition"]: r["committed"]
            for r in rows
            if r["group"] == group and r["topic"] == topic
        }
        return all(committed.get(p, 0) >= end for p, end in ends.items())

    await poll(read, timeout=60, interval=0.5, what=f"{group} to read {topic} to its end")
