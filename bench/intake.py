"""Intake benchmark: orders/s and latency of POST /api/v1/orders/ through gunicorn, against raw SQL.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/orderhub .venv/bin/python bench/intake.py [--quick]

Runs on a database of its own (`<dbname>_bench_intake`, dropped afterwards; a temporary SQLite file
without a PostgreSQL DATABASE_URL), never on the one DATABASE_URL names. Phases:

  warm-up (not counted) -> 1 client -> 8 clients -> correctness checks and 20 replays
  -> raw-SQL baseline (same rows, one transaction per order, no Django, no HTTP)

Prints readable figures, then one JSON line with the figures and the target (last line). Exit code
0 even when the target is missed; 1 on request errors or a failed correctness check.
"""
from __future__ import annotations

import argparse
import cProfile
import hashlib
import http.client
import json
import multiprocessing
import os
import pstats
import queue
import random
import sys
import threading
import time
import traceback
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

sys.dont_write_bytecode = True  # no bench/__pycache__ next to the benchmarks
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402  (bench/ is not a package; its helper sits beside this file)
    BenchDatabase,
    GunicornServer,
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
    other_load,
    print_correctness,
    print_failures,
    print_phase,
    profile_location,
    reap,
    require_at_least_one,
    sqlite_write_transaction,
    start_bench,
    steal_load,
    verdict,
    warn,
    warn_if_machine_busy,
)

TARGET_ORDERS_PER_S = 250  # through HTTP with 8 clients on the 2-core reference machine
INTAKE_PATH = "/api/v1/orders/"
SKU_COUNT = 50
BUYER_POOL = 5000  # repeat buyers exist, as in real traffic; most orders still create a customer
CST = timezone(timedelta(hours=8))

# Worker setup. Measured on the 2-core reference machine (PostgreSQL 15 on the same host, 8 client
# processes, 2000 orders, machine otherwise idle), orders/s and p95:
#   sync3       98.5/s  95.4/s   p95 100-104 ms   <- default
#   sync4       90.7/s           p95 112 ms       (a 4th process only adds switching; the CPUs are full)
#   gthread2x4  91.1/s           p95 134 ms       (machine only 95% busy: threads queue on the GIL)
#   gthread3x2  85.3/s           p95 142 ms       (91% busy)
# With the intake made cheaper (prototype of the changes in bench/README.md) the order held: sync3
# 239/s, sync4 231/s, gthread2x4 194/s. The work is CPU-bound Python; separate processes, about one
# per core plus one to cover the time a worker waits on PostgreSQL, use both CPUs best. Clients as
# threads instead of processes measured the same (93.7/s; ~0.5 ms client CPU per order either way),
# but processes keep the client's GIL out of the latency figures.
SERVER_CHOICES = {
    "sync3": ["--worker-class", "sync", "--workers", "3"],
    "sync4": ["--worker-class", "sync", "--workers", "4"],
    "gthread2x4": ["--worker-class", "gthread", "--workers", "2", "--threads", "4"],
    "gthread3x2": ["--worker-class", "gthread", "--workers", "3", "--threads", "2"],
}
DEFAULT_SERVER = "sync3"


# --- payloads -------------------------------------------------------------------------------------

