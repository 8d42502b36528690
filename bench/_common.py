"""Shared plumbing for the benchmarks in bench/: a throwaway database, a gunicorn server, statistics,
worker processes, and the frame of a run (options, start, readable summary, cleanup, JSON line).

Benchmarks never run inside the test suite and never touch the user's own database: each one
derives a separate database from DATABASE_URL (PostgreSQL) or uses a temporary SQLite file, and
throws it away afterwards. Every helper here bounds its waiting in time.
"""
from __future__ import annotations

import contextlib
import dataclasses
import http.client
import json
import math
import os
import queue
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
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

    def raw_connection(self):
        """A connection without Django, for the raw-SQL baselines: psycopg, or sqlite3 set up the way
        settings.py sets up Django's (autocommit, so the bench issues BEGIN IMMEDIATE itself)."""
        if self.is_postgresql:
            import psycopg

            return psycopg.connect(self.url.replace("postgres://", "postgresql://", 1), connect_timeout=10)
        import sqlite3

        conn = sqlite3.connect(self.name, isolation_level=None, timeout=20)
        conn.execute("PRAGMA synchronous=NORMAL")  # as settings.py's init_command does for Django
        return conn

    def migrate(self, timeout: float = 600) -> None:
        result = subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
            cwd=REPO_ROOT, env=self.env(), capture_output=True, text=True, timeout=timeout,
        )
        if result.returncode != 0:
            raise RuntimeError(f"migrate failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")


@contextlib.contextmanager
def sqlite_write_transaction(conn):
    """One transaction on a raw sqlite3 connection, write lock taken at BEGIN (as settings.py makes
    Django do), so a writer never fails halfway on a lock upgrade; any failure rolls it back."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


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
    machine: float  # all CPUs, busy time (not idle, not iowait, not steal)
    wall: float
    steal: float = 0.0  # time the hypervisor ran something else while this machine's CPUs wanted to run

    def __sub__(self, other: "CpuSample") -> "CpuSample":
        return CpuSample(*(getattr(self, f) - getattr(other, f)
                           for f in ("server", "postgres", "clients", "machine", "wall", "steal")))


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
    tick = os.sysconf("SC_CLK_TCK")
    machine = (sum(values[:7]) - values[3] - values[4]) / tick  # user … softirq, minus idle and iowait
    return CpuSample(server, postgres, clients, machine, time.monotonic(), steal=values[7] / tick)


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


# Load from processes outside the bench above which figures get a warning: someone else's test run
# on the same 2 CPUs makes every figure low, and the reader should hear it rather than guess.
CONTENTION_CPUS = 0.15


def other_load(used: CpuSample | None) -> float:
    """CPUs' worth of work done by processes outside the bench during a phase (0.0 = quiet machine)."""
    if used is None or used.wall <= 0:
        return 0.0
    return max(0.0, used.machine - used.server - used.postgres - used.clients) / used.wall


def steal_load(used: CpuSample | None) -> float:
    """CPUs' worth of time the hypervisor gave to others while this machine wanted to run (steal in
    /proc/stat). Figures of a phase with steal are low for reasons outside the machine: seen here as
    runs of the same commit 40 % apart within minutes."""
    if used is None or used.wall <= 0:
        return 0.0
    return max(0.0, used.steal) / used.wall


def idle_load(seconds: float = 1.0) -> float:
    """How many CPUs other processes keep busy right now, measured over `seconds`."""
    before = cpu_sample(None)
    time.sleep(seconds)
    after = cpu_sample(None)
    return other_load(after - before) if before and after else 0.0


def warn_if_machine_busy() -> None:
    """Before the timed phases: say so if other processes already keep the CPUs busy."""
    busy_elsewhere = idle_load(1.0)
    if busy_elsewhere > CONTENTION_CPUS:
        warn(f"other processes keep {busy_elsewhere:.2f} CPUs busy before the run; figures will be low")


def cpu_line(used: CpuSample | None, orders: int, *, with_postgres: bool = True) -> str:
    if used is None or orders <= 0:
        return "  CPU per order: not measured (no /proc)"
    per = lambda seconds: seconds / orders * 1000  # noqa: E731
    postgres = f"postgres {per(used.postgres):.2f} ms, " if with_postgres else ""
    return (f"  CPU per order: gunicorn {per(used.server):.2f} ms, {postgres}"
            f"clients {per(used.clients):.2f} ms; {machine_text(used)}")


