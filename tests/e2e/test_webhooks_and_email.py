"""Webhooks that cannot be turned against us, and email, over the real processes.

Its own vacancies and notifications services (a database prefix and consumer groups of their
own), started with `SMTP_HOST`/`SMTP_PORT` pointing at an SMTP server this module runs, and a
short delivery deadline so a trickling receiver is cut off quickly. Receivers are raw asyncio
servers: one answers at once, one trickles a byte a second, one never answers.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.message import Message
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller

from brokerage_client import Platform
from brokerage_client.api import poll
from tests.conftest import Infrastructure
from tests.e2e.conftest import TOKENS, VACANCY, free_port, own_services

pytestmark = pytest.mark.e2e

SECRET = "a-webhook-secret-of-e2e"
POSTED = "vacancies.vacancy.posted"
DEADLINE_SECONDS = 3


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.original_content or envelope.content))
        return "250 OK"


@pytest.fixture(scope="module")
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    box, port = Mailbox(), free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()


@pytest.fixture(scope="module")
def trust(
    infrastructure: Infrastructure,
    tmp_path_factory: pytest.TempPathFactory,
    mailbox: tuple[Mailbox, int],
) -> Iterator[dict[str, str]]:
    with own_services(
        infrastructure,
        ("vacancies", "notifications"),
        tmp_path_factory.mktemp("trust-logs"),
        name="trust",
        env={
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(mailbox[1]),
            "WEBHOOK_TIMEOUT_SECONDS": str(DEADLINE_SECONDS),
            "WEBHOOK_BACKOFF_SECONDS": "0.3",
            "DELIVERY_POLL_SECONDS": "0.2",
            # The daily digest's timer, fired by moving the clock (the module's last test).
            "ALLOW_CLOCK_CONTROL": "true",
            "TIMER_POLL_SECONDS": "0.5",
        },
    ) as stack:
        yield stack.urls


@pytest.fixture
async def platform(trust: dict[str, str]) -> AsyncIterator[Platform]:
    async with httpx.AsyncClient(timeout=15) as client:
        yield Platform.with_dev_tokens(client, TOKENS, urls=trust)


class Receiver:
    """A raw HTTP server: `answer` ("now", "trickle" or "never") says how it responds."""

    def __init__(self, answer: str) -> None:
        self.answer = answer
        self.received: list[tuple[float, dict[str, str], bytes]] = []
        self.server: asyncio.Server | None = None

    async def __aenter__(self) -> Receiver:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self.server is not None
        self.server.close()

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}/hook"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                headers = {
                    k.strip().lower(): v.strip()
                    for k, _, v in (line.partition(":") for line in lines[1:] if line)
                }
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                self.received.append((time.monotonic(), headers, body))
                if self.answer == "now":
                    writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                    await writer.drain()
                elif self.answer == "trickle":
                    for byte in b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n":
                        writer.write(bytes([byte]))
                        await writer.drain()
                        await asyncio.sleep(1.0)
                else:
                    await asyncio.sleep(3600)
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()


async def _subscribe(platform: Platform, org: str, **body: Any) -> httpx.Response:
    return await platform.as_(org, "notifications").post(
        "/subscriptions", {"event_types": [POSTED], **body}
    )


async def _post_vacancy(platform: Platform, org: str = "EB-01") -> str:
    response = await platform.as_(org, "vacancies").post("/vacancies", VACANCY)
    assert response.status_code == 201, response.text
    return response.json()["vacancy_id"]


async def test_webhook_urls_to_internal_addresses_are_refused(platform: Platform) -> None:
    for url in (
        "http://169.254.169.254/latest/meta-data",
        "http://10.0.0.1/hook",
        "http://[::1]:8080/hook",
        "http://[::ffff:10.0.0.1]/hook",
        "http://0.0.0.0:8104/hook",
    ):
        refused = await _subscribe(platform, "EB-01", url=url, secret=SECRET)
        assert refused.status_code == 422, (url, refused.text)
        assert "url" in refused.text


async def test_an_organisation_holds_at_most_20_subscriptions(platform: Platform) -> None:
    for n in range(20):
        made = await _subscribe(platform, "EB-02", url=f"http://127.0.0.1:9/{n}", secret=SECRET)
        assert made.status_code == 201, made.text
    refused = await _subscribe(platform, "EB-02", url="http://127.0.0.1:9/21", secret=SECRET)
    assert refused.status_code == 409, refused.text


async def test_slow_receivers_delay_no_other_and_signatures_and_email_arrive(
    platform: Platform, mailbox: tuple[Mailbox, int]
) -> None:
    box, _ = mailbox
    async with Receiver("now") as fast, Receiver("trickle") as trickle, Receiver("never") as mute:
        assert (await _subscribe(platform, "EB-01", url=fast.url, secret=SECRET)).status_code == 201
        email = await _subscribe(platform, "EB-01", channel="email", email="eb01@example.org")
        assert email.status_code == 201, email.text

        # Baseline: how long a notification takes to reach the fast receiver on its own.
        started = time.monotonic()
        await _post_vacancy(platform)
        await poll(lambda: _count(fast, 1), timeout=30, what="baseline webhook")
        baseline = fast.received[0][0] - started

        for slow in (trickle, mute):
            made = await _subscribe(platform, "EB-01", url=slow.url, secret=SECRET)
            assert made.status_code == 201
        timings = []
        for n in range(3):  # the slow lanes fill up; the fast one must not notice
            started = time.monotonic()
            vacancy_id = await _post_vacancy(platform)
            await poll(lambda n=n: _count(fast, n + 2), timeout=30, what="webhook")
            timings.append(fast.received[-1][0] - started)
        assert trickle.received and mute.received, "the slow receivers were called too"
        assert max(timings) <= baseline + 2.0, (baseline, timings)

        # The timestamped signature verifies, and the timestamp is fresh.
        _, headers, body = fast.received[-1]
        stamp = headers["x-signature-timestamp"]
        assert abs(int(stamp) - time.time()) < 300
        expected = hmac.new(SECRET.encode(), f"{stamp}.".encode() + body, hashlib.sha256)
        assert hmac.compare_digest(headers["x-signature-256-t"], "sha256=" + expected.hexdigest())
        plain = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        assert headers["x-signature-256"] == f"sha256={plain}"
        assert json.loads(body)["event"]["data"]["vacancy_id"] == vacancy_id

        # Email reached the SMTP server the services were pointed at, one per notification.
        async def mailed() -> bool:
            return any(vacancy_id in _text(m) for m in box.messages)

        await poll(mailed, timeout=30, what="email")
        message = next(m for m in box.messages if vacancy_id in _text(m))
        assert message["To"] == "eb01@example.org"
        assert {p.get_content_type() for p in message.walk()} >= {"text/plain", "text/html"}


async def test_a_daily_digest_is_one_email_at_the_end_of_the_day(
    platform: Platform, mailbox: tuple[Mailbox, int]
) -> None:
    """Last in the module: it moves the notifications service's clock a day on. EB-01 (its
    email subscription made above) switches to a daily digest: its next notifications send no
    email of their own, and once the day is over one message lists them all."""
    box, _ = mailbox
    eb01 = platform.as_("EB-01", "notifications")
    switched = await eb01.put("/preferences", {"email": "daily"})
    assert switched.status_code == 200 and switched.json() == {"email": "daily"}
    before = len(box.messages)
    vacancies = [await _post_vacancy(platform) for _ in range(2)]

    async def in_the_inbox() -> bool:
        inbox = (await eb01.get("/inbox")).json()
        return {n["event"]["data"].get("vacancy_id") for n in inbox} >= set(vacancies)

    await poll(in_the_inbox, timeout=30, what="the notifications")
    await asyncio.sleep(2)  # an immediate email would have gone by now
    assert not [m for m in box.messages[before:] if any(v in _text(m) for v in vacancies)]

    moved = await platform.as_("operations", "notifications").post(
        "/admin/clock", {"now": (datetime.now(UTC) + timedelta(days=1, hours=1)).isoformat()}
    )
    assert moved.status_code == 200, moved.text

    def digests() -> list[Message]:
        return [m for m in box.messages[before:] if "Your notifications of" in m["Subject"]]

    async def sent() -> bool:
        found = "".join(_text(m) for m in digests())
        return all(v in found for v in vacancies)

    await poll(sent, timeout=60, what="the digest")
    await asyncio.sleep(2)  # the timer fires once: no second copy follows
    listed = [v for m in digests() for v in vacancies if v in _text(m)]
    assert sorted(listed) == sorted(vacancies), "each notification in exactly one digest"
    assert all(m["To"] == "eb01@example.org" for m in digests())


async def _count(receiver: Receiver, n: int) -> bool:
    return len(receiver.received) >= n


def _text(message: Message) -> str:
    parts = [p.get_payload(decode=True) for p in message.walk() if not p.is_multipart()]
    return "".join(p.decode() for p in parts if isinstance(p, bytes))
