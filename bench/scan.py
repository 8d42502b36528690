"""Scan benchmark: how long the server takes to confirm one picking scan, through the HTTP API.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/orderhub .venv/bin/python bench/scan.py [--quick]

Runs on a database of its own (`<dbname>_bench_scan`, dropped afterwards; a temporary SQLite file
without a PostgreSQL DATABASE_URL), never on the one DATABASE_URL names. It seeds one warehouse with
80 SKUs (a third batch-tracked, in two lots) at pick locations, ready orders of 1-3 lines whose stock
is reserved by the real service, and builds two waves of a few hundred pick tasks with
`wave_create`. Then a clerk scans every unit of each wave in pick-path order,
`POST /api/v1/waves/<id>/scan/` one unit per request (the lot with it where the SKU is tracked),
and every `--wrong-every`th scan is first preceded by a wrong product, which must be refused (409
`wrong_item`):

  server    wave 1 through Django's test client in this process: the server's own time per scan
            (middleware, session, permission, the service and its transaction), no network
  http      wave 2 through gunicorn (2 sync workers) on 127.0.0.1, one keep-alive client: what a
            scanner on the LAN waits for, minus the LAN

Afterwards every order of both waves must be `picked`, every task complete, each refusal logged,
the stock untouched by scanning and the ledger consistent. Prints readable figures, then one JSON
line (last line) with `p95_ms` (the server phase) and `target_p95_ms`. Exit code 0 even when the
target is missed; 1 on errors or a failed check; 2 when the bench crashes.
"""
from __future__ import annotations

import argparse
import cProfile
import http.client
import json
import pstats
import random
import secrets
import sys
import time
import traceback
from datetime import timedelta
from pathlib import Path

sys.dont_write_bytecode = True  # no bench/__pycache__ next to the benchmarks
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402  (bench/ is not a package; its helper sits beside this file)
    GunicornServer,
    PhaseResult,
    add_run_options,
    app_functions_by_cumulative,
    apply_quick_defaults,
    django_setup,
    failed_figures,
    finish_bench,
    print_correctness,
    print_failures,
    print_phase,
    require_at_least_one,
    seed_pick_floor,
    start_bench,
    verdict,
    warn_if_machine_busy,
)

TARGET_P95_MS = 50  # server time of one scan confirmation
SKU_COUNT = 80
WARM_UP_SCANS = 10  # the first scans of a phase fill caches and open connections: not counted


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, help="orders per wave (150; --quick 40)")
    parser.add_argument("--wrong-every", type=int, default=10, help="a wrong product before every Nth scan (10)")
    parser.add_argument("--no-http", action="store_true", help="skip the gunicorn phase")
    parser.add_argument("--quick", action="store_true", help="small waves, a few seconds")
    add_run_options(parser, profile_help="in-process cProfile of N scans on a third wave",
                    show_queries_help="print the SQL of one scan", seed_help="random seed of the orders")
    args = parser.parse_args(argv)
    apply_quick_defaults(args, quick={"orders": 40}, full={"orders": 150})
    require_at_least_one(parser, args, ["orders", "wrong_every"])
    return args


# --- setup ----------------------------------------------------------------------------------------

def seed(*, orders_per_wave: int, waves: int, rng: random.Random) -> dict:
    """Warehouse, shop, clerk, SKUs with stock at locations, ready reserved orders, the waves."""
    from apps.fulfillment.services import wave_create

    floor = seed_pick_floor(
        tag="scan", warehouse_code="BENCH-WH", barcode_prefix="690", sku_count=SKU_COUNT, stock_per_lot=2000,
        orders=orders_per_wave * waves, max_units=2, number_base=9000000000, rng=rng,
        receiver=lambda number: {"receiver_name": "王伟", "receiver_phone": "13812345678", "phone_tail": "5678",
                                 "district": "余杭区", "address_detail": "文一西路 1 号"},
        ship_by=lambda now, number: now + timedelta(hours=12 + number))
    built = [wave_create(warehouse_id=floor["warehouse"].pk, actor=floor["clerk"], size_limit=orders_per_wave).wave
             for _ in range(waves)]
    return {"clerk_id": floor["clerk"].pk, "warehouse_id": floor["warehouse"].pk, "wave_ids": [w.pk for w in built],
            "barcodes": [sku.barcode for sku in floor["skus"]]}