def machine_text(used: CpuSample) -> str:
    """How busy the machine was during a phase, and how much of it went to others."""
    busy = used.machine / used.wall / (os.cpu_count() or 1) * 100 if used.wall > 0 else 0
    return (f"machine {busy:.0f}% busy, other processes {other_load(used):.2f} CPUs, "
            f"host steal {steal_load(used):.2f} CPUs")


# --- worker processes -----------------------------------------------------------------------------
# A bench's workers (forked processes, or threads) each put one (slot, report) on a results queue,
# where report is crash_report() if the worker failed; collect_reports and reap are the parent's side.

def collect_reports(results, count: int, give_up: float) -> dict[int, dict]:
    """The workers' reports by slot, waiting until all `count` have come in or the monotonic clock
    passes `give_up`; a slot missing from the answer never reported back."""
    reports: dict[int, dict] = {}
    while len(reports) < count and time.monotonic() < give_up:
        try:
            slot, report = results.get(timeout=max(0.1, give_up - time.monotonic()))
        except queue.Empty:
            break
        reports[slot] = report
    return reports


def reap(workers, timeout: float) -> None:
    """Wait for the workers; a process still alive after `timeout` is ended by its handle (only our
    own child, never by name). A thread cannot be ended: as a daemon it goes when the bench does."""
    for worker in workers:
        worker.join(timeout=timeout)
        if worker.is_alive() and hasattr(worker, "terminate"):
            worker.terminate()
            worker.join(timeout=5)


def crash_report() -> dict:
    """What a worker reports instead of its figures when it fails (call it in the except block): the
    parent must always hear back, or it waits until give_up and cannot say what went wrong."""
    return {"crash": traceback.format_exc()}


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


def print_phase(result: PhaseResult, cpu_text: str | None = None, *, warn_contention: bool = True) -> None:
    """A phase's readable line, then a warning if processes outside the bench used the CPUs meanwhile.

    cpu_text replaces the CPU-per-order line of PhaseResult.line() for a bench whose parties are
    not gunicorn, PostgreSQL and HTTP clients. A phase that is not counted (warm-up) needs no warning.
    """
    if cpu_text is None:
        print(result.line(), flush=True)
    else:
        print(dataclasses.replace(result, cpu=None).line(), flush=True)
        print(cpu_text, flush=True)
    if warn_contention and other_load(result.cpu) > CONTENTION_CPUS:
        warn(f"{result.name}: other processes used {other_load(result.cpu):.2f} CPUs meanwhile; "
             f"these figures understate what the machine can do")
    if warn_contention and steal_load(result.cpu) > CONTENTION_CPUS:
        warn(f"{result.name}: the host took {steal_load(result.cpu):.2f} CPUs of this machine's time meanwhile "
             f"(steal); these figures understate what the machine can do")


def print_correctness(problems: list[str], ok_text: str) -> None:
    """The summary's correctness line: what was checked, or how many checks failed (listed later)."""
    print("correctness              " + (f"ok: {ok_text}" if not problems
                                          else f"FAILED, {len(problems)} problem(s) below"))


def print_failures(errors: int, error_notes: list[str], problems: list[str], *, error_context: str = "") -> None:
    """The summary's errors line, the first 20 error notes, what may explain them (a server log, shown
    only when there were errors), then every failed check."""
    print(f"errors                   {errors}")
    for note in error_notes[:20]:
        print(f"ERROR: {note}")
    if error_notes and error_context:
        print(error_context)
    for problem in problems:
        print(f"PROBLEM: {problem}")


def verdict(met: bool) -> str:
    # The exact words matter: README and readers look for MISSED TARGET.
    return "met" if met else "MISSED TARGET"


def failed_figures(bench: str, db: BenchDatabase, **targets) -> dict:
    """The JSON line of a bench that crashed: no figures, errors unknown, the targets it aimed at."""
    return {"bench": bench, "database": db.engine, "errors": None, "correctness_ok": False, "failed": True,
            **targets}


def rounded(value, digits: int = 2):
    if isinstance(value, float):
        return None if math.isnan(value) else round(value, digits)
    return value


def print_json_line(figures: dict) -> None:
    """The machine-readable result: one JSON object, always the last line a bench prints."""
    print(json.dumps({key: rounded(value) for key, value in figures.items()}, ensure_ascii=False), flush=True)


# --- profiles -------------------------------------------------------------------------------------
# Rows of (ms per unit, calls per unit, where) from pstats.Stats(profiler).stats, whose entries are
# (file, line, function) -> (primitive calls, calls, own time, cumulative time, callers); a unit is
# whatever the bench profiled (a request, a call), n of them.

