"""Chinese phone numbers: mainland mobiles and landlines with an area code."""
import re

from django.utils.translation import gettext_lazy as _

MOBILE_RE = re.compile(r"^1[3-9]\d{9}$")
# 010 / 02x are 3-digit area codes, 0[3-9]xx are 4-digit; local numbers have 7 or 8 digits.
LANDLINE_RE = re.compile(r"^(0(?:10|2\d|[3-9]\d{2}))-?([2-9]\d{6,7})(?:-(\d{1,6}))?$")
_SEPARATORS = re.compile(r"[\s()（）]")
_FULLWIDTH = str.maketrans("０１２３４５６７８９－＋", "0123456789-+")


class InvalidPhone(ValueError):
    message = _(
        "Enter a mainland mobile number (11 digits starting with 13–19) or a landline number with its area code."
    )


def normalise_phone(raw: str) -> str:
    """Return the canonical form (`13812345678` or `010-12345678[-ext]`) or raise InvalidPhone."""
    if raw is None:
        raise InvalidPhone(raw)
    value = _SEPARATORS.sub("", str(raw).translate(_FULLWIDTH))
    for prefix in ("+86", "0086", "86-"):
        if value.startswith(prefix):
            value = value[len(prefix):].lstrip("-")
            break
    if re.fullmatch(r"86\d{11}", value):
        value = value[2:]
    if MOBILE_RE.match(value.replace("-", "")):
        return value.replace("-", "")
    match = LANDLINE_RE.match(value)
    if match:
        area, number, ext = match.groups()
        return f"{area}-{number}" + (f"-{ext}" if ext else "")
    raise InvalidPhone(raw)


def phone_tail(phone: str) -> str:
    """The last four digits of the subscriber number, which buyers quote on the phone."""
    digits = phone.split("-")[1] if phone.startswith("0") and "-" in phone else phone
    return re.sub(r"\D", "", digits)[-4:]
