"""Sales platforms and the shapes of their order numbers.

The order number alone tells where an order came from: prefixed ids (`dy_…`, `yz_…`) first,
then the all-digit shapes by length. Taobao and Tmall share one shape, so a shop's own platform
breaks the tie.
"""
import re

from django.db import models
from django.utils.translation import gettext_lazy as _


class Platform(models.TextChoices):
    TAOBAO = "taobao", _("Taobao")
    TMALL = "tmall", _("Tmall")
    JD = "jd", _("JD.com")
    PDD = "pdd", _("Pinduoduo")
    DOUYIN = "douyin", _("Douyin")
    KUAISHOU = "kuaishou", _("Kuaishou")
    YOUZAN = "youzan", _("Youzan")
    WECHAT = "wechat", _("WeChat mini-program")
    OWN_SITE = "own_site", _("Own website")
    B2B = "b2b", _("B2B distribution")
    PHONE = "phone", _("Phone order")
    POS = "pos", _("Point of sale")


# Ordered: the first pattern that matches wins, so prefixed shapes come before bare digits.
ORDER_NUMBER_PATTERNS: dict[str, str] = {
    Platform.DOUYIN: r"dy_[0-9A-Za-z]{6,40}",
    Platform.KUAISHOU: r"ks_[0-9A-Za-z]{6,40}",
    Platform.YOUZAN: r"yz_[0-9A-Za-z]{6,40}",
    Platform.WECHAT: r"wx_[0-9A-Za-z]{6,40}",
    Platform.OWN_SITE: r"os_[0-9A-Za-z-]{4,40}",
    Platform.B2B: r"B2B-\d{8}-\d{4,8}",
    Platform.PHONE: r"TEL-\d{8}-\d{4,8}",
    Platform.POS: r"POS-[0-9A-Za-z-]{4,40}",
    Platform.PDD: r"\d{6}-\d{15}",
    Platform.TAOBAO: r"\d{18,19}",
    Platform.TMALL: r"\d{18,19}",
    Platform.JD: r"\d{11,12}",
}
_COMPILED = {platform: re.compile(pattern) for platform, pattern in ORDER_NUMBER_PATTERNS.items()}


def recognise_platforms(order_number: str) -> list[str]:
    """Every platform whose order-number shape fits, most specific first."""
    return [platform for platform, regex in _COMPILED.items() if regex.fullmatch(order_number or "")]


def recognise_platform(order_number: str, *, prefer: str | None = None) -> str | None:
    candidates = recognise_platforms(order_number)
    if prefer in candidates:
        return prefer
    return candidates[0] if candidates else None


# Hours from order to shipment each channel usually promises (a shop can set its own).
SHIP_PROMISE_HOURS: dict[str, int] = {
    Platform.DOUYIN: 48,
    Platform.KUAISHOU: 48,
    Platform.PDD: 48,
    Platform.TAOBAO: 48,
    Platform.TMALL: 48,
    Platform.JD: 24,
    Platform.YOUZAN: 48,
    Platform.WECHAT: 72,
    Platform.OWN_SITE: 72,
    Platform.B2B: 72,
    Platform.PHONE: 24,
    Platform.POS: 24,
}
DEFAULT_SHIP_PROMISE_HOURS = 48
