"""Run the four services as separate processes on one machine (`make run`, end-to-end tests).

Production runs each service in its own container or pod; this is the same split locally:
one OS process per service, each with its own environment, stopped with SIGTERM so uvicorn
drains requests and the service's lifespan closes its consumer and relay cleanly.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx

SERVICES: dict[str, int] = {
    "referrals": 8101,
    "vacancies": 8102,
    "matching": 8103,
    "notifications": 8104,
}


@dataclass
class ServiceProcess:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path
    log_file: IO[bytes]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def start_services(
    log_dir: Path,
    *,
    ports: Mapping[str, int] = SERVICES,
    env: Mapping[str, str] | None = None,
    per_service_env: Mapping[str, Mapping[str, str]] | None = None,
) -> list[ServiceProcess]:
    log_dir.mkdir(parents=True, exist_ok=True)
    started = []
    for name, port in ports.items():
        log_path = log_dir / f"{name}.log"
        log_file = log_path.open("ab")
        process_env = {
            **os.environ,
            **(env or {}),
            "HTTP_PORT": str(port),
            **(per_service_env or {}).get(name, {}),
        }
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", f"services.{name}"],
            env=process_env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            # Their own session: a terminal's Ctrl-C reaches the supervisor only, which then
            # stops each service with SIGTERM, in order, instead of all dying at once.
            start_new_session=True,
        )
        started.append(ServiceProcess(name, port, process, log_path, log_file))
    return started


def wait_ready(processes: list[ServiceProcess], timeout: float = 90.0) -> None:
    """Block until every service answers /readyz with 200, or fail naming the laggard."""
    deadline = time.monotonic() + timeout
    pending = list(processes)
    while pending:
        for svc in list(pending):
            if svc.process.poll() is not None:
                raise RuntimeError(
                    f"{svc.name} exited with {svc.process.returncode}; see {svc.log_path}"
                )
            try:
                if httpx.get(f"{svc.url}/readyz", timeout=2).status_code == 200:
                    pending.remove(svc)
            except httpx.HTTPError:
                pass
        if pending and time.monotonic() > deadline:
            names = ", ".join(s.name for s in pending)
            raise TimeoutError(
                f"not ready after {timeout:.0f}s: {names}; see their logs in "
                f"{pending[0].log_path.parent}"
            )
        time.sleep(0.3)


def stop_services(processes: list[ServiceProcess], timeout: float = 20.0) -> None:
    for svc in processes:
        if svc.process.poll() is None:
            svc.process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for svc in processes:
        try:
            svc.process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            svc.process.kill()
            svc.process.wait()
        svc.log_file.close()
