"""Legacy import benchmark: 100,000 customer rows and 100,000 open-order lines through the import
the admin confirms (apps.imports.services.import_file, dry_run=False), against the same rows read
alone and written raw in the same run.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/orderhub .venv/bin/python bench/imports.py [--quick]

Runs on a database of its own (`<dbname>_bench_imports`, dropped afterwards; a temporary SQLite file
without a PostgreSQL DATABASE_URL). Each phase runs in a process of its own, so its peak memory is
its own:

  customers     a GBK CSV as an old back office exports it (Chinese headers, full-width digits in
                every 7th phone and credit limit, B2B/B2C in Chinese words), one default address
                each; then the same file again, which must change nothing
  order lines   a UTF-8 CSV of open orders, one row per line, 1-3 lines per order, three in four
                paid (entering review, stock reserved FEFO from 200 stocked SKUs), one in four
                unpaid; then the same file again
  baselines     the same rows only read and cleaned (the floor of parsing), and written raw: COPY
                (PostgreSQL) or executemany (SQLite) into bare tables of the imported columns

Targets (issue 8): each import under 120 s on a 2-core machine. Prints readable figures, then one
JSON line with `customers_seconds` and `order_lines_seconds` (last line). Exit code 0 even when a
target is missed; 1 when a correctness check fails; 2 when the bench crashes.
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.dont_write_bytecode = True
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    BenchDatabase,
    REPO_ROOT,
    django_setup,
    finish_bench,
    start_bench,
    verdict,
)

TARGET_SECONDS = 120
SKUS = 200
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
PLACES = [("浙江省", "杭州市", "西湖区"), ("广东省", "广州市", "天河区"), ("江苏省", "苏州市", "工业园区"),
          ("上海市", "上海市", "浦东新区"), ("四川省", "成都市", "武侯区"), ("湖北省", "武汉市", "洪山区")]
FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


def customers_csv(rows: int, rng) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["客户编码", "客户名称", "客户类型", "手机", "信用额度", "账期", "收货人", "省", "市", "区", "详细地址"])
    for n in range(rows):
        province, city, district = PLACES[n % len(PLACES)]
        phone, limit = f"13{n % 10}{n:08d}", str(rng.choice([0, 5000, 20000, 50000]))
        if n % 7 == 0:
            phone, limit = phone.translate(FULL_WIDTH), limit.translate(FULL_WIDTH)
        b2b = n % 5 == 0
        writer.writerow([f"KH{n:07d}", f"{SURNAMES[n % 20]}氏{'贸易有限公司' if b2b else '宠物店'}{n}", "批发" if b2b else "零售",
                         phone, limit if b2b else "0", "30" if b2b else "0", f"{SURNAMES[n % 20]}{n % 97}",
                         province, city, district, f"文{n % 300}路 {n % 999 + 1} 号 "])
    return out.getvalue().encode("gbk")


def order_lines_csv(lines: int, rng) -> tuple[bytes, int, int]:
    """The file, how many orders it holds, and the units its lines ask for."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["店铺", "订单号", "下单时间", "订单状态", "收货人", "手机", "省", "市", "区", "详细地址", "商品编码", "数量", "单价",
                     "运费", "买家留言"])
    written = orders = units = 0
    while written < lines:
        province, city, district = PLACES[orders % len(PLACES)]
        paid = orders % 4 != 0
        head = ["bench-dy", f"dy_LEGACY{orders:09d}", f"2026/1/{orders % 28 + 1} {orders % 24}:{orders % 60:02d}",
                "已付款" if paid else "待付款", f"{SURNAMES[orders % 20]}{orders % 89}", f"139{orders:08d}", province, city,
                district, f"中山路 {orders % 500 + 1} 号"]
        for sku in rng.sample(range(SKUS), min(rng.randint(1, 3), lines - written)):
            quantity = rng.randint(1, 3)
            writer.writerow(head[:10] + [f"BS-{sku:04d}", str(quantity), f"{19.9 + sku % 10:.2f}", "0", ""])
            written += 1
            units += quantity
        orders += 1
    return out.getvalue().encode(), orders, units


# --- one phase, in its own process --------------------------------------------------------------

def _timed_import(kind: str, content: bytes, filename: str, admin):
    from apps.imports.services import import_file

    began = time.perf_counter()
    report = import_file(kind=kind, content=content, filename=filename, dry_run=False, actor=admin)
    return time.perf_counter() - began, report


def _read_only(kind: str, content: bytes, filename: str) -> float:
    """Reading and cleaning the rows alone: import_file's first half, with the writer left out."""
    from apps.imports import services

    importer = services.IMPORTERS[kind]
    began = time.perf_counter()
    services.IMPORTERS[kind] = services.Importer(importer.columns, importer.clean, lambda *a, **k: None)
    try:
        services.import_file(kind=kind, content=content, filename=filename, dry_run=True)
    finally:
        services.IMPORTERS[kind] = importer
    return time.perf_counter() - began


