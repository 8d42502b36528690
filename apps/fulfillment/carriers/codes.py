"""Tracking-event codes of the wire format (docs/carriers.md), per carrier, with the order
transition each one means. Codes are in the style of the carrier's own scans; a gateway in front of
a real carrier maps that carrier's actual scan codes onto these. None means the scan is recorded
but moves nothing (a delivery attempt that failed, a parcel held at a station).

Pure data, without Django, because the fake carrier speaks the same codes.
"""
TRANSIT = "transit"
OUT_FOR_DELIVERY = "out_for_delivery"
DELIVER = "deliver"
REFUSE = "refuse"

# The scan styles the carriers share: the Cainiao-standard words that ZTO, Yunda and J&T report,
# and the GOT/DEPARTURE/… words of YTO and Deppon.
_CAINIAO_STYLE = {
    "ACCEPT": (TRANSIT, "已揽收"),
    "TRANSPORT": (TRANSIT, "运输中"),
    "DELIVERING": (OUT_FOR_DELIVERY, "派件中"),
    "SIGN": (DELIVER, "已签收"),
    "REJECT": (REFUSE, "收件人拒收"),
    "FAILED": (None, "派送异常"),
}
_SCAN_STYLE = {
    "GOT": (TRANSIT, "已揽收"),
    "DEPARTURE": (TRANSIT, "已发出"),
    "ARRIVAL": (TRANSIT, "已到达"),
    "SENT_SCAN": (OUT_FOR_DELIVERY, "派件中"),
    "SIGNED": (DELIVER, "已签收"),
    "REJECTED": (REFUSE, "收件人拒收"),
    "FAILED": (None, "派送异常"),
}

TRACKING_CODES: dict[str, dict[str, tuple[str | None, str]]] = {
    "sf": {
        "50": (TRANSIT, "顺丰已收取快件"),
        "30": (TRANSIT, "快件已发车"),
        "31": (TRANSIT, "快件到达中转场"),
        "44": (OUT_FOR_DELIVERY, "快件派送中"),
        "80": (DELIVER, "已签收"),
        "70": (REFUSE, "收件人拒收"),
        "33": (None, "派送不成功"),
    },
    "zto": _CAINIAO_STYLE,
    "yunda": _CAINIAO_STYLE,
    "jt": _CAINIAO_STYLE,
    "yto": _SCAN_STYLE,
    "deppon": _SCAN_STYLE,
    "ems": {
        "203": (TRANSIT, "已收寄"),
        "306": (TRANSIT, "已封发"),
        "389": (TRANSIT, "到达处理中心"),
        "702": (OUT_FOR_DELIVERY, "投递员正在投递"),
        "704": (DELIVER, "已妥投"),
        "708": (REFUSE, "收件人拒收"),
        "711": (None, "未妥投"),
    },
}


def transition_for(carrier_code: str, event_code: str) -> str | None:
    return TRACKING_CODES.get(carrier_code, {}).get(event_code, (None, ""))[0]
