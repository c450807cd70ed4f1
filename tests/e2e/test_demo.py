"""`make run`'s demo, run against the end-to-end services: it completes and shows what it says.

These services run without clock control, so the demo's last chapter only says how to see a
deadline breach (`CLOCK_CONTROL=1 make run`); the breach itself is covered with the clock moved
in `test_referral_network.py`.
"""

from __future__ import annotations

import re

import pytest

from brokerage_client import Platform, WebhookReceiver
from deploy.local.demo import TASTER, run_demo
from tests.conftest import Infrastructure

pytestmark = pytest.mark.e2e


async def test_the_demo_tells_the_referral_network_story(
    platform: Platform, infrastructure: Infrastructure, capsys: pytest.CaptureFixture[str]
) -> None:
    with (
        WebhookReceiver("demo-provider-secret-0001") as provider_hooks,
        WebhookReceiver("demo-employer-secret-0001") as employer_hooks,
    ):
        await run_demo(
            platform, infrastructure.kafka_bootstrap_servers, provider_hooks, employer_hooks
        )
    out = capsys.readouterr().out

    # Two partnerships: every claimant in one, and bcbc's referral hidden from JCP-CW.
    assert "partnership bcbc" in out and "partnership cheshire-warrington" in out
    assert "JCP-CW asks for that client and that referral: 404 and 404" in out
    # The directory, an eligibility refusal naming its rules.
    assert re.search(rf"{TASTER} +routeway +1/1 places free, 0 waiting", out)
    assert "422 ineligible" in out and "age_band" in out and "area" in out
    # A full programme: a waitlist, then a release when the place frees up.
    assert re.search(rf"{TASTER}: RF\S+ on-hold \(on the waitlist\)", out)
    assert re.search(rf"{TASTER} +routeway +0/1 places free, 1 waiting", out)
    assert re.search(r"the place freed and RF\S+ is now created", out)
    assert re.search(r"on-hold .* by platform \(system\)", out)
    # Lead provider, specialist, action plan, deadlines.
    assert "409, a client has one case owner" in out
    assert "lead False, a specialist alongside" in out
    assert "as lead provider (P-02) it agreed" in out and "P-01 may not: 403" in out
    assert re.search(r"acknowledge +2 working days: due \w{3} \d\d \w{3} \d{4}", out)
    # The employer side still works.
    assert "EB-01 recorded placement" in out
    assert re.search(r"EB-01's webhook received [1-9]", out)
    # Without clock control, one line on how to see the breach.
    assert "run `CLOCK_CONTROL=1 make run`" in out
    assert not provider_hooks.bad_signatures and not employer_hooks.bad_signatures