REGIONS = [
    ("广东省", "深圳市", "南山区", "518000"), ("广东省", "广州市", "天河区", "510630"),
    ("浙江省", "杭州市", "西湖区", "310012"), ("上海市", "上海市", "浦东新区", "200120"),
    ("北京市", "北京市", "朝阳区", "100020"), ("四川省", "成都市", "武侯区", "610041"),
    ("江苏省", "南京市", "鼓楼区", "210008"), ("湖北省", "武汉市", "洪山区", "430070"),
    ("山东省", "青岛市", "市南区", "266001"), ("福建省", "厦门市", "思明区", "361001"),
]
STREETS = ["科技园南路", "文三路", "世纪大道", "建国路", "人民南路", "中山北路", "珞喻路", "香港中路", "湖滨南路"]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高"
GIVEN = ["伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "洋", "艳", "勇", "军", "杰", "娟", "涛", "明", "超", "秀英"]
PRODUCTS = ["有机绿茶", "五常大米", "山茶油", "东北木耳", "云南普洱", "宁夏枸杞", "新疆红枣", "蜂蜜", "核桃仁", "龙井茶"]
REMARKS = ["", "", "", "请尽快发货", "周末送货", "不要放快递柜", "发顺丰"]


def sku_catalogue() -> list[tuple[str, str, Decimal]]:
    """(code, Chinese name, list price) of the bench SKUs; prices are whole cents."""
    rng = random.Random(50)
    return [
        (f"BENCH-{i:03d}", f"{PRODUCTS[i % len(PRODUCTS)]} {250 * (1 + i % 4)}g",
         Decimal(rng.randrange(990, 39900)) / 100)
        for i in range(SKU_COUNT)
    ]


def make_payload(rng: random.Random, serial: str, skus, now: datetime) -> dict:
    """A realistic Douyin intake payload whose money adds up exactly (all amounts as strings)."""
    province, city, district, postal = rng.choice(REGIONS)
    receiver = rng.choice(SURNAMES) + rng.choice(GIVEN)
    lines, goods_total = [], Decimal("0.00")
    for code, _name, price in rng.sample(skus, rng.randint(1, 3)):
        quantity = rng.randint(1, 5)
        discount = rng.choice([Decimal("0.00"), Decimal("0.00"), Decimal("1.00"), Decimal("5.50")])
        line_total = price * quantity - discount
        goods_total += line_total
        lines.append({"sku": code, "quantity": quantity, "unit_price": str(price), "discount": str(discount),
                      "line_total": str(line_total)})
    shipping_fee = rng.choice([Decimal("0.00"), Decimal("0.00"), Decimal("6.00"), Decimal("12.00")])
    discount_total = rng.choice([Decimal("0.00"), Decimal("0.00"), Decimal("3.00"), Decimal("10.00")])
    grand_total = goods_total + shipping_fee - discount_total  # goods_total >= 9.90 - 5.50 > 0
    if grand_total < 0:
        discount_total, grand_total = Decimal("0.00"), goods_total + shipping_fee
    placed_at = now - timedelta(minutes=rng.randint(2, 600))
    paid_at = placed_at + timedelta(seconds=rng.randint(20, 90))
    buyer = rng.randrange(BUYER_POOL)
    return {
        "external_id": f"dy_{serial}",
        "placed_at": placed_at.isoformat(timespec="seconds"),
        "paid_at": paid_at.isoformat(timespec="seconds"),
        "paid_amount": str(grand_total),
        "buyer": {"id": f"dyb{buyer:07d}", "nickname": f"抖音用户{buyer:05d}"},
        "address": {
            "receiver": receiver,
            "phone": f"1{rng.choice('3456789')}{rng.randrange(10**9):09d}",
            "province": province, "city": city, "district": district,
            "detail": f"{rng.choice(STREETS)}{rng.randint(1, 999)}号{rng.randint(1, 30)}栋{rng.randint(1, 4)}单元"
                      f"{rng.randint(1, 32)}{rng.randint(1, 4):02d}室",
            "postal_code": postal,
        },
        "lines": lines,
        "shipping_fee": str(shipping_fee),
        "discount_total": str(discount_total),
        "goods_total": str(goods_total),
        "grand_total": str(grand_total),
        "buyer_remark": rng.choice(REMARKS),
    }


class PayloadFactory:
    """Unique order numbers across the whole run: dy_<run id><phase letter><serial>."""

    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self.run_id = f"{int(time.time()) % 100000:05d}"
        self.skus = sku_catalogue()
        self.now = datetime.now(CST).replace(microsecond=0)

    def batch(self, tag: str, count: int) -> list[dict]:
        return [make_payload(self.rng, f"{self.run_id}{tag}{n:07d}", self.skus, self.now) for n in range(count)]


def encode(payload: dict) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


# --- setup ----------------------------------------------------------------------------------------

def seed(skus, stock_per_sku: int) -> dict:
    """One Douyin shop with warehouse, stocked SKUs and an API token; a second shop for the raw-SQL rows."""
    from apps.catalog.models import SKU
    from apps.customers.models import Customer
    from apps.inventory.models import Warehouse
    from apps.inventory.services import stock_receive
    from apps.orders.models import Shop, ShopApiToken

    warehouse = Warehouse.objects.create(code="BENCH-WH", name="基准测试仓", province="广东省", city="东莞市",
                                         address="松山湖园区工业东路8号")
    shop = Shop.objects.create(code="bench-dy", name="基准抖音旗舰店", platform="douyin", default_warehouse=warehouse)
    # The baseline writes to its own shop so both sets of rows can be counted separately.
    raw_shop = Shop.objects.create(code="bench-raw", name="基准原生SQL店", platform="douyin",
                                   default_warehouse=warehouse)
    SKU.objects.bulk_create(SKU(code=code, name_zh=name, unit="袋", weight_grams=300) for code, name, _p in skus)
    # Intake reserves stock. Without it every order would also open an out_of_stock hold, which is
    # not the path a normal order takes; received through the service, so the ledger matches.
    for sku_id in SKU.objects.filter(code__in=[code for code, _n, _p in skus]).values_list("id", flat=True):
        stock_receive(warehouse_id=warehouse.pk, sku_id=sku_id, quantity=stock_per_sku, actor=None,
                      reference="bench intake")
    raw, prefix, key_hash = ShopApiToken.generate()
    ShopApiToken.objects.create(shop=shop, name="bench intake", prefix=prefix, key_hash=key_hash)
    customer = Customer.objects.create(code="douyin:bench-raw-baseline", name="基准客户", kind=Customer.Kind.B2C,
                                       phone="13800138000")
    return {"shop_id": shop.pk, "raw_shop_id": raw_shop.pk, "warehouse_id": warehouse.pk,
            "customer_id": customer.pk, "token": raw,
            "sku_ids": dict(SKU.objects.values_list("code", "id"))}


# --- HTTP clients ---------------------------------------------------------------------------------

def client_loop(port: int, token: str, bodies: list[bytes], deadline: float) -> dict:
    """Post bodies one after another on one connection (a sync worker closes it after each answer;
    http.client then reconnects by itself)."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json", "Accept": "application/json"}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    latencies, ok, errors, error_samples = [], [], 0, []
    start = time.monotonic()
    for index, body in enumerate(bodies):
        if time.monotonic() > deadline:
            break
        began = time.perf_counter()
        try:
            conn.request("POST", INTAKE_PATH, body=body, headers=headers)
            response = conn.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException) as exc:
            conn.close()  # a fresh connection for the next order
            errors += 1
            error_samples.append((index, f"{type(exc).__name__}: {exc}"))
            continue
        elapsed = time.perf_counter() - began
        if response.status == 201:
            latencies.append(elapsed)
            ok.append(index)
        else:
            errors += 1
            error_samples.append((index, f"HTTP {response.status}: {data[:400].decode(errors='replace')}"))
    end = time.monotonic()
    conn.close()
    return {"start": start, "end": end, "latencies": latencies, "ok": ok, "errors": errors,
            "error_samples": error_samples[:5], "unsent": len(bodies) - len(ok) - errors}


def _client_entry(slot, port, token, bodies, deadline, barrier, results):
    try:
        barrier.wait(60)  # every client starts together, so the phase's wall clock is fair
        results.put((slot, client_loop(port, token, bodies, deadline)))
    except BaseException:  # the parent must always hear back from every client
        results.put((slot, crash_report()))


def run_clients(name: str, server: GunicornServer, token: str, bodies: list[bytes], clients: int, mode: str,
                time_limit: float, db_name: str | None) -> tuple[PhaseResult, set[int], list[str]]:
    """Split bodies over `clients` concurrent clients; returns the phase result and the indices that got 201."""
    port = server.port
    cpu_before = cpu_sample(server.pid, db_name)
    chunks = [bodies[i::clients] for i in range(clients)]
    offsets = [list(range(i, len(bodies), clients)) for i in range(clients)]
    deadline = time.monotonic() + time_limit
    if mode == "process":
        # fork: children inherit the encoded bodies without pickling; they only speak HTTP.
        ctx = multiprocessing.get_context("fork")
        barrier, results = ctx.Barrier(clients), ctx.Queue()
        workers = [ctx.Process(target=_client_entry, args=(i, port, token, chunks[i], deadline, barrier, results),
                               daemon=True) for i in range(clients)]
    else:
        barrier, results = threading.Barrier(clients), queue.Queue()
        workers = [threading.Thread(target=_client_entry, args=(i, port, token, chunks[i], deadline, barrier, results),
                                    daemon=True) for i in range(clients)]
    for worker in workers:
        worker.start()
    # 90 s past the deadline: requests in flight then still have their 30 s socket timeout.
    outcomes = collect_reports(results, clients, give_up=deadline + 90)
    reap(workers, timeout=5)
    problems = []
    latencies, ok, errors, starts, ends, unsent = [], set(), 0, [], [], 0
    for slot in set(range(clients)) - outcomes.keys():
        problems.append(f"{name}: client {slot} never reported back; its {len(chunks[slot])} orders count as errors")
        errors += len(chunks[slot])
    for slot, outcome in outcomes.items():
        if "crash" in outcome:
            problems.append(f"{name}: client {slot} crashed:\n{outcome['crash']}")
            errors += len(chunks[slot])
            continue
        latencies += outcome["latencies"]
        ok.update(offsets[slot][i] for i in outcome["ok"])
        errors += outcome["errors"]
        unsent += outcome["unsent"]
        starts.append(outcome["start"])
        ends.append(outcome["end"])
        problems += [f"{name}: {json.loads(chunks[slot][i])['external_id']}: {text}"
                     for i, text in outcome["error_samples"]]
    cpu_after = cpu_sample(server.pid, db_name)
    if unsent:
        warn(f"{name}: time limit reached, {unsent} orders not sent (figures cover the orders sent)")
    elapsed = (max(ends) - min(starts)) if starts else 0.0
    cpu = cpu_after - cpu_before if cpu_before and cpu_after else None
    return PhaseResult(name, len(ok), errors, elapsed, latencies, cpu, db_name is not None), ok, problems


# --- raw-SQL baseline ---------------------------------------------------------------------------

ORDER_COLUMNS = (
    "created_at", "updated_at", "shop_id", "external_id", "platform", "customer_id", "buyer_nickname",
    "warehouse_id", "status", "status_changed_at", "status_before_intercept", "payment_status", "receiver_name",
    "receiver_phone", "phone_tail", "province", "city", "district", "address_detail", "postal_code", "currency",
    "goods_total", "shipping_fee", "discount_total", "grand_total", "paid_amount", "buyer_remark",
    "seller_remark", "placed_at", "paid_at", "intake_digest", "region_code",
)
LINE_COLUMNS = ("order_id", "line_no", "sku_id", "name", "quantity", "unit_price", "discount", "line_total")
EVENT_COLUMNS = ("order_id", "type", "name", "from_status", "to_status", "actor_id", "actor_label", "payload",
                 "is_intervention", "created_at")


def _insert_sql(table: str, columns, mark: str) -> str:
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join([mark] * len(columns))})"


def raw_sql_baseline(db: BenchDatabase, ids: dict, skus, payloads: list[dict], time_limit: float) -> PhaseResult:
    """The rows intake writes, by hand: per order one transaction with the order (already in its
    paid, pending-review state), its lines and one `created` event. What is left between this and the
    HTTP figure is Django, DRF and HTTP."""
    names = {code: name for code, name, _price in skus}
    conn = db.raw_connection()
    if db.is_postgresql:
        from psycopg.types.json import Jsonb

        mark, money, moment, as_json, as_bool = "%s", Decimal, (lambda dt: dt), Jsonb, bool
    else:
        mark, money, as_bool = "?", str, int
        # Django keeps SQLite datetimes as naive UTC text and JSON as text.
        moment = lambda dt: dt.astimezone(timezone.utc).replace(tzinfo=None).isoformat(" ")  # noqa: E731
        as_json = lambda value: json.dumps(value)  # noqa: E731
    order_sql = _insert_sql("orders_order", ORDER_COLUMNS, mark)
    if db.is_postgresql:
        order_sql += " RETURNING id"
    line_sql = _insert_sql("orders_orderline", LINE_COLUMNS, mark)
    event_sql = _insert_sql("orders_orderevent", EVENT_COLUMNS, mark)

    latencies, errors = [], 0
    deadline = time.monotonic() + time_limit
    started = time.monotonic()
    try:
        for payload in payloads:
            if time.monotonic() > deadline:
                warn("raw-SQL baseline: time limit reached")
                break
            began = time.perf_counter()
            now = datetime.now(timezone.utc)
            address, lines = payload["address"], payload["lines"]
            digest = hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False,
                                               separators=(",", ":")).encode()).hexdigest()
            grand_total = money(Decimal(payload["grand_total"]))
            order_row = (
                moment(now), moment(now), ids["raw_shop_id"], payload["external_id"], "douyin", ids["customer_id"],
                payload["buyer"]["nickname"], ids["warehouse_id"], "pending_review", moment(now), "", "paid",
                address["receiver"], address["phone"], address["phone"][-4:], address["province"], address["city"],
                address["district"], address["detail"], address["postal_code"], "CNY",
                money(Decimal(payload["goods_total"])), money(Decimal(payload["shipping_fee"])),
                money(Decimal(payload["discount_total"])), grand_total, grand_total, payload["buyer_remark"], "",
                moment(datetime.fromisoformat(payload["placed_at"])),
                moment(datetime.fromisoformat(payload["paid_at"])), digest, "",
            )
            try:
                if db.is_postgresql:
                    with conn.transaction():
                        order_id = conn.execute(order_sql, order_row).fetchone()[0]
                        with conn.cursor() as cur:
                            cur.executemany(line_sql, _line_rows(order_id, lines, ids, names, money))
                        conn.execute(event_sql, _event_row(order_id, now, moment, as_json, as_bool))
                else:
                    with sqlite_write_transaction(conn):
                        order_id = conn.execute(order_sql, order_row).lastrowid
                        conn.executemany(line_sql, _line_rows(order_id, lines, ids, names, money))
                        conn.execute(event_sql, _event_row(order_id, now, moment, as_json, as_bool))
            except Exception as exc:  # noqa: BLE001  (reported and counted, never ignored)
                errors += 1
                warn(f"raw-SQL insert of {payload['external_id']} failed: {exc}")
                continue
            latencies.append(time.perf_counter() - began)
    finally:
        conn.close()
    return PhaseResult("raw SQL, 1 client", len(latencies), errors, time.monotonic() - started, latencies)


def _line_rows(order_id, lines, ids, names, money):
    return [
        (order_id, n, ids["sku_ids"][line["sku"]], names[line["sku"]], line["quantity"],
         money(Decimal(line["unit_price"])), money(Decimal(line["discount"])), money(Decimal(line["line_total"])))
        for n, line in enumerate(lines, start=1)
    ]


def _event_row(order_id, now, moment, as_json, as_bool):
    return (order_id, "created", "", "", "pending_payment", None, "token:bench-dy:raw",
            as_json({"channel": "api", "platform": "douyin"}), as_bool(False), moment(now))


# --- in-process measurements (queries per request, profile) ---------------------------------------

def count_queries(token: str, payloads: list[dict]) -> list[tuple[int, list[str]]]:
    """Queries of each intake request, run through Django's test client in this process."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}", HTTP_HOST="127.0.0.1")
    counts = []
    for payload in payloads:
        with CaptureQueriesContext(connection) as captured:
            response = client.post(INTAKE_PATH, data=encode(payload), content_type="application/json")
        if response.status_code not in (200, 201):
            raise RuntimeError(f"in-process intake failed: {response.status_code} {response.content[:400]!r}")
        counts.append((len(captured.captured_queries), [q["sql"] for q in captured.captured_queries]))
    return counts


def profile_requests(token: str, payloads: list[dict], top: int = 25) -> str:
    """cProfile intake requests in this process; per-request figures of the app's own functions and
    the heaviest framework functions, with paths relative to site-packages or the repository."""
    from django.test import Client

    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}", HTTP_HOST="127.0.0.1")
    bodies = [encode(p) for p in payloads]
    profiler = cProfile.Profile()
    began = time.perf_counter()
    profiler.enable()
    for body in bodies:
        response = client.post(INTAKE_PATH, data=body, content_type="application/json")
        if response.status_code != 201:
            raise RuntimeError(f"profiled intake failed: {response.status_code} {response.content[:400]!r}")
    profiler.disable()
    n = len(bodies)
    stats = pstats.Stats(profiler).stats  # (file, line, function) -> (prim calls, calls, tottime, cumtime, callers)

    def table(title, rows):
        lines = [title, f"  {'ms/req':>8} {'calls/req':>9}  function"]
        lines += [f"  {ms:8.2f} {calls:9.1f}  {name}" for ms, calls, name in rows]
        return "\n".join(lines)

    app = app_functions_by_cumulative(stats, n, top)
    own = functions_by_own_time(stats, n, top)
    # Where the framework spends it: building serializer fields, validating, rendering, compiling SQL.
    entry_points = {("rest_framework/serializers.py", "data"), ("rest_framework/serializers.py", "is_valid"),
                    ("rest_framework/serializers.py", "get_fields"), ("rest_framework/views.py", "initial"),
                    ("django/db/models/sql/compiler.py", "execute_sql"), ("django/db/models/sql/compiler.py", "as_sql"),
                    ("django/db/models/base.py", "save"), ("django/db/models/query.py", "bulk_create"),
                    ("django/utils/translation/trans_real.py", "gettext"), ("copy.py", "deepcopy")}
    framework = sorted(((ct / n * 1000, nc / n, profile_location(*key))
                        for key, (_cc, nc, _tt, ct, _callers) in stats.items()
                        if any(key[0].endswith(f) and key[2] == fn for f, fn in entry_points)), reverse=True)
    wall = (time.perf_counter() - began) / n * 1000
    return "\n\n".join([
        f"profile of {n} intake requests in-process (Django test client): {wall:.2f} ms per request "
        f"under the profiler, which inflates Python-heavy code about 2-3x; compare shares, not absolutes",
        table("app functions by cumulative time", app),
        table("framework entry points by cumulative time", framework),
        table("all functions by own time", own),
    ])