def _raw_write(db: BenchDatabase, table: str, columns: list[str], rows: list[list]) -> float:
    """The rows into a bare table of text columns: the database's floor for this much data."""
    began = time.perf_counter()
    with db.raw_connection() as conn:
        definition = ", ".join(f"{name} text" for name in columns)
        if db.is_postgresql:
            conn.execute(f"CREATE TEMP TABLE {table} ({definition})")
            with conn.cursor().copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            conn.commit()
        else:
            conn.execute(f"CREATE TEMP TABLE {table} ({definition})")
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(f"INSERT INTO {table} VALUES ({', '.join('?' * len(columns))})", rows)
            conn.execute("COMMIT")
    return time.perf_counter() - began


def _this_bench_database() -> BenchDatabase:
    """In a phase's process: the bench database its parent created, as the environment names it."""
    import os
    from urllib.parse import urlsplit

    url = os.environ["DATABASE_URL"]
    work_dir = Path(os.environ["ORDERHUB_VAR_DIR"]).parent
    if url.startswith("sqlite:"):
        return BenchDatabase("sqlite", url, url.split("///", 1)[1], None, work_dir, secret_key=os.environ["SECRET_KEY"])
    return BenchDatabase("postgresql", url, urlsplit(url).path.lstrip("/"), None, work_dir,
                         secret_key=os.environ["SECRET_KEY"])


def run_phase(phase: str, size: int, seed: int) -> dict:
    db = _this_bench_database()
    django_setup(db)
    from apps.accounts.models import User

    admin = User.objects.get(username="bench-admin")
    rng = random.Random(seed)
    figures, problems = {}, []
    if phase == "customers":
        from apps.customers.models import Address, Customer

        content = customers_csv(size, rng)
        figures["read_seconds"] = _read_only("customers", content, "customers.csv")
        seconds, report = _timed_import("customers", content, "customers.csv", admin)
        again, replay = _timed_import("customers", content, "customers.csv", admin)
        counts = (Customer.objects.filter(code__startswith="KH").count(),
                  Address.objects.filter(customer__code__startswith="KH", is_default=True).count())
        if report.errors or (report.new, report.written) != (size, True) or counts != (size, size):
            problems.append(f"customers: {report.new} new, {len(report.errors)} errors {report.errors[:3]}, "
                            f"{counts} customers/addresses in the database (expected {size})")
        if (replay.new, replay.updated, replay.unchanged) != (0, 0, size):
            problems.append(f"customers again: {replay.new} new, {replay.updated} updated (expected all unchanged)")
        rows = list(csv.reader(io.StringIO(content.decode("gbk"))))
        figures["raw_seconds"] = _raw_write(db, "raw_customers", [f"c{i}" for i in range(len(rows[0]))], rows[1:])
    else:
        from django.db.models import Sum

        from apps.inventory.models import Reservation
        from apps.inventory.services import ledger_matches_levels
        from apps.orders.models import Order, OrderLine

        content, orders, units = order_lines_csv(size, rng)
        figures["orders"] = orders
        figures["read_seconds"] = _read_only("open_orders", content, "orders.csv")
        seconds, report = _timed_import("open_orders", content, "orders.csv", admin)
        again, replay = _timed_import("open_orders", content, "orders.csv", admin)
        in_db = (Order.objects.count(), OrderLine.objects.count(),
                 Reservation.objects.aggregate(units=Sum("quantity"))["units"] or 0)
        if report.errors or (report.new, report.written) != (orders, True) or in_db != (orders, size, units):
            problems.append(f"orders: {report.new} new, {len(report.errors)} errors {report.errors[:3]}; "
                            f"(orders, lines, reserved units) = {in_db}, expected {(orders, size, units)}")
        if (replay.new, replay.unchanged, len(replay.errors)) != (0, orders, 0):
            problems.append(f"orders again: {replay.new} new, {replay.unchanged} unchanged (expected {orders})")
        if wrong := ledger_matches_levels():
            problems.append(f"ledger_matches_levels(): {len(wrong)} level(s) differ from their ledger, e.g. {wrong[:3]}")
        rows = list(csv.reader(io.StringIO(content.decode())))
        figures["raw_seconds"] = _raw_write(db, "raw_lines", [f"c{i}" for i in range(len(rows[0]))], rows[1:])
    figures.update(seconds=seconds, again_seconds=again, problems=problems,
                   peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                   file_mb=len(content) / 1e6)
    return figures


# --- the run ------------------------------------------------------------------------------------

