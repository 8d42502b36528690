"""Reservation benchmark: stock reservations/s through stock_reserve_order, against raw SQL.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/orderhub .venv/bin/python bench/reserve.py [--quick]

Runs on a database of its own (`<dbname>_bench_reserve`, dropped afterwards; a temporary SQLite file
without a PostgreSQL DATABASE_URL), never on the one DATABASE_URL names. Phases, each with --workers
concurrent processes (16), each process with its own database connection:

  hot       every order wants 1 unit of the same SKU (3 batches): all workers queue on its levels
  spread    every order wants 1-3 units of one of 1,000 SKUs (3 batches each): little contention
  raw hot / raw spread
            the same shapes on fresh levels with hand-written SQL: one guarded UPDATE, one
            reservation row, one ledger row per transaction (no Django): the floor to compare with
  last units (not timed)
            32 workers race for the last 10 units (3 batches) of one SKU with 32 one-unit orders

After every phase the database is checked (ledger sums, bounds, every order fully reserved, FEFO).
Prints readable figures, then one JSON line with the figures and the targets (last line). Exit code
0 even when a target is missed; 1 on errors or a failed correctness check; 2 when the bench crashes.
"""
from __future__ import annotations

import argparse
import cProfile
import dataclasses
import multiprocessing
import os
import pstats
import random
import signal
import sys
import time
import traceback
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

sys.dont_write_bytecode = True  # no bench/__pycache__ next to the benchmarks
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402  (bench/ is not a package; its helper sits beside this file)
    BenchDatabase,
    PhaseResult,
    add_run_options,
    app_functions_by_cumulative,
    apply_quick_defaults,
    collect_reports,
    cpu_sample,
    crash_report,
    django_setup,
    failed_figures,
    finish_bench,
    functions_by_own_time,
    machine_text,
    other_load,
    postgres_cpu_by_pid,
    postgres_cpu_delta,
    print_correctness,
    print_failures,
    print_phase,
    reap,
    require_at_least_one,
    sqlite_write_transaction,
    start_bench,
    steal_load,
    verdict,
    warn,
    warn_if_machine_busy,
)

TARGET_HOT_PER_S = 500  # reservations/s on one SKU, 16 workers, 2-core reference machine
TARGET_SPREAD_PER_S = 1500  # reservations/s over 1,000 SKUs, 16 workers
LAST_UNITS = (4, 3, 3)  # the last 10 units, over 3 batches
LAST_ORDERS = 32
HISTORY_ORDERS = 2000  # reserved in setup: a production database's reservation table is not empty
LAST_WORKERS = 32
PRICE = Decimal("19.90")
# Batches expire well beyond any minimum remaining shelf life, so every unit is allocatable and
# FEFO only has to pick the earliest one.
EXPIRY_DAYS = (120, 240, 360)


# --- setup ----------------------------------------------------------------------------------------

