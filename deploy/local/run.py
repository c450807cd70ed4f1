"""`make run`: infrastructure, topics, the five services, demo data; Ctrl-C stops it all.

Each service runs as its own process, as in production; their JSON logs go to
`.local/logs/<service>.log`. A service that exits is restarted with backoff (1 s doubling to
30 s; `runtime/supervisor.py`); only Ctrl-C or SIGTERM stops the platform.
`REPLICAS="referrals=2,matching=2"` runs that many processes of a service in its one consumer
group (`referrals-2` on port 8111, logging to `referrals-2.log`). Infrastructure that was
already running is left running.

Environment:
- `CLOCK_CONTROL=1` starts every service with `ALLOW_CLOCK_CONTROL=true`, so operations can move
  a service's clock forward with `POST /admin/clock` (demonstrations only); the demo then jumps
  the referrals service past a deadline and shows the breach. Without it (plain `make run`)
  every service runs with `ALLOW_CLOCK_CONTROL=false` and the endpoint answers 404.
- `PORT_OFFSET=n` moves every service's HTTP port by n (referrals on 8101 + n, ...), for a
  second platform beside another one on the same machine; replicas keep their +10 steps.
- `SMTP_HOST` / `SMTP_PORT`: where the notifications service sends email. When neither is set,
  a local mail catcher listens on 127.0.0.1:8025 (+ PORT_OFFSET) and keeps every message under
  `.local/mail/` (`deploy/local/mailcatcher.py`).
- `DEMO=0` starts without demo data. `KAFKA_BOOTSTRAP_SERVERS` and `MONGODB_URI`, both set, use
  that infrastructure and start none; `LOCAL_INFRA_DIR` moves `.local` (logs included).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import NoReturn

import httpx

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from brokerage_client import Platform, WebhookReceiver  # noqa: E402
from deploy.local.demo import TOKENS, DemoError, run_demo  # noqa: E402
from runtime.kafka_connection import KafkaConnection  # noqa: E402
from runtime.supervisor import (  # noqa: E402
    SERVICES,
    Supervisor,
    parse_replicas,
    start_services,
    stop_services,
    wait_ready,
)
from runtime.topic_admin import ensure_topics  # noqa: E402

INFRA = [sys.executable, str(REPO / "deploy" / "local" / "infra.py")]
LOG_DIR = Path(os.environ.get("LOCAL_INFRA_DIR", REPO / ".local")) / "logs"
BOOTSTRAP = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")


def _stop_on_sigterm(*_: object) -> None:
    raise KeyboardInterrupt


async def _demo(
    urls: dict[str, str], provider_hooks: WebhookReceiver, employer_hooks: WebhookReceiver
) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        platform = Platform.with_dev_tokens(client, TOKENS, urls=urls)
        await run_demo(platform, BOOTSTRAP, provider_hooks, employer_hooks)


def _ports() -> dict[str, int]:
    raw = os.environ.get("PORT_OFFSET", "0").strip() or "0"
    if not raw.lstrip("-").isdigit():
        raise ValueError("PORT_OFFSET: a whole number of ports, as in PORT_OFFSET=1000")
    offset = int(raw)
    ports = {service: port + offset for service, port in SERVICES.items()}
    if not all(1024 <= port <= 65535 - 100 for port in ports.values()):
        raise ValueError("PORT_OFFSET: the services' ports must stay within 1024-65435")
    return ports


def _clock_env() -> dict[str, str]:
    # Explicit both ways: plain `make run` never lets a clock move, whatever the shell exported.
    on = os.environ.get("CLOCK_CONTROL", "").strip().lower() in ("1", "true", "yes")
    return {"ALLOW_CLOCK_CONTROL": "true" if on else "false"}


def _replicas() -> dict[str, int]:
    # Safe on the local FerretDB too: saves are compare-and-set with claims (runtime/cas.py).
    return parse_replicas(os.environ.get("REPLICAS", ""))


def _mail_catcher(ports: dict[str, int]) -> tuple[subprocess.Popen[bytes] | None, dict[str, str]]:
    """Email goes to SMTP_HOST:SMTP_PORT; when neither is set, a local catcher takes it on
    127.0.0.1:8025 (moved by PORT_OFFSET like the services) and keeps every message under
    `.local/mail/` as an .eml file. Returns the process and the services' SMTP settings."""
    if "SMTP_HOST" in os.environ or "SMTP_PORT" in os.environ:
        return None, {}
    port = 8025 + ports["referrals"] - SERVICES["referrals"]
    mail_dir = LOG_DIR.parent / "mail"
    command = [sys.executable, str(REPO / "deploy" / "local" / "mailcatcher.py"),
               "--host", "127.0.0.1", "--port", str(port), "--dir", str(mail_dir)]  # fmt: skip
    log = (LOG_DIR / "mailcatcher.log").open("ab")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    print(f"mail catcher on 127.0.0.1:{port}, keeping every message in {mail_dir}")
    return process, {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(port)}


