"""The personal-data scan, run last in the end-to-end directory (hence its name): everything the
end-to-end tests made the platform write is searched for personal data and, where an employer
can read it, for special categories.

- Every record of every topic and dead-letter topic, from the beginning: no personal-data field
  (names, dates of birth, National Insurance numbers, contact details) by key or by shape.
- Every log line of every service process the session started (`service_log_dir` and the other
  fixtures' log directories under the session's temporary directory): the same.
- Every email kept as `.eml` under the session's temporary directory: the same.
- What employers receive: every notification in every employer brokerage's inbox (exactly what
  their webhooks and emails carry), and the shortlists and matches of their vacancies: no
  priority group, benefit, health, disability or ethnicity word, and no gate's name.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from schemas.topics import TOPICS
from tests.conftest import Infrastructure

EMPLOYER_TOKENS = ("dev-employer-eb01-token", "dev-employer-eb02-token", "e2e-employer-eb03-token")

# Keys that would hold personal data, wherever they appear in a JSON document.
PERSONAL_KEYS = re.compile(
    r"^(first_?name|last_?name|surname|forename|full_?name|given_?name|family_?name|"
    r"date_?of_?birth|dob|birth_?date|ni_?number|nino|national_?insurance(_number)?|"
    r"phone|telephone|mobile|home_?address|address_?line\w*|street|email_?address)$",
    re.IGNORECASE,
)
# Shapes of personal data in any string.
NI_NUMBER = re.compile(
    r"\b(?!BG|GB|NK|KN|TN|NT|ZZ)[A-CEGHJ-PR-TW-Z]{2}\s?\d{2}\s?\d{2}\s?\d{2}\s?[A-D]\b"
)
PHONE = re.compile(r"(?<![\w.-])(?:\+44\s?7\d{3}|07\d{3})\s?\d{3}\s?\d{3}(?![\w-])")
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
# Special categories and what reveals them, in anything an employer can read.
SPECIAL = re.compile(
    r"lone[_ ]parent|disab|health|ethnic|\bbme\b|ex[_ ]offender|young[_ ]neet|refugee|"
    r"long[_ ]term[_ ]unemployed|\bcarer\b|over[_ ]50|priority[_ ]group|target[_ ]group|"
    r"\bbenefit\b|\b(JSA|ESA|IS_LP|UC)\b",
    re.IGNORECASE,
)
# The employer's own vacancy (its title, sector, and the groups its person specification
# targets) is its own writing, not a client's: those fields are left out of the
# special-category scan ("health and social care" is a sector, not a client's health).
EMPLOYERS_OWN = {"target_priority_groups", "target_wards", "title", "sector", "description"}


def _strings(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """(path, text) of every key and string value in a JSON document."""
    if isinstance(value, dict):
        for k, v in value.items():
            if k not in EMPLOYERS_OWN:
                yield f"{path}.{k}", f"{k}"
                yield from _strings(v, f"{path}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _strings(v, f"{path}[{i}]")
    elif isinstance(value, str):
        yield path, value


def _keys(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from _keys(v)
    elif isinstance(value, list):
        for v in value:
            yield from _keys(v)


def personal_data(text: str, *, allow_emails: Iterable[str] = ()) -> list[str]:
    """What in this text looks like personal data (a JSON document's keys are checked too)."""
    hits = []
    try:
        document = json.loads(text)
    except ValueError:
        document = None
    if document is not None:
        hits += [f"key {k}" for k in _keys(document) if PERSONAL_KEYS.match(str(k))]
    hits += [f"NI number {m}" for m in NI_NUMBER.findall(text)]
    hits += [f"phone {m}" for m in PHONE.findall(text)]
    allowed = set(allow_emails)
    hits += [f"email {m}" for m in EMAIL.findall(text) if m.split("@")[1] not in allowed]
    return hits


def special_categories(document: Any) -> list[str]:
    return [f"{path}: {SPECIAL.search(text)[0]}" for path, text in _strings(document)
            if SPECIAL.search(text)]  # fmt: skip


async def _every_record(bootstrap: str) -> list[tuple[str, bytes]]:
    # Each topic and its dead-letter twin have the registry's partition count.
    partitions = [
        TopicPartition(name, p)
        for t in TOPICS
        for name in (t.name, t.dlq)
        for p in range(t.partitions)
    ]
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    records: list[tuple[str, bytes]] = []
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        pending = {tp for tp, end in ends.items() if end > 0}
        deadline = time.monotonic() + 120
        while pending and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500, max_records=5000)
            for tp, messages in batch.items():
                for m in messages:
                    records.append((tp.topic, m.value or b""))
                    for _, header in m.headers or ():
                        records.append((f"{tp.topic} header", header or b""))
            pending = {tp for tp in pending if await consumer.position(tp) < ends[tp]}
        assert not pending, f"could not read {sorted(map(str, pending))} to its end"
    finally:
        await consumer.stop()
    return records