# --- correctness ----------------------------------------------------------------------------------

def verify_orders(shop_id: int, expected: list[dict]) -> list[str]:
    """Every accepted order is in the database once, with its lines, its events and its money."""
    from django.db.models import Count, Sum

    from apps.orders.models import Order, OrderEvent, OrderLine

    problems = []
    orders = Order.objects.filter(shop_id=shop_id)
    stored = list(orders.values_list("external_id", flat=True))
    wanted = {p["external_id"] for p in expected}
    if len(stored) != len(set(stored)):
        problems.append(f"duplicate order numbers: {len(stored) - len(set(stored))}")
    if len(stored) != len(expected):
        problems.append(f"{len(stored)} orders stored, {len(expected)} accepted")
    lost, extra = wanted - set(stored), set(stored) - wanted
    if lost:
        problems.append(f"{len(lost)} accepted orders missing, e.g. {sorted(lost)[:3]}")
    if extra:
        problems.append(f"{len(extra)} orders stored that were never accepted, e.g. {sorted(extra)[:3]}")
    lines = OrderLine.objects.filter(order__shop_id=shop_id).count()
    if lines != sum(len(p["lines"]) for p in expected):
        problems.append(f"{lines} order lines stored, {sum(len(p['lines']) for p in expected)} posted")
    # created + pay transition for every order posted with paid_at
    events = OrderEvent.objects.filter(order__shop_id=shop_id).count()
    if events != 2 * len(expected):
        problems.append(f"{events} order events stored, {2 * len(expected)} expected")
    statuses = dict(orders.values_list("status").annotate(n=Count("id")).values_list("status", "n"))
    if statuses != ({"pending_review": len(expected)} if expected else {}):
        problems.append(f"statuses {statuses}, expected all pending_review")
    total = orders.aggregate(s=Sum("grand_total"))["s"] or Decimal("0.00")
    expected_total = sum((Decimal(p["grand_total"]) for p in expected), Decimal("0.00"))
    if total != expected_total:
        problems.append(f"sum of grand_total {total}, posted {expected_total}")
    return problems


