"""Shared plumbing for the benchmarks in bench/: a throwaway database, a gunicorn server, statistics.

Benchmarks never run inside the test suite and never touch the user's own database: each one
derives a separate database from DATABASE_URL (PostgreSQL) or uses a temporary SQLite file, and
throws it away afterwards. Every helper here bounds its waiting in time.
"""
from __future__ import annotations

import http.client
import json
import math
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

REPO_ROOT = Path(__file__).resolve().parent.parent
# The interpreter running the bench is the project's virtualenv python; its tools sit beside it.
# Not resolve()d: a venv's bin/python is a symlink to the base interpreter, whose dir has no gunicorn.
VENV_BIN = Path(sys.executable).parent
POSTGRES_SCHEMES = {"postgres", "postgresql", "pgsql", "postgis"}


def warn(message: str) -> None:
    print(f"WARNING: {message}", flush=True)


# --- database -------------------------------------------------------------------------------------

@dataclass
class BenchDatabase:
    """A database of the bench's own, derived from the user's DATABASE_URL but never equal to it."""

    engine: str  # "postgresql" or "sqlite"
    url: str  # DATABASE_URL for the bench database
    name: str  # database name (PostgreSQL) or file path (SQLite)
    source_url: str | None
    work_dir: Path  # temporary directory: SQLite file, var dir, server log
    _maintenance_url: str | None = field(default=None, repr=False)
    # One throwaway key for every process of the run, so settings.py never reads or creates var/secret_key.
    secret_key: str = field(default_factory=lambda: secrets.token_urlsafe(50), repr=False)

    @classmethod
    def for_bench(cls, bench_name: str) -> "BenchDatabase":
        source = os.environ.get("DATABASE_URL") or None
        work_dir = Path(tempfile.mkdtemp(prefix=f"orderhub_bench_{bench_name}_"))
        parts = urlsplit(source) if source else None
        if parts is not None and parts.scheme in POSTGRES_SCHEMES:
            source_name = parts.path.lstrip("/") or parts.username or "postgres"
            name = f"{source_name}_bench_{bench_name}"[:63]  # PostgreSQL identifiers stop at 63 bytes
            if name == source_name:
                raise SystemExit(f"refusing to use the source database {source_name!r} as the bench database")
            return cls(
                engine="postgresql",
                url=urlunsplit(parts._replace(path=f"/{name}")),
                name=name,
                source_url=source,
                work_dir=work_dir,
                # The maintenance database is where CREATE/DROP DATABASE run from.
                _maintenance_url=urlunsplit(parts._replace(scheme="postgresql", path="/postgres")),
            )
        path = work_dir / f"bench_{bench_name}.sqlite3"
        return cls(engine="sqlite", url=f"sqlite:///{path}", name=str(path), source_url=source,
                   work_dir=work_dir)

    @property
    def is_postgresql(self) -> bool:
        return self.engine == "postgresql"

    def describe(self) -> str:
        if self.is_postgresql:
            return f"PostgreSQL database {self.name!r} (derived from DATABASE_URL, dropped afterwards)"
        return f"SQLite file {self.name}"

    def warn_if_not_postgresql(self) -> None:
        if not self.is_postgresql:
            warn("DATABASE_URL does not point at PostgreSQL; running on SQLite, whose single writer lock "
                 "makes the figures NOT representative of production. "
                 "Set DATABASE_URL=postgres://user@host:5432/dbname for real numbers.")

    def _admin(self):
        import psycopg

        return psycopg.connect(self._maintenance_url, autocommit=True, connect_timeout=10)

    def recreate(self) -> None:
        """Drop (if left over from an earlier run) and create the bench database, empty."""
        if not self.is_postgresql:
            Path(self.name).unlink(missing_ok=True)
            return
        from psycopg import sql

        with self._admin() as conn:
            # FORCE ends sessions a crashed earlier run may have left behind (PostgreSQL 13+).
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(self.name)))
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.name)))

    def drop(self) -> None:
        if self.is_postgresql:
            from psycopg import sql

            with self._admin() as conn:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(self.name)))
        shutil.rmtree(self.work_dir, ignore_errors=True)

    def env(self, **extra: str) -> dict[str, str]:
        """Environment for Django processes working on the bench database.

        ORDERHUB_VAR_DIR and SECRET_KEY keep settings.py from reading or writing anything under the
        project's var/ directory.
        """
        env = dict(os.environ)
        env.update(
            DATABASE_URL=self.url,
            DJANGO_SETTINGS_MODULE="config.settings",
            ORDERHUB_VAR_DIR=str(self.work_dir / "var"),
            SECRET_KEY=self.secret_key,
            DEBUG="0",
            PYTHONUNBUFFERED="1",
            PYTHONDONTWRITEBYTECODE="1",  # a bench leaves no files in the tree
        )
        env.update(extra)
        return env

    def migrate(self, timeout: float = 600) -> None:
        result = subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
            cwd=REPO_ROOT, env=self.env(), capture_output=True, text=True, timeout=timeout,
        )
        if result.returncode != 0:
            raise RuntimeError(f"migrate failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")