# The example domains of RFC 2606 are what tests subscribe with: organisations' own addresses
# for email notifications, never a client's.
TEST_DOMAINS = ("example.org", "example.com", "example.net")


async def test_no_personal_data_on_any_topic(infrastructure: Infrastructure) -> None:
    records = await _every_record(infrastructure.kafka_bootstrap_servers)
    assert records, "the end-to-end tests published nothing?"
    hits = [
        f"{topic}: {hit}"
        for topic, value in records
        for hit in personal_data(value.decode("utf-8", "replace"))
    ]
    print(f"personal-data scan: {len(records)} records and headers")
    assert not hits, "\n".join(hits[:50])


def test_no_personal_data_in_any_log_line_or_email(
    service_log_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    root = tmp_path_factory.getbasetemp()
    logs = sorted({*service_log_dir.glob("*.log"), *root.glob("*/*.log")})
    assert logs
    lines = 0
    hits = []
    for log in logs:
        for number, line in enumerate(log.read_text(errors="replace").splitlines(), 1):
            lines += 1
            hits += [f"{log.name}:{number}: {h}" for h in personal_data(line)]
    emails = sorted(root.rglob("*.eml"))
    for mail in emails:
        body = mail.read_text(errors="replace")
        hits += [f"{mail.name}: {h}" for h in personal_data(body, allow_emails=TEST_DOMAINS)]
    print(f"personal-data scan: {lines} log lines in {len(logs)} logs, {len(emails)} emails")
    assert not hits, "\n".join(hits[:50])


async def test_nothing_an_employer_reads_names_a_group_a_gate_or_personal_data(
    services: dict[str, str],
) -> None:
    read = 0
    hits = []
    async with httpx.AsyncClient(timeout=30) as http:
        for token in EMPLOYER_TOKENS:
            headers = {"Authorization": f"Bearer {token}"}
            inbox = await http.get(
                f"{services['notifications']}/inbox", params={"limit": 500}, headers=headers
            )
            assert inbox.status_code == 200, inbox.text
            documents: list[Any] = list(inbox.json())
            vacancies = await http.get(f"{services['vacancies']}/vacancies", headers=headers)
            for vacancy in vacancies.json():
                vid = vacancy["vacancy_id"]
                shortlist = await http.get(
                    f"{services['vacancies']}/vacancies/{vid}/shortlist", headers=headers
                )
                matches = await http.get(
                    f"{services['matching']}/matches", params={"vacancy_id": vid}, headers=headers
                )
                documents += [shortlist.json(), matches.json()]
            for document in documents:
                read += 1
                text = json.dumps(document)
                hits += [f"{token}: {h}" for h in personal_data(text, allow_emails=TEST_DOMAINS)]
                hits += [f"{token}: {h}" for h in special_categories(document)]
    print(f"employer scan: {read} notifications, shortlists and match lists")
    assert read
    assert not hits, "\n".join(hits[:50])
