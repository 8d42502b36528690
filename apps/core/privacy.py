"""Personal data as shown to roles that do not need it in full (DESIGN: "Who sees what")."""
from .phones import MOBILE_RE


def mask_phone(phone: str) -> str:
    """`138****5678` on screens for roles that do not need the number."""
    if not phone:
        return phone
    if MOBILE_RE.match(phone):
        return f"{phone[:3]}****{phone[-4:]}"
    area, _sep, rest = phone.partition("-")
    number = rest.split("-")[0]
    return f"{area}-{'*' * (len(number) - 4)}{number[-4:]}"


def mask_name(name: str) -> str:
    """Hide every character but the first: 张三 -> 张*, 欧阳娜娜 -> 欧***."""
    if not name:
        return name
    return name[0] + "*" * max(len(name) - 1, 1)


def mask_detail(detail: str) -> str:
    """Keep the first few characters of a street address so a person can still tell orders apart."""
    if not detail:
        return detail
    return detail[:3] + "****"