def django_setup(db: BenchDatabase, **extra_env: str) -> None:
    """Configure Django in this process against the bench database (call before any model import)."""
    os.environ.update(db.env(**extra_env))
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    import django

    django.setup()


# --- server ---------------------------------------------------------------------------------------

def free_port() -> int:
    """A loopback port that was free a moment ago (the server binds it right after)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class GunicornServer:
    """`gunicorn config.wsgi:application` on 127.0.0.1:<free port>; use as a context manager."""

    def __init__(self, env: dict[str, str], args: list[str], log_path: Path, *, app="config.wsgi:application"):
        self.env = env
        self.args = args
        self.app = app
        self.log_path = log_path
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def __enter__(self) -> "GunicornServer":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self, ready_timeout: float = 60) -> None:
        gunicorn = VENV_BIN / "gunicorn"
        if not gunicorn.exists():
            gunicorn = REPO_ROOT / ".venv" / "bin" / "gunicorn"
        cmd = [str(gunicorn), self.app, "--bind", f"127.0.0.1:{self.port}", "--log-level", "error",
               "--graceful-timeout", "5", *self.args]
        self._log = open(self.log_path, "w")
        # Own session: the server and its workers form one process group the bench can stop as a whole.
        self.proc = subprocess.Popen(cmd, cwd=REPO_ROOT, env=self.env, stdout=self._log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        self.wait_ready(ready_timeout)

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/api/v1/orders/")
                conn.getresponse().read()  # any HTTP answer (401 here) means a worker is serving
                conn.close()
                return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"gunicorn did not answer within {timeout:.0f}s:\n{self.log_tail()}")

    def stop(self, timeout: float = 15) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            # SIGTERM to the master: it stops its workers gracefully. The group kill is the fallback
            # for a master that hangs; the group id is the master's pid (start_new_session).
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait(5)
        self._log.close()

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


# --- CPU accounting (Linux /proc) ------------------------------------------------------------------

@dataclass(frozen=True)
class CpuSample:
    """CPU seconds used so far by each party of a benchmark, and by the whole machine."""

    server: float  # the gunicorn master and its workers
    postgres: float  # every process named postgres (backends, WAL writer, checkpointer, ...)
    clients: float  # this process and its reaped children: the load-generating clients
    machine: float  # all CPUs, busy time (not idle, not iowait)
    wall: float

    def __sub__(self, other: "CpuSample") -> "CpuSample":
        return CpuSample(*(getattr(self, f) - getattr(other, f)
                           for f in ("server", "postgres", "clients", "machine", "wall")))


def _proc_table() -> dict[int, tuple[int, str, float]]:
    """pid -> (parent pid, command name, user+system CPU seconds) of every process we may read."""
    tick = os.sysconf("SC_CLK_TCK")
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                data = stat.read()
        except OSError:  # gone meanwhile
            continue
        comm = data[data.index("(") + 1:data.rindex(")")]
        fields = data[data.rindex(")") + 2:].split()  # fields[0] is field 3 (state) of proc(5)
        table[int(entry)] = (int(fields[1]), comm, (int(fields[11]) + int(fields[12])) / tick)
    return table


def _is_bench_postgres(pid: int, db_name: str) -> bool:
    """A backend of the bench database, or a shared auxiliary process (WAL writer, checkpointer...).

    Backends of other databases (someone's test run, say) are left out: they are contention, not cost.
    The process title is `postgres: 15/main: <user> <db> <host>(<port>) <state>` for a backend.
    """
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            title = cmdline.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return False
    if f" {db_name} " in title:
        return True
    is_client_backend = "(" in title or "[local]" in title or "autovacuum worker" in title
    return not is_client_backend


def cpu_sample(server_pid: int | None, db_name: str | None = None) -> CpuSample | None:
    """A snapshot for CPU-per-order figures; None where /proc is not available (not Linux)."""
    if not os.path.exists("/proc/stat"):
        return None
    import resource

    table = _proc_table()
    server = 0.0
    if server_pid is not None:
        tree = {server_pid}
        for pid, (ppid, _comm, _cpu) in sorted(table.items()):  # workers are forked after the master
            if ppid in tree:
                tree.add(pid)
        server = sum(table[pid][2] for pid in tree if pid in table)
    postgres = 0.0
    if db_name:
        postgres = sum(cpu for pid, (_ppid, comm, cpu) in table.items()
                       if comm.startswith("postgres") and _is_bench_postgres(pid, db_name))
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)  # the gunicorn master is not reaped yet
    clients = own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime
    with open("/proc/stat") as stat:
        values = [int(v) for v in stat.readline().split()[1:]]
    machine = (sum(values[:8]) - values[3] - values[4]) / os.sysconf("SC_CLK_TCK")  # minus idle, iowait
    return CpuSample(server, postgres, clients, machine, time.monotonic())


def postgres_cpu_by_pid(db_name: str) -> dict[int, float]:
    """CPU seconds of each PostgreSQL process working for db_name (and the shared auxiliaries).

    Per process, so a phase can count only what its own backends did: summed totals go wrong when a
    backend of an earlier connection exits between two samples (its whole CPU time would vanish
    from the second sum), and a backend that exits before the second sample takes its CPU with it,
    so the workers must keep their connections open until the sample is taken.
    """
    if not os.path.exists("/proc/stat"):
        return {}
    return {pid: cpu for pid, (_ppid, comm, cpu) in _proc_table().items()
            if comm.startswith("postgres") and _is_bench_postgres(pid, db_name)}


def postgres_cpu_delta(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU used between two postgres_cpu_by_pid samples by the processes alive at the second one."""
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())


