from decimal import Decimal

import pytest

from apps.core.money import to_money
from apps.core.phones import InvalidPhone, normalise_phone, phone_tail
from apps.core.privacy import mask_detail, mask_name, mask_phone


@pytest.mark.parametrize(("raw", "expected"), [
    ("13812345678", "13812345678"),
    ("+86 138 1234 5678", "13812345678"),
    ("008613812345678", "13812345678"),
    ("8613812345678", "13812345678"),
    ("１３８１２３４５６７８", "13812345678"),  # full-width digits from a spreadsheet
    ("010-62345678", "010-62345678"),
    ("01062345678", "010-62345678"),
    ("0571-87654321-208", "0571-87654321-208"),
    ("(0755) 2345678", "0755-2345678"),
])
def test_valid_phones_are_normalised(raw, expected):
    assert normalise_phone(raw) == expected


@pytest.mark.parametrize("raw", ["12812345678", "1381234567", "138123456789", "12345", "", "phone", "010-1234",
                                 "0571-07654321", None])
def test_invalid_phones_are_refused(raw):
    with pytest.raises(InvalidPhone):
        normalise_phone(raw)


def test_phone_tail_and_masks():
    assert phone_tail("13812345678") == "5678"
    assert phone_tail("0571-87654321-208") == "4321"
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone("0571-87654321") == "0571-****4321"
    assert mask_name("欧阳娜娜") == "欧***" and mask_name("李") == "李*"
    assert mask_detail("文三路 90 号") == "文三路****"


def test_money_is_decimal_with_cents_and_never_float():
    assert to_money("19.905") == Decimal("19.91")
    assert to_money(3) == Decimal("3.00")
    with pytest.raises(TypeError):
        to_money(19.9)
    with pytest.raises(ValueError):
        to_money("NaN")
