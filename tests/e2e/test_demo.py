"""`make run`'s demo, run against the end-to-end services: it completes and shows what it says.

These services run without clock control, so the demo's clock chapters only say how to see a
deadline breach and sustained work (`CLOCK_CONTROL=1 make run`); those are covered with the
clock moved in `test_referral_network.py` and `test_employer_side.py`. The services send email
to the default SMTP server, which no test starts, so the demo's last line only says where email
went.
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
    # The employer side: an email subscription, a refused submission, the journey to a job.
    assert "EB-01 subscribed brokerage@eb01.example to email" in out
    assert re.search(r"EB-01 submits C-1003 there: 409, .*employers", out)
    assert re.search(r"EB-01 submits C-1002, #1 on the Sales Assistant shortlist", out)
    assert re.search(r"interview-scheduled for \w{3} \d\d \w{3} \d{4}", out)
    assert re.search(r"work-trial from \w{3} .*: 15 working days, ending \w{3} \d\d \w{3}", out)
    assert re.search(r"placement PL\S+ from .*, credited to lead provider P-01, from match M", out)
    assert re.search(r"is now partly-filled: 3 of 4 positions left", out)
    assert re.search(r"C-1002 \(\S+\) <-> Counter Assistant: withdrawn \(placed\)", out)
    assert re.search(r"EB-01's webhook received [1-9]", out)
    assert "1 x vacancies.placement.started" in out
    assert "neither the shortlist nor the webhooks carry" in out
    # Without clock control, one line on how to see the breach and sustained work each.
    assert out.count("run `CLOCK_CONTROL=1 make run`") == 2
    # Where EB-01's email went: the local mail catcher (`make run`'s, when its directory is
    # there), the SMTP server named, or the default one.
    assert re.search(r"(kept \d+ message\(s\) to brokerage@eb01.example|EB-01's email)", out)
    assert not provider_hooks.bad_signatures and not employer_hooks.bad_signatures
