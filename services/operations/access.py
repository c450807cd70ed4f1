"""Who may call each endpoint of the operations service (see `runtime/access.py`).

Role `operations` unless the contract says otherwise: JCP also tracks caseloads, journeys and a
client's timeline (only with the client's `tracking` consent); every role may tail the streams,
reduced as an employer would see them unless it is operations. Everything is confined to the
caller's partnership; national operations (`"*"`) reads them all.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from runtime.access import EVERYONE, RUNTIME_RULES, AccessTable, Rule, caller, rule
from runtime.principal import Principal

OPERATIONS = rule("operations")
TRACKERS = rule("operations", "jcp")

ACCESS: AccessTable = {
    ("GET", "/streams/lag"): rule("operations", partnership=False, note="offsets and counts"),
    ("GET", "/streams/tail"): Rule(roles=EVERYONE, note="reduced unless operations"),
    ("GET", "/dlq"): OPERATIONS,
    ("POST", "/dlq/redrive"): OPERATIONS,
    ("GET", "/dlq/redrive/{task_id}"): OPERATIONS,
    ("POST", "/dlq/redrive/{task_id}/cancel"): OPERATIONS,
    ("GET", "/clients/{client_id}/timeline"): rule("operations", "jcp", consent="tracking"),
    ("PUT", "/caseloads/{caseload_id}"): rule("operations", "jcp", creates=True),
    ("GET", "/caseloads/{caseload_id}"): TRACKERS,
    ("GET", "/caseloads/{caseload_id}/members"): TRACKERS,
    ("GET", "/journeys"): TRACKERS,
    ("GET", "/kpis"): OPERATIONS,
    ("GET", "/kpis.csv"): OPERATIONS,
    ("PUT", "/targets/{ref}"): rule("operations", creates=True),
    ("GET", "/targets"): OPERATIONS,
    ("GET", "/fairness"): OPERATIONS,
    **RUNTIME_RULES,
}

Caller = Annotated[Principal, Depends(caller(ACCESS))]
