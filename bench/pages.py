"""Workbench page benchmark: server time of the agent's worklist and order page over a large order
book (1,000,000 orders by default) in PostgreSQL.

Targets (issue 7): worklist p95 < 150 ms, order page p95 < 100 ms, server time (the whole Django
request in-process: middleware, views, queries, templates; no network). Baseline in the same run:
each page's own SELECTs run raw on one cursor ("SQL alone"), so what is left is Django and the template.
Last line: JSON with `list_p95_ms` and `detail_p95_ms`.
"""
import argparse
import json
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import finish_bench, percentile, skipped_without_postgresql, start_bench, warn  # noqa: E402
from _gen_orders import generate, reference_data  # noqa: E402

LIST_TARGET_MS, DETAIL_TARGET_MS = 150, 100


def already_generated(db, orders: int) -> bool:
    """A bench database kept by an earlier run (--keep-db) holds this order book: the markers are the
    order count and the bench agent."""
    try:
        with db.raw_connection() as conn:
            count = conn.execute("SELECT count(*) FROM orders_order").fetchone()[0]
            agents = conn.execute("SELECT count(*) FROM accounts_user WHERE username = 'bench-agent'").fetchone()[0]
    except Exception:  # noqa: BLE001  (no such database or tables yet)
        return False
    return count == orders and agents == 1


