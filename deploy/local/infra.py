#!/usr/bin/env python3
"""Run real Apache Kafka and a MongoDB-wire database (FerretDB) here, without Docker.

Usage: python deploy/local/infra.py up|down|status|env

  up      fetch/build on first use, start both services in the background, wait
          until both answer a real protocol request
  down    stop the processes that `up` started (and only those)
  status  show what is running; exit 0 if both services answer, 1 otherwise
  env     print KAFKA_BOOTSTRAP_SERVERS=... and MONGODB_URI=... lines

Environment: LOCAL_INFRA_DIR (default <repo>/.local), LOCAL_INFRA_CACHE_DIR (jars and
binary; default LOCAL_INFRA_DIR), LOCAL_KAFKA_PORT (9092),
LOCAL_KAFKA_CONTROLLER_PORT (9093), LOCAL_MONGO_PORT (27017), LOCAL_INFRA_OWN_ONLY (1: never
use an instance this directory did not start; the tests set it).
See deploy/local/INFRA.md. Standard library only, so it runs before any project
dependency is installed.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import os
import re
import shutil
import signal
import socket
import string
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
KAFKA_SRC = HERE / "kafka"
FERRETDB_SRC = HERE / "ferretdb"
HOST = "127.0.0.1"

KAFKA_JVM_OPTS = [
    "-Xms256m",
    "-Xmx512m",
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-Djava.awt.headless=true",
]
MIN_JAVA = 17  # Kafka 4.x brokers need Java 17+
MIN_GO = (1, 21)  # first Go that fetches the toolchain go.mod asks for (go1.24)

BUILD_TIMEOUT_S = 900  # a cold Go build takes ~2 min on 2 cores
KAFKA_READY_TIMEOUT_S = 120
FERRETDB_READY_TIMEOUT_S = 30
STOP_TIMEOUT_S = 30

INSTALL_HINT = """\
install Java and Maven with: apt-get install openjdk-17-jre-headless maven
Go: Debian 12's `golang` package is Go 1.19, too old; any Go >= 1.21 works, as it
fetches the go1.24 toolchain that go.mod asks for through the Go module proxy."""

_T0 = time.monotonic()


class InfraError(Exception):
    """A failure with a message meant for the user; printed without a traceback."""


def say(msg: str) -> None:
    """Print a progress line prefixed with the seconds since the command started."""
    print(f"[{time.monotonic() - _T0:6.1f}s] {msg}", flush=True)


# ---------------------------------------------------------------------------------
# Configuration and on-disk layout
# ---------------------------------------------------------------------------------


def _env_port(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise InfraError(f"{name}={raw!r} is not a TCP port number")
    return int(raw)


@dataclass(frozen=True)
class Config:
    infra_dir: Path
    cache_dir: Path  # jars and the FerretDB binary; may be shared by several infra dirs
    kafka_port: int
    controller_port: int
    mongo_port: int
    own_only: bool = False  # refuse a healthy instance on our port that we did not start

    @classmethod
    def from_env(cls) -> Config:
        raw_dir = os.environ.get("LOCAL_INFRA_DIR", "").strip()
        infra_dir = Path(raw_dir).expanduser().resolve() if raw_dir else REPO / ".local"
        raw_cache = os.environ.get("LOCAL_INFRA_CACHE_DIR", "").strip()
        cache_dir = Path(raw_cache).expanduser().resolve() if raw_cache else infra_dir
        return cls(
            infra_dir=infra_dir,
            cache_dir=cache_dir,
            kafka_port=_env_port("LOCAL_KAFKA_PORT", 9092),
            controller_port=_env_port("LOCAL_KAFKA_CONTROLLER_PORT", 9093),
            mongo_port=_env_port("LOCAL_MONGO_PORT", 27017),
            own_only=os.environ.get("LOCAL_INFRA_OWN_ONLY", "").strip() == "1",
        )

    @property
    def kafka_dir(self) -> Path:
        return self.infra_dir / "kafka"

    @property
    def kafka_cache(self) -> Path:
        return self.cache_dir / "kafka"

    @property
    def kafka_libs(self) -> Path:
        return self.kafka_cache / "libs"

    @property
    def kafka_data(self) -> Path:
        return self.kafka_dir / "data"

    @property
    def kafka_logs(self) -> Path:
        return self.kafka_dir / "logs"

    @property
    def kafka_properties(self) -> Path:
        return self.kafka_dir / "server.properties"

    @property
    def ferretdb_dir(self) -> Path:
        return self.infra_dir / "ferretdb"

    @property
    def ferretdb_cache(self) -> Path:
        return self.cache_dir / "ferretdb"

    @property
    def ferretdb_bin(self) -> Path:
        return self.ferretdb_cache / "bin" / "ferretdb-local"

    @property
    def ferretdb_data(self) -> Path:
        return self.ferretdb_dir / "data"


# ---------------------------------------------------------------------------------
# Health checks speaking the real wire protocols (stdlib only, no client library)
# ---------------------------------------------------------------------------------


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("connection closed by peer")
        buf += chunk
    return bytes(buf)


def port_open(port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=timeout):
            return True
    except OSError:
        return False


class _Reader:
    """Sequential big-endian reader over a Kafka response body."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def int16(self) -> int:
        return self._take(">h")

    def int32(self) -> int:
        return self._take(">i")

    def nullable_string(self) -> str | None:
        length = self.int16()
        if length < 0:
            return None
        self.pos += length
        return self.data[self.pos - length : self.pos].decode()

    def _take(self, fmt: str) -> int:
        (value,) = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += struct.calcsize(fmt)
        return value