def other_load(used: CpuSample | None) -> float:
    """CPUs' worth of work done by processes outside the bench during a phase (0.0 = quiet machine)."""
    if used is None or used.wall <= 0:
        return 0.0
    return max(0.0, used.machine - used.server - used.postgres - used.clients) / used.wall


def idle_load(seconds: float = 1.0) -> float:
    """How many CPUs other processes keep busy right now, measured over `seconds`."""
    before = cpu_sample(None)
    time.sleep(seconds)
    after = cpu_sample(None)
    return other_load(after - before) if before and after else 0.0


def cpu_line(used: CpuSample | None, orders: int, *, with_postgres: bool = True) -> str:
    if used is None or orders <= 0:
        return "  CPU per order: not measured (no /proc)"
    per = lambda seconds: seconds / orders * 1000  # noqa: E731
    busy = used.machine / used.wall / (os.cpu_count() or 1) * 100 if used.wall > 0 else 0
    postgres = f"postgres {per(used.postgres):.2f} ms, " if with_postgres else ""
    return (f"  CPU per order: gunicorn {per(used.server):.2f} ms, {postgres}"
            f"clients {per(used.clients):.2f} ms; machine {busy:.0f}% busy, "
            f"other processes {other_load(used):.2f} CPUs")


# --- statistics and output ------------------------------------------------------------------------

def percentile(values, p: float) -> float:
    """The p-th percentile (0-100) with linear interpolation between closest ranks (numpy's default)."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    rank = (len(ordered) - 1) * p / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass
class PhaseResult:
    """Throughput and latency of one measured phase."""

    name: str
    count: int  # successful operations
    errors: int
    elapsed_s: float
    latencies_s: list[float]
    cpu: CpuSample | None = None  # CPU used during the phase, by party
    cpu_has_postgres: bool = True  # False on SQLite, where the database works inside the server

    @property
    def per_s(self) -> float:
        return self.count / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def ms(self, p: float) -> float:
        return percentile(self.latencies_s, p) * 1000

    def line(self) -> str:
        return (f"{self.name:<34} {self.count:>6} ok {self.errors:>4} err  {self.elapsed_s:7.2f} s  "
                f"{self.per_s:8.1f}/s  p50 {self.ms(50):7.2f} ms  p95 {self.ms(95):7.2f} ms  "
                f"p99 {self.ms(99):7.2f} ms  max {self.ms(100):7.2f} ms"
                + (f"\n{cpu_line(self.cpu, self.count, with_postgres=self.cpu_has_postgres)}"
                   if self.cpu is not None else ""))

    def cpu_ms_per_order(self, party: str) -> float:
        if self.cpu is None or self.count == 0 or (party == "postgres" and not self.cpu_has_postgres):
            return math.nan
        return getattr(self.cpu, party) / self.count * 1000


def rounded(value, digits: int = 2):
    if isinstance(value, float):
        return None if math.isnan(value) else round(value, digits)
    return value


def print_json_line(figures: dict) -> None:
    """The machine-readable result: one JSON object, always the last line a bench prints."""
    print(json.dumps({key: rounded(value) for key, value in figures.items()}, ensure_ascii=False), flush=True)