def measure(client, url: str, requests: int) -> dict:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for _ in range(10):  # warm caches (permissions, templates, plans, the pages' buffers)
        response = client.get(url)
        if response.status_code != 200:
            raise RuntimeError(f"{url}: {response.status_code}")
    with CaptureQueriesContext(connection) as captured:
        client.get(url)
    queries = list(captured.captured_queries)  # read once: a later query may reset Django's log
    timings = []
    for _ in range(requests):
        began = time.perf_counter()
        response = client.get(url)
        timings.append((time.perf_counter() - began) * 1000)
        assert response.status_code == 200
    statements = [q["sql"] for q in queries if q["sql"].lstrip().upper().startswith("SELECT")]
    sql_timings = []
    with connection.cursor() as cursor:
        for _ in range(max(5, requests // 10)):
            began = time.perf_counter()
            for sql in statements:
                cursor.execute(sql)
                cursor.fetchall()
            sql_timings.append((time.perf_counter() - began) * 1000)
    slowest = max(queries, key=lambda q: float(q["time"]))
    return {"p50": percentile(timings, 50), "p95": percentile(timings, 95), "queries": len(queries),
            "sql_p50": percentile(sql_timings, 50), "slowest_sql": slowest["sql"],
            "slowest_ms": float(slowest["time"]) * 1000}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=None, help="orders generated (1,000,000; --quick 100,000)")
    parser.add_argument("--requests", type=int, default=None, help="timed requests per page (200; --quick 50)")
    parser.add_argument("--quick", action="store_true", help="small run")
    parser.add_argument("--keep-db", action="store_true", help="keep the bench database afterwards")
    parser.add_argument("--reuse", action="store_true",
                        help="reuse a kept bench database holding the same number of orders (implies --keep-db)")
    parser.add_argument("--explain", action="store_true",
                        help="print EXPLAIN ANALYZE of each page's slowest query (default: the run's slowest)")
    args = parser.parse_args()
    orders = args.orders or (100_000 if args.quick else 1_000_000)
    requests = args.requests or (50 if args.quick else 200)
    db = start_bench("pages")
    figures = {"bench": "pages", "orders": orders, "list_target_ms": LIST_TARGET_MS,
               "detail_target_ms": DETAIL_TARGET_MS}
    try:
        if skipped_without_postgresql(db, figures, "a million orders generated in SQL"):
            return
        reuse = args.reuse and already_generated(db, orders)
        if not reuse:
            db.recreate()
        db.migrate()  # on a reused database: only migrations added since it was generated
        from _common import django_setup

        django_setup(db, ALLOWED_HOSTS="testserver")
        figures["reused_db"] = reuse
        if reuse:
            print(f"reusing the {orders:,} orders already in {db.name}", flush=True)
        else:
            ids = reference_data()
            print(f"generating {orders:,} orders …", flush=True)
            with db.raw_connection() as conn:
                figures["generate_seconds"] = round(generate(conn, orders=orders, agent_id=ids["agent_id"],
                                                             shop_ids=ids["shop_ids"],
                                                             warehouse_id=ids["warehouse_id"]), 1)
        from django.test import Client
        from django.urls import reverse

        from apps.accounts.models import User
        from apps.orders.models import TERMINAL_STATUSES, Order

        client = Client()
        client.force_login(User.objects.get(username="bench-agent"))
        rng = random.Random(7)
        open_ids = list(Order.objects.exclude(status__in=TERMINAL_STATUSES).order_by("-placed_at")
                        .values_list("pk", flat=True)[:2000])
        sample = Order.objects.get(pk=rng.choice(open_ids))
        pages = {
            "worklist": reverse("workbench:cs-orders"),
            "worklist, page 2": reverse("workbench:cs-orders") + "?page=2",
            "worklist, phone tail": reverse("workbench:cs-orders") + f"?q={sample.phone_tail}",
            "worklist, order number": reverse("workbench:cs-orders") + f"?q={sample.external_id}",
            "order page": reverse("workbench:cs-order-detail", args=[sample.pk]),
            "order page, full history": reverse("workbench:cs-order-history", args=[sample.pk]),
            "order page, buyer's orders": reverse("workbench:cs-order-buyer-orders", args=[sample.pk]),
        }
        results = {name: measure(client, url, requests) for name, url in pages.items()}
        details = [measure(client, reverse("workbench:cs-order-detail", args=[pk]), max(5, requests // 20))
                   for pk in rng.sample(open_ids, 20)]
        print(f"\n{'page':30} {'p50 ms':>8} {'p95 ms':>8} {'queries':>8} {'SQL alone':>10}  slowest query")
        for name, r in results.items():
            print(f"{name:30} {r['p50']:8.1f} {r['p95']:8.1f} {r['queries']:8d} {r['sql_p50']:8.1f} ms  "
                  f"{r['slowest_ms']:.1f} ms")
        detail_p95 = max(r["p95"] for r in details + [results["order page"]])
        list_p95 = max(results[k]["p95"] for k in pages if k.startswith("worklist"))
        print(f"\n20 other open orders' pages: p95 up to {max(r['p95'] for r in details):.1f} ms")
        from django.db import connection

        # The slowest query of the run always; with --explain, each page's slowest.
        slowest_page = max(results, key=lambda name: results[name]["slowest_ms"])
        for name, r in results.items() if args.explain else [(slowest_page, results[slowest_page])]:
            with connection.cursor() as cursor:
                cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + r["slowest_sql"])
                print(f"\n-- {name}: slowest query ({r['slowest_ms']:.1f} ms)\n"
                      + "\n".join(row[0] for row in cursor.fetchall()))
        print(f"\ntarget worklist p95 < {LIST_TARGET_MS} ms: {list_p95:.1f} ms -> "
              f"{'met' if list_p95 < LIST_TARGET_MS else 'MISSED TARGET'}")
        print(f"target order page p95 < {DETAIL_TARGET_MS} ms: {detail_p95:.1f} ms -> "
              f"{'met' if detail_p95 < DETAIL_TARGET_MS else 'MISSED TARGET'}")
        figures.update({"list_p95_ms": round(list_p95, 1), "detail_p95_ms": round(detail_p95, 1),
                        "pages": {name: {"p50_ms": round(r["p50"], 1), "p95_ms": round(r["p95"], 1),
                                         "queries": r["queries"], "sql_alone_p50_ms": round(r["sql_p50"], 1)}
                                  for name, r in results.items()},
                        "target_met": list_p95 < LIST_TARGET_MS and detail_p95 < DETAIL_TARGET_MS})
    except Exception as exc:  # noqa: BLE001  (reported in the JSON line)
        warn(f"pages bench failed: {exc!r}")
        figures["error"] = repr(exc)
        raise
    finally:
        finish_bench(db, figures, keep_db=args.keep_db or args.reuse)


if __name__ == "__main__":
    main()
