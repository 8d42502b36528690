"""The printed documents: each PDF is rendered and read back (text, fonts, page size)."""
import http.server
import io
import re
import threading
import uuid
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone, translation

try:
    import weasyprint  # noqa: F401  (loads Pango, Cairo-free since v53; fails without the system library)
except OSError as exc:  # pragma: no cover - depends on the machine
    pytest.skip(f"WeasyPrint cannot load its system libraries (install Pango: libpango-1.0-0 libpangoft2-1.0-0): "
                f"{exc}", allow_module_level=True)

from pypdf import PdfReader

from apps.customs import services as customs_services
from apps.customs.selectors import declaration_totals
from apps.fulfillment import documents, services
from apps.fulfillment.barcodes import BarcodeInvalid, code128_modules, code128_svg
from apps.fulfillment.errors import ShipmentNotIssued, WaveNotFound
from apps.fulfillment.models import Carrier, Shipment
from apps.orders.errors import OrderNotFound
from tests.customs.factories import US_COMPLETION, cross_border_order
from tests.factories import ShopFactory, make_user
from tests.fulfillment.factories import SenderProfileFactory, add_lot, ready_order, stocked_sku

pytestmark = pytest.mark.django_db

MM = 72 / 25.4


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


class Floor:
    """A warehouse with a clerk, batch-tracked cat food in two lots, litter, and two ready orders."""

    def __init__(self):
        self.shop = ShopFactory()
        self.warehouse = self.shop.default_warehouse
        self.clerk = make_user("warehouse_clerk", warehouses=[self.warehouse])
        self.food = stocked_sku(self.warehouse, location="B-02-1", lot="L2405A", expires_in_days=300,
                                name_zh="成猫粮 2kg", barcode="6901234567892")
        add_lot(self.warehouse, self.food, lot="L2411B", location="B-02-2", expires_in_days=500)
        self.litter = stocked_sku(self.warehouse, location="A-01-3", name_zh="豆腐猫砂", barcode="6901234567908")
        SenderProfileFactory(warehouse=self.warehouse)
        self.first = ready_order(self.shop, {self.food: 2, self.litter: 1}, hours_left=10, receiver_name="张三",
                                 receiver_phone="13812345678")
        self.second = ready_order(self.shop, {self.litter: 3}, hours_left=20, receiver_name="欧阳娜娜",
                                  receiver_phone="13987654321")
        self.wave = services.wave_create(warehouse_id=self.warehouse.pk, actor=self.clerk).wave

    def issue(self, order, tracking="SF1400012345678"):
        now = timezone.now()
        return Shipment.objects.create(requested_at=now, 
            order=order, carrier=Carrier.objects.get(code="sf"), state=Shipment.State.ISSUED,
            request_id=uuid.uuid4(), service_type="standard", tracking_number=tracking, sort_code="755-W3-12",
            package_centre="上海浦东集包", short_address="沪东 浦东", request_payload={}, weight=Decimal("1.25"),
            issued_at=now, actor_label="test")


@pytest.fixture
def floor():
    return Floor()


def read(pdf: bytes) -> PdfReader:
    assert pdf.startswith(b"%PDF")
    return PdfReader(io.BytesIO(pdf))


def text_of(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in read(pdf).pages)


def embedded_fonts(pdf: bytes) -> dict[str, set[str]]:
    """BaseFont name → the kinds of embedded font file found for it, over every page."""
    found = {}
    for page in read(pdf).pages:
        fonts = page["/Resources"].get_object().get("/Font", {})
        for font in fonts.values():
            font = font.get_object()
            descendants = [d.get_object() for d in font.get("/DescendantFonts", [])] or [font]
            for descendant in descendants:
                descriptor = descendant.get("/FontDescriptor")
                kinds = set()
                if descriptor is not None:
                    descriptor = descriptor.get_object()
                    kinds = {key for key in ("/FontFile", "/FontFile2", "/FontFile3") if key in descriptor}
                found.setdefault(str(descendant.get("/BaseFont", font.get("/BaseFont"))), set()).update(kinds)
    return found


def assert_cjk_font_embedded(pdf: bytes):
    fonts = embedded_fonts(pdf)
    # WeasyPrint names an @font-face font after its family: ours, not a system CJK font (NotoSansCJKsc…).
    ours = {name: kinds for name, kinds in fonts.items() if "OrderHub-Sans-CJK" in name}
    assert ours and all(kinds == {"/FontFile3"} for kinds in ours.values()), fonts  # the OpenType CFF file
    assert all(kinds for kinds in fonts.values()), fonts  # nothing left to the viewer's fonts


def page_size_mm(page) -> tuple[float, float]:
    return round(float(page.mediabox.width) / MM, 1), round(float(page.mediabox.height) / MM, 1)


# --- barcodes and masking ---------------------------------------------------------------------------