def verify_stock(shop_id: int) -> list[str]:
    """Intake reserves stock: the ledger still sums to the levels, and with ample stock no accepted
    order waits on a hold (out_of_stock or any other)."""
    from apps.inventory.services import ledger_matches_levels
    from apps.orders.models import OrderHold

    problems = []
    wrong = ledger_matches_levels()
    if wrong:
        problems.append(f"ledger_matches_levels(): {len(wrong)} level(s) differ from their ledger, e.g. {wrong[:3]}")
    held = OrderHold.objects.filter(order__shop_id=shop_id, released_at__isnull=True)
    if held.exists():
        problems.append(f"{held.count()} open hold(s) on accepted orders, e.g. "
                        f"{list(held.values_list('order__external_id', 'type', 'reason')[:3])}")
    return problems


def table_counts(shop_id: int) -> tuple[int, int, int]:
    from apps.orders.models import Order, OrderEvent, OrderLine

    return (Order.objects.filter(shop_id=shop_id).count(), OrderLine.objects.filter(order__shop_id=shop_id).count(),
            OrderEvent.objects.filter(order__shop_id=shop_id).count())


def replay(port: int, token: str, payloads: list[dict], shop_id: int) -> list[str]:
    """Posting an accepted order again must answer 200 (replayed) and write nothing."""
    problems = []
    before = table_counts(shop_id)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    for payload in payloads:
        try:
            conn.request("POST", INTAKE_PATH, body=encode(payload), headers=headers)
            response = conn.getresponse()
            body = response.read()
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            problems.append(f"replay {payload['external_id']}: {type(exc).__name__}: {exc}")
            continue
        if response.status != 200:
            problems.append(f"replay {payload['external_id']}: HTTP {response.status} (expected 200): {body[:300]!r}")
            continue
        data = json.loads(body)
        if data.get("replayed") is not True or data.get("external_id") != payload["external_id"]:
            problems.append(f"replay {payload['external_id']}: not marked as replayed: {body[:300]!r}")
        if response.getheader("X-Orderhub-Replay-Differs"):
            problems.append(f"replay {payload['external_id']}: identical payload reported as differing")
    conn.close()
    after = table_counts(shop_id)
    if after != before:
        problems.append(f"replays wrote rows: (orders, lines, events) {before} -> {after}")
    return problems


