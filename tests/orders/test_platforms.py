import pytest

from apps.orders.platforms import recognise_platform, recognise_platforms
from tests.factories import ShopFactory


@pytest.mark.parametrize(("number", "platform"), [
    ("dy_4829301177", "douyin"),
    ("yz_E20261120093011", "youzan"),
    ("ks_2211883301", "kuaishou"),
    ("wx_20261120000123", "wechat"),
    ("231120-123456789012345", "pdd"),
    ("3912345678901234567", "taobao"),
    ("298765432101", "jd"),
    ("B2B-20261120-0042", "b2b"),
    ("TEL-20261120-0007", "phone"),
    ("POS-HZ01-000123", "pos"),
])
def test_platform_is_recognised_from_the_order_number(number, platform):
    assert recognise_platform(number) == platform


def test_taobao_and_tmall_share_a_shape_and_the_shop_breaks_the_tie():
    assert recognise_platforms("3912345678901234567") == ["taobao", "tmall"]
    assert recognise_platform("3912345678901234567", prefer="tmall") == "tmall"


@pytest.mark.parametrize("number", ["", "dy_", "DY_123456", "12345", "hello world"])
def test_unknown_shapes_are_not_recognised(number):
    assert recognise_platform(number) is None


@pytest.mark.django_db
def test_shop_pattern_defaults_to_the_platform_and_can_be_overridden():
    shop = ShopFactory(platform="youzan")
    assert shop.accepts_order_number("yz_E2026112001") and not shop.accepts_order_number("dy_123456789")
    shop.order_number_pattern = r"E\d{14}"
    assert shop.accepts_order_number("E20261120093011") and not shop.accepts_order_number("yz_E2026112001")