def seed_reference_data(units_per_sku: int):
    """A warehouse, a Douyin shop shipping from it, SKUs with ample stock, and the admin who imports."""
    from django.contrib.auth.models import Group

    from apps.accounts.models import User
    from apps.catalog.models import SKU
    from apps.inventory.models import Warehouse
    from apps.inventory.services import stock_receive
    from apps.orders.models import Shop

    warehouse = Warehouse.objects.create(code="BW1", name="基准仓")
    Shop.objects.create(code="bench-dy", name="基准抖音店", platform="douyin", default_warehouse=warehouse)
    admin = User.objects.create_user("bench-admin", password="x" * 20)
    admin.groups.add(Group.objects.get(name="admin"))
    for n in range(SKUS):
        sku = SKU.objects.create(code=f"BS-{n:04d}", name_zh=f"基准商品 {n}")
        stock_receive(warehouse_id=warehouse.pk, sku_id=sku.pk, quantity=units_per_sku, actor=None)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=None, help="customer rows (100,000; --quick 10,000)")
    parser.add_argument("--order-lines", type=int, default=None, help="order lines (100,000; --quick 10,000)")
    parser.add_argument("--quick", action="store_true", help="small run")
    parser.add_argument("--keep-db", action="store_true", help="keep the bench database afterwards")
    parser.add_argument("--seed", type=int, default=20261206)
    parser.add_argument("--phase", choices=["customers", "order_lines"], help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:  # a child process: one phase, its figures as JSON on the last line
        print(json.dumps(run_phase(args.phase, args.size, args.seed)))
        return 0
    customers = args.customers or (10_000 if args.quick else 100_000)
    lines = args.order_lines or (10_000 if args.quick else 100_000)
    db = start_bench("imports")
    figures = {"bench": "imports", "database": db.engine, "customer_rows": customers, "order_lines": lines,
               "target_seconds": TARGET_SECONDS}
    problems, exit_code = [], 0
    try:
        db.recreate()
        db.migrate()
        django_setup(db)
        seed_reference_data(units_per_sku=lines * 3)  # every line could want 3 units of one SKU
        from django.db import connections

        connections.close_all()
        results = {}
        for phase, size in (("customers", customers), ("order_lines", lines)):
            print(f"{phase}: importing {size:,} rows …", flush=True)
            child = subprocess.run([sys.executable, __file__, "--phase", phase, "--size", str(size),
                                    "--seed", str(args.seed)], cwd=REPO_ROOT, env=db.env(), capture_output=True,
                                   text=True, timeout=1800)
            if child.returncode != 0:
                raise RuntimeError(f"{phase} failed:\n{child.stdout[-3000:]}\n{child.stderr[-3000:]}")
            results[phase] = result = json.loads(child.stdout.strip().splitlines()[-1])
            problems += result.pop("problems")
            print(f"  import {result['seconds']:7.1f} s  {size / result['seconds']:8.0f} rows/s   "
                  f"same file again {result['again_seconds']:6.1f} s   peak memory {result['peak_rss_mb']:.0f} MB   "
                  f"file {result['file_mb']:.1f} MB" + (f"   {result['orders']:,} orders" if "orders" in result else ""))
            print(f"  baselines: reading and cleaning alone {result['read_seconds']:.1f} s; the rows written raw "
                  f"({'COPY' if db.is_postgresql else 'executemany'} into a bare table) {result['raw_seconds']:.1f} s",
                  flush=True)
        c, o = results["customers"], results["order_lines"]
        figures.update(
            customers_seconds=c["seconds"], customers_rows_per_s=customers / c["seconds"],
            customers_again_seconds=c["again_seconds"], customers_peak_rss_mb=c["peak_rss_mb"],
            customers_read_seconds=c["read_seconds"], customers_raw_seconds=c["raw_seconds"],
            order_lines_seconds=o["seconds"], order_lines_per_s=lines / o["seconds"], orders=o["orders"],
            order_lines_again_seconds=o["again_seconds"], order_lines_peak_rss_mb=o["peak_rss_mb"],
            order_lines_read_seconds=o["read_seconds"], order_lines_raw_seconds=o["raw_seconds"],
            correctness_ok=not problems,
            target_met=c["seconds"] < TARGET_SECONDS and o["seconds"] < TARGET_SECONDS)
        checked = "every row imported once, the same files again changed nothing, reserved units = ordered units, ledger = levels"
        print("correctness              " + (f"ok: {checked}" if not problems else "FAILED"))
        for problem in problems:
            print(f"PROBLEM: {problem}")
        for name, seconds in (("customers", c["seconds"]), ("order lines", o["seconds"])):
            print(f"target {name} < {TARGET_SECONDS} s: {seconds:.1f} s -> {verdict(seconds < TARGET_SECONDS)}")
        exit_code = 1 if problems else 0
    except Exception:  # noqa: BLE001
        import traceback

        traceback.print_exc()
        figures.update(failed=True, correctness_ok=False)
        exit_code = 2
    finally:
        finish_bench(db, figures, keep_db=args.keep_db)
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
