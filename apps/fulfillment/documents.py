"""The warehouse's printed documents as PDF (DESIGN: "Pages, language, documents").

HTML templates under templates/documents/ rendered by WeasyPrint: the pick list of a wave, the
packing list (装箱单) and the shipping label of an order, a whole wave as one PDF, and for a
cross-border order its commercial invoice, export packing list and declaration sheet.

- Fonts: Chinese is set in Noto Sans SC (OFL-1.1), which the `pylopdf-fonts-zh-cn` package ships
  as a file, and Thai in Noto Sans Thai (OFL-1.1, `pylopdf-fonts-th`); the stylesheet names them in
  @font-face, so they are embedded (subset) in the PDFs and no system font is needed.
- Fetching: `StaticOnlyFetcher` serves only our own static files (static/, plus that font file)
  under a private origin; every other URL (http, file, data …) is refused and never opened.
- Scope: every function takes the acting user and reads through the warehouse selectors, so a
  clerk gets documents of the waves and orders of the warehouses they work, "not found" otherwise.
- Totals on the customs documents come from apps.customs.selectors.declaration_totals only.
"""
import mimetypes
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from django.conf import settings
from django.db.models import Prefetch
from django.template.loader import render_to_string
from django.utils import timezone

from apps.core.privacy import mask_name
from apps.customs.selectors import declaration_for_order, declaration_totals
from apps.inventory.models import Reservation
from apps.orders.models import Order, OrderLine

from . import selectors
from .barcodes import code128_svg
from .errors import ShipmentNotIssued
from .models import PickTask, SenderProfile, Shipment, WaveOrder
from .services.shipments import shipments_mark_label_printed

# The origin documents are rendered under. It never resolves: the fetcher answers it from disk.
STATIC_ORIGIN = "https://static.orderhub.invalid/"
STATIC_ROOT = Path(settings.BASE_DIR) / "static"
FONT_PATH = "fonts/NotoSansSC-Regular.otf"
# Thai descriptions (the TH customs profile asks for them) are outside Noto Sans SC: a second face
# the stylesheet lists after it, so Thai glyphs fall back to it.
THAI_FONT_PATH = "fonts/NotoSansThai.ttf"

LABEL_SIZE_MM = (76, 130)


def _packaged_files() -> dict[str, Path]:
    """Static paths served from installed packages rather than static/ (kept out of the repository)."""
    import pylopdf_fonts_th
    import pylopdf_fonts_zh_cn

    return {FONT_PATH: pylopdf_fonts_zh_cn.sans_path(), THAI_FONT_PATH: pylopdf_fonts_th.sans_path()}


class ResourceRefused(ValueError):
    """A URL outside our static files; WeasyPrint skips the resource and renders on."""


class StaticOnlyFetcher:
    """A WeasyPrint URL fetcher that reads only our own static files. Records what it refused."""

    def __new__(cls, *args, **kwargs):
        # Built lazily so importing this module never loads WeasyPrint (and its system libraries).
        from weasyprint.urls import URLFetcher, URLFetcherResponse

        class _Fetcher(URLFetcher):
            def __init__(self):
                super().__init__(allowed_protocols=("https",))
                self.refused: list[str] = []
                self.served: list[str] = []

            def fetch(self, url, headers=None):
                path = static_path(url)
                if path is None:
                    self.refused.append(url)
                    raise ResourceRefused(f"not one of our static files: {url}")
                self.served.append(url)
                content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
                return URLFetcherResponse(url, body=path.read_bytes(), headers={"Content-Type": content_type})

        return _Fetcher()


def static_path(url: str) -> Path | None:
    """The file behind a URL under STATIC_ORIGIN, or None when it is anything else."""
    if not url.startswith(STATIC_ORIGIN):
        return None
    relative = url[len(STATIC_ORIGIN):].split("?", 1)[0].split("#", 1)[0]
    packaged = _packaged_files().get(relative)
    if packaged is not None:
        return packaged if packaged.is_file() else None
    root = STATIC_ROOT.resolve()
    path = (root / relative).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        return None
    return path


def render_pdf(*, template: str, context: dict, fetcher=None) -> bytes:
    """Render a document template to PDF bytes with the restricted fetcher and embedded fonts."""
    return html_to_pdf(render_to_string(template, context), fetcher=fetcher)


