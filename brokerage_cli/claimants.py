"""Reading claimants from a CSV: each row checked against `jcp.claimant.registered`. Pure."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from runtime.decoding import describe_validation_error
from schemas.jcp import ClaimantRegistered

LIST_SEPARATOR = ";"  # priority_groups in one cell: "lone_parent;carer"


@dataclass(frozen=True)
class Refused:
    line: int
    error: str  # field paths and messages only, never the value


def rows(lines: Iterable[str]) -> Iterator[tuple[int, dict[str, Any] | Refused]]:
    """`(line number, data or why refused)` per row after the header."""
    for n, row in enumerate(csv.DictReader(lines), start=2):
        groups = (row.get("priority_groups") or "").strip()
        data = {
            **{k: (v or "").strip() for k, v in row.items() if k is not None},
            "priority_groups": [g.strip() for g in groups.split(LIST_SEPARATOR) if g.strip()],
        }
        try:
            claim = ClaimantRegistered.model_validate(data)
        except ValidationError as exc:
            yield n, Refused(n, describe_validation_error(exc))
            continue
        yield n, claim.model_dump(mode="json")