def test_code128_is_drawn_as_one_inline_svg_path():
    svg = code128_svg("SF1400012345678")
    assert svg.startswith("<svg") and svg.count("<path") == 1 and "<rect" not in svg
    assert code128_modules("DY123").startswith("11010010000")  # start code B
    with pytest.raises(BarcodeInvalid):
        code128_svg("订单1")


@pytest.mark.parametrize("phone, shown", [
    ("13812345678", "138******78"),
    ("0571-88886666", "057*******66"),
    ("+86 138 1234 5678", "861********78"),
    ("88886666", "********"),
    ("", ""),
])
def test_a_label_phone_hides_at_least_six_digits(phone, shown):
    masked = documents.mask_label_phone(phone)
    assert masked == shown
    digits = [ch for ch in phone if ch.isdigit()]
    assert masked.count("*") >= min(6, len(digits))


@pytest.mark.parametrize("name, shown", [("张三", "张*"), ("欧阳娜娜", "欧***"), ("李", "*"), ("Somchai", "S******")])
def test_a_label_name_hides_at_least_one_character(name, shown):
    assert documents.mask_label_name(name) == shown


# --- the fetcher ------------------------------------------------------------------------------------

@pytest.fixture
def counting_server():
    hits = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            hits.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "text/css")
            self.end_headers()
            self.wfile.write(b"body { color: red }")

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", hits
    server.shutdown()
    server.server_close()


def test_only_our_static_files_are_fetched(counting_server):
    base, hits = counting_server
    fetcher = documents.StaticOnlyFetcher()
    html = (f'<link rel="stylesheet" href="{base}/evil.css"><link rel="stylesheet" href="documents/documents.css">'
            f'<style>@import url("{base}/imported.css");</style>'
            f'<img src="{base}/pixel.png"><img src="file:///etc/hostname"><p>装箱单</p>')
    pdf = documents.html_to_pdf(html, fetcher=fetcher)
    assert hits == []
    assert {f"{base}/evil.css", f"{base}/imported.css", f"{base}/pixel.png", "file:///etc/hostname"} <= set(
        fetcher.refused)
    assert documents.STATIC_ORIGIN + "documents/documents.css" in fetcher.served
    assert documents.STATIC_ORIGIN + documents.FONT_PATH in fetcher.served
    assert "装箱单" in text_of(pdf)
    assert documents.static_path(documents.STATIC_ORIGIN + "../config/settings.py") is None
    assert documents.static_path(documents.STATIC_ORIGIN + "css/nothing-here.css") is None


# --- per order --------------------------------------------------------------------------------------

def test_the_packing_list_names_products_lots_expiry_and_parties(floor):
    pdf = documents.packing_list_pdf(actor=floor.clerk, order_id=floor.first.pk)
    text = text_of(pdf)
    lot = floor.food.batches.get(lot_number="L2405A")
    for expected in ("Packing list", floor.first.external_id, "成猫粮 2kg", "豆腐猫砂", "L2405A",
                     lot.expires_on.isoformat(), "张三", "138******78", "示例商贸有限公司", "余杭区"):
        assert expected in text, expected
    assert "L2411B" not in text  # the later lot is not the reserved one
    assert "13812345678" not in text
    assert_cjk_font_embedded(pdf)
    assert page_size_mm(read(pdf).pages[0]) == (210.0, 297.0)


def test_the_label_is_76_by_130_mm_with_routing_fields_and_masked_receiver(floor):
    floor.issue(floor.first)
    pdf = documents.shipping_label_pdf(actor=floor.clerk, order_id=floor.first.pk)
    reader = read(pdf)
    assert len(reader.pages) == 1 and page_size_mm(reader.pages[0]) == (76.0, 130.0)
    text = text_of(pdf)
    for expected in ("SF1400012345678", "755-W3-12", "上海浦东集包", "沪东 浦东", "张*", "138******78",
                     "057*******66", floor.first.external_id):
        assert expected in text, expected
    assert "张三" not in text and "13812345678" not in text and "88886666" not in text
    assert_cjk_font_embedded(pdf)


def test_no_label_before_the_waybill_is_issued(floor):
    with pytest.raises(ShipmentNotIssued):
        documents.shipping_label_pdf(actor=floor.clerk, order_id=floor.first.pk)


# --- per wave ---------------------------------------------------------------------------------------

def test_the_pick_list_walks_by_location(floor):
    pdf = documents.pick_list_pdf(actor=floor.clerk, wave_id=floor.wave.pk)
    text = text_of(pdf)
    assert floor.wave.code in text and "L2405A" in text and "成猫粮 2kg" in text
    positions = [text.index(code) for code in ("A-01-3", "B-02-1")]
    assert positions == sorted(positions)
    assert floor.first.external_id in text and floor.second.external_id in text
    assert_cjk_font_embedded(pdf)