def html_to_pdf(html: str, *, fetcher=None) -> bytes:
    """HTML to PDF under STATIC_ORIGIN: relative URLs resolve to our static files, nothing else loads."""
    from weasyprint import HTML
    from weasyprint.text.fonts import FontConfiguration

    fetcher = fetcher or StaticOnlyFetcher()
    return HTML(string=html, base_url=STATIC_ORIGIN, url_fetcher=fetcher).write_pdf(font_config=FontConfiguration())


# --- masking on labels ----------------------------------------------------------------------------

def mask_label_phone(phone: str) -> str:
    """The national e-waybill rule: a printed phone number hides at least six digits. Digits only;
    long numbers keep the first three and the last two (138******78, 057*******66), shorter ones
    only the last two, and anything of eight digits or fewer is hidden whole."""
    digits = "".join(ch for ch in phone or "" if ch.isdigit())
    if len(digits) <= 8:
        return "*" * len(digits)
    head = 3 if len(digits) - 5 >= 6 else 0
    return digits[:head] + "*" * (len(digits) - head - 2) + digits[-2:]


def mask_label_name(name: str) -> str:
    """The receiver's name hides at least one character: 张三 → 张*, a one-character name → *."""
    name = (name or "").strip()
    if len(name) <= 1:
        return "*" * len(name)
    return mask_name(name)


# --- what the templates print ----------------------------------------------------------------------

@dataclass(frozen=True)
class PackingLine:
    line_no: int
    sku_code: str
    name: str
    unit: str
    quantity: int
    lot_number: str
    expires_on: date | None


def _sender(warehouse) -> SenderProfile | None:
    return SenderProfile.objects.filter(warehouse=warehouse).first()


def _orders_for_print():
    reservations = (Reservation.objects.exclude(state=Reservation.State.RELEASED)
                    .select_related("stock_level__batch").order_by("pk"))
    lines = (OrderLine.objects.select_related("sku").order_by("line_no")
             .prefetch_related(Prefetch("reservations", queryset=reservations)))
    return Order.objects.select_related("warehouse", "shop").prefetch_related(Prefetch("lines", queryset=lines))


def packing_lines(order) -> list[PackingLine]:
    """One row per reserved batch of each line (a line split over two lots prints twice); a line
    without reservations prints once, without lot."""
    rows = []
    for line in order.lines.all():
        reservations = list(line.reservations.all())
        if not reservations:
            rows.append(PackingLine(line.line_no, line.sku.code, line.sku.name_zh or line.name, line.sku.unit,
                                    line.quantity, "", None))
        for reservation in reservations:
            batch = reservation.stock_level.batch
            rows.append(PackingLine(line.line_no, line.sku.code, line.sku.name_zh or line.name, line.sku.unit,
                                    reservation.quantity, batch.lot_number if batch else "",
                                    batch.expires_on if batch else None))
    return rows


def _packing_context(order, sender) -> dict:
    lines = packing_lines(order)
    return {
        "order": order, "sender": sender, "lines": lines,
        "total_quantity": sum(line.quantity for line in lines),
        "barcode": code128_svg(order.external_id, module_mm=0.3, height_mm=11),
        "receiver_phone": mask_label_phone(order.receiver_phone),
    }


def _label_context(order, shipment, sender) -> dict:
    return {
        "order": order, "shipment": shipment, "sender": sender,
        "barcode": code128_svg(shipment.tracking_number, module_mm=0.3, height_mm=16),
        "stub_barcode": code128_svg(shipment.tracking_number, module_mm=0.25, height_mm=8),
        "receiver_name": mask_label_name(order.receiver_name),
        "receiver_phone": mask_label_phone(order.receiver_phone),
        "sender_phone": mask_label_phone(sender.phone) if sender else "",
    }


def _issued_shipment(order) -> Shipment | None:
    return (Shipment.objects.filter(order=order, state=Shipment.State.ISSUED).select_related("carrier")
            .order_by("-issued_at").first())


def _now():
    return timezone.localtime()


# --- per order -------------------------------------------------------------------------------------

def packing_list_pdf(*, actor, order_id) -> bytes:
    """装箱单 of one order of a warehouse the actor works."""
    order = selectors.warehouse_order(actor=actor, order_id=order_id)
    order = _orders_for_print().get(pk=order.pk)
    return render_pdf(template="documents/packing_list.html", context={
        "title": order.external_id, "printed_at": _now(),
        "packing_lists": [_packing_context(order, _sender(order.warehouse))],
    })


