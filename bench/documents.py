"""Documents benchmark: the packing lists (装箱单) of a 500-order wave printed as one PDF.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/orderhub .venv/bin/python bench/documents.py [--quick]

Runs on a database of its own (`<dbname>_bench_documents`, dropped afterwards; a temporary SQLite
file without a PostgreSQL DATABASE_URL), never on the one DATABASE_URL names. It seeds one warehouse
with 60 SKUs (a third batch-tracked, in two lots) at pick locations, ready orders of 1-3 lines
reserved by the real service, and builds one wave of them with `wave_create`. Then it times
`apps.fulfillment.documents.wave_pdf(parts=("packing_lists",))` as a clerk of the warehouse: the
reads, the template, WeasyPrint's layout and the PDF with the Chinese font subset embedded.

The PDF is read back: one page per order, every order number and every reserved lot present, the
CJK font embedded. Prints readable figures, then one JSON line (last line) with `wave_seconds`,
`pages_per_s` and `target_wave_seconds`. Exit code 0 even when the target is missed; 1 on a failed
check; 2 when the bench crashes.
"""
from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import random
import sys
import time
import traceback
from datetime import timedelta
from pathlib import Path

sys.dont_write_bytecode = True  # no bench/__pycache__ next to the benchmarks
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402  (bench/ is not a package; its helper sits beside this file)
    add_run_options,
    apply_quick_defaults,
    django_setup,
    failed_figures,
    finish_bench,
    functions_by_own_time,
    print_correctness,
    require_at_least_one,
    seed_pick_floor,
    start_bench,
    verdict,
    warn_if_machine_busy,
)

TARGET_WAVE_SECONDS = 60  # packing lists of a 500-order wave, one PDF
SKU_COUNT = 60
NAMES = ["王伟", "李娜", "张敏", "刘洋", "陈静", "欧阳娜娜", "赵磊", "黄丽"]


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, help="orders in the wave (500; --quick 50)")
    parser.add_argument("--quick", action="store_true", help="a small wave, a few seconds")
    parser.add_argument("--save", type=Path, help="also write the PDF to this file")
    add_run_options(parser, profile_help="cProfile the render (N is ignored beyond > 0)",
                    show_queries_help="print the number of SQL statements of the render",
                    seed_help="random seed of the orders")
    args = parser.parse_args(argv)
    apply_quick_defaults(args, quick={"orders": 50}, full={"orders": 500})
    require_at_least_one(parser, args, ["orders"])
    return args


def seed(*, orders: int, rng: random.Random) -> dict:
    from apps.fulfillment.models import SenderProfile
    from apps.fulfillment.services import wave_create

    floor = seed_pick_floor(
        tag="doc", warehouse_code="BENCH-DOC", barcode_prefix="691", sku_count=SKU_COUNT, stock_per_lot=5000,
        orders=orders, max_units=3, number_base=8000000000, rng=rng,
        receiver=lambda number: {"receiver_name": rng.choice(NAMES),
                                 "receiver_phone": f"138{rng.randint(0, 99999999):08d}", "phone_tail": "0000",
                                 "district": "西湖区", "address_detail": f"文三路 {number + 1} 号"},
        ship_by=lambda now, number: now + timedelta(hours=12, minutes=number))
    SenderProfile.objects.create(warehouse=floor["warehouse"], name="杭州一号仓", phone="0571-88886666",
                                 company="示例商贸有限公司", province="浙江省", city="杭州市", district="余杭区",
                                 address_detail="仓前街道文一西路 1 号")
    wave = wave_create(warehouse_id=floor["warehouse"].pk, actor=floor["clerk"], size_limit=orders).wave
    return {"clerk_id": floor["clerk"].pk, "wave_id": wave.pk}