def _stop(process: subprocess.Popen[bytes] | None) -> None:
    if process is not None and process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()


def _wait_for_ctrl_c() -> NoReturn:
    while True:
        time.sleep(3600)  # SIGINT, or SIGTERM via _stop_on_sigterm, raises KeyboardInterrupt


def main() -> int:
    try:
        replicas = _replicas()
        ports = _ports()
    except ValueError as error:
        print(error)
        return 2
    # Explicitly: a process started in the background may inherit SIGINT as ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    external = "KAFKA_BOOTSTRAP_SERVERS" in os.environ and "MONGODB_URI" in os.environ
    infra_was_up = (
        external
        or subprocess.run([*INFRA, "status"], capture_output=True, check=False).returncode == 0
    )
    if not external and subprocess.run([*INFRA, "up"], check=False).returncode != 0:
        return 1
    processes = []
    supervisor = None
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    mail, smtp_env = _mail_catcher(ports)
    try:
        created = asyncio.run(ensure_topics(KafkaConnection(BOOTSTRAP)))
        print(f"topics ready ({len(created)} created)")
        clock_env = _clock_env()
        processes = start_services(
            LOG_DIR, ports=ports, env={**clock_env, **smtp_env}, replicas=replicas
        )
        wait_ready(processes)
        # From here on a service that dies is restarted, during the demo too.
        supervisor = Supervisor(processes)
        supervisor.start()
        clock = (
            "movable (CLOCK_CONTROL=1)" if clock_env["ALLOW_CLOCK_CONTROL"] == "true" else "real"
        )
        print(f"\nservices (OpenAPI docs at <url>/docs; clocks: {clock}):")
        for p in processes:
            print(f"  {p.name:<14} {p.url}   log: {p.log_path}")
        with (
            WebhookReceiver("demo-provider-secret-0001") as provider_hooks,
            WebhookReceiver("demo-employer-secret-0001") as employer_hooks,
        ):
            if os.environ.get("DEMO", "1") != "0":
                print("\nloading demo data through the contract:")
                urls = {p.name: p.url for p in processes if p.name in SERVICES}
                try:
                    asyncio.run(_demo(urls, provider_hooks, employer_hooks))
                except (DemoError, TimeoutError, httpx.HTTPError) as error:
                    # The platform is still worth exploring; the logs say what went wrong.
                    print(f"\nthe demo stopped early: {error}")
            print(
                "\nthe platform is running; dev tokens are in deploy/local/dev-tokens.json. "
                "A service that exits is restarted; Ctrl-C stops everything."
            )
            _wait_for_ctrl_c()
    except KeyboardInterrupt:
        print("\nstopping…")
        return 0
    finally:
        if supervisor is not None:
            supervisor.stop()  # stops restarting first, so nothing comes back mid-shutdown
        else:
            stop_services(processes)
        _stop(mail)
        if not infra_was_up:
            subprocess.run([*INFRA, "down"], check=False)


if __name__ == "__main__":
    sys.exit(main())