def shipping_label_pdf(*, actor, order_id) -> bytes:
    """The 76 × 130 mm label of an order's issued e-waybill."""
    order = selectors.warehouse_order(actor=actor, order_id=order_id)
    shipment = _issued_shipment(order)
    if shipment is None:
        raise ShipmentNotIssued(details={"order_id": order.pk})
    pdf = render_pdf(template="documents/shipping_label.html", context={
        "title": shipment.tracking_number, "printed_at": _now(),
        "labels": [_label_context(order, shipment, _sender(order.warehouse))],
    })
    shipments_mark_label_printed([shipment.pk])
    return pdf


# --- per wave --------------------------------------------------------------------------------------

WAVE_PARTS = ("pick_list", "packing_lists", "labels")


def pick_list_rows(wave) -> list[PickTask]:
    """The wave's live tasks in walking order: by location code, then pick-path sequence."""
    return list(PickTask.objects.filter(wave=wave).exclude(state=PickTask.State.RELEASED)
                .select_related("sku", "batch", "order", "wave_order").order_by("location_code", "sequence"))


def _wave_context(wave, parts) -> dict:
    sender = _sender(wave.warehouse)
    context = {"title": wave.code, "printed_at": _now(), "wave": wave}
    if "pick_list" in parts:
        rows = pick_list_rows(wave)
        context["pick_list"] = {"wave": wave, "rows": rows, "total_quantity": sum(t.quantity for t in rows),
                                "barcode": code128_svg(wave.code, module_mm=0.3, height_mm=10)}
    if "packing_lists" in parts or "labels" in parts:
        member_ids = list(WaveOrder.objects.filter(wave=wave, left_at__isnull=True).order_by("position")
                          .values_list("order_id", flat=True))
        orders = _orders_for_print().in_bulk(member_ids)
        members = [orders[pk] for pk in member_ids]
        if "packing_lists" in parts:
            context["packing_lists"] = [_packing_context(order, sender) for order in members]
        if "labels" in parts:
            shipments = {s.order_id: s for s in Shipment.objects.filter(order_id__in=member_ids,
                                                                       state=Shipment.State.ISSUED)
                         .select_related("carrier")}
            context["labels"] = [_label_context(order, shipments[order.pk], sender)
                                 for order in members if order.pk in shipments]
            context["printed_shipment_ids"] = [s.pk for s in shipments.values()]
    return context


def pick_list_pdf(*, actor, wave_id) -> bytes:
    return wave_pdf(actor=actor, wave_id=wave_id, parts=("pick_list",))


def wave_pdf(*, actor, wave_id, parts=WAVE_PARTS) -> bytes:
    """A whole wave as one PDF: the pick list, then each order's packing list, then the labels of
    the orders whose e-waybill is issued, all in the wave's order (`parts` picks a subset)."""
    wave = selectors.wave_detail(actor=actor, wave_id=wave_id)
    context = _wave_context(wave, tuple(parts))
    pdf = render_pdf(template="documents/wave.html", context=context)
    shipments_mark_label_printed(context.get("printed_shipment_ids", ()))
    return pdf


# --- cross-border ----------------------------------------------------------------------------------

CUSTOMS_TEMPLATES = {
    "commercial_invoice": "documents/commercial_invoice.html",
    "export_packing_list": "documents/export_packing_list.html",
    "declaration_sheet": "documents/declaration_sheet.html",
}


def customs_document_pdf(*, actor, order_id, kind: str) -> bytes:
    """A cross-border order's commercial invoice, export packing list or declaration sheet; the
    figures of all three come from one `declaration_totals`, so their totals agree."""
    template = CUSTOMS_TEMPLATES[kind]
    order = selectors.warehouse_order(actor=actor, order_id=order_id)
    declaration = declaration_for_order(actor=actor, order_id=order.pk)
    lines = list(declaration.lines.all())
    totals = declaration_totals(declaration, lines)
    figures = {figure.line_no: figure for figure in totals.lines}
    rows = [{"line": line, "figures": figures[line.line_no],
             "local_names": sorted((line.local_names or {}).items())} for line in lines]
    return render_pdf(template=template, context={
        "title": f"{order.external_id}", "printed_at": _now(), "order": order, "declaration": declaration,
        "profile": declaration.profile, "rows": rows, "totals": totals,
        "barcode": code128_svg(order.external_id, module_mm=0.3, height_mm=9),
    })
