"""Cell values as legacy spreadsheets hold them, made plain: full-width characters, stray spaces,
dates in four spellings (2026/1/18, 2026-01-18, 2026年1月18日, Excel serial numbers), numbers
typed as text."""
import re
import unicodedata
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation

EXCEL_EPOCH = date(1899, 12, 30)  # Excel's day 0 (it counts 1900 as a leap year, hence the 30th)
_DATE = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:[ T].*)?$")
_TIME = re.compile(r"[ T]\s*(\d{1,2})\s*[:：时]\s*(\d{1,2})(?:\s*[:：分]\s*(\d{1,2}))?")


# Full-width digits, Latin letters and the ideographic space become plain ones; Chinese punctuation
# such as （） and ， stays as written (it belongs in names and addresses).
_FULL_WIDTH = {code: code - 0xFEE0 for code in (*range(0xFF10, 0xFF1A), *range(0xFF21, 0xFF3B), *range(0xFF41, 0xFF5B))}
_FULL_WIDTH[0x3000] = 0x20


def text(value) -> str:
    """A cell as text: full-width digits and letters folded, spaces trimmed, '12.0' from a numeric
    cell back to '12'."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).translate(_FULL_WIDTH).strip()


def parse_date(value) -> date | None:
    """None for an empty cell; ValueError for anything that is not one of the accepted forms."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _from_serial(value)
    raw = unicodedata.normalize("NFKC", text(value))
    if not raw:
        return None
    if re.fullmatch(r"\d{5}(\.\d+)?", raw):
        return _from_serial(float(raw))
    match = _DATE.match(raw)
    if not match:
        raise ValueError(raw)
    return date(int(match[1]), int(match[2]), int(match[3]))


def parse_datetime(value) -> datetime | None:
    """A date with an optional time of day (2026-01-18 14:30, 2026/1/18 14:30:05, an Excel serial
    with a fraction), aware in the project's time zone; a date alone is midnight."""
    from django.utils import timezone

    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        day = _from_serial(value)
        moment = datetime.combine(day, datetime.min.time()) + timedelta(seconds=round((value % 1) * 86400))
    else:
        day = parse_date(value)
        if day is None:
            return None
        moment = datetime.combine(day, datetime.min.time())
        time_of_day = _TIME.search(unicodedata.normalize("NFKC", text(value)))
        if time_of_day:
            hour, minute, second = (int(part or 0) for part in time_of_day.groups())
            if hour > 23 or minute > 59 or second > 59:
                raise ValueError(str(value))
            moment = moment.replace(hour=hour, minute=minute, second=second)
    return timezone.make_aware(moment) if timezone.is_naive(moment) else moment


def _from_serial(serial: float) -> date:
    if not 1 <= serial < 2_958_466:  # Excel's range: 1900-01-01 … 9999-12-31
        raise ValueError(str(serial))
    return EXCEL_EPOCH + timedelta(days=int(serial))


def parse_decimal(value) -> Decimal | None:
    raw = unicodedata.normalize("NFKC", text(value)).replace(",", "").replace("¥", "").replace("￥", "")
    if not raw:
        return None
    try:
        return Decimal(raw)
    except InvalidOperation:
        raise ValueError(raw) from None


def parse_int(value) -> int | None:
    number = parse_decimal(value)
    if number is None:
        return None
    if number != number.to_integral_value():
        raise ValueError(str(value))
    return int(number)