# --- main -----------------------------------------------------------------------------------------

def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders-1", type=int, help="orders posted by the single client (600; --quick 60)")
    parser.add_argument("--orders-8", type=int, help="orders posted by the concurrent clients (3000; --quick 240)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients of the second phase (8)")
    parser.add_argument("--raw-orders", type=int, help="raw-SQL baseline orders (as many as --orders-1)")
    parser.add_argument("--warmup", type=int, help="warm-up orders, not counted (80; --quick 24)")
    parser.add_argument("--quick", action="store_true",
                        help="small run (about 10 s); options given explicitly still apply")
    parser.add_argument("--server", choices=sorted(SERVER_CHOICES), default=DEFAULT_SERVER,
                        help=f"gunicorn worker setup ({DEFAULT_SERVER})")
    parser.add_argument("--client-mode", choices=["process", "thread"], default="process",
                        help="concurrent clients as processes (default; no client-side GIL) or threads")
    add_run_options(
        parser,
        profile_help="also cProfile N intake requests in-process (Django test client) and print hot spots",
        show_queries_help="print the SQL of one intake request",
        seed_help="payload random seed",
    )
    args = parser.parse_args(argv)
    apply_quick_defaults(args, quick={"orders_1": 60, "orders_8": 240, "warmup": 24},
                         full={"orders_1": 600, "orders_8": 3000, "warmup": 80})
    if args.raw_orders is None:
        args.raw_orders = args.orders_1
    if args.warmup < 0:
        parser.error("--warmup must not be negative")
    require_at_least_one(parser, args, ("orders_1", "orders_8", "clients", "raw_orders"))
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    db = start_bench("intake")
    problems: list[str] = []  # failed correctness checks
    error_notes: list[str] = []  # what the failed requests answered
    # What the last line says if the run dies before its figures exist.
    figures: dict = {"bench": "intake", "database": db.engine, "failed": True, "correctness_ok": False,
                     "target_orders_per_s": TARGET_ORDERS_PER_S}
    server = None
    try:
        db.recreate()
        db.migrate()
        # ALLOWED_HOSTS=127.0.0.1 for the in-process test client too (it sends Host: 127.0.0.1).
        django_setup(db, ALLOWED_HOSTS="127.0.0.1")
        from django.db import connections

        factory = PayloadFactory(args.seed)
        # Enough for every order the run can post: each line names a SKU at most once per order,
        # with at most 5 units (make_payload); the 3 probes count too.
        ids = seed(factory.skus, stock_per_sku=5 * (3 + args.profile + args.warmup + args.orders_1 + args.orders_8))
        token = ids["token"]
        accepted: list[dict] = []  # every payload answered 201, for the correctness check

        # Queries per request, before the server starts: a new buyer (creates the customer) and a
        # repeat buyer (finds it), plus a replay; token last_used_at is touched by the first only.
        probe = factory.batch("Q", 3)
        probe[0]["buyer"] = {"id": "dybprobe0", "nickname": "探针一"}  # outside the random buyer pool
        probe[1]["buyer"] = {"id": "dybprobe1", "nickname": "探针二"}
        probe[2]["buyer"] = probe[1]["buyer"]
        queries = count_queries(token, [probe[0], probe[1], probe[2], probe[2]])
        accepted += probe
        q_new, q_known, q_replay = queries[1][0], queries[2][0], queries[3][0]
        if args.show_queries:
            print(f"\nSQL of one intake request (new buyer), {q_new} queries:")
            for n, sql in enumerate(queries[1][1], start=1):
                print(f"  {n:2d}. {sql[:220]}")
        if args.profile:
            profiled = factory.batch("P", args.profile)
            print(profile_requests(token, profiled))
            accepted += profiled
        connections.close_all()  # nothing of this process's connection may leak into forked clients

        payloads = {"W": factory.batch("W", args.warmup), "A": factory.batch("A", args.orders_1),
                    "B": factory.batch("B", args.orders_8)}
        bodies = {tag: [encode(p) for p in batch] for tag, batch in payloads.items()}

        # Someone else's test run on the same 2 CPUs halves the figures; say so instead of hiding it.
        warn_if_machine_busy()

        env = db.env(ALLOWED_HOSTS="127.0.0.1", DB_CONN_MAX_AGE="600", LOG_LEVEL="ERROR", DEBUG="0")
        server = GunicornServer(env, SERVER_CHOICES[args.server], db.work_dir / "gunicorn.log")
        server.start()
        print(f"gunicorn {args.server} ({' '.join(SERVER_CHOICES[args.server])}) on 127.0.0.1:{server.port}; "
              f"clients as {args.client_mode}es; {os.cpu_count()} CPUs", flush=True)

        results = {}
        for tag, name, clients in (("W", "warm-up (not counted)", args.clients),
                                   ("A", "HTTP, 1 client", 1),
                                   ("B", f"HTTP, {args.clients} clients", args.clients)):
            if not bodies[tag]:  # --warmup 0
                continue
            result, ok, phase_problems = run_clients(name, server, token, bodies[tag], clients, args.client_mode,
                                                     args.phase_time_limit, db.name if db.is_postgresql else None)
            accepted += [payloads[tag][i] for i in sorted(ok)]
            error_notes += phase_problems
            results[tag] = result
            print_phase(result, warn_contention=tag != "W")

        problems += verify_orders(ids["shop_id"], accepted)
        rng = random.Random(args.seed)
        sample = rng.sample(accepted, min(20, len(accepted)))
        problems += replay(server.port, token, sample, ids["shop_id"])
        problems += verify_orders(ids["shop_id"], accepted)  # still exactly the same after the replays
        problems += verify_stock(ids["shop_id"])
        server_log_tail = server.log_tail()
        server.stop()
        server = None

        raw_payloads = factory.batch("R", args.raw_orders + 20)
        raw_sql_baseline(db, ids, factory.skus, raw_payloads[:20], args.phase_time_limit)  # warm-up
        raw = raw_sql_baseline(db, ids, factory.skus, raw_payloads[20:], args.phase_time_limit)
        print_phase(raw)
        raw_stored = table_counts(ids["raw_shop_id"])[0]
        raw_expected = 20 + raw.count
        if raw_stored != raw_expected:
            problems.append(f"raw-SQL baseline: {raw_stored} orders stored, {raw_expected} inserted")

        one, many = results["A"], results["B"]
        errors = sum(r.errors for r in results.values()) + raw.errors
        met = many.per_s >= TARGET_ORDERS_PER_S
        print()
        print(f"database                 {db.engine}")
        print(f"orders accepted          {len(accepted)}")
        print_correctness(problems, "every accepted order stored once with its lines, events and totals, no hold "
                                    "open, stock ledger consistent; 20 replays answered 200 and wrote nothing")
        print(f"queries per request      {q_new} (new buyer), {q_known} (repeat buyer), {q_replay} (replay); "
              f"counted in-process, BEGIN/COMMIT/SAVEPOINT included")
        print(f"HTTP vs raw SQL          1 client: {one.per_s:.0f}/s vs {raw.per_s:.0f}/s; "
              f"p50 {one.ms(50):.2f} ms vs {raw.ms(50):.2f} ms")
        print_failures(errors, error_notes, problems,
                       error_context=f"gunicorn log (tail):\n{server_log_tail}" if server_log_tail else "")
        print(f"target                   >= {TARGET_ORDERS_PER_S} orders/s with {args.clients} clients: "
              f"{many.per_s:.1f}/s -> {verdict(met)}")
        figures = {
            "bench": "intake",
            "database": db.engine,
            "orders_per_s": many.per_s,
            "p50_ms": many.ms(50),
            "p95_ms": many.ms(95),
            "clients": args.clients,
            "orders_per_s_1_client": one.per_s,
            "p50_ms_1_client": one.ms(50),
            "p95_ms_1_client": one.ms(95),
            "cpu_ms_per_order_gunicorn": many.cpu_ms_per_order("server"),
            "cpu_ms_per_order_postgres": many.cpu_ms_per_order("postgres"),
            "cpu_ms_per_order_clients": many.cpu_ms_per_order("clients"),
            "raw_sql_orders_per_s": raw.per_s,
            "raw_sql_p50_ms": raw.ms(50),
            "raw_sql_p95_ms": raw.ms(95),
            "queries_per_request": q_known,
            "queries_per_request_new_buyer": q_new,
            "other_load_cpus": other_load(many.cpu),
            "steal_cpus": steal_load(many.cpu),
            "orders_posted": len(accepted),
            "errors": errors,
            "correctness_ok": not problems,
            "server": args.server,
            "cpus": os.cpu_count(),
            "target_orders_per_s": TARGET_ORDERS_PER_S,
            "target_met": met,
        }
        return 0 if errors == 0 and not problems else 1
    except Exception:
        traceback.print_exc()
        if server is not None:
            print(f"gunicorn log:\n{server.log_tail()}", file=sys.stderr)
        figures = failed_figures("intake", db, target_orders_per_s=TARGET_ORDERS_PER_S)
        return 2
    finally:
        finish_bench(db, figures, keep_db=args.keep_db, server=server)


if __name__ == "__main__":
    sys.exit(main())