def kafka_metadata(port: int, timeout: float = 2.0) -> list[tuple[int, str, int]]:
    """Send a Kafka Metadata v4 request for no topics; return (id, host, port) of
    each live broker.

    v4 is the oldest Metadata version Kafka 4.x still accepts (KIP-896 dropped
    v0-v3) and the newest without "flexible" (tagged-field) encoding, so it is
    easy to build by hand. Request header v1: api_key, api_version,
    correlation_id, client_id.
    """
    client_id = b"local-infra"
    correlation_id = 7
    header = struct.pack(">hhih", 3, 4, correlation_id, len(client_id)) + client_id
    body = struct.pack(">i?", 0, False)  # topics: [] ; allow_auto_topic_creation
    request = header + body
    with socket.create_connection((HOST, port), timeout=timeout) as sock:
        sock.settimeout(timeout)
        sock.sendall(struct.pack(">i", len(request)) + request)
        (size,) = struct.unpack(">i", _recv_exact(sock, 4))
        resp = _Reader(_recv_exact(sock, size))

    if resp.int32() != correlation_id:
        raise ValueError("unexpected correlation id")
    resp.int32()  # throttle_time_ms
    brokers = []
    for _ in range(resp.int32()):
        node_id = resp.int32()
        host = resp.nullable_string() or ""
        broker_port = resp.int32()
        resp.nullable_string()  # rack
        brokers.append((node_id, host, broker_port))
    return brokers


def kafka_healthy(port: int) -> bool:
    """True if a Kafka broker on `port` answers Metadata and lists itself."""
    try:
        return any(p == port for _, _, p in kafka_metadata(port))
    except (OSError, ValueError, struct.error):
        return False


def _bson_ping() -> bytes:
    """BSON for {ping: 1, $db: "admin"}."""
    db = b"admin\x00"
    ping = b"\x10ping\x00" + struct.pack("<i", 1)  # 0x10: int32
    dbname = b"\x02$db\x00" + struct.pack("<i", len(db)) + db  # 0x02: string
    elements = ping + dbname
    return struct.pack("<i", len(elements) + 5) + elements + b"\x00"


# Widths of fixed-size BSON values by type byte: double, ObjectId, bool, datetime,
# null, int32, timestamp, int64, decimal128, minKey, maxKey.
_BSON_FIXED = {
    0x01: 8,
    0x07: 12,
    0x08: 1,
    0x09: 8,
    0x0A: 0,
    0x10: 4,
    0x11: 8,
    0x12: 8,
    0x13: 16,
    0xFF: 0,
    0x7F: 0,
}