def batch_sizes(demand: int) -> list[int]:
    """Three batches for a SKU whose orders want `demand` units in all: the two that expire first
    hold about a third each, so FEFO has to move on (and split orders) during the run; the last
    one covers the rest with a margin, so stock never runs out."""
    first = max(1, demand * 3 // 10)
    second = max(1, demand * 3 // 10)
    return [first, second, max(1, demand - first - second) + max(5, demand // 10)]


def create_skus(prefix: str, count: int, *, batch_tracked: bool) -> list[int]:
    from apps.catalog.models import SKU

    SKU.objects.bulk_create(
        [SKU(code=f"{prefix}-{n:04d}", name_zh=f"基准商品{prefix}{n:04d}", unit="件", weight_grams=250,
             batch_tracked=batch_tracked, shelf_life_days=540 if batch_tracked else None)
         for n in range(count)],
        batch_size=1000,
    )
    return list(SKU.objects.filter(code__startswith=f"{prefix}-").order_by("code").values_list("id", flat=True))


def create_orders(shop, customer_id: int, warehouse_id: int, wanted: list[tuple[int, int]], tag: str) -> list[int]:
    """Orders in status `ready`, paid, one line each ((sku id, quantity) per order), no reservations.
    Written with bulk_create: the service under test only ever sees them as rows."""
    from django.utils import timezone as dj_timezone

    from apps.core.phones import phone_tail
    from apps.orders.models import Order, OrderLine

    now = dj_timezone.now()
    orders = []
    for n, (_sku_id, quantity) in enumerate(wanted):
        goods_total = PRICE * quantity
        phone = f"138{n % 10**8:08d}"
        orders.append(Order(
            shop=shop, external_id=f"dy_bench_{tag}_{n:06d}", platform=shop.platform, customer_id=customer_id,
            buyer_nickname="基准买家", warehouse_id=warehouse_id, status="ready", status_changed_at=now,
            payment_status="paid", receiver_name="张三", receiver_phone=phone, phone_tail=phone_tail(phone),
            province="广东省", city="深圳市", district="南山区", address_detail="科技园南路18号", postal_code="518000",
            goods_total=goods_total, shipping_fee=Decimal("0.00"), discount_total=Decimal("0.00"),
            grand_total=goods_total, paid_amount=goods_total,  # grand = goods + shipping - discount
            placed_at=now - timedelta(minutes=10), paid_at=now - timedelta(minutes=9),
        ))
    Order.objects.bulk_create(orders, batch_size=2000)  # PostgreSQL and SQLite both return the pks
    names = dict(_sku_names({sku_id for sku_id, _q in wanted}))
    OrderLine.objects.bulk_create(
        [OrderLine(order=order, line_no=1, sku_id=sku_id, name=names[sku_id], quantity=quantity, unit_price=PRICE,
                   discount=Decimal("0.00"), line_total=PRICE * quantity)
         for order, (sku_id, quantity) in zip(orders, wanted)],
        batch_size=2000,
    )
    return [order.pk for order in orders]


def _sku_names(sku_ids):
    from apps.catalog.models import SKU

    return SKU.objects.filter(pk__in=list(sku_ids)).values_list("id", "name_zh")


def demand_by_sku(wanted: list[tuple[int, int]]) -> dict[int, int]:
    demand = defaultdict(int)
    for sku_id, quantity in wanted:
        demand[sku_id] += quantity
    return demand


def receipts_for(warehouse_id: int, sku_id: int, sizes: list[int], tag: str, today) -> list[dict]:
    """stock_receive arguments: one batch per size, expiring one after the other."""
    return [{"warehouse_id": warehouse_id, "sku_id": sku_id, "quantity": size, "actor": None,
             "lot_number": f"L{tag}-{sku_id}-{n}", "manufactured_on": today - timedelta(days=30),
             "expires_on": today + timedelta(days=EXPIRY_DAYS[n]), "reference": "bench"}
            for n, size in enumerate(sizes)]


def seed(args, rng: random.Random) -> dict:
    """Warehouse, shops, customer, SKUs, orders and the receipts to make; see the module docstring."""
    from django.utils import timezone as dj_timezone

    from apps.customers.models import Customer
    from apps.inventory.models import Warehouse
    from apps.orders.models import Shop

    today = dj_timezone.localdate()
    warehouse = Warehouse.objects.create(code="BENCH-WH", name="基准测试仓", province="广东省", city="东莞市",
                                         address="松山湖园区工业东路8号")
    # One shop per phase, so each phase's orders, reservations and holds can be counted on their own.
    shops = {name: Shop.objects.create(code=f"bench-{name}", name=f"基准店铺 {name}", platform="douyin",
                                       default_warehouse=warehouse)
             for name in ("hot", "spread", "raw-hot", "raw-spread", "last", "probe", "history")}
    customer = Customer.objects.create(code="douyin:bench-reserve", name="基准客户", kind=Customer.Kind.B2C,
                                       phone="13800138000")
    wh = warehouse.pk
    receipts = []
    ids = {"warehouse_id": wh, "customer_id": customer.pk, "shops": {k: s.pk for k, s in shops.items()}}

    # hot: one batch-tracked SKU, every order one unit.
    hot_sku = create_skus("HOT", 1, batch_tracked=True)[0]
    receipts += receipts_for(wh, hot_sku, batch_sizes(args.hot_orders), "H", today)
    ids["hot_skus"] = [hot_sku]
    ids["hot_orders"] = create_orders(shops["hot"], customer.pk, wh, [(hot_sku, 1)] * args.hot_orders, "hot")

    # spread: many batch-tracked SKUs, each order 1-3 units of a random one.
    spread_skus = create_skus("SPR", args.spread_skus, batch_tracked=True)
    wanted = [(rng.choice(spread_skus), rng.randint(1, 3)) for _ in range(args.spread_orders)]
    demand = demand_by_sku(wanted)
    for sku_id in spread_skus:
        receipts += receipts_for(wh, sku_id, batch_sizes(demand[sku_id]), "S", today)
    ids["spread_skus"] = spread_skus
    ids["spread_orders"] = create_orders(shops["spread"], customer.pk, wh, wanted, "spread")

    # raw: fresh levels of the same shapes. Not batch-tracked: one level per SKU, so the baseline is
    # exactly one guarded UPDATE per reservation (the floor, not a second FEFO implementation).
    raw_hot_sku = create_skus("RAWHOT", 1, batch_tracked=False)[0]
    receipts.append({"warehouse_id": wh, "sku_id": raw_hot_sku, "quantity": args.hot_orders + 10, "actor": None,
                     "reference": "bench"})
    raw_skus = create_skus("RAWSPR", args.spread_skus, batch_tracked=False)
    twin = dict(zip(spread_skus, raw_skus))
    raw_wanted = [(twin[sku_id], quantity) for sku_id, quantity in wanted]  # the same orders, SKU for SKU
    for raw_sku, sku_id in zip(raw_skus, spread_skus):
        receipts.append({"warehouse_id": wh, "sku_id": raw_sku, "quantity": demand[sku_id] + 5, "actor": None,
                         "reference": "bench"})
    ids["raw_hot_skus"] = [raw_hot_sku]
    ids["raw_spread_skus"] = raw_skus
    ids["raw_hot_orders"] = create_orders(shops["raw-hot"], customer.pk, wh, [(raw_hot_sku, 1)] * args.hot_orders,
                                          "rawhot")
    ids["raw_spread_orders"] = create_orders(shops["raw-spread"], customer.pk, wh, raw_wanted, "rawspread")

    # last units: 10 units over 3 batches, 32 one-unit orders.
    last_sku = create_skus("LAST", 1, batch_tracked=True)[0]
    receipts += receipts_for(wh, last_sku, list(LAST_UNITS), "L", today)
    ids["last_skus"] = [last_sku]
    ids["last_orders"] = create_orders(shops["last"], customer.pk, wh, [(last_sku, 1)] * LAST_ORDERS, "last")

    # probe (queries per call, profile): batches of 1, 1 and 10 units, then plenty for the profile.
    probe_sku = create_skus("PROBE", 1, batch_tracked=True)[0]
    receipts += receipts_for(wh, probe_sku, [1, 1, 10], "P", today)
    ids["probe_sku"] = probe_sku
    ids["probe_orders"] = create_orders(shops["probe"], customer.pk, wh, [(probe_sku, 1), (probe_sku, 2),
                                                                          (probe_sku, 100)], "probe")
    if args.profile:
        profile_sku = create_skus("PROF", 1, batch_tracked=True)[0]
        receipts += receipts_for(wh, profile_sku, batch_sizes(args.profile), "F", today)
        ids["profile_orders"] = create_orders(shops["probe"], customer.pk, wh, [(profile_sku, 1)] * args.profile,
                                              "profile")
    # history: reserved during setup, before the statistics are taken (see analyze).
    history_skus = create_skus("HIST", 20, batch_tracked=True)
    history = [(rng.choice(history_skus), 1) for _ in range(HISTORY_ORDERS)]
    history_demand = demand_by_sku(history)
    for sku_id in history_skus:
        receipts += receipts_for(wh, sku_id, batch_sizes(history_demand[sku_id]), "R", today)
    ids["history_orders"] = create_orders(shops["history"], customer.pk, wh, history, "history")
    ids["receipts"] = receipts
    return ids


def analyze(db: BenchDatabase) -> None:
    """Fresh statistics after the bulk setup, as a production database has them: without them the
    planner may scan where an index fits, and autovacuum's own ANALYZE would land mid-phase.
    Taken after the history orders are reserved: statistics of an empty reservation table made
    every worker's foreign-key check from the ledger to its reservation a sequential scan of the
    growing table for the whole run (7,309 scans reading 13.7 million rows in one full run)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # the same word on PostgreSQL and SQLite


# --- workers --------------------------------------------------------------------------------------

class ServiceReserve:
    """One call of the real service per order."""

    def prepare(self):
        from django.db import connection

        connection.ensure_connection()  # connecting is not part of the first call's latency

    def run(self, _state, order_id):
        from apps.inventory.services import stock_reserve_order

        stock_reserve_order(order_id=order_id, actor=None, on_shortfall="hold")

    def close(self, _state):
        from django.db import connection

        connection.close()


class ServiceReceive:
    """Setup: stock_receive through the service, so the ledger and the levels agree from the start."""

    prepare, close = ServiceReserve.prepare, ServiceReserve.close

    def run(self, _state, kwargs):
        from apps.inventory.services import stock_receive

        stock_receive(**kwargs)


RAW_UPDATE = ("UPDATE inventory_stocklevel SET reserved = reserved + {m}, updated_at = {m} "
              "WHERE id = {m} AND on_hand - reserved >= {m}")
RAW_RESERVATION = ("INSERT INTO inventory_reservation (order_line_id, stock_level_id, quantity, expires_at, state, "
                   "created_at, closed_at) VALUES ({m}, {m}, {m}, NULL, 'active', {m}, NULL)")
RAW_MOVE = ("INSERT INTO inventory_stockmove (stock_level_id, sku_id, type, on_hand_delta, reserved_delta, order_id, "
            "reservation_id, reference, note, actor_id, actor_label, is_intervention, created_at) "
            "VALUES ({m}, {m}, 'reserve', 0, {m}, {m}, {m}, {m}, '', NULL, 'system', {false}, {m})")


class RawReserve:
    """The floor: what a reservation must write, by hand, one transaction per order. updated_at is
    set because the service sets it too. psycopg's defaults apply, so from the 5th execution on the
    three statements run as server-side prepared statements (no parsing, no planning); Django's
    default client-side binding sends every query as new text. Part of the PostgreSQL CPU gap to the
    service figures is that, not the SQL itself."""

    def __init__(self, db: BenchDatabase):
        self.db = db

    def prepare(self):
        return self.db.raw_connection()

    def run(self, conn, item):
        order_id, line_id, level_id, sku_id, quantity, reference = item
        now = datetime.now(timezone.utc)
        if self.db.is_postgresql:
            m, false = "%s", "false"
            with conn.transaction():
                cur = conn.execute(RAW_UPDATE.format(m=m), (quantity, now, level_id, quantity))
                if cur.rowcount != 1:
                    raise RuntimeError(f"raw reserve: level {level_id} has fewer than {quantity} free units")
                reservation_id = conn.execute(RAW_RESERVATION.format(m=m) + " RETURNING id",
                                              (line_id, level_id, quantity, now)).fetchone()[0]
                conn.execute(RAW_MOVE.format(m=m, false=false),
                             (level_id, sku_id, quantity, order_id, reservation_id, reference, now))
            return
        # SQLite: Django keeps datetimes as naive UTC text.
        m, stamp = "?", now.replace(tzinfo=None).isoformat(" ")
        with sqlite_write_transaction(conn):
            cur = conn.execute(RAW_UPDATE.format(m=m), (quantity, stamp, level_id, quantity))
            if cur.rowcount != 1:
                raise RuntimeError(f"raw reserve: level {level_id} has fewer than {quantity} free units")
            reservation_id = conn.execute(RAW_RESERVATION.format(m=m), (line_id, level_id, quantity, stamp)).lastrowid
            conn.execute(RAW_MOVE.format(m=m, false="0"),
                         (level_id, sku_id, quantity, order_id, reservation_id, reference, stamp))

    def close(self, conn):
        conn.close()


def _worker_entry(slot, job, items, counter, sync, results, deadline):
    """One worker: connect, wait for the others, take item after item from the shared counter, and
    keep the connection open until the parent has read the database server's CPU counters."""
    import resource

    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # the parent's cleanup handler is not ours
    ready, go, release = sync
    state, prepared = None, False
    try:
        state = job.prepare()
        prepared = True
        ready.wait(60)  # every worker connected: the parent takes its "before" sample
        if not go.wait(60):
            raise RuntimeError("the parent never gave the start signal")
        usage = resource.getrusage(resource.RUSAGE_SELF)
        cpu_start = usage.ru_utime + usage.ru_stime
        latencies, errors, samples = [], 0, []
        start = time.monotonic()
        while time.monotonic() < deadline:
            with counter.get_lock():
                index = counter.value
                counter.value += 1
            if index >= len(items):
                break
            began = time.perf_counter()
            try:
                job.run(state, items[index])
            except Exception as exc:  # noqa: BLE001  (counted and reported, never ignored)
                errors += 1
                if len(samples) < 5:
                    samples.append(f"item {items[index]!r}: {type(exc).__name__}: {exc}")
                continue
            latencies.append(time.perf_counter() - began)
        end = time.monotonic()
        usage = resource.getrusage(resource.RUSAGE_SELF)
        results.put((slot, {"start": start, "end": end, "latencies": latencies, "errors": errors,
                            "samples": samples, "cpu": usage.ru_utime + usage.ru_stime - cpu_start}))
        release.wait(120)
    except BaseException:  # the parent must always hear back from every worker
        results.put((slot, crash_report()))
    finally:
        if prepared:
            try:
                job.close(state)
            except Exception:  # noqa: BLE001
                pass


def run_pool(name: str, job, items: list, workers: int, time_limit: float,
             db: BenchDatabase) -> tuple[PhaseResult, list[str]]:
    """Run job over items with `workers` forked processes; returns the phase and its problems.

    CPU is counted by party: the workers' own rusage over their timed loop, and the PostgreSQL
    processes serving the bench database between "all connected" and "all done" (the workers keep
    their connections until then, or their backends' CPU would leave /proc with them).
    """
    from django.db import connections

    # Fork copies this process, Django set up included; a connection open here would be shared by
    # every child's socket. Closed, each child opens its own on first use.
    connections.close_all()
    ctx = multiprocessing.get_context("fork")
    counter, results = ctx.Value("q", 0), ctx.Queue()
    ready, go, release = ctx.Barrier(workers + 1), ctx.Event(), ctx.Event()
    deadline = time.monotonic() + time_limit
    procs = [ctx.Process(target=_worker_entry, args=(i, job, items, counter, (ready, go, release), results,
                                                       deadline), daemon=True) for i in range(workers)]
    for proc in procs:
        proc.start()
    problems = []
    pg_name = db.name if db.is_postgresql else None
    try:
        ready.wait(90)
    except Exception:  # noqa: BLE001  (threading.BrokenBarrierError: a worker failed to connect)
        problems.append(f"{name}: not every worker connected within 90 s")
    pg_before, machine_before = (postgres_cpu_by_pid(pg_name) if pg_name else {}), cpu_sample(None)
    go.set()
    outcomes = collect_reports(results, workers, give_up=deadline + 90)  # calls in flight at the deadline
    pg_after, machine_after = (postgres_cpu_by_pid(pg_name) if pg_name else {}), cpu_sample(None)
    release.set()
    reap(procs, timeout=10)
    latencies, errors, starts, ends, worker_cpu = [], 0, [], [], 0.0
    # A worker that crashed or never reported back counts as one error: its items are not measured.
    for slot in set(range(workers)) - outcomes.keys():
        problems.append(f"{name}: worker {slot} never reported back")
        errors += 1
    for slot, outcome in sorted(outcomes.items()):
        if "crash" in outcome:
            problems.append(f"{name}: worker {slot} crashed:\n{outcome['crash']}")
            errors += 1
            continue
        latencies += outcome["latencies"]
        errors += outcome["errors"]
        starts.append(outcome["start"])
        ends.append(outcome["end"])
        worker_cpu += outcome["cpu"]
        problems += [f"{name}: {text}" for text in outcome["samples"]]
    done = len(latencies) + errors
    if done < len(items) and not problems:
        warn(f"{name}: time limit reached, {len(items) - done} items not run (figures cover the items run)")
    elapsed = (max(ends) - min(starts)) if starts else 0.0
    cpu = None
    if machine_before is not None and machine_after is not None:
        # The machine's busy, steal and wall time from the samples; the parties counted on their own.
        cpu = dataclasses.replace(machine_after - machine_before, server=0.0,
                                  postgres=postgres_cpu_delta(pg_before, pg_after), clients=worker_cpu)
    return PhaseResult(name, len(latencies), errors, elapsed, latencies, cpu, db.is_postgresql), problems


def cpu_text(result: PhaseResult) -> str:
    """CPU per reservation by party: the worker processes (Python, Django or psycopg) and PostgreSQL."""
    used = result.cpu
    if used is None or result.count == 0 or used.wall <= 0:
        return "  CPU per reservation: not measured (no /proc)"
    per = lambda seconds: seconds / result.count * 1000  # noqa: E731
    postgres = f"postgres {per(used.postgres):.2f} ms, " if result.cpu_has_postgres else ""
    return f"  CPU per reservation: workers {per(used.clients):.2f} ms, {postgres}{machine_text(used)}"


# --- correctness ----------------------------------------------------------------------------------

def verify_levels() -> list[str]:
    """Across the whole database: the ledger sums to the levels, and no level is out of bounds."""
    from django.db.models import F, Q

    from apps.inventory.models import StockLevel
    from apps.inventory.services import ledger_matches_levels

    problems = []
    wrong = ledger_matches_levels()
    if wrong:
        problems.append(f"ledger_matches_levels(): {len(wrong)} level(s) differ from their ledger, e.g. {wrong[:3]}")
    bad = StockLevel.objects.filter(Q(reserved__gt=F("on_hand")) | Q(reserved__lt=0) | Q(on_hand__lt=0))
    if bad.exists():
        problems.append(f"{bad.count()} stock level(s) with reserved > on_hand or a negative figure, "
                        f"e.g. {list(bad.values('id', 'on_hand', 'reserved')[:3])}")
    return problems


def verify_phase(name: str, shop_id: int, sku_ids: list[int], *, expect_held: int = 0) -> tuple[list[str], dict]:
    """The orders of one phase: each fully reserved from its own SKU, or (only where stock ran out)
    short with an open out_of_stock hold; the SKUs' levels match their reservations; FEFO held."""
    from django.db.models import F, Sum

    from apps.inventory.models import Reservation, StockLevel
    from apps.orders.models import HoldType, OrderHold, OrderLine

    problems = []
    lines = list(OrderLine.objects.filter(order__shop_id=shop_id).values_list("id", "order_id", "sku_id", "quantity"))
    active = Reservation.objects.filter(order_line__order__shop_id=shop_id, state=Reservation.State.ACTIVE)
    reserved = dict(active.values("order_line_id").annotate(total=Sum("quantity"))
                    .values_list("order_line_id", "total"))
    rows_per_line = defaultdict(int)
    for line_id in active.values_list("order_line_id", flat=True):
        rows_per_line[line_id] += 1
    open_holds = list(OrderHold.objects.filter(order__shop_id=shop_id, released_at__isnull=True)
                      .values_list("order_id", "type"))
    held = {order_id for order_id, kind in open_holds if kind == HoldType.OUT_OF_STOCK}
    other_holds = [(o, k) for o, k in open_holds if k != HoldType.OUT_OF_STOCK]
    full = short_held = 0
    wrong = []
    for line_id, order_id, _sku_id, quantity in lines:
        got = reserved.get(line_id, 0)
        if got == quantity and order_id not in held:
            full += 1
        elif got < quantity and order_id in held:
            short_held += 1
        else:
            wrong.append((order_id, quantity, got, order_id in held))
    # One reservation row per level used: a one-unit order has exactly one, a larger one at most
    # one per unit and per batch (three batches per SKU here).
    odd_rows = [(line_id, quantity, rows_per_line.get(line_id, 0)) for line_id, _o, _s, quantity in lines
                if reserved.get(line_id, 0) == quantity and not 1 <= rows_per_line.get(line_id, 0) <= min(quantity, 3)]
    if odd_rows:
        problems.append(f"{name}: {len(odd_rows)} fully reserved line(s) with an unexpected number of reservation "
                        f"rows (line, quantity, rows), e.g. {odd_rows[:3]}")
    if wrong:
        problems.append(f"{name}: {len(wrong)} order(s) neither fully reserved nor short with an out_of_stock hold "
                        f"(order, wanted, reserved, held), e.g. {wrong[:3]}")
    if other_holds:
        problems.append(f"{name}: unexpected holds {other_holds[:3]}")
    if short_held != expect_held:
        problems.append(f"{name}: {short_held} order(s) on out_of_stock hold, expected {expect_held}")
    foreign = active.exclude(stock_level__sku_id=F("order_line__sku_id")).count()
    if foreign:
        problems.append(f"{name}: {foreign} reservation(s) on a level of another SKU")
    units = sum(reserved.values())
    level_units = StockLevel.objects.filter(sku_id__in=sku_ids).aggregate(s=Sum("reserved"))["s"] or 0
    if level_units != units:
        problems.append(f"{name}: levels of the phase's SKUs show {level_units} reserved, reservations {units}")
    problems += verify_fefo(name, sku_ids)
    facts = {"orders": len(lines), "fully_reserved": full, "held": short_held, "units": units,
             "reservation_rows": sum(rows_per_line.values()),
             "split_orders": sum(1 for n in rows_per_line.values() if n > 1)}
    return problems, facts


def verify_fefo(name: str, sku_ids: list[int]) -> list[str]:
    """First expired, first out: stock only goes down during a phase, so a batch with reservations
    means every batch expiring before it has no free unit left."""
    from apps.inventory.models import StockLevel

    levels = defaultdict(list)
    for level in StockLevel.objects.filter(sku_id__in=sku_ids, bucket="sellable").select_related("batch"):
        levels[level.sku_id].append(level)
    broken = []
    for sku_id, rows in levels.items():
        rows.sort(key=lambda lv: (lv.batch.expires_on if lv.batch_id and lv.batch.expires_on else datetime.max.date(),
                                  lv.pk))
        for index, level in enumerate(rows):
            if level.reserved > 0 and any(earlier.available > 0 for earlier in rows[:index]):
                broken.append(sku_id)
                break
    return [f"{name}: FEFO broken for {len(broken)} SKU(s), e.g. {broken[:3]}"] if broken else []


# --- in-process measurements (queries per call, profile) ------------------------------------------

def count_queries(order_ids: list[int]) -> list[tuple[int, list[str]]]:
    """Statements of each stock_reserve_order call (BEGIN is implicit in psycopg; COMMIT counted)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from apps.inventory.services import stock_reserve_order

    out = []
    for order_id in order_ids:
        with CaptureQueriesContext(connection) as captured:
            stock_reserve_order(order_id=order_id, actor=None, on_shortfall="hold")
        out.append((len(captured.captured_queries), [q["sql"] for q in captured.captured_queries]))
    return out


def profile_calls(order_ids: list[int], top: int = 25) -> str:
    """cProfile stock_reserve_order in this process, one call after another (no lock waits)."""
    from apps.inventory.services import stock_reserve_order

    profiler = cProfile.Profile()
    began = time.perf_counter()
    profiler.enable()
    for order_id in order_ids:
        stock_reserve_order(order_id=order_id, actor=None, on_shortfall="hold")
    profiler.disable()
    wall = (time.perf_counter() - began) / len(order_ids) * 1000
    n = len(order_ids)
    stats = pstats.Stats(profiler).stats

    def table(title, rows):
        return "\n".join([title, f"  {'ms/call':>8} {'calls/call':>10}  function"]
                         + [f"  {ms:8.3f} {calls:10.1f}  {name}" for ms, calls, name in rows])

    app = app_functions_by_cumulative(stats, n, top)
    own = functions_by_own_time(stats, n, top)
    return "\n\n".join([
        f"profile of {n} stock_reserve_order calls in-process, one after another: {wall:.2f} ms per call under "
        f"the profiler, which inflates Python-heavy code about 2-3x; compare shares, not absolutes",
        table("app functions by cumulative time", app),
        table("all functions by own time", own),
    ])


# --- main -----------------------------------------------------------------------------------------

def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hot-orders", type=int, help="orders of the hot phase, 1 unit each (4000; --quick 300)")
    parser.add_argument("--spread-orders", type=int, help="orders of the spread phase (8000; --quick 600)")
    parser.add_argument("--spread-skus", type=int, help="SKUs of the spread phase (1000; --quick 100)")
    parser.add_argument("--workers", type=int, default=16, help="concurrent worker processes per phase (16)")
    parser.add_argument("--quick", action="store_true",
                        help="small run (about 15 s); options given explicitly still apply")
    add_run_options(
        parser,
        profile_help="also cProfile N stock_reserve_order calls in-process and print hot spots",
        show_queries_help="print the SQL of one reservation call",
        seed_help="random seed of the spread orders",
    )
    args = parser.parse_args(argv)
    apply_quick_defaults(args, quick={"hot_orders": 300, "spread_orders": 600, "spread_skus": 100},
                         full={"hot_orders": 4000, "spread_orders": 8000, "spread_skus": 1000})
    require_at_least_one(parser, args, ("hot_orders", "spread_orders", "spread_skus", "workers"))
    if args.profile < 0:
        parser.error("--profile must not be negative")
    return args


def raw_items(order_ids: list[int]) -> list[tuple]:
    """(order, line, level, sku, quantity, reference) per order: the raw baseline looks nothing up."""
    from apps.inventory.models import StockLevel
    from apps.orders.models import OrderLine

    lines = {order_id: (line_id, sku_id, quantity) for line_id, order_id, sku_id, quantity in
             OrderLine.objects.filter(order_id__in=order_ids).values_list("id", "order_id", "sku_id", "quantity")}
    sku_ids = {sku_id for _l, sku_id, _q in lines.values()}
    levels = dict(StockLevel.objects.filter(sku_id__in=sku_ids, batch__isnull=True, bucket="sellable")
                  .values_list("sku_id", "id"))
    externals = dict(_external_ids(order_ids))
    return [(order_id, lines[order_id][0], levels[lines[order_id][1]], lines[order_id][1], lines[order_id][2],
             f"order:{externals[order_id]}") for order_id in order_ids]


def _external_ids(order_ids):
    from apps.orders.models import Order

    return Order.objects.filter(pk__in=order_ids).values_list("id", "external_id")


def main(argv=None) -> int:
    args = parse_args(argv)
    db = start_bench("reserve")
    problems: list[str] = []  # failed correctness checks
    error_notes: list[str] = []  # what the failed calls raised
    figures: dict = {"bench": "reserve", "database": db.engine, "failed": True, "errors": None,
                     "correctness_ok": False, "target_hot_per_s": TARGET_HOT_PER_S,
                     "target_spread_per_s": TARGET_SPREAD_PER_S}
    try:
        began = time.monotonic()
        db.recreate()
        db.migrate()
        django_setup(db)
        rng = random.Random(args.seed)
        ids = seed(args, rng)
        setup, setup_problems = run_pool("setup: stock_receive", ServiceReceive(), ids["receipts"],
                                         min(args.workers, 4), args.phase_time_limit, db)
        if setup_problems or setup.errors or setup.count != len(ids["receipts"]):
            raise RuntimeError("setup receipts failed:\n" + "\n".join(setup_problems[:10]))
        history, history_problems = run_pool("setup: history reservations", ServiceReserve(), ids["history_orders"],
                                             min(args.workers, 4), args.phase_time_limit, db)
        if history_problems or history.errors or history.count != len(ids["history_orders"]):
            raise RuntimeError("setup history failed:\n" + "\n".join(history_problems[:10]))
        analyze(db)
        print(f"setup: {len(ids['receipts'])} receipts, {sum(len(ids[k]) for k in ids if k.endswith('_orders'))} "
              f"orders in {time.monotonic() - began:.1f} s (migrations included)", flush=True)

        # Queries per call, in this process: a one-level reservation, one split over two batches,
        # one short (reserves the rest and opens an out_of_stock hold), and a repeat (nothing to do).
        probe = ids["probe_orders"]
        queries = count_queries([probe[0], probe[1], probe[2], probe[0]])
        q_one, q_split, q_short, q_repeat = (q[0] for q in queries)
        if args.show_queries:
            print(f"\nSQL of one reservation call (one level), {q_one} statements:")
            for n, sql in enumerate(queries[0][1], start=1):
                print(f"  {n:2d}. {sql[:240]}")
            print()
        if args.profile:
            print(profile_calls(ids["profile_orders"]), flush=True)
        problems += verify_levels()

        warn_if_machine_busy()
        print(f"{args.workers} worker processes, one connection each; {os.cpu_count()} CPUs", flush=True)

        results, facts = {}, {}
        phases = [
            ("hot", f"service, hot (1 SKU), {args.workers} w", ServiceReserve(), ids["hot_orders"], "hot", "hot_skus"),
            ("spread", f"service, spread ({args.spread_skus} SKUs), {args.workers} w", ServiceReserve(),
             ids["spread_orders"], "spread", "spread_skus"),
            ("raw_hot", f"raw SQL, hot, {args.workers} w", RawReserve(db), None, "raw-hot", "raw_hot_skus"),
            ("raw_spread", f"raw SQL, spread, {args.workers} w", RawReserve(db), None, "raw-spread",
             "raw_spread_skus"),
        ]
        for key, name, job, items, shop, skus in phases:
            if items is None:
                items = raw_items(ids[f"{key}_orders"])
            result, phase_problems = run_pool(name, job, items, args.workers, args.phase_time_limit, db)
            results[key] = result
            error_notes += phase_problems
            print_phase(result, cpu_text(result))  # CPU by our own parties: workers and PostgreSQL
            checked, facts[key] = verify_phase(key, ids["shops"][shop], ids[skus])
            problems += checked + verify_levels()
            f = facts[key]
            print(f"  checked: {f['fully_reserved']}/{f['orders']} orders fully reserved, {f['units']} units in "
                  f"{f['reservation_rows']} reservations ({f['split_orders']} orders split over two batches), "
                  f"{f['held']} on hold", flush=True)

        # Last units: not timed; 32 workers, 32 one-unit orders, 10 units.
        last, last_problems = run_pool("last units", ServiceReserve(), ids["last_orders"], LAST_WORKERS,
                                       args.phase_time_limit, db)
        error_notes += last_problems
        checked, last_facts = verify_phase("last units", ids["shops"]["last"], ids["last_skus"],
                                           expect_held=LAST_ORDERS - sum(LAST_UNITS))
        checked += verify_levels()
        if last_facts["units"] != sum(LAST_UNITS):
            checked.append(f"last units: {last_facts['units']} units reserved, expected {sum(LAST_UNITS)}")
        problems += checked
        last_ok = not checked and last.errors == 0 and not last_problems
        print(f"last units (not timed): {LAST_WORKERS} workers, {LAST_ORDERS} one-unit orders, {sum(LAST_UNITS)} units "
              f"in {len(LAST_UNITS)} batches -> {last_facts['units']} reserved, {last_facts['held']} on out_of_stock "
              f"hold, ledger {'consistent' if not verify_levels() else 'INCONSISTENT'}: "
              f"{'ok' if last_ok else 'FAILED'}", flush=True)

        hot, spread, raw_hot, raw_spread = (results[k] for k in ("hot", "spread", "raw_hot", "raw_spread"))
        errors = sum(r.errors for r in results.values()) + last.errors
        hot_met, spread_met = hot.per_s >= TARGET_HOT_PER_S, spread.per_s >= TARGET_SPREAD_PER_S
        print()
        print(f"database                 {db.engine}")
        print(f"queries per call         {q_one} (one level), {q_split} (split over two batches), {q_short} (short: "
              f"hold opened), {q_repeat} (already reserved); counted in-process, COMMIT included")
        print(f"service vs raw SQL       hot {hot.per_s:.0f}/s vs {raw_hot.per_s:.0f}/s; "
              f"spread {spread.per_s:.0f}/s vs {raw_spread.per_s:.0f}/s")
        print_correctness(problems, "ledger sums to the levels, no level over-reserved, every order fully "
                                    "reserved FEFO, last units exact")
        print_failures(errors, error_notes, problems)
        print(f"target hot               >= {TARGET_HOT_PER_S}/s: {hot.per_s:.1f}/s -> {verdict(hot_met)}")
        print(f"target spread            >= {TARGET_SPREAD_PER_S}/s: {spread.per_s:.1f}/s -> {verdict(spread_met)}")
        figures = {
            "bench": "reserve",
            "database": db.engine,
            "hot_per_s": hot.per_s,
            "hot_p50_ms": hot.ms(50),
            "hot_p95_ms": hot.ms(95),
            "spread_per_s": spread.per_s,
            "spread_p50_ms": spread.ms(50),
            "spread_p95_ms": spread.ms(95),
            "raw_hot_per_s": raw_hot.per_s,
            "raw_hot_p95_ms": raw_hot.ms(95),
            "raw_spread_per_s": raw_spread.per_s,
            "raw_spread_p95_ms": raw_spread.ms(95),
            "cpu_ms_per_reservation_workers": spread.cpu_ms_per_order("clients"),
            "cpu_ms_per_reservation_postgres": spread.cpu_ms_per_order("postgres"),
            "queries_per_call": q_one,
            "queries_per_call_split": q_split,
            "other_load_cpus": max(other_load(r.cpu) for r in results.values()),
            "steal_cpus": max(steal_load(r.cpu) for r in results.values()),
            "hot_orders": len(ids["hot_orders"]),
            "spread_orders": len(ids["spread_orders"]),
            "spread_skus": args.spread_skus,
            "workers": args.workers,
            "last_units_ok": last_ok,
            "errors": errors,
            "correctness_ok": not problems,
            "cpus": os.cpu_count(),
            "target_hot_per_s": TARGET_HOT_PER_S,
            "target_spread_per_s": TARGET_SPREAD_PER_S,
            "target_met": hot_met and spread_met,
        }
        return 0 if errors == 0 and not problems else 1
    except Exception:
        traceback.print_exc()
        figures = failed_figures("reserve", db, target_hot_per_s=TARGET_HOT_PER_S,
                                 target_spread_per_s=TARGET_SPREAD_PER_S)
        return 2
    finally:
        finish_bench(db, figures, keep_db=args.keep_db)


if __name__ == "__main__":
    sys.exit(main())
