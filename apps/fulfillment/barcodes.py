"""Code128 barcodes as inline SVG for the printed documents (DESIGN: "Pages, language, documents").

python-barcode does the encoding (start code, code-set switching, checksum); the drawing is ours:
one <path> of filled bars in millimetres, so WeasyPrint lays out a single element per barcode
instead of one rectangle per module, and no image library is needed.
"""
from barcode import Code128
from barcode.errors import BarcodeError
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext_lazy as _

from apps.core.errors import ValidationFailed

QUIET_ZONE_MODULES = 10


class BarcodeInvalid(ValidationFailed):
    code = "barcode_invalid"
    default_message = _("This value cannot be printed as a Code128 barcode.")


def code128_modules(value: str) -> str:
    """The bar pattern: '1' a dark module, '0' a light one (without quiet zones)."""
    if not value or not value.isascii() or not value.isprintable():
        raise BarcodeInvalid(details={"value": value})
    try:
        return Code128(value).build()[0]
    except BarcodeError as exc:  # pragma: no cover - printable ASCII always encodes
        raise BarcodeInvalid(details={"value": value}) from exc


def code128_svg(value: str, *, module_mm: float = 0.33, height_mm: float = 12.0) -> SafeString:
    """An inline <svg> of `value` as Code128, `module_mm` per narrow module, quiet zones included."""
    modules = code128_modules(value)
    bars, x, run_start = [], QUIET_ZONE_MODULES, None
    for position, module in enumerate(modules + "0"):
        if module == "1" and run_start is None:
            run_start = position
        elif module == "0" and run_start is not None:
            bars.append(f"M{x + run_start} 0h{position - run_start}v1h-{position - run_start}z")
            run_start = None
    width = len(modules) + 2 * QUIET_ZONE_MODULES
    return mark_safe(
        f'<svg xmlns="http://www.w3.org/2000/svg" class="barcode" role="img" aria-label="{escape(value)}" '
        f'width="{width * module_mm:.2f}mm" height="{height_mm:.2f}mm" viewBox="0 0 {width} 1" '
        f'preserveAspectRatio="none"><path fill="#000" d="{"".join(bars)}"/></svg>'
    )