def _bson_skip(doc: bytes, kind: int, pos: int) -> int:
    """Position just past a BSON value of type `kind` that starts at `pos`."""
    if kind in _BSON_FIXED:
        return pos + _BSON_FIXED[kind]
    if kind in (0x02, 0x0D, 0x0E):  # string, JS code, symbol: int32 length + bytes
        return pos + 4 + struct.unpack_from("<i", doc, pos)[0]
    if kind in (0x03, 0x04):  # document, array: int32 total length
        return pos + struct.unpack_from("<i", doc, pos)[0]
    if kind == 0x05:  # binary: int32 length, subtype byte, data
        return pos + 5 + struct.unpack_from("<i", doc, pos)[0]
    if kind == 0x0B:  # regex: two cstrings
        return doc.index(b"\x00", doc.index(b"\x00", pos) + 1) + 1
    raise ValueError(f"unsupported BSON type {kind:#x}")


def _bson_number(doc: bytes, wanted: str) -> float | None:
    """The numeric top-level field `wanted` of a BSON document, or None."""
    pos = 4
    while pos < len(doc) and doc[pos] != 0:
        kind = doc[pos]
        end = doc.index(b"\x00", pos + 1)
        name = doc[pos + 1 : end].decode()
        pos = end + 1
        if name != wanted:
            pos = _bson_skip(doc, kind, pos)
            continue
        fmt = {0x01: "<d", 0x08: "<?", 0x10: "<i", 0x12: "<q"}.get(kind)
        return float(struct.unpack_from(fmt, doc, pos)[0]) if fmt else None
    return None


def mongo_ping(port: int, timeout: float = 2.0) -> bool:
    """Send OP_MSG {ping: 1, $db: "admin"}; True if the reply has ok == 1."""
    op_msg = 2013
    # flagBits, then one section of kind 0 (the command document)
    payload = struct.pack("<I", 0) + b"\x00" + _bson_ping()
    header = struct.pack("<iiii", 16 + len(payload), 1, 0, op_msg)
    with socket.create_connection((HOST, port), timeout=timeout) as sock:
        sock.settimeout(timeout)
        sock.sendall(header + payload)
        length, _req, _resp_to, opcode = struct.unpack("<iiii", _recv_exact(sock, 16))
        reply = _recv_exact(sock, length - 16)
    if opcode != op_msg or reply[4] != 0:
        return False
    return _bson_number(reply[5:], "ok") == 1.0


def mongo_healthy(port: int) -> bool:
    try:
        return mongo_ping(port)
    except (OSError, ValueError, IndexError, struct.error):
        return False


# ---------------------------------------------------------------------------------
# Process bookkeeping: pid files checked against /proc/<pid>/cmdline
# ---------------------------------------------------------------------------------


def _cmdline(pid: int) -> list[str]:
    """argv of a live process; [] if it is gone or a zombie (empty cmdline)."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [a.decode(errors="replace") for a in raw.split(b"\x00") if a]


def _alive(pid: int) -> bool:
    """True while the process exists and is not a zombie waiting to be reaped."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def port_owner(port: int) -> str:
    """Best effort 'pid N (cmd)' of whatever listens on `port`, read from /proc
    (ss and lsof are not always installed)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                local_port = int(fields[1].rsplit(":", 1)[1], 16)
                if fields[3] == "0A" and local_port == port:  # 0A: LISTEN
                    inodes.add(f"socket:[{fields[9]}]")
    if not inodes:
        return "an unknown process"
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            for fd in (proc / "fd").iterdir():
                if os.readlink(fd) in inodes:
                    cmd = " ".join(_cmdline(int(proc.name)))[:120]
                    return f"pid {proc.name} ({cmd})"
    return "a process this user cannot inspect"


@dataclass(frozen=True)
class Service:
    """One background process that `up` may start and `down` may stop."""

    name: str
    port: int
    pid_file: Path
    log_file: Path
    marker: str  # must appear in the process's argv for it to count as ours

    def healthy(self) -> bool:
        if self.name == "kafka":
            return kafka_healthy(self.port)
        return mongo_healthy(self.port)

    def managed_pid(self) -> int | None:
        """The pid in our pid file if that process is alive and still ours
        (guards against pid reuse after a reboot or a crash)."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if any(self.marker in a for a in _cmdline(pid)) else None

    def log_hint(self) -> str:
        if self.name == "kafka":
            return f"{self.log_file} and {self.log_file.parent / 'kafka.out'}"
        return str(self.log_file)


