"""The base of every event's `data` model, with the type string and schema version it carries."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict


class EventData(BaseModel):
    """`data` of one CloudEvent type.

    Consumers ignore unknown fields (tolerant reader), so adding an optional field is compatible.
    Removing, renaming or retyping a field, or adding a required one, is not: it needs a new
    `version` and a new topic (`.v2`), which `tests/unit/test_schema_compatibility.py` enforces
    against the snapshots in `schemas/jsonschema/`.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    event_type: ClassVar[str]
    version: ClassVar[int] = 1
