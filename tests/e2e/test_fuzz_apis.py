"""Schemathesis over every service's OpenAPI document, against the running processes.

For every operation, valid and invalid requests generated from the document are sent with a
token of a role the operation's access rule admits (`services/<name>/access.py`), so they reach
the route rather than stop at 403; half of them name records that exist (a client, a referral,
a vacancy, a placement, a subscription, ... made first, as in the authorization matrix), so they
reach the commands rather than stop at 404. Every answer must be no server error (5xx) and,
where the document describes the status, conform to its schema. A bounded number of examples
per operation (`FUZZ_EXAMPLES`, default 12 of each kind) keeps the suite near two minutes.

Only `GET /streams/tail` is left out: an endless event stream has no response to validate.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from brokerage_client import JcpFeed, Platform
from runtime.access import AccessTable
from tests.conftest import Infrastructure
from tests.e2e.test_authorization_matrix import CALLERS, TABLES, _records, close

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "12"))
SKIP = {("GET", "/streams/tail")}
ROLE_PREFERENCE = ("jcp", "provider", "employer_brokerage", "operations")


def _role(table: AccessTable, method: str, path: str) -> str:
    rule = table.get((method, path))
    if rule is None:  # health and documents: public, a token changes nothing
        return "operations"
    return next(r for r in ROLE_PREFERENCE if rule.admits(r))  # type: ignore[arg-type]


def _known(params: dict[str, Any], role: str) -> dict[str, str]:
    """The ids of real records this role owns, by path parameter name."""
    out = {}
    for name, value in params.items():
        value = value.get(role) if isinstance(value, dict) else value
        if value is not None:
            out[name] = value
    return out


def _examples(
    base_url: str,
    operation: Any,
    headers: dict[str, str],
    mode: GenerationMode,
    known: dict[str, str],
) -> tuple[int, str | None]:
    """Requests sent and the first failure, for one operation in one generation mode."""
    sent = 0
    failure: list[str] = []
    try:
        strategy = operation.as_strategy(generation_mode=mode)
    except Exception:  # nothing to negate in this operation: no invalid request exists
        return 0, None

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy, real=st.booleans())
    def run(case: Any, real: bool) -> None:
        nonlocal sent
        if real and case.path_parameters:  # half the time, a record that exists: go deeper
            case.path_parameters = {k: known.get(k, v) for k, v in case.path_parameters.items()}
        response = case.call(base_url=base_url, headers=headers, timeout=10)
        sent += 1
        try:
            case.validate_response(
                response, checks=[not_a_server_error, response_schema_conformance]
            )
        except Exception as exc:  # kept, not raised: hypothesis would shrink and stop
            if not failure:
                failure.append(f"{response.status_code}: {str(exc)[:600]}")

    with contextlib.suppress(Unsatisfiable):  # an operation with no input to make invalid
        run()
    return sent, failure[0] if failure else None


def _fuzz(base_url: str, table: AccessTable, params: dict[str, Any]) -> tuple[int, list[str]]:
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    total = 0
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        method, path = operation.method.upper(), operation.path
        if (method, path) in SKIP:
            continue
        role = _role(table, method, path)
        headers = {"Authorization": f"Bearer {CALLERS[role]['own']}"}
        known = _known(params, role)
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            sent, failure = _examples(base_url, operation, headers, mode, known)
            total += sent
            if failure:
                failures.append(f"{method} {path} ({mode.value}) {failure}")
    return total, failures


@pytest.mark.parametrize("service", sorted(TABLES))
async def test_no_server_errors_and_answers_as_documented(
    services: dict[str, str],
    platform: Platform,
    jcp_feed: JcpFeed,
    infrastructure: Infrastructure,
    service: str,
) -> None:
    records = await _records(services, platform, jcp_feed, infrastructure.kafka_bootstrap_servers)
    try:
        sent, failures = await asyncio.to_thread(
            _fuzz, services[service], TABLES[service], records["params"]
        )
    finally:
        await close(platform.client, services, records)
    print(f"schemathesis {service}: {sent} requests, {len(failures)} failing operations")
    assert sent > 0
    assert not failures, "\n".join(failures)