def services(cfg: Config) -> tuple[Service, Service]:
    kafka = Service(
        "kafka",
        cfg.kafka_port,
        cfg.kafka_dir / "kafka.pid",
        cfg.kafka_logs / "server.log",
        str(cfg.kafka_properties),
    )
    ferret = Service(
        "ferretdb",
        cfg.mongo_port,
        cfg.ferretdb_dir / "ferretdb.pid",
        cfg.ferretdb_dir / "ferretdb.log",
        str(cfg.ferretdb_bin),
    )
    return kafka, ferret


@contextlib.contextmanager
def infra_lock(cfg: Config) -> Iterator[None]:
    """Serialise `up` and `down` runs that share one LOCAL_INFRA_DIR."""
    # One lock per cache: instances sharing the jars and binary never build them at once.
    cfg.infra_dir.mkdir(parents=True, exist_ok=True)
    cfg.cache_dir.mkdir(parents=True, exist_ok=True)
    with open(cfg.cache_dir / "infra.lock", "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            say("another infra.py up/down is using this directory; waiting for it")
            fcntl.flock(fh, fcntl.LOCK_EX)
        yield


def tail(path: Path, lines: int = 20) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        return f"    ({path} does not exist)"
    return "\n".join("    " + line for line in text)


# ---------------------------------------------------------------------------------
# Tools, caches and builds
# ---------------------------------------------------------------------------------


def _run_text(cmd: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, check=False)


def java_cmd() -> str | None:
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").is_file():
        return str(Path(java_home) / "bin" / "java")
    return shutil.which("java")


def java_major(java: str) -> int:
    match = re.search(r'version "(\d+)(?:\.(\d+))?', _run_text([java, "-version"]).stderr)
    if not match:
        return 0
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major  # "1.8.0" is Java 8


def go_version() -> tuple[int, int]:
    match = re.match(r"go(\d+)\.(\d+)", _run_text(["go", "env", "GOVERSION"]).stdout)
    return (int(match.group(1)), int(match.group(2))) if match else (0, 0)


def check_tools(need_java: bool, need_mvn: bool, need_go: bool) -> str:
    """Fail with one message naming every missing tool; return the java path."""
    missing = []
    java = java_cmd() if need_java else None
    if need_java:
        if java is None:
            missing.append(f"java {MIN_JAVA}+ (not on PATH nor in JAVA_HOME)")
        elif (major := java_major(java)) < MIN_JAVA:
            missing.append(f"java {MIN_JAVA}+ ({java} is Java {major})")
    if need_mvn and shutil.which("mvn") is None:
        missing.append("mvn (Maven, fetches the Kafka jars from Maven Central)")
    if need_go:
        if shutil.which("go") is None:
            missing.append("go >= 1.21 (builds the FerretDB wrapper)")
        elif (ver := go_version()) < MIN_GO:
            missing.append(f"go >= 1.21 (found go{ver[0]}.{ver[1]})")
    if missing:
        listed = "\n  - ".join(missing)
        raise InfraError(f"missing tools:\n  - {listed}\n{INSTALL_HINT}")
    return java or ""


def inputs_hash(files: list[Path]) -> str:
    h = hashlib.sha256()
    for f in sorted(files):
        h.update(f.name.encode() + b"\x00" + f.read_bytes() + b"\x00")
    return h.hexdigest()


@dataclass(frozen=True)
class BuildSpec:
    """A cached artifact: `cmd` writes `tmp`, which becomes `final` on success.

    `stamp` records the hash of `inputs` the artifact was built from, so it is
    rebuilt only when missing or when an input file changed.
    """

    what: str
    cmd: list[str]
    cwd: Path
    env: dict[str, str]
    log: Path
    tmp: Path
    final: Path
    stamp: Path
    inputs: list[Path]

    def fresh(self) -> bool:
        try:
            return self.final.exists() and (
                self.stamp.read_text().strip() == inputs_hash(self.inputs)
            )
        except OSError:
            return False


def kafka_fetch_spec(cfg: Config) -> BuildSpec:
    """Copy Kafka's runtime jars from Maven Central (through ~/.m2) into libs/."""
    tmp = cfg.kafka_cache / "libs.tmp"
    return BuildSpec(
        what="kafka: jar fetch with Maven",
        cmd=[
            "mvn",
            "-B",
            "-q",
            "-f",
            str(KAFKA_SRC / "pom.xml"),
            "dependency:copy-dependencies",
            "-DincludeScope=runtime",
            f"-DoutputDirectory={tmp}",
        ],
        cwd=cfg.kafka_cache,
        env={},
        log=cfg.kafka_cache / "fetch.log",
        tmp=tmp,
        final=cfg.kafka_libs,
        stamp=cfg.kafka_cache / "libs.sha256",
        inputs=[KAFKA_SRC / "pom.xml"],
    )


def ferretdb_build_spec(cfg: Config) -> BuildSpec:
    """`go build` our FerretDB wrapper (deploy/local/ferretdb) into bin/."""
    tmp = cfg.ferretdb_bin.with_name(cfg.ferretdb_bin.name + ".tmp")
    # -mod=readonly: fail rather than touch go.mod/go.sum in the repo.
    # -buildvcs=false: the module sits in our git checkout; stamping VCS state
    # would only make otherwise identical builds differ.
    goflags = f"{os.environ.get('GOFLAGS', '')} -mod=readonly -buildvcs=false"
    return BuildSpec(
        what="ferretdb: go build",
        cmd=["go", "build", "-trimpath", "-o", str(tmp), "."],
        cwd=FERRETDB_SRC,
        env={"GOFLAGS": goflags.strip(), "CGO_ENABLED": "0"},
        log=cfg.ferretdb_cache / "build.log",
        tmp=tmp,
        final=cfg.ferretdb_bin,
        stamp=cfg.ferretdb_cache / "bin.sha256",
        inputs=[
            FERRETDB_SRC / "go.mod",
            FERRETDB_SRC / "go.sum",
            *FERRETDB_SRC.glob("*.go"),
        ],
    )


class ReadyWaiter:
    """Tracks started services until each answers its health check."""

    def __init__(self) -> None:
        self.pending: dict[str, tuple[Service, subprocess.Popen | None, float]] = {}

    def add(self, svc: Service, proc: subprocess.Popen | None, timeout: float) -> None:
        """Watch `svc`; `proc` is None for a process an earlier `up` started."""
        self.pending[svc.name] = (svc, proc, time.monotonic() + timeout)

    def poll(self) -> None:
        """Check each pending service once; fail if one exited or timed out."""
        for name, (svc, proc, deadline) in list(self.pending.items()):
            if svc.healthy():
                say(f"{name}: ready on {HOST}:{svc.port}")
                del self.pending[name]
                continue
            if proc is not None and (rc := proc.poll()) is not None:
                raise InfraError(
                    f"{name} exited during start-up (exit {rc}); see "
                    f"{svc.log_hint()}. Last lines:\n{tail(svc.log_file)}"
                )
            if proc is None and svc.managed_pid() is None:
                raise InfraError(f"{name} exited during start-up; see {svc.log_hint()}")
            if time.monotonic() > deadline:
                raise InfraError(
                    f"{name} did not answer on port {svc.port} in time; see "
                    f"{svc.log_hint()}. It is still running; `infra.py down` stops it."
                )

    def wait_all(self) -> None:
        while self.pending:
            self.poll()
            if self.pending:
                time.sleep(0.5)


class Build:
    """A running BuildSpec command; its output goes to spec.log."""

    def __init__(self, spec: BuildSpec) -> None:
        self.spec = spec
        spec.final.parent.mkdir(parents=True, exist_ok=True)
        if spec.tmp.is_dir():
            shutil.rmtree(spec.tmp)
        say(f"{spec.what}: started (first run, or its inputs changed)")
        with open(spec.log, "w") as out:
            # Own process group, so that kill() also reaches the compilers and
            # JVMs that `go build` and mvn start.
            self.proc = subprocess.Popen(
                spec.cmd,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=spec.cwd,
                env={**os.environ, **spec.env},
                start_new_session=True,
            )

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def wait(self, waiter: ReadyWaiter) -> None:
        """Wait for the build; meanwhile report services that become ready."""
        spec = self.spec
        deadline = time.monotonic() + BUILD_TIMEOUT_S
        while (rc := self.proc.poll()) is None:
            if time.monotonic() > deadline:
                self.kill()
                raise InfraError(f"{spec.what} took over {BUILD_TIMEOUT_S} s; {spec.log}")
            waiter.poll()
            time.sleep(0.5)
        if rc != 0:
            raise InfraError(
                f"{spec.what} failed (exit {rc}); last lines of {spec.log}:\n" + tail(spec.log)
            )
        if spec.final.is_dir():
            shutil.rmtree(spec.final)
        spec.tmp.replace(spec.final)
        spec.stamp.write_text(inputs_hash(spec.inputs) + "\n")
        say(f"{spec.what}: done")


# ---------------------------------------------------------------------------------
# Starting the services
# ---------------------------------------------------------------------------------


def kafka_cluster_id() -> str:
    """A Kafka Uuid string like `kafka-storage.sh random-uuid` prints: 16 random
    bytes, unpadded URL-safe base64 (made here to save one JVM start)."""
    while True:
        cid = base64.urlsafe_b64encode(os.urandom(16)).rstrip(b"=").decode()
        if not cid.startswith("-"):  # Kafka also avoids ids that look like options
            return cid


def write_kafka_properties(cfg: Config) -> None:
    template = (KAFKA_SRC / "server.properties.template").read_text()
    text = string.Template(template).substitute(
        kafka_port=cfg.kafka_port,
        controller_port=cfg.controller_port,
        data_dir=cfg.kafka_data,
    )
    cfg.kafka_properties.write_text(text)


def kafka_java(cfg: Config, java: str, *args: str) -> list[str]:
    return [
        java,
        *KAFKA_JVM_OPTS,
        f"-Dlog4j2.configurationFile={KAFKA_SRC / 'log4j2.xml'}",
        f"-Dkafka.logs.dir={cfg.kafka_logs}",
        "-cp",
        f"{cfg.kafka_libs}/*",
        *args,
    ]


def format_kafka_storage(cfg: Config, java: str) -> None:
    """Format the KRaft data dir once (an unformatted one makes the broker exit with
    "No readable meta.properties files found"). Static quorum: no --standalone."""
    if (cfg.kafka_data / "meta.properties").exists():
        return
    say("kafka: formatting storage (first run)")
    log = cfg.kafka_dir / "format.log"
    cmd = kafka_java(
        cfg,
        java,
        "kafka.tools.StorageTool",
        "format",
        "-t",
        kafka_cluster_id(),
        "-c",
        str(cfg.kafka_properties),
    )
    with open(log, "w") as out:
        rc = subprocess.run(
            cmd,
            check=False,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        ).returncode
    if rc != 0:
        raise InfraError(f"kafka storage format failed (exit {rc}):\n{tail(log)}")


def rotate_if_large(path: Path, limit: int = 10 * 1024 * 1024) -> None:
    """Keep one previous copy of an append-only log once it passes `limit`."""
    with contextlib.suppress(OSError):
        if path.stat().st_size > limit:
            path.replace(path.with_name(path.name + ".1"))


def spawn(svc: Service, cmd: list[str], cwd: Path, out_file: Path) -> subprocess.Popen:
    """Start a detached process: its own session, so a Ctrl-C in the shell that
    ran `up` does not reach it, and it outlives this script."""
    rotate_if_large(out_file)
    with open(out_file, "a") as out:
        proc = subprocess.Popen(
            cmd,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=cwd,
            start_new_session=True,
        )
    svc.pid_file.write_text(f"{proc.pid}\n")
    say(f"{svc.name}: started pid {proc.pid} (log: {svc.log_file})")
    return proc


def start_kafka(cfg: Config, svc: Service, java: str) -> subprocess.Popen:
    cfg.kafka_logs.mkdir(parents=True, exist_ok=True)
    write_kafka_properties(cfg)
    format_kafka_storage(cfg, java)
    cmd = kafka_java(cfg, java, "kafka.Kafka", str(cfg.kafka_properties))
    # stdout/stderr only get what happens before log4j is up (JVM errors); the
    # broker's own log is logs/server.log.
    return spawn(svc, cmd, cfg.kafka_dir, cfg.kafka_logs / "kafka.out")


def start_ferretdb(cfg: Config, svc: Service) -> subprocess.Popen:
    cfg.ferretdb_data.mkdir(parents=True, exist_ok=True)
    cmd = [
        str(cfg.ferretdb_bin),
        f"-listen-addr={HOST}:{cfg.mongo_port}",
        f"-sqlite-dir={cfg.ferretdb_data}",
        # warn still logs every command FerretDB rejects, which is what one wants
        # to see when a query works on MongoDB but not here.
        "-log-level=warn",
    ]
    return spawn(svc, cmd, cfg.ferretdb_dir, svc.log_file)


# ---------------------------------------------------------------------------------
# Commands
# ---------------------------------------------------------------------------------

MANAGED, EXTERNAL, START = "managed", "external", "start"


def plan(svc: Service, extra_ports: tuple[int, ...] = (), *, own_only: bool = False) -> str:
    """What `up` does for one service: leave our running process (MANAGED), use
    a healthy one we did not start (EXTERNAL, unless `own_only`), or START one."""
    if svc.managed_pid() is not None:
        return MANAGED
    if svc.pid_file.exists():
        # Ours, just gone (e.g. killed): a JVM's threads can hold its ports a moment longer
        # than its main thread lives. Let them go before judging who holds the port.
        svc.pid_file.unlink(missing_ok=True)
        deadline = time.monotonic() + 15
        while any(port_open(p) for p in (svc.port, *extra_ports)) and time.monotonic() < deadline:
            time.sleep(0.2)
    if port_open(svc.port):
        if own_only:
            # The tests' case: an instance of another session (another clone's tests, one
            # left running) has topics and data of its own, and two sessions on one broker
            # read each other's events. Better to stop here than to run on it.
            raise InfraError(
                f"port {svc.port} (needed by {svc.name}) is taken by "
                f"{port_owner(svc.port)}, which was not started from {svc.pid_file.parent} "
                "(LOCAL_INFRA_OWN_ONLY=1). Stop it, or pick other ports with "
                "LOCAL_KAFKA_PORT / LOCAL_KAFKA_CONTROLLER_PORT / LOCAL_MONGO_PORT."
            )
        if svc.healthy():
            return EXTERNAL
        raise InfraError(
            f"port {svc.port} (needed by {svc.name}) is taken by "
            f"{port_owner(svc.port)}, which infra.py did not start and which does "
            f"not answer as {svc.name}. Stop it or pick another port with "
            "LOCAL_KAFKA_PORT / LOCAL_KAFKA_CONTROLLER_PORT / LOCAL_MONGO_PORT."
        )
    for port in extra_ports:
        if port_open(port):
            raise InfraError(
                f"port {port} (needed by {svc.name}) is taken by {port_owner(port)}, "
                "which infra.py did not start. Stop it or pick another port."
            )
    return START


def start_all(cfg: Config, plans: dict[Service, str], waiter: ReadyWaiter) -> None:
    """Fetch/build what is missing, then start each service planned to START."""
    kafka, ferret = services(cfg)
    fetch = kafka_fetch_spec(cfg) if plans[kafka] == START else None
    build = ferretdb_build_spec(cfg) if plans[ferret] == START else None
    fetch = None if fetch is None or fetch.fresh() else fetch
    build = None if build is None or build.fresh() else build
    java = check_tools(plans[kafka] == START, fetch is not None, build is not None)

    # Run Maven (mostly network) and Go (mostly CPU) side by side; start Kafka as
    # soon as its jars are there, while Go may still be compiling.
    running: list[Build] = []
    try:
        running.extend(Build(spec) for spec in (fetch, build) if spec is not None)
        for step in running:
            if step.spec is fetch:
                step.wait(waiter)
        if plans[kafka] == START:
            waiter.add(kafka, start_kafka(cfg, kafka, java), KAFKA_READY_TIMEOUT_S)
        for step in running:
            if step.spec is build:
                step.wait(waiter)
        if plans[ferret] == START:
            proc = start_ferretdb(cfg, ferret)
            waiter.add(ferret, proc, FERRETDB_READY_TIMEOUT_S)
    finally:
        for step in running:  # after a failure, leave no mvn or go behind
            if step.proc.poll() is None:
                step.kill()


def cmd_up(cfg: Config) -> int:
    with infra_lock(cfg):
        kafka, ferret = services(cfg)
        plans = {
            kafka: plan(kafka, (cfg.controller_port,), own_only=cfg.own_only),
            ferret: plan(ferret, own_only=cfg.own_only),
        }
        waiter = ReadyWaiter()
        for svc, how in plans.items():
            if how == EXTERNAL:
                say(
                    f"{svc.name}: using the already-running {svc.name} on port "
                    f"{svc.port} (not started by infra.py, so not managed by it)"
                )
            elif how == MANAGED and svc.healthy():
                pid = svc.managed_pid()
                say(f"{svc.name}: already running (pid {pid}) on {HOST}:{svc.port}")
            elif how == MANAGED:  # started by an earlier `up`, still starting
                timeout = FERRETDB_READY_TIMEOUT_S
                if svc is kafka:
                    timeout = KAFKA_READY_TIMEOUT_S
                waiter.add(svc, None, timeout)
        if START not in plans.values() and not waiter.pending:
            return 0
        start_all(cfg, plans, waiter)
        waiter.wait_all()
        say("up: Kafka and FerretDB are ready (`infra.py env` prints the settings)")
        return 0


def cmd_down(cfg: Config) -> int:
    if not cfg.infra_dir.exists():
        say("down: nothing to stop")
        return 0
    with infra_lock(cfg):
        signalled: dict[Service, int] = {}
        for svc in services(cfg):
            pid = svc.managed_pid()
            if pid is not None:
                say(f"{svc.name}: sending SIGTERM to pid {pid}")
                os.kill(pid, signal.SIGTERM)  # Kafka: controlled shutdown
                signalled[svc] = pid
            elif svc.pid_file.exists():
                say(f"{svc.name}: stale pid file (process gone or not ours); removed")
                svc.pid_file.unlink()
            else:
                say(f"{svc.name}: not running (nothing started by infra.py)")

        deadline = time.monotonic() + STOP_TIMEOUT_S
        while signalled:
            for svc, pid in list(signalled.items()):
                if not _alive(pid):
                    say(f"{svc.name}: stopped")
                elif time.monotonic() > deadline:
                    say(f"{svc.name}: still running after {STOP_TIMEOUT_S} s; SIGKILL")
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                else:
                    continue
                svc.pid_file.unlink(missing_ok=True)
                del signalled[svc]
            if signalled:
                time.sleep(0.2)
        return 0


def cmd_status(cfg: Config) -> int:
    all_ok = True
    for svc in services(cfg):
        pid = svc.managed_pid()
        ok = svc.healthy()
        all_ok &= ok
        if pid:
            who = f"managed by infra.py, pid {pid}"
        elif ok:
            who = "not started by infra.py"
        elif port_open(svc.port):
            who = f"port taken by {port_owner(svc.port)}"
        else:
            who = "not running"
        health = "healthy" if ok else "NOT answering"
        print(f"{svc.name:9} {HOST}:{svc.port:<6} {health:14} {who}; {svc.log_file}")
    return 0 if all_ok else 1


def cmd_env(cfg: Config) -> int:
    print(f"KAFKA_BOOTSTRAP_SERVERS={HOST}:{cfg.kafka_port}")
    print(f"MONGODB_URI=mongodb://{HOST}:{cfg.mongo_port}")
    return 0


COMMANDS = {"up": cmd_up, "down": cmd_down, "status": cmd_status, "env": cmd_env}


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] not in COMMANDS:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    try:
        return COMMANDS[argv[0]](Config.from_env())
    except InfraError as exc:
        print(f"infra.py {argv[0]}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"infra.py {argv[0]}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