def scan_plan(wave_id: int, barcodes: list[str], wrong_every: int) -> list[tuple[dict, bool]]:
    """(body, is_wrong) of every request of a wave, in pick-path order: one per unit, a wrong
    product (another SKU's barcode) before every Nth."""
    from apps.fulfillment.models import PickTask

    plan, count = [], 0
    for task in PickTask.objects.filter(wave_id=wave_id).select_related("sku", "batch").order_by("sequence"):
        body = {"barcode": task.sku.barcode, "lot_number": task.batch.lot_number if task.batch_id else "",
                "task": task.pk}
        for _unit in range(task.quantity):
            count += 1
            if count % wrong_every == 0:
                wrong = next(b for b in barcodes if b != task.sku.barcode)
                plan.append(({**body, "barcode": wrong, "lot_number": ""}, True))
            plan.append((body, False))
    return plan


# --- phases ---------------------------------------------------------------------------------------

def _phase(name, timings, errors) -> tuple[PhaseResult, PhaseResult]:
    """Confirmed and refused scans as two results (the warm-up dropped from the confirmed ones)."""
    ok = [t for t, wrong in timings if not wrong][WARM_UP_SCANS:]
    refused = [t for t, wrong in timings if wrong]
    elapsed = sum(t for t, _wrong in timings)
    return (PhaseResult(f"{name}: confirmed scans", len(ok), errors, elapsed, ok),
            PhaseResult(f"{name}: refused (wrong item)", len(refused), 0, elapsed, refused))


def run_in_process(wave_id: int, clerk, plan, deadline: float) -> tuple[list, list[str]]:
    from django.test import Client

    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(clerk)
    url = f"/api/v1/waves/{wave_id}/scan/"
    timings, errors = [], []
    for body, wrong in plan:
        if time.monotonic() > deadline:
            errors.append("phase time limit reached")
            break
        began = time.perf_counter()
        response = client.post(url, data=json.dumps(body), content_type="application/json")
        elapsed = time.perf_counter() - began
        expected = 409 if wrong else 200
        if response.status_code != expected or (wrong and response.json()["code"] != "wrong_item"):
            errors.append(f"task {body['task']}: HTTP {response.status_code} {response.content[:300]!r}")
            continue
        timings.append((elapsed, wrong))
    return timings, errors


def http_session(clerk) -> dict[str, str]:
    """Cookies of a logged-in session and a CSRF token, made the way django.contrib.auth.login would."""
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    session = SessionStore()
    session[SESSION_KEY] = str(clerk.pk)
    session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
    session[HASH_SESSION_KEY] = clerk.get_session_auth_hash()
    session.create()
    token = secrets.token_hex(16)  # 32 characters: a valid unmasked CSRF secret
    return {"Cookie": f"{settings.SESSION_COOKIE_NAME}={session.session_key}; {settings.CSRF_COOKIE_NAME}={token}",
            "X-CSRFToken": token, "Content-Type": "application/json", "Accept": "application/json"}


def run_http(port: int, wave_id: int, headers: dict, plan, deadline: float) -> tuple[list, list[str]]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    url = f"/api/v1/waves/{wave_id}/scan/"
    timings, errors = [], []
    for body, wrong in plan:
        if time.monotonic() > deadline:
            errors.append("phase time limit reached")
            break
        began = time.perf_counter()
        try:
            conn.request("POST", url, body=json.dumps(body).encode(), headers=headers)
            response = conn.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            errors.append(f"task {body['task']}: {type(exc).__name__}: {exc}")
            continue
        elapsed = time.perf_counter() - began
        if response.status != (409 if wrong else 200):
            errors.append(f"task {body['task']}: HTTP {response.status} {data[:300]!r}")
            continue
        timings.append((elapsed, wrong))
    conn.close()
    return timings, errors


