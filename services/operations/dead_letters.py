"""Dead letters as the operations team reads them, and the rules of a redrive. Pure.

A record on `<topic>.dlq` is the original record (bytes, key, headers) plus the consumer's
`x-dlq-*` headers (`runtime.consumer.DeadLetters`); it need not be a CloudEvent at all.
Redrive (cf. AWS SQS): the original bytes and key go back to the original topic, never to a
dead-letter topic (AKHQ's copy-onto-itself loop), with `x-redriven-from` naming where they came
from. Nothing is redriven by itself: a redriven record that fails again lands in the DLQ again,
carrying `x-redriven-from`, and `all` leaves such records (and those redriven already) alone;
only a person naming its offset sends it once more.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from runtime.partnerships import Partnerships

DLQ_PREFIX = "x-dlq-"
REDRIVEN_FROM = "x-redriven-from"

Headers = Sequence[tuple[str, bytes | None]]


@dataclass(frozen=True)
class DeadLetter:
    dlq_topic: str
    partition: int
    offset: int
    value: bytes | None
    key: bytes | None
    headers: tuple[tuple[str, bytes | None], ...]
    redriven: bool = False
    partnership: str | None = field(default=None)

    def header(self, name: str) -> str | None:
        for k, v in reversed(self.headers):
            if k == name and v is not None:
                return v.decode("utf-8", "replace")
        return None

    @property
    def original_topic(self) -> str | None:
        return self.header("x-dlq-source-topic")

    @property
    def came_back(self) -> bool:
        """Redriven once already and failed again."""
        return self.header(REDRIVEN_FROM) is not None

    @property
    def ref(self) -> str:
        return f"{self.dlq_topic}/{self.partition}/{self.offset}"

    def describe(self) -> dict[str, Any]:
        """The contract's fields, plus the redrive state; never the value (may be personal)."""
        return {
            "dlq_topic": self.dlq_topic,
            "partition": self.partition,
            "offset": self.offset,
            "original_topic": self.original_topic,
            "key": self.key.decode("utf-8", "replace") if self.key is not None else None,
            "reason": self.header("x-dlq-reason"),
            "error": self.header("x-dlq-error"),
            "at": self.header("x-dlq-failed-at"),
            "group": self.header("x-dlq-consumer-group"),
            "original_partition": _int(self.header("x-dlq-source-partition")),
            "original_offset": _int(self.header("x-dlq-source-offset")),
            "redriven_from": self.header(REDRIVEN_FROM),
            "redriven": self.redriven,
        }


def _int(text: str | None) -> int | None:
    return int(text) if text and text.isdigit() else None


def partnership_of(value: bytes | None, partnerships: Partnerships) -> str | None:
    """The partnership a dead letter belongs to, when its bytes tell (None: only national
    operations may see it). Never raises, whatever the bytes."""
    if not value:
        return None
    try:
        doc = json.loads(value)
    except (ValueError, RecursionError):
        return None
    data = doc.get("data") if isinstance(doc, dict) else None
    if not isinstance(data, dict):
        return None
    found = data.get("partnership")
    if isinstance(found, str):
        return found
    authority = data.get("local_authority")
    return partnerships.of(authority) if isinstance(authority, str) else None


def destination(letter: DeadLetter, known_topics: set[str]) -> str | None:
    """Where a redrive sends the record: its original topic, if that is a topic of the
    platform and not a dead-letter topic; None otherwise (never onto a DLQ)."""
    topic = letter.original_topic
    if topic is None or topic not in known_topics or topic.endswith(".dlq"):
        return None
    if topic == letter.dlq_topic:
        return None
    return topic


def redriven_headers(letter: DeadLetter) -> list[tuple[str, bytes | None]]:
    """The original headers (the consumer's `x-dlq-*` and any earlier `x-redriven-from`
    removed), plus where this copy came from."""
    kept = [
        (k, v) for k, v in letter.headers if not k.startswith(DLQ_PREFIX) and k != REDRIVEN_FROM
    ]
    return [*kept, (REDRIVEN_FROM, letter.ref.encode())]


def chosen_for_all(letters: Sequence[DeadLetter]) -> list[DeadLetter]:
    """`all: true`: every letter not redriven yet and not back from a redrive."""
    return [x for x in letters if not x.redriven and not x.came_back]
