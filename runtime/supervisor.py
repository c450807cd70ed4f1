"""Run the services as separate processes on one machine, and keep them running.

Production runs each service in its own container or pod; this is the same split locally:
one OS process per service instance, each with its own environment and log file, stopped with
SIGTERM so uvicorn drains requests and the service's lifespan closes its consumer and relay
cleanly (SIGKILL after a timeout).

- `start_services(log_dir, ports=..., replicas={"referrals": 2})` starts the processes and
  returns one `ServiceProcess` per instance (`name`, `pid`, `url`, `log_path`, `restarts`).
  Replica `i` (from 1) of a service is named `<service>` for the first and `<service>-<i>`
  after, listens on the service's port + 10 * (i - 1) and logs to `<name>.log`; all replicas
  of a service share its environment, hence its consumer group, so Kafka splits the
  partitions between them. `command` replaces `python -m services.<service>` (tests use it).
- `Supervisor(processes)` restarts, in a background thread, any process that exits without
  being asked to: after `Backoff.initial` seconds, doubling with each quick exit up to
  `Backoff.maximum`, back to the initial delay once the process has stayed up for
  `Backoff.reset_after`. Each restart is reported in one line ("referrals-2 exited with -9;
  restarting in 2 s (restart 3)") and written to that process's log file. `stop()` (or
  leaving `with Supervisor(...)`) ends supervision and then stops every process.
- `stop_services(processes)` stops them; a process it has stopped is never restarted.

Each child runs in its own session, so a terminal's Ctrl-C reaches the supervising process
only, which then stops the children in order; signals the supervising process receives are
its caller's to turn into `stop()` (`deploy/local/run.py` does so for SIGINT and SIGTERM).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import IO

import httpx

SERVICES: dict[str, int] = {
    "referrals": 8101,
    "vacancies": 8102,
    "matching": 8103,
    "notifications": 8104,
    "operations": 8105,
}
REPLICA_PORT_STEP = 10

Command = Callable[[str], Sequence[str]]
Report = Callable[[str], None]


def service_command(service: str) -> list[str]:
    return [sys.executable, "-m", f"services.{service}"]


def report_line(line: str) -> None:
    # Flushed: `make run`'s output is often piped or tee'd, and a restart notice must not wait.
    print(line, flush=True)


@dataclass
class ServiceProcess:
    """One running instance of a service; `process` is replaced when it is restarted."""

    name: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path
    log_file: IO[bytes]
    service: str
    argv: Sequence[str]
    env: Mapping[str, str]
    restarts: int = 0
    stopping: bool = False
    # Held while the process is replaced or signalled, so a stop never races a restart.
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        return self.process.pid

    def respawn(self) -> None:
        self.process = _spawn(self.argv, self.env, self.log_file)
        self.restarts += 1

    def log(self, event: str, **fields: object) -> None:
        """A JSON line in the process's own log, in the services' format, to explain a gap."""
        timestamp = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        record = {"event": event, "service": self.service, "process": self.name, **fields}
        line = json.dumps({**record, "level": "warning", "timestamp": timestamp})
        self.log_file.write(line.encode() + b"\n")
        self.log_file.flush()


def replica_names(service: str, count: int) -> list[str]:
    return [service if i == 1 else f"{service}-{i}" for i in range(1, count + 1)]


def parse_replicas(spec: str, services: Mapping[str, int] = SERVICES) -> dict[str, int]:
    """`"referrals=2,matching=2"` -> `{"referrals": 2, "matching": 2}`; empty means none."""
    replicas = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        service, _, count = item.partition("=")
        service = service.strip()
        if service not in services:
            raise ValueError(
                f"REPLICAS: unknown service {service!r} (known: {', '.join(services)})"
            )
        if not count.strip().isdigit() or int(count) < 1:
            raise ValueError(f"REPLICAS: {item!r} needs a count of at least 1, as in referrals=2")
        replicas[service] = int(count)
    return replicas


def start_services(
    log_dir: Path,
    *,
    ports: Mapping[str, int] = SERVICES,
    env: Mapping[str, str] | None = None,
    per_service_env: Mapping[str, Mapping[str, str]] | None = None,
    replicas: Mapping[str, int] | None = None,
    command: Command = service_command,
) -> list[ServiceProcess]:
    log_dir.mkdir(parents=True, exist_ok=True)
    planned = _plan(ports, replicas or {})
    started: list[ServiceProcess] = []
    try:
        for service, name, port in planned:
            process_env = {
                **os.environ,
                **(env or {}),
                "HTTP_PORT": str(port),
                **(per_service_env or {}).get(service, {}),
            }
            started.append(_start(service, name, port, command(service), process_env, log_dir))
    except BaseException:
        stop_services(started)  # no orphans when, say, the fourth of four cannot start
        raise
    return started


def _plan(ports: Mapping[str, int], replicas: Mapping[str, int]) -> list[tuple[str, str, int]]:
    """(service, instance name, port) for every instance, refusing two on one port."""
    unknown = set(replicas) - set(ports)
    if unknown:
        raise ValueError(f"replicas of unknown services: {', '.join(sorted(unknown))}")
    planned = [
        (service, name, base + REPLICA_PORT_STEP * i)
        for service, base in ports.items()
        for i, name in enumerate(replica_names(service, replicas.get(service, 1)))
    ]
    taken: dict[int, str] = {}
    for _, name, port in planned:
        if port in taken:
            raise ValueError(f"{name} and {taken[port]} would both listen on port {port}")
        taken[port] = name
    return planned


def _start(
    service: str, name: str, port: int, argv: Sequence[str], env: Mapping[str, str], log_dir: Path
) -> ServiceProcess:
    log_path = log_dir / f"{name}.log"
    log_file = log_path.open("ab")
    try:
        process = _spawn(argv, env, log_file)
    except BaseException:
        log_file.close()
        raise
    return ServiceProcess(name, port, process, log_path, log_file, service, list(argv), env)


def _spawn(
    argv: Sequence[str], env: Mapping[str, str], log_file: IO[bytes]
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(  # noqa: S603 - our own interpreter and module, or a test's command
        list(argv),
        env=dict(env),
        stdout=log_file,
        stderr=subprocess.STDOUT,
        # Their own session: a terminal's Ctrl-C reaches the supervisor only, which then
        # stops each service with SIGTERM, in order, instead of all dying at once.
        start_new_session=True,
    )


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
        with svc.lock:
            svc.stopping = True  # from here on a supervisor leaves it alone
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


@dataclass(frozen=True)
class Backoff:
    """How long to wait before restarting a process that exited."""

    initial: float = 1.0
    maximum: float = 30.0
    # A process that stayed up this long was healthy; its next exit starts the backoff afresh.
    reset_after: float = 60.0

    def delay(self, quick_exits: int) -> float:
        """The delay after `quick_exits` earlier exits that each came soon after a start."""
        return min(self.maximum, self.initial * 2**quick_exits)


@dataclass
class _Schedule:
    started_at: float
    quick_exits: int = 0
    restart_at: float | None = None  # set while the process is dead and waiting for its turn


class Supervisor:
    """Restarts the processes that exit unasked, with backoff, until stopped.

    `start()` runs `check()` every `poll_interval` seconds in a daemon thread; tests may call
    `check()` themselves, with their own `clock`.
    """

    def __init__(
        self,
        processes: Sequence[ServiceProcess],
        *,
        backoff: Backoff = Backoff(),  # frozen, so one shared default is safe
        report: Report = report_line,
        poll_interval: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.processes = list(processes)
        self._backoff = backoff
        self._report = report
        self._poll_interval = poll_interval
        self._clock = clock
        now = clock()
        self._schedules = {id(svc): _Schedule(started_at=now) for svc in self.processes}
        self._stop_requested = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Supervisor:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="supervisor", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 20.0) -> None:
        """Stop restarting, then stop every process (SIGTERM, SIGKILL after `timeout`)."""
        self._stop_requested.set()
        if self._thread is not None:
            self._thread.join()
        stop_services(self.processes, timeout)

    def _run(self) -> None:
        while not self._stop_requested.is_set():
            self.check()
            self._stop_requested.wait(self._poll_interval)

    def check(self) -> None:
        """Notice exits and schedule their restarts; restart those whose delay has passed."""
        for svc in self.processes:
            with svc.lock:
                if not svc.stopping:
                    self._check_one(svc, self._schedules[id(svc)], self._clock())

    def _check_one(self, svc: ServiceProcess, schedule: _Schedule, now: float) -> None:
        if schedule.restart_at is None:
            returncode = svc.process.poll()
            if returncode is not None:
                self._schedule_restart(svc, schedule, returncode, now)
        elif now >= schedule.restart_at:
            self._restart(svc, schedule, now)

    def _schedule_restart(
        self, svc: ServiceProcess, schedule: _Schedule, returncode: int, now: float
    ) -> None:
        if now - schedule.started_at >= self._backoff.reset_after:
            schedule.quick_exits = 0
        delay = self._backoff.delay(schedule.quick_exits)
        schedule.quick_exits += 1
        schedule.restart_at = now + delay
        restart = svc.restarts + 1
        self._report(
            f"{svc.name} exited with {returncode}; restarting in {delay:g} s (restart {restart})"
        )
        svc.log(
            "supervisor.restart_scheduled",
            returncode=returncode,
            delay_seconds=delay,
            restart=restart,
        )

    def _restart(self, svc: ServiceProcess, schedule: _Schedule, now: float) -> None:
        try:
            svc.respawn()
        except OSError as error:
            # Say so and try again later rather than end supervision of every process.
            delay = self._backoff.delay(schedule.quick_exits)
            schedule.quick_exits += 1
            schedule.restart_at = now + delay
            self._report(f"{svc.name} could not be restarted ({error}); retrying in {delay:g} s")
            return
        schedule.started_at = now
        schedule.restart_at = None