def queries_of_one_scan(wave_id: int, clerk, plan) -> tuple[int, list[str]]:
    """SQL statements of the first scan of the plan (in-process; session and permission lookups,
    BEGIN and COMMIT included)."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(clerk)
    client.get("/api/v1/waves/")  # warm the session and the permission cache like a working scanner
    body = next(body for body, wrong in plan if not wrong)
    with CaptureQueriesContext(connection) as captured:
        client.post(f"/api/v1/waves/{wave_id}/scan/", data=json.dumps(body), content_type="application/json")
    return len(captured), [q["sql"] for q in captured.captured_queries]


def verify(wave_ids: list[int], refusals_expected: int, levels_before: list) -> list[str]:
    from django.db.models import F

    from apps.fulfillment.models import PickTask, ScanLog
    from apps.inventory.models import StockLevel
    from apps.inventory.services import ledger_matches_levels
    from apps.orders.models import Order

    problems = []
    not_picked = Order.objects.filter(wave_memberships__wave_id__in=wave_ids).exclude(status="picked").count()
    if not_picked:
        problems.append(f"{not_picked} orders of the waves are not picked")
    incomplete = PickTask.objects.filter(wave_id__in=wave_ids).exclude(state="picked", picked_quantity=F("quantity"))
    if incomplete.exists():
        problems.append(f"{incomplete.count()} tasks are not completely picked")
    refused = ScanLog.objects.filter(wave_id__in=wave_ids, outcome="wrong_item").count()
    if refused != refusals_expected:
        problems.append(f"{refused} refusals logged, {refusals_expected} expected")
    if list(StockLevel.objects.order_by("pk").values_list("on_hand", "reserved")) != levels_before:
        problems.append("scanning changed stock levels (it must not: stock leaves at shipping)")
    wrong = ledger_matches_levels()
    if wrong:
        problems.append(f"ledger does not match {len(wrong)} stock levels")
    return problems


def profile_scans(wave_id: int, clerk, plan, count: int) -> str:
    from django.test import Client

    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(clerk)
    chosen = [body for body, wrong in plan if not wrong][:count]
    profiler = cProfile.Profile()
    profiler.enable()
    for body in chosen:
        client.post(f"/api/v1/waves/{wave_id}/scan/", data=json.dumps(body), content_type="application/json")
    profiler.disable()
    rows = app_functions_by_cumulative(pstats.Stats(profiler).stats, len(chosen), 20)
    return "\n".join(["", f"profile of {len(chosen)} scans (ms per scan, calls per scan, where):"]
                     + [f"  {ms:8.2f} {calls:6.1f}  {where}" for ms, calls, where in rows])


def main(argv=None) -> int:
    args = parse_args(argv)
    db = start_bench("scan")
    figures: dict = failed_figures("scan", db, target_p95_ms=TARGET_P95_MS)
    server = None
    try:
        db.recreate()
        db.migrate()
        django_setup(db, ALLOWED_HOSTS="127.0.0.1")
        import logging

        from django.db import connections

        # Every planned refusal is a 409, which Django's request logger reports one line each.
        logging.getLogger("django.request").setLevel(logging.ERROR)

        from apps.accounts.models import User
        from apps.fulfillment.models import PickTask
        from apps.inventory.models import StockLevel

        rng = random.Random(args.seed)
        waves = 3 if args.profile else 2
        began = time.monotonic()
        ids = seed(orders_per_wave=args.orders, waves=waves, rng=rng)
        clerk = User.objects.get(pk=ids["clerk_id"])
        server_wave, http_wave = ids["wave_ids"][:2]
        plans = {wave_id: scan_plan(wave_id, ids["barcodes"], args.wrong_every) for wave_id in ids["wave_ids"][:2]}
        tasks = PickTask.objects.filter(wave_id__in=ids["wave_ids"][:2]).count()
        print(f"seeded in {time.monotonic() - began:.1f} s: {SKU_COUNT} SKUs, {waves} waves of {args.orders} orders, "
              f"{tasks} pick tasks in the two measured waves, "
              f"{sum(len(p) for p in plans.values())} scan requests", flush=True)
        levels_before = list(StockLevel.objects.order_by("pk").values_list("on_hand", "reserved"))

        q_scan, sql = queries_of_one_scan(server_wave, clerk, plans[server_wave])
        plans[server_wave] = plans[server_wave][1:]  # that scan is done
        if args.show_queries:
            print(f"\nSQL of one scan, {q_scan} queries:")
            for n, statement in enumerate(sql, start=1):
                print(f"  {n:2d}. {statement[:220]}")
        warn_if_machine_busy()

        errors: list[str] = []
        timings, phase_errors = run_in_process(server_wave, clerk, plans[server_wave],
                                               time.monotonic() + args.phase_time_limit)
        errors += phase_errors
        server_ok, server_refused = _phase("server (test client)", timings, len(phase_errors))
        print_phase(server_ok)
        print_phase(server_refused)

        http_ok = http_refused = None
        if not args.no_http:
            headers = http_session(clerk)
            connections.close_all()
            env = db.env(ALLOWED_HOSTS="127.0.0.1", DB_CONN_MAX_AGE="600", LOG_LEVEL="ERROR", DEBUG="0")
            server = GunicornServer(env, ["--worker-class", "sync", "--workers", "2"], db.work_dir / "gunicorn.log")
            server.start()
            timings, phase_errors = run_http(server.port, http_wave, headers, plans[http_wave],
                                             time.monotonic() + args.phase_time_limit)
            errors += phase_errors
            http_ok, http_refused = _phase("http (gunicorn, 1 client)", timings, len(phase_errors))
            print_phase(http_ok)
            print_phase(http_refused)
            server.stop()
        measured = [server_wave] + ([] if args.no_http else [http_wave])
        refusals = sum(1 for wave_id in measured for _body, wrong in plans[wave_id] if wrong)
        problems = verify(measured, refusals, levels_before)
        if args.profile:
            print(profile_scans(ids["wave_ids"][2], clerk, scan_plan(ids["wave_ids"][2], ids["barcodes"], 10**9),
                                args.profile))

        met = server_ok.ms(95) < TARGET_P95_MS
        print()
        print(f"database                 {db.engine}")
        print(f"queries per scan         {q_scan} (session, user and permissions included)")
        print_correctness(problems, "every order picked, every task complete, each refusal logged, stock levels "
                                    "untouched by scanning, ledger sums to the levels")
        print_failures(len(errors), errors, problems)
        print(f"target p95               < {TARGET_P95_MS} ms: {server_ok.ms(95):.1f} ms -> {verdict(met)}")
        figures = {
            "bench": "scan",
            "database": db.engine,
            "p50_ms": server_ok.ms(50),
            "p95_ms": server_ok.ms(95),
            "p99_ms": server_ok.ms(99),
            "refused_p95_ms": server_refused.ms(95),
            "http_p50_ms": http_ok.ms(50) if http_ok else None,
            "http_p95_ms": http_ok.ms(95) if http_ok else None,
            "http_refused_p95_ms": http_refused.ms(95) if http_refused else None,
            "scans": server_ok.count + (http_ok.count if http_ok else 0),
            "tasks": tasks,
            "orders_per_wave": args.orders,
            "queries_per_scan": q_scan,
            "errors": len(errors),
            "correctness_ok": not problems,
            "target_p95_ms": TARGET_P95_MS,
            "target_met": met,
        }
        return 0 if not errors and not problems else 1
    except Exception:
        traceback.print_exc()
        figures = failed_figures("scan", db, target_p95_ms=TARGET_P95_MS)
        return 2
    finally:
        finish_bench(db, figures, keep_db=args.keep_db, server=server)


if __name__ == "__main__":
    sys.exit(main())