def test_a_whole_wave_prints_as_one_pdf_in_order(floor):
    floor.issue(floor.first)
    pdf = documents.wave_pdf(actor=floor.clerk, wave_id=floor.wave.pk)
    pages = read(pdf).pages
    # pick list, two packing lists, one label (only the first order has its waybill)
    assert [page_size_mm(page) for page in pages] == [(210.0, 297.0)] * 3 + [(76.0, 130.0)]
    texts = [page.extract_text() for page in pages]
    assert "Pick list" in texts[0]
    assert floor.first.external_id in texts[1] and "Packing list" in texts[1]
    assert floor.second.external_id in texts[2] and "欧阳娜娜" in texts[2]
    assert "SF1400012345678" in texts[3]
    assert_cjk_font_embedded(pdf)


def test_a_clerk_of_another_warehouse_gets_nothing(floor, client):
    stranger = make_user("warehouse_clerk", warehouses=[ShopFactory().default_warehouse])
    with pytest.raises(WaveNotFound):
        documents.wave_pdf(actor=stranger, wave_id=floor.wave.pk)
    with pytest.raises(OrderNotFound):
        documents.packing_list_pdf(actor=stranger, order_id=floor.first.pk)
    client.force_login(stranger)
    assert client.get(reverse("workbench:wave-pdf", args=[floor.wave.pk, "wave"])).status_code == 404
    assert client.get(reverse("workbench:order-pdf", args=[floor.first.pk, "packing-list"])).status_code == 404


def test_the_clerk_downloads_the_wave_from_the_workbench(floor, client):
    client.force_login(floor.clerk)
    response = client.get(reverse("workbench:wave-pdf", args=[floor.wave.pk, "pick-list"]))
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert floor.wave.code in response["Content-Disposition"]
    assert "L2405A" in text_of(response.content)
    page = client.get(reverse("workbench:wave-scan", args=[floor.wave.pk]))
    assert reverse("workbench:wave-pdf", args=[floor.wave.pk, "wave"]) in page.content.decode()
    missing = client.get(reverse("workbench:order-pdf", args=[floor.first.pk, "label"]))
    assert missing.status_code == 409


# --- cross-border -----------------------------------------------------------------------------------

TOTALS = {
    "quantity": r"Total quantity\s*(\d+)",
    "net": r"Total net weight \(kg\)\s*([\d.]+)",
    "gross": r"Total gross weight \(kg\)\s*([\d.]+)",
    "value": r"Total value\s*([A-Z]{3} [\d.]+)",
}


def printed_totals(text: str) -> dict:
    found = {key: re.search(pattern, text) for key, pattern in TOTALS.items()}
    assert all(found.values()), text
    return {key: match.group(1) for key, match in found.items()}


def test_invoice_export_packing_list_and_declaration_sheet_agree():
    order = cross_border_order()
    clerk = make_user("warehouse_clerk", warehouses=[order.warehouse])
    lead = make_user("cs_lead")
    declaration = customs_services.declaration_prepare(order_id=order.pk, country="us", actor=lead).declaration
    customs_services.declaration_update(declaration_id=declaration.pk, changes=US_COMPLETION, actor=lead)
    totals = declaration_totals(declaration)

    printed = {}
    for kind in documents.CUSTOMS_TEMPLATES:
        pdf = documents.customs_document_pdf(actor=clerk, order_id=order.pk, kind=kind)
        assert_cjk_font_embedded(pdf)
        text = text_of(pdf)
        assert "微波炉 20L" in text and "8516500000" in text and "Moisturising face cream 50 ml" in text
        printed[kind] = printed_totals(text)
    expected = {"quantity": str(totals.quantity), "net": str(totals.net_weight_kg),
                "gross": str(totals.gross_weight_kg), "value": f"{totals.currency} {totals.value}"}
    assert expected == {"quantity": "4", "net": "11.610", "gross": "11.610", "value": "CNY 999.00"}
    assert printed["commercial_invoice"] == printed["export_packing_list"] == printed["declaration_sheet"] == expected

    stranger = make_user("warehouse_clerk", warehouses=[ShopFactory().default_warehouse])
    with pytest.raises(OrderNotFound):
        documents.customs_document_pdf(actor=stranger, order_id=order.pk, kind="commercial_invoice")


def test_thai_descriptions_render_in_an_embedded_thai_font():
    html = ('<link rel="stylesheet" href="documents/documents.css">'
            '<p>微波炉 Microwave oven เตาอบไมโครเวฟ</p>')
    pdf = documents.html_to_pdf(html)
    assert "เตาอบไมโครเวฟ" in text_of(pdf).replace(" ", "")
    fonts = embedded_fonts(pdf)
    assert any("OrderHub-Sans-Thai" in name for name in fonts), fonts
    assert all(kinds for kinds in fonts.values()), fonts  # nothing left to the viewer's fonts