def verify(pdf: bytes, wave_id: int) -> tuple[list[str], int]:
    """Problems with the PDF read back, and its page count."""
    from pypdf import PdfReader

    from apps.fulfillment.models import PickTask, WaveOrder

    reader = PdfReader(io.BytesIO(pdf))
    text = "\n".join(page.extract_text() for page in reader.pages)
    members = list(WaveOrder.objects.filter(wave_id=wave_id, left_at__isnull=True)
                   .values_list("order__external_id", flat=True))
    lots = set(PickTask.objects.filter(wave_id=wave_id, batch__isnull=False).values_list("batch__lot_number", flat=True))
    problems = []
    if len(reader.pages) != len(members):
        problems.append(f"{len(reader.pages)} pages for {len(members)} orders")
    missing = [number for number in members if number not in text]
    if missing:
        problems.append(f"{len(missing)} order numbers missing, e.g. {missing[:3]}")
    missing_lots = sorted(lot for lot in lots if lot not in text)
    if missing_lots:
        problems.append(f"{len(missing_lots)} reserved lots missing, e.g. {missing_lots[:3]}")
    fonts = reader.pages[0]["/Resources"].get_object()["/Font"]
    embedded = False
    for font in fonts.values():
        for descendant in font.get_object().get("/DescendantFonts", []):
            descendant = descendant.get_object()
            if "OrderHub-Sans-CJK" in str(descendant["/BaseFont"]) and "/FontFile3" in descendant["/FontDescriptor"]:
                embedded = True
    if not embedded:
        problems.append("the CJK font is not embedded")
    return problems, len(reader.pages)


def main(argv=None) -> int:
    args = parse_args(argv)
    db = start_bench("documents")
    figures: dict = failed_figures("documents", db, target_wave_seconds=TARGET_WAVE_SECONDS)
    try:
        db.recreate()
        db.migrate()
        django_setup(db)
        import logging

        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        from apps.accounts.models import User
        from apps.fulfillment import documents

        logging.getLogger("weasyprint").setLevel(logging.ERROR)
        rng = random.Random(args.seed)
        began = time.monotonic()
        ids = seed(orders=args.orders, rng=rng)
        clerk = User.objects.get(pk=ids["clerk_id"])
        print(f"seeded in {time.monotonic() - began:.1f} s: {SKU_COUNT} SKUs, one wave of {args.orders} orders",
              flush=True)
        warn_if_machine_busy()

        profiler = cProfile.Profile() if args.profile else None
        began = time.perf_counter()
        with CaptureQueriesContext(connection) as captured:
            if profiler:
                profiler.enable()
            pdf = documents.wave_pdf(actor=clerk, wave_id=ids["wave_id"], parts=("packing_lists",))
            if profiler:
                profiler.disable()
        seconds = time.perf_counter() - began
        if args.save:
            args.save.write_bytes(pdf)
            print(f"saved {args.save}")
        problems, pages = verify(pdf, ids["wave_id"])
        if profiler:
            print("\nprofile of the render (ms, calls, where), heaviest own time first:")
            for ms, calls, where in functions_by_own_time(pstats.Stats(profiler).stats, 1, 20):
                print(f"  {ms:9.1f} {calls:8.0f}  {where}")

        met = seconds <= TARGET_WAVE_SECONDS
        print()
        print(f"database                 {db.engine}")
        print(f"orders / pages           {args.orders} / {pages}")
        print(f"PDF size                 {len(pdf) / 1024:.0f} KiB")
        print(f"queries                  {len(captured)}")
        print(f"render                   {seconds:.1f} s, {pages / seconds:.1f} pages/s")
        print_correctness(problems, "one page per order, every order number and reserved lot printed, CJK font "
                                    "embedded")
        print(f"target                   ≤ {TARGET_WAVE_SECONDS} s for the wave: {seconds:.1f} s -> {verdict(met)}")
        figures = {
            "bench": "documents",
            "database": db.engine,
            "orders": args.orders,
            "pages": pages,
            "wave_seconds": seconds,
            "pages_per_s": pages / seconds,
            "pdf_kib": len(pdf) / 1024,
            "queries": len(captured),
            "errors": 0,
            "correctness_ok": not problems,
            "target_wave_seconds": TARGET_WAVE_SECONDS,
            "target_met": met,
        }
        return 0 if not problems else 1
    except Exception:
        traceback.print_exc()
        figures = failed_figures("documents", db, target_wave_seconds=TARGET_WAVE_SECONDS)
        return 2
    finally:
        finish_bench(db, figures, keep_db=args.keep_db)


if __name__ == "__main__":
    sys.exit(main())
