"""What a scanner typed, made comparable.

A USB scanner is a keyboard: it types the code and presses Enter. Cartons often carry a GS1-128
label instead of the plain EAN-13: one scan then holds the GTIN (AI 01), the lot (AI 10) and dates,
either in the printed form `(01)06901234567892(10)L2405A(17)270101` or raw, fields separated by the
GS character (ASCII 29) and sometimes preceded by a symbology identifier such as `]C1`. Reading the
lot out of that scan spares the picker a second scan; a plain code is taken as it is.
"""
import re
from dataclasses import dataclass

GS = "\x1d"
SYMBOLOGY_PREFIX = re.compile(r"^\][A-Za-z][0-9A-Za-z]")
_PRINTED_AI = re.compile(r"\((\d{2,4})\)([^()]*)")
# Application identifiers with a fixed data length (GS1 General Specifications, figure 7.8.5-2);
# the others we read run to the next GS or the end.
_FIXED_LENGTH = {"00": 18, "01": 14, "02": 14, "11": 6, "12": 6, "13": 6, "15": 6, "16": 6, "17": 6, "20": 2}
_VARIABLE = {"10", "21", "22", "30", "37", "240", "241"}
GTIN_LENGTHS = {8, 12, 13, 14}


@dataclass(frozen=True)
class Scanned:
    raw: str  # what was typed, trimmed
    code: str  # the product code to compare with SKU.barcode
    lot: str  # the lot number: from the GS1 label, else what was typed in the lot field


def _parse_printed(text: str) -> dict | None:
    fields = _PRINTED_AI.findall(text)
    if not fields or "".join(f"({ai}){value}" for ai, value in fields) != text:
        return None
    return dict(fields)


def _parse_raw(text: str) -> dict | None:
    if not text.startswith("01") or len(text) < 16:
        return None
    fields, rest = {}, text
    while rest:
        if rest.startswith(GS):
            rest = rest[1:]
            continue
        ai = next((a for a in (rest[:2], rest[:3]) if a in _FIXED_LENGTH or a in _VARIABLE), None)
        if ai is None:
            return None
        rest = rest[len(ai):]
        if ai in _FIXED_LENGTH:
            value, rest = rest[:_FIXED_LENGTH[ai]], rest[_FIXED_LENGTH[ai]:]
            if len(value) != _FIXED_LENGTH[ai] or not value.isdigit():
                return None
        else:
            value, _sep, rest = rest.partition(GS)
        fields[ai] = value
    return fields


def parse_gs1(text: str) -> dict | None:
    """{application identifier: value} of a GS1 element string, or None when it is not one."""
    text = SYMBOLOGY_PREFIX.sub("", text)
    fields = _parse_printed(text) if text.startswith("(") else _parse_raw(text)
    if not fields or "01" not in fields or not fields["01"].isdigit():
        return None
    return fields


def parse_scan(barcode: str, lot_number: str = "") -> Scanned:
    raw = (barcode or "").strip()
    lot = (lot_number or "").strip()
    fields = parse_gs1(raw)
    if fields is None:
        return Scanned(raw=raw, code=raw, lot=lot)
    return Scanned(raw=raw, code=fields["01"], lot=lot or fields.get("10", "").strip())


def barcode_matches(expected: str | None, scanned: str) -> bool:
    """The same product code. GTINs compare as 14 digits, so an EAN-13 on the unit and the GTIN-14
    (leading zero) read from a GS1 carton label are one product."""
    if not expected or not scanned:
        return False
    if expected == scanned:
        return True
    if expected.isdigit() and scanned.isdigit() and {len(expected), len(scanned)} <= GTIN_LENGTHS:
        return expected.zfill(14) == scanned.zfill(14)
    return False


def barcode_variants(scanned: str) -> list[str]:
    """Codes under which a scanned GTIN may be stored (to name the product a wrong scan was)."""
    if scanned.isdigit() and len(scanned) in GTIN_LENGTHS:
        core = scanned.lstrip("0")
        return sorted({scanned, *(core.zfill(n) for n in GTIN_LENGTHS if len(core) <= n)})
    return [scanned]