def profile_location(file: str, line: int, function: str) -> str:
    """file:line(function), the path relative to site-packages or the repository, to keep rows short."""
    for marker in ("site-packages/", f"{REPO_ROOT}/"):
        if marker in file:
            file = file.split(marker, 1)[1]
    return f"{file}:{line}({function})"


def app_functions_by_cumulative(stats: dict, n: int, top: int) -> list[tuple[float, float, str]]:
    """The application's own functions (apps/), heaviest cumulative time first."""
    return sorted(((ct / n * 1000, nc / n, profile_location(*key)) for key, (_cc, nc, _tt, ct, _c) in stats.items()
                   if key[0].startswith(str(REPO_ROOT / "apps"))), reverse=True)[:top]


def functions_by_own_time(stats: dict, n: int, top: int) -> list[tuple[float, float, str]]:
    """All functions, framework and library included, heaviest own time first."""
    return sorted(((tt / n * 1000, nc / n, profile_location(*key)) for key, (_cc, nc, tt, _ct, _c) in stats.items()),
                  reverse=True)[:top]


# --- the frame of a run ---------------------------------------------------------------------------

def add_run_options(parser, *, profile_help: str, show_queries_help: str, seed_help: str) -> None:
    """The options every bench takes after its own, in this order (so --help reads the same)."""
    parser.add_argument("--phase-time-limit", type=float, default=300, help="seconds per phase at most (300)")
    parser.add_argument("--profile", type=int, default=0, metavar="N", help=profile_help)
    parser.add_argument("--show-queries", action="store_true", help=show_queries_help)
    parser.add_argument("--keep-db", action="store_true", help="keep the bench database afterwards")
    parser.add_argument("--seed", type=int, default=20261122, help=seed_help)


def apply_quick_defaults(args, quick: dict, full: dict) -> None:
    """Fill the sizes left unset (None): explicit options win over --quick, --quick over the full run."""
    for name, value in (quick if args.quick else full).items():
        if getattr(args, name) is None:
            setattr(args, name, value)


def require_at_least_one(parser, args, names) -> None:
    """Stop with a usage error at the first of these sizes (attribute names) that is below 1."""
    for name in names:
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")


def speed_probe() -> float:
    """Milliseconds a fixed pure-Python loop takes, best of five (right after an idle spell the first
    ones run slow). The same code gave figures 40 % apart within minutes on this kind of virtual
    machine while no other process ran and /proc/stat showed little steal: the host slows the CPUs
    themselves. A run whose probe is slower than another's ran on a slower machine, whatever the code."""
    best = float("inf")
    for _ in range(5):
        began, total = time.perf_counter(), 0
        for i in range(2_000_000):
            total += i
        best = min(best, time.perf_counter() - began)
    return best * 1000


_probe_at_start: list[float] = []


def start_bench(name: str) -> BenchDatabase:
    """What every bench does before its try block: arm SIGTERM, name its database, say where it runs."""
    # A plain `kill` must still stop a server and drop the database: turn it into SystemExit so the
    # bench's finally block runs (gunicorn lives in its own session and would outlive us otherwise).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    db = BenchDatabase.for_bench(name)
    _probe_at_start[:] = [speed_probe()]
    print(f"{name} bench: {db.describe()}", flush=True)
    db.warn_if_not_postgresql()
    return db


def skipped_without_postgresql(db: BenchDatabase, figures: dict, why: str) -> bool:
    """For a bench that runs on PostgreSQL only: on SQLite, say so and mark the JSON line; the caller
    returns, exiting 0, so that `make bench` goes on to the next bench."""
    if db.is_postgresql:
        return False
    warn(f"bench/{figures['bench']}.py needs PostgreSQL ({why}): skipped; set DATABASE_URL=postgres://…")
    figures["skipped"] = "needs PostgreSQL"
    return True


def finish_bench(db: BenchDatabase, figures: dict, *, keep_db: bool, server: GunicornServer | None = None) -> None:
    """The finally block of every bench: stop the server, close Django's connections, keep or drop
    the database, and print the JSON line, which must come last whatever happened before."""
    # Cleanup must finish even if a second kill arrives now.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if server is not None:
        server.stop()
    try:
        from django.db import connections

        connections.close_all()
    except Exception:  # noqa: BLE001  (Django may never have been set up)
        pass
    if keep_db:
        print(f"kept the bench database: DATABASE_URL={db.url}")
    else:
        try:
            db.drop()
        except Exception as exc:  # noqa: BLE001
            warn(f"could not drop the bench database {db.name}: {exc}")
    probes = [*_probe_at_start, speed_probe()]
    print(f"speed probe              {' ms, then '.join(f'{ms:.0f}' for ms in probes)} ms (a fixed Python loop "
          f"at the start and the end; slower = a slower machine, not slower code)")
    print_json_line({**figures, "speed_probe_ms": [round(ms, 1) for ms in probes]})


