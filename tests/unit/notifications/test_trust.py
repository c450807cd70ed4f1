"""Webhooks that cannot be turned against us: the URL policy, the breaker, sealed secrets,
signatures, the delivery deadline against a trickling receiver, and email without personal data."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import time
from datetime import UTC, datetime, timedelta

import pytest

from runtime.errors import Conflict
from schemas.envelope import CloudEvent
from services.notifications.breaker import Breaker
from services.notifications.domain import (
    MAX_SUBSCRIPTIONS_PER_ORG,
    Notification,
    Organisation,
    Subscription,
)
from services.notifications.email import compose, headline
from services.notifications.rules import Recipient, sign, signature_headers
from services.notifications.secret_box import DEV_ONLY_INSECURE_KEY, SecretBox
from services.notifications.url_policy import (
    DEV_ALLOWED_HOSTS,
    RefusedUrl,
    Target,
    check,
    choose,
    forbidden_address,
    parse,
)
from services.notifications.webhooks import WebhookTransport

DEV = frozenset(DEV_ALLOWED_HOSTS)
NOW = datetime(2026, 11, 23, 10, tzinfo=UTC)


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("169.254.169.254", "link-local"),
        ("10.0.0.1", "private"),
        ("192.168.1.1", "private"),
        ("172.16.0.1", "private"),
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("0.0.0.0", "unspecified"),  # noqa: S104 - an address under test, not a bind
        ("::", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("fe80::1", "link-local"),
        ("fd00::1", "private"),
        ("::ffff:10.0.0.1", "private"),
        ("::ffff:169.254.169.254", "link-local"),
        ("64:ff9b::a00:1", "private"),
        ("100.64.0.1", "shared"),
    ],
)
def test_internal_addresses_are_forbidden(address: str, why: str) -> None:
    assert forbidden_address(ipaddress.ip_address(address)) == why


@pytest.mark.parametrize("address", ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"])
def test_public_addresses_are_not(address: str) -> None:
    assert forbidden_address(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data",
        "http://10.0.0.1/hook",
        "http://[::1]:8080/hook",
        "ftp://example.org/hook",
        "file:///etc/passwd",
        "http://user:pw@example.org/hook",
        "http://0x7f000001/hook",  # resolves to 127.0.0.1
    ],
)
async def test_urls_to_internal_addresses_or_other_schemes_are_refused(url: str) -> None:
    with pytest.raises(RefusedUrl):
        await check(url, DEV)


async def test_the_dev_allow_list_admits_loopback_by_name_only() -> None:
    target = await check("http://127.0.0.1:9999/hook", DEV)
    assert target.address == "127.0.0.1" and target.allowed_host
    assert (await check("http://localhost:9999/hook", DEV)).allowed_host
    with pytest.raises(RefusedUrl):
        await check("http://127.0.0.1:9999/hook", frozenset())  # a deployment's empty list
    with pytest.raises(RefusedUrl):
        await check("http://[::1]:9999/hook", DEV)  # not on the list


def test_a_name_resolving_to_any_forbidden_address_is_refused() -> None:
    assert parse("https://hooks.example.org/x", DEV) == ("hooks.example.org", 443, False)
    assert choose("hooks.example.org", ["93.184.216.34"], False) == "93.184.216.34"
    with pytest.raises(RefusedUrl, match="private"):
        choose("rebind.example.org", ["93.184.216.34", "10.0.0.1"], False)
    with pytest.raises(RefusedUrl, match="does not resolve"):
        choose("nowhere.example.org", [], False)


def test_the_breaker_opens_after_failures_probes_once_and_closes_on_success() -> None:
    breaker = Breaker(failure_threshold=3, cool_down_seconds=10)
    for _ in range(3):
        assert breaker.allows(0.0)
        breaker.failed(0.0)
    assert not breaker.allows(5.0), "open during the cool-down"
    assert breaker.allows(10.0), "one probe after it"
    assert not breaker.allows(10.5), "only one"
    breaker.failed(11.0)
    assert not breaker.allows(25.0) and breaker.allows(31.0), "the cool-down doubled"
    breaker.succeeded()
    assert breaker.allows(31.5) and breaker.allows(31.6)


def test_secrets_are_sealed_and_open_only_with_the_key() -> None:
    box = SecretBox("a-production-key")
    sealed = box.seal("a-webhook-secret-0001")
    assert "a-webhook-secret-0001" not in sealed
    assert box.open(sealed) == "a-webhook-secret-0001"
    with pytest.raises(ValueError, match="cannot be decrypted"):
        SecretBox("another-key").open(sealed)
    rotated = SecretBox("a-newer-key,a-production-key")
    assert rotated.open(sealed) == "a-webhook-secret-0001", "old keys still decrypt"
    assert SecretBox(DEV_ONLY_INSECURE_KEY).is_dev_default and not box.is_dev_default


def test_signatures_plain_timestamped_and_during_a_rotation() -> None:
    body, stamp = b'{"a":1}', 1_790_000_000
    headers = signature_headers("new-secret-000001", body, stamp, previous="old-secret-000001")
    assert headers["X-Signature-256"] == sign("new-secret-000001", body)
    assert headers["X-Signature-Timestamp"] == str(stamp)
    expected = hmac.new(b"new-secret-000001", b"1790000000." + body, hashlib.sha256).hexdigest()
    assert headers["X-Signature-256-T"] == f"sha256={expected}"
    assert headers["X-Signature-256-Previous"] == sign("old-secret-000001", body)
    assert "X-Signature-256-Previous" not in signature_headers("s" * 16, body, stamp)


def test_a_rotation_keeps_the_previous_secret_for_the_overlap_only() -> None:
    subscription = Subscription(
        subscription_id="SB-1", org_id="EB-01", url="http://127.0.0.1/h", secret_sealed="old",
        event_types=[], created_at=NOW,
    )  # fmt: skip
    subscription.rotate("new", NOW, timedelta(hours=24))
    assert subscription.secret_sealed == "new"
    assert subscription.previous_in_force(NOW + timedelta(hours=23)) == "old"
    assert subscription.previous_in_force(NOW + timedelta(hours=24)) is None


def test_an_organisation_holds_at_most_20_subscriptions() -> None:
    organisation = Organisation(org_id="EB-01")
    for n in range(MAX_SUBSCRIPTIONS_PER_ORG):
        organisation.add(f"SB-{n}")
    organisation.add("SB-0")  # the same one again: no change, no error
    with pytest.raises(Conflict, match="at most 20"):
        organisation.add("SB-21")
    organisation.remove("SB-0")
    organisation.add("SB-21")


async def _trickling_server(answer: str) -> asyncio.Server:
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
            if answer == "trickle":
                for byte in b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n":
                    writer.write(bytes([byte]))
                    await writer.drain()
                    await asyncio.sleep(0.3)
            elif answer == "redirect":
                writer.write(b"HTTP/1.1 302 Found\r\nlocation: http://10.0.0.1/\r\n"
                             b"content-length: 0\r\n\r\n")  # fmt: skip
            elif answer == "huge":
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 100000000\r\n\r\n")
                while True:
                    writer.write(b"x" * 65536)
                    await writer.drain()
            else:
                writer.write(b"HTTP/1.1 204 No Content\r\n\r\n")
            await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    return await asyncio.start_server(serve, "127.0.0.1", 0)


@pytest.mark.parametrize(
    ("answer", "error"),
    [("trickle", "deadline exceeded"), ("redirect", "HTTP 302"), ("huge", None), ("ok", None)],
)
async def test_one_total_deadline_no_redirects_and_a_response_cap(
    answer: str, error: str | None
) -> None:
    server = await _trickling_server(answer)
    port = server.sockets[0].getsockname()[1]
    transport = WebhookTransport(connect_seconds=1, total_seconds=1.5, max_response_bytes=1024)
    target = Target(f"http://localhost:{port}/h", "localhost", port, "127.0.0.1", True)
    started = time.monotonic()
    try:
        outcome = await transport.post(target, b"{}", {})
    finally:
        await transport.close()
        server.close()
    assert time.monotonic() - started < 2.5, "never past the deadline"
    assert outcome == error if error is None else error in (outcome or "")


def test_email_is_readable_and_names_records_by_pseudonymous_ids_only() -> None:
    event = CloudEvent.create(
        type="matching.match.withdrawn",
        source="/matching",
        subject="VC-1",
        time=NOW,
        data={"match_id": "MT-1", "vacancy_id": "VC-1", "client_id": "CL-1",
              "brokerage_id": "EB-01", "reason": "no longer eligible (target_group)",
              "priority_groups": ["disability"]},
    )  # fmt: skip
    notification = Notification.for_recipient(event, Recipient("P-01", "provider"))
    message = compose([notification], to="p01@example.org", sender="n@example.invalid")
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert message["Subject"] == "[Work brokerage] Match withdrawn"
    for body in (text, html):
        assert "MT-1" in body and "CL-1" in body and "VC-1" in body
        assert "target_group" not in body and "disability" not in body
    assert headline("referrals.referral.sla-breached") == "Referral sla breached"
    digest = compose([notification, notification], to="p01@example.org", sender="n@x.invalid",
                     digest_day="2026-11-23")  # fmt: skip
    assert "2026-11-23 (2)" in digest["Subject"]
