"""The CloudEvents 1.0 envelope (structured JSON mode) that wraps every record on every topic."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


def utc_now() -> datetime:
    return datetime.now(UTC)


class CloudEvent(BaseModel):
    """One event as it travels on Kafka: the record value, with `subject` as the record key.

    Unknown extra attributes are kept but never required (tolerant reader): a producer may add
    CloudEvents extensions without breaking any consumer.
    """

    model_config = ConfigDict(extra="allow", frozen=True)

    specversion: Literal["1.0"] = "1.0"
    id: str = Field(
        min_length=1, max_length=128, description="Unique per event; redelivery keeps it."
    )
    source: str = Field(min_length=1, description="URI-reference of the producing system.")
    type: str = Field(min_length=1, description="Event type, e.g. `jcp.claimant.registered`.")
    time: AwareDatetime
    subject: str = Field(min_length=1, max_length=128, description="Entity id; the Kafka key.")
    datacontenttype: Literal["application/json"] = "application/json"
    correlationid: str | None = Field(
        default=None, description="Carried from the event or request that caused this one."
    )
    data: dict[str, Any]

    @classmethod
    def create(
        cls,
        *,
        type: str,
        source: str,
        subject: str,
        data: dict[str, Any],
        id: str | None = None,
        correlationid: str | None = None,
        time: datetime | None = None,
    ) -> CloudEvent:
        return cls(
            id=id or str(uuid.uuid4()),
            source=source,
            type=type,
            time=time or utc_now(),
            subject=subject,
            correlationid=correlationid,
            data=data,
        )

    def to_bytes(self) -> bytes:
        return self.model_dump_json(exclude_none=True).encode()