# --- the warehouse benches' floor ------------------------------------------------------------------

PICK_PRODUCTS = ["成猫粮", "幼猫粮", "豆腐猫砂", "膨润土猫砂", "冻干鸡肉", "猫条", "狗粮", "磨牙棒", "宠物湿巾", "陶瓷碗"]


def seed_pick_floor(*, tag: str, warehouse_code: str, barcode_prefix: str, sku_count: int, stock_per_lot: int,
                    orders: int, max_units: int, number_base: int, rng, receiver, ship_by) -> dict:
    """What the warehouse benches pick from: a warehouse with a clerk who works it, a shop, SKUs
    (every third batch-tracked, in two lots) in stock at pick locations, and `orders` paid ready
    orders of 1–3 lines reserved FEFO. `receiver(number)` gives an order's receiver fields,
    `ship_by(now, number)` its promised ship-by."""
    import secrets
    from datetime import timedelta
    from decimal import Decimal

    from django.contrib.auth.models import Group
    from django.db import transaction
    from django.utils import timezone
    from guardian.shortcuts import assign_perm

    from apps.accounts.models import User
    from apps.catalog.models import SKU
    from apps.customers.models import Customer
    from apps.inventory.models import StockLevel, Warehouse
    from apps.inventory.services import reserve_for_order, stock_receive
    from apps.orders.models import Order, OrderLine, Shop

    warehouse = Warehouse.objects.create(code=warehouse_code, name="基准一号仓")
    shop = Shop.objects.create(code=f"bench-{tag}", name="基准宠物店", platform="douyin", default_warehouse=warehouse)
    clerk = User.objects.create_user("bench-clerk", password=secrets.token_urlsafe(16))
    clerk.groups.add(Group.objects.get(name="warehouse_clerk"))
    assign_perm("inventory.work_warehouse", clerk, warehouse)
    customer = Customer.objects.create(code=f"douyin:bench-{tag}", name="基准买家", phone="13800138000")
    today = timezone.localdate()
    skus = []
    for i in range(sku_count):
        tracked = i % 3 == 0
        sku = SKU.objects.create(code=f"{tag.upper()}-{i:03d}", barcode=f"{barcode_prefix}{i:010d}",
                                 name_zh=f"{PICK_PRODUCTS[i % 10]} {i}", batch_tracked=tracked,
                                 shelf_life_days=720 if tracked else None)
        lots = [("L%03dA" % i, 200), ("L%03dB" % i, 400)] if tracked else [("", None)]
        for lot, days in lots:
            stock_receive(warehouse_id=warehouse.pk, sku_id=sku.pk, quantity=stock_per_lot, actor=None, lot_number=lot,
                          expires_on=today + timedelta(days=days) if days else None)
        skus.append(sku)
    # A pick face per level: zone, aisle, shelf, in the order a picker walks them.
    for n, level in enumerate(StockLevel.objects.filter(warehouse=warehouse).order_by("sku__code", "pk")):
        StockLevel.objects.filter(pk=level.pk).update(
            location_code=f"{'ABCD'[n % 4]}-{n // 4 % 20 + 1:02d}-{n % 5 + 1}")

    now = timezone.now()
    for number in range(orders):
        chosen = rng.sample(skus, rng.randint(1, 3))
        quantities = [rng.randint(1, max_units) for _ in chosen]
        goods = sum((Decimal("19.90") * q for q in quantities), Decimal("0.00"))
        with transaction.atomic():
            order = Order.objects.create(
                shop=shop, external_id=f"dy_{number_base + number}", platform="douyin", customer=customer,
                warehouse=warehouse, status="ready", status_changed_at=now, payment_status="paid",
                province="浙江省", city="杭州市", goods_total=goods, grand_total=goods, paid_amount=goods,
                placed_at=now, paid_at=now, promised_ship_by=ship_by(now, number), **receiver(number))
            for line_no, (sku, quantity) in enumerate(zip(chosen, quantities), start=1):
                OrderLine.objects.create(order=order, line_no=line_no, sku=sku, name=sku.name_zh, quantity=quantity,
                                         unit_price=Decimal("19.90"), line_total=Decimal("19.90") * quantity)
            reserve_for_order(order, actor=None, on_shortfall="raise")
    return {"warehouse": warehouse, "shop": shop, "clerk": clerk, "skus": skus}
