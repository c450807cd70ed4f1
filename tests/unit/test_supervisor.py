"""The supervisor restarts what dies, with backoff, and leaves no process behind when stopped.

The children are tiny Python processes that wait for a signal, not services: no Kafka, no
database. Backoff is checked against a clock the test moves, so no test waits out a delay.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from runtime.supervisor import (
    Backoff,
    ServiceProcess,
    Supervisor,
    parse_replicas,
    start_services,
    stop_services,
)

WAITS_FOR_A_SIGNAL = [sys.executable, "-c", "import signal; signal.pause()"]
IGNORES_SIGTERM = [
    sys.executable,
    "-c",
    "import signal; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True);"
    " signal.pause()",
]
FAST = Backoff(initial=1.0, maximum=4.0, reset_after=60.0)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def dummies(tmp_path: Path) -> Iterator[list[ServiceProcess]]:
    """Two replicas of a pretend service, stopped (again, harmlessly) whatever the test did."""
    processes = start_services(
        tmp_path,
        ports={"dummy": 9100},
        replicas={"dummy": 2},
        command=lambda _service: WAITS_FOR_A_SIGNAL,
    )
    yield processes
    stop_services(processes, timeout=2)


def eventually(condition: Callable[[], bool], what: str, timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def kill(svc: ServiceProcess) -> None:
    """SIGKILL, and wait until the exit is visible, so the next `check()` sees it."""
    os.kill(svc.pid, signal.SIGKILL)
    svc.process.wait()


def is_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_backoff_doubles_up_to_its_maximum() -> None:
    backoff = Backoff(initial=1.0, maximum=30.0)
    assert [backoff.delay(n) for n in range(7)] == [1, 2, 4, 8, 16, 30, 30]


def test_replicas_have_their_own_name_port_log_and_process(dummies: list[ServiceProcess]) -> None:
    first, second = dummies
    assert (first.name, first.port, first.log_path.name) == ("dummy", 9100, "dummy.log")
    assert (second.name, second.port, second.log_path.name) == ("dummy-2", 9110, "dummy-2.log")
    assert second.url == "http://127.0.0.1:9110"
    assert first.pid != second.pid
    assert first.env["HTTP_PORT"] == "9100"
    assert second.env["HTTP_PORT"] == "9110"


def test_replica_ports_must_not_collide(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="port 9110"):
        start_services(
            tmp_path,
            ports={"a": 9100, "b": 9110},
            replicas={"a": 2},
            command=lambda _service: WAITS_FOR_A_SIGNAL,
        )


def test_replicas_are_read_from_a_short_spec() -> None:
    assert parse_replicas("referrals=2, matching=3") == {"referrals": 2, "matching": 3}
    assert parse_replicas("") == {}
    with pytest.raises(ValueError, match="unknown service 'referral'"):
        parse_replicas("referral=2")
    with pytest.raises(ValueError, match="at least 1"):
        parse_replicas("referrals=0")


def test_a_killed_process_is_restarted_after_a_doubling_delay(
    dummies: list[ServiceProcess],
) -> None:
    lines: list[str] = []
    clock = Clock()
    supervisor = Supervisor(dummies, backoff=FAST, report=lines.append, clock=clock)
    healthy, victim = dummies
    first_pid = victim.pid

    kill(victim)
    supervisor.check()
    assert lines == ["dummy-2 exited with -9; restarting in 1 s (restart 1)"]
    clock.now = 0.9
    supervisor.check()
    assert victim.pid == first_pid, "restarted before its delay"
    clock.now = 1.0
    supervisor.check()
    assert victim.pid != first_pid
    assert victim.process.poll() is None
    assert victim.restarts == 1

    for expected_delay, restart in ((2, 2), (4, 3), (4, 4)):  # doubling, capped at 4
        kill(victim)
        supervisor.check()
        assert lines[-1] == (
            f"dummy-2 exited with -9; restarting in {expected_delay} s (restart {restart})"
        )
        clock.now += expected_delay
        supervisor.check()
        assert victim.process.poll() is None

    assert healthy.restarts == 0
    supervisor.stop(timeout=2)


def test_a_process_that_stayed_up_long_enough_restarts_after_the_initial_delay(
    dummies: list[ServiceProcess],
) -> None:
    lines: list[str] = []
    clock = Clock()
    supervisor = Supervisor(dummies, backoff=FAST, report=lines.append, clock=clock)
    victim = dummies[0]
    for _ in range(2):
        kill(victim)
        supervisor.check()
        clock.now += FAST.delay(victim.restarts)
        supervisor.check()

    clock.now += FAST.reset_after
    kill(victim)
    supervisor.check()
    assert lines[-1] == "dummy exited with -9; restarting in 1 s (restart 3)"
    supervisor.stop(timeout=2)


def test_each_restart_is_written_to_the_process_log(dummies: list[ServiceProcess]) -> None:
    supervisor = Supervisor(dummies, backoff=FAST, report=lambda _line: None, clock=Clock())
    victim = dummies[1]
    kill(victim)
    supervisor.check()
    supervisor.stop(timeout=2)

    record = json.loads(victim.log_path.read_text().splitlines()[-1])
    assert record["event"] == "supervisor.restart_scheduled"
    assert (record["service"], record["process"]) == ("dummy", "dummy-2")
    assert (record["returncode"], record["delay_seconds"], record["restart"]) == (-9, 1.0, 1)


def test_the_running_supervisor_restarts_and_stopping_it_leaves_no_process(
    dummies: list[ServiceProcess],
) -> None:
    lines: list[str] = []
    backoff = Backoff(initial=0.05, maximum=0.1)
    seen_pids = {svc.pid for svc in dummies}
    with Supervisor(dummies, backoff=backoff, report=lines.append, poll_interval=0.01):
        victim = dummies[1]
        killed = victim.pid
        os.kill(killed, signal.SIGKILL)
        eventually(lambda: victim.pid != killed, "the killed replica to be restarted")
        seen_pids.add(victim.pid)

    assert lines == ["dummy-2 exited with -9; restarting in 0.05 s (restart 1)"]
    assert [svc.process.returncode for svc in dummies] == [-signal.SIGTERM, -signal.SIGTERM]
    assert all(is_gone(pid) for pid in seen_pids)


def test_a_stopped_process_is_never_restarted(dummies: list[ServiceProcess]) -> None:
    supervisor = Supervisor(dummies, backoff=Backoff(initial=0.0), report=lambda _line: None)
    stop_services(dummies, timeout=2)
    supervisor.check()
    supervisor.check()
    assert [svc.restarts for svc in dummies] == [0, 0]


def test_a_process_that_ignores_sigterm_is_killed_after_the_timeout(tmp_path: Path) -> None:
    [stubborn] = start_services(
        tmp_path, ports={"stubborn": 9100}, command=lambda _service: IGNORES_SIGTERM
    )
    eventually(lambda: "ready" in stubborn.log_path.read_text(), "SIGTERM to be ignored")
    stop_services([stubborn], timeout=0.2)
    assert stubborn.process.returncode == -signal.SIGKILL
