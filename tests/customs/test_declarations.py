"""Declarations: prepared from the order, checked against the base rules and the country profile,
and the customs hold that stops an incomplete cross-border order from shipping."""
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.utils import translation

from apps.customs import services
from apps.customs.errors import (
    DeclarationClosed,
    DeclarationCountryMismatch,
    DeclarationForbidden,
    DeclarationInvalid,
    UnknownCountry,
)
from apps.customs.models import Declaration, DeclarationLine
from apps.customs.selectors import declaration_totals
from apps.orders import services as order_services
from apps.orders.errors import OrderOnHold
from apps.orders.models import HoldType, Order, OrderEvent, OrderHold
from tests.customs.factories import CREAM, MICROWAVE, TH_COMPLETION, US_COMPLETION, cross_border_order
from tests.factories import make_user, reserve_fully

pytestmark = pytest.mark.django_db


def codes(problems) -> list[tuple]:
    return [(p.code, p.field, p.line_no) for p in problems]


def customs_holds(order):
    return OrderHold.objects.filter(order=order, type=HoldType.CUSTOMS_INCOMPLETE).order_by("pk")


def events(order, *names):
    return list(OrderEvent.objects.filter(order=order, name__in=names).values_list("name", flat=True))


@pytest.fixture
def lead():
    return make_user("cs_lead")


# --- preparing ----------------------------------------------------------------------------------

def test_prepare_builds_the_declaration_from_the_order_and_its_skus(lead):
    order = cross_border_order()
    result = services.declaration_prepare(order_id=order.pk, country="us", actor=lead)

    declaration = result.declaration
    assert result.created and declaration.profile.code == "US" and declaration.currency == "CNY"
    assert (declaration.exporter_name, declaration.exporter_phone) == ("示例商贸有限公司", "0571-88886666")
    assert declaration.exporter_address == "浙江省 杭州市 余杭区 仓前街道文一西路 1 号"
    assert (declaration.consignee_name, declaration.consignee_phone) == ("Somchai Jaidee", "13812345678")
    microwave, cream = declaration.lines.order_by("line_no")
    assert (microwave.hs_code, microwave.name_zh, microwave.name_en, microwave.origin_country) == (
        "8516500000", "微波炉 20L", "Microwave oven 20 L", "CN")
    assert (microwave.quantity, microwave.unit, microwave.unit_value) == (1, "台", Decimal("899.0000"))
    assert (microwave.net_weight_kg, microwave.gross_weight_kg) == (Decimal("11.250"), Decimal("11.250"))
    # 100.00 paid for three: the unit value keeps four places so that it multiplies back.
    assert (cream.quantity, cream.unit_value, cream.origin_country) == (3, Decimal("33.3333"), "FR")
    assert cream.net_weight_kg == Decimal("0.360")
    assert cream.order_line_id == order.lines.get(line_no=2).pk
    assert events(order, "declaration_prepared") == ["declaration_prepared"]
    event = OrderEvent.objects.get(order=order, name="declaration_prepared")
    assert event.actor == lead and event.payload == {"declaration_id": declaration.pk, "country": "US", "lines": 2}


def test_only_the_legal_units_are_missing_for_the_us_and_then_the_declaration_is_complete(lead):
    order = cross_border_order()
    result = services.declaration_prepare(order_id=order.pk, country="US", actor=lead)
    assert codes(result.check.problems) == [("legal_unit_missing", "legal_unit", 1),
                                            ("legal_unit_missing", "legal_unit", 2)]
    result = services.declaration_update(declaration_id=result.declaration.pk, changes=US_COMPLETION, actor=lead)
    assert result.check.complete and result.declaration.is_complete


def test_an_unknown_country_is_refused(lead):
    order = cross_border_order()
    with pytest.raises(UnknownCountry) as caught:
        services.declaration_prepare(order_id=order.pk, country="XX", actor=lead)
    assert "TH" in caught.value.details["known"] and not Declaration.objects.exists()


def test_preparing_needs_the_permission():
    order = cross_border_order()
    with pytest.raises(DeclarationForbidden):
        services.declaration_prepare(order_id=order.pk, country="TH", actor=make_user("cs_agent"))
    assert not Declaration.objects.exists()


def test_preparing_again_fills_only_blanks_and_keeps_what_a_person_entered(lead):
    order = cross_border_order()
    first = services.declaration_prepare(order_id=order.pk, country="TH", actor=lead).declaration
    services.declaration_update(declaration_id=first.pk, actor=lead, changes={
        "consignee_name": "Somchai J.", "lines": [{"line_no": 2, "name_en": "Face cream", "net_weight_kg": None,
                                                  "gross_weight_kg": None}]})
    again = services.declaration_prepare(order_id=order.pk, country="TH", actor=lead)
    assert not again.created and again.changed == ["lines.2.gross_weight_kg", "lines.2.net_weight_kg"]
    cream = again.declaration.lines.get(line_no=2)
    assert (again.declaration.consignee_name, cream.name_en, cream.net_weight_kg) == (
        "Somchai J.", "Face cream", Decimal("0.360"))
    # Nothing left to fill: a third call writes nothing.
    count = OrderEvent.objects.filter(order=order).count()
    third = services.declaration_prepare(order_id=order.pk, country="TH", actor=lead)
    assert third.changed == [] and OrderEvent.objects.filter(order=order).count() == count
    assert events(order, "declaration_prepared", "declaration_refilled") == ["declaration_prepared",
                                                                            "declaration_refilled"]


def test_preparing_for_another_country_is_refused(lead):
    order = cross_border_order()
    services.declaration_prepare(order_id=order.pk, country="TH", actor=lead)
    with pytest.raises(DeclarationCountryMismatch) as caught:
        services.declaration_prepare(order_id=order.pk, country="DE", actor=lead)
    assert caught.value.details == {"country": "TH", "requested": "DE"}


def test_a_shipped_order_has_its_declaration_closed(lead):
    order = cross_border_order(status="shipped")
    with pytest.raises(DeclarationClosed):
        services.declaration_prepare(order_id=order.pk, country="TH", actor=lead)


def test_a_later_order_of_the_same_skus_reuses_a_complete_declaration(lead):
    first = cross_border_order()
    declaration = services.declaration_prepare(order_id=first.pk, country="TH", actor=lead).declaration
    assert services.declaration_update(declaration_id=declaration.pk, changes=TH_COMPLETION,
                                       actor=lead).check.complete

    later = cross_border_order((MICROWAVE, 2, Decimal("1700.00")), (CREAM, 6, Decimal("200.00")),
                               shop=first.shop, customer=first.customer)
    result = services.declaration_prepare(order_id=later.pk, country="TH", actor=lead)
    microwave, cream = result.declaration.lines.order_by("line_no")
    assert (microwave.legal_unit, microwave.legal_quantity) == ("台", Decimal("2.000"))
    assert microwave.local_names == {"th": "เตาไมโครเวฟ 20 ลิตร"}
    assert microwave.extras == {"tisi_number": "TIS 1773-2548"}
    assert (cream.legal_unit, cream.legal_quantity) == ("千克", Decimal("0.720"))
    assert result.declaration.consignee_tax_id == "0105556012345"  # the same customer's
    assert result.check.complete


# --- checking: each class of problem with its code -----------------------------------------------

def test_thailand_needs_thai_names_a_tisi_number_for_regulated_goods_and_a_tax_number(lead):
    order = cross_border_order()
    problems = services.declaration_prepare(order_id=order.pk, country="TH", actor=lead).check.problems
    with translation.override("en"):
        messages = {p.code: p.message for p in problems}
    assert messages["tisi_number_missing"] == "TISI certificate number is required for Thailand."
    assert messages["local_name_missing"] == "The name in Thai is required for Thailand."
    assert codes(problems) == [
        ("consignee_tax_id_missing", "consignee_tax_id", None),
        ("legal_unit_missing", "legal_unit", 1),
        ("local_name_missing", "local_names.th", 1),
        ("tisi_number_missing", "extras.tisi_number", 1),  # 8516: under a mandatory Thai standard
        ("legal_unit_missing", "legal_unit", 2),
        ("local_name_missing", "local_names.th", 2),  # the face cream needs no TISI number
    ]
    with translation.override("zh-hans"):
        assert "泰国" in {p.code: p.message for p in problems}["tisi_number_missing"]


def test_a_tax_number_not_in_the_countrys_form_is_reported(lead):
    order = cross_border_order()
    declaration = services.declaration_prepare(order_id=order.pk, country="TH", actor=lead).declaration
    problems = services.declaration_update(declaration_id=declaration.pk, changes={"consignee_tax_id": "12345"},
                                           actor=lead).check.problems
    assert ("consignee_tax_id_invalid", "consignee_tax_id", None) in codes(problems)


@pytest.mark.parametrize("sku_change, expected", [
    ({"hs_code": "85165000"}, ("hs_code_not_10_digits", "hs_code", 1)),
    ({"hs_code": ""}, ("hs_code_missing", "hs_code", 1)),
    ({"name_en": ""}, ("name_en_missing", "name_en", 1)),
    ({"weight_grams": 0}, ("net_weight_missing", "net_weight_kg", 1)),
    ({"origin_country": ""}, ("origin_country_missing", "origin_country", 1)),
])
def test_gaps_in_the_catalogue_are_reported_by_field_and_line(lead, sku_change, expected):
    order = cross_border_order(({**MICROWAVE, **sku_change}, 1, Decimal("899.00")))
    problems = services.declaration_prepare(order_id=order.pk, country="US", actor=lead).check.problems
    assert expected in codes(problems)


def test_a_free_line_has_no_value_to_declare(lead):
    order = cross_border_order((MICROWAVE, 1, Decimal("0.00")))
    problems = services.declaration_prepare(order_id=order.pk, country="US", actor=lead).check.problems
    assert ("unit_value_missing", "unit_value", 1) in codes(problems)


@pytest.mark.parametrize("line_change, expected", [
    ({"hs_code": "85165000"}, ("hs_code_not_10_digits", "hs_code", 1)),
    ({"gross_weight_kg": Decimal("11.000")}, ("gross_below_net", "gross_weight_kg", 1)),
    ({"quantity": 0}, ("quantity_not_positive", "quantity", 1)),
    ({"net_weight_kg": Decimal("0")}, ("weight_not_positive", "net_weight_kg", 1)),
    ({"unit_value": Decimal("-1")}, ("unit_value_negative", "unit_value", 1)),
    ({"legal_quantity": Decimal("0")}, ("legal_quantity_not_positive", "legal_quantity", 1)),
    ({"origin_country": "China"}, ("origin_country_invalid", "origin_country", 1)),
    ({"quantity": "three"}, ("not_a_number", "quantity", 1)),
    ({"colour": "red"}, ("unknown_field", "colour", 1)),
    ({"extras": {"shoe_size": "42"}}, ("unknown_extra", "extras.shoe_size", 1)),
    ({"net_weight_kg": "1e12"}, ("number_too_large", "net_weight_kg", 1)),
    ({"quantity": 10 ** 12}, ("number_too_large", "quantity", 1)),
])
def test_malformed_changes_are_refused_with_their_code_and_nothing_is_written(lead, line_change, expected):
    order = cross_border_order()
    declaration = services.declaration_prepare(order_id=order.pk, country="US", actor=lead).declaration
    before = list(DeclarationLine.objects.order_by("pk").values())
    with pytest.raises(DeclarationInvalid) as caught:
        services.declaration_update(declaration_id=declaration.pk, actor=lead, changes={
            "consignee_name": "Someone else", "lines": [{"line_no": 1, **line_change}]})
    found = caught.value.details["problems"]
    assert [(p["code"], p["field"], p["line_no"]) for p in found] == [expected]
    assert found[0]["message"]
    assert list(DeclarationLine.objects.order_by("pk").values()) == before
    assert Declaration.objects.get(pk=declaration.pk).consignee_name == "Somchai Jaidee"
    assert not events(order, "declaration_updated")


def test_the_currency_is_the_orders_and_not_edited(lead):
    order = cross_border_order()
    declaration = services.declaration_prepare(order_id=order.pk, country="US", actor=lead).declaration
    with pytest.raises(DeclarationInvalid) as caught:
        services.declaration_update(declaration_id=declaration.pk, actor=lead, changes={"currency": "USD"})
    assert caught.value.details["problems"][0]["code"] == "unknown_field"


def test_the_same_update_twice_writes_once(lead):
    order = cross_border_order()
    declaration = services.declaration_prepare(order_id=order.pk, country="US", actor=lead).declaration
    first = services.declaration_update(declaration_id=declaration.pk, changes=US_COMPLETION, actor=lead)
    count = OrderEvent.objects.filter(order=order).count()
    second = services.declaration_update(declaration_id=declaration.pk, changes=US_COMPLETION, actor=lead)
    assert first.changed and second.changed == [] and second.check.complete
    assert OrderEvent.objects.filter(order=order).count() == count


def test_a_line_waiting_for_its_full_hs_code_can_still_be_edited(lead):
    order = cross_border_order(({**MICROWAVE, "hs_code": "851650"}, 1, Decimal("899.00")))
    declaration = services.declaration_prepare(order_id=order.pk, country="US", actor=lead).declaration
    result = services.declaration_update(declaration_id=declaration.pk, actor=lead,
                                         changes={"lines": [{"line_no": 1, "legal_unit": "台", "legal_quantity": 1}]})
    assert codes(result.check.problems) == [("hs_code_not_10_digits", "hs_code", 1)]
    assert result.check.problems[0].params == {"value": "851650", "digits": 6}


def test_an_unknown_line_is_refused(lead):
    order = cross_border_order()
    declaration = services.declaration_prepare(order_id=order.pk, country="US", actor=lead).declaration
    with pytest.raises(DeclarationInvalid) as caught:
        services.declaration_update(declaration_id=declaration.pk, actor=lead, changes={"lines": [{"line_no": 9}]})
    assert caught.value.details["problems"][0]["code"] == "unknown_line"


@pytest.mark.parametrize("change, constraint", [
    ({"quantity": 0}, "declarationline_quantity_positive"),
    ({"gross_weight_kg": Decimal("1.000")}, "declarationline_gross_at_least_net"),
    ({"hs_code": "851650000"}, "declarationline_hs_code_10_digits"),
    ({"net_weight_kg": Decimal("0"), "gross_weight_kg": None}, "declarationline_net_weight_positive"),
])
def test_the_database_refuses_what_the_service_refuses(lead, change, constraint):
    order = cross_border_order()
    declaration = services.declaration_prepare(order_id=order.pk, country="US", actor=lead).declaration
    with pytest.raises(IntegrityError), transaction.atomic():
        DeclarationLine.objects.filter(declaration=declaration, line_no=1).update(**change)


def test_hs_codes_are_taken_as_printed_in_the_tariff(lead):
    order = cross_border_order(({**MICROWAVE, "hs_code": "851650"}, 1, Decimal("899.00")))
    declaration = services.declaration_prepare(order_id=order.pk, country="US", actor=lead).declaration
    services.declaration_update(declaration_id=declaration.pk, actor=lead,
                                changes={"lines": [{"line_no": 1, "hs_code": "8516.5000.00"}]})
    assert declaration.lines.get().hs_code == "8516500000"


def test_changing_the_country_checks_against_the_new_profile(lead):
    order = cross_border_order()
    declaration = services.declaration_prepare(order_id=order.pk, country="US", actor=lead).declaration
    result = services.declaration_update(declaration_id=declaration.pk, changes={"country": "de"}, actor=lead)
    assert result.declaration.profile.code == "DE"
    assert {p.code for p in result.check.problems} == {"incoterm_missing", "legal_unit_missing",
                                                       "local_name_missing"}
    assert OrderEvent.objects.get(order=order, name="declaration_updated").payload["country"] == "DE"


# --- the hold -----------------------------------------------------------------------------------

def test_the_hold_opens_is_kept_reworded_and_released_when_the_declaration_is_complete(lead):
    order = cross_border_order()
    with translation.override("en"):  # the reason is worded in the language of whoever triggered the check
        prepared = services.declaration_prepare(order_id=order.pk, country="TH", actor=lead)
    hold = prepared.check.hold
    assert prepared.check.hold_opened and hold.type == HoldType.CUSTOMS_INCOMPLETE
    assert hold.is_automatic and hold.owner_role == "cs_lead" and hold.opened_by is None
    assert "Thailand" in hold.reason and "line 1: TISI certificate number is required" in hold.reason
    assert hold.details["country"] == "TH" and len(hold.details["problems"]) == 6

    # Checking again changes nothing: same hold, no event.
    count = OrderEvent.objects.filter(order=order).count()
    again = services.declaration_check(order_id=order.pk)
    assert again.hold.pk == hold.pk and not again.hold_opened and not again.hold_closed
    assert OrderEvent.objects.filter(order=order).count() == count

    # Part fixed: the same hold names what is still missing.
    with translation.override("en"):
        services.declaration_update(declaration_id=prepared.declaration.pk, actor=lead,
                                    changes={"consignee_tax_id": TH_COMPLETION["consignee_tax_id"]})
    hold.refresh_from_db()
    assert hold.is_open and len(hold.details["problems"]) == 5 and "tax number" not in hold.reason
    assert events(order, "customs_hold_updated") == ["customs_hold_updated"]

    with translation.override("en"):
        result = services.declaration_update(declaration_id=prepared.declaration.pk, changes=TH_COMPLETION,
                                             actor=lead)
    assert result.check.complete and result.check.hold_closed and result.check.hold is None
    hold.refresh_from_db()
    assert not hold.is_open and hold.resolution == "Customs declaration complete" and hold.released_by is None
    released = OrderEvent.objects.get(order=order, type=OrderEvent.Type.HOLD_RELEASED)
    assert released.actor_label == "system" and not released.is_intervention

    # Complete and checked again: still nothing to do.
    count = OrderEvent.objects.filter(order=order).count()
    assert services.declaration_check(order_id=order.pk).complete
    assert OrderEvent.objects.filter(order=order).count() == count and customs_holds(order).count() == 1


def test_breaking_a_complete_declaration_opens_a_new_hold(lead):
    order = cross_border_order()
    declaration = services.declaration_prepare(order_id=order.pk, country="US", actor=lead).declaration
    services.declaration_update(declaration_id=declaration.pk, changes=US_COMPLETION, actor=lead)
    result = services.declaration_update(declaration_id=declaration.pk, actor=lead,
                                         changes={"lines": [{"line_no": 2, "name_en": ""}]})
    assert result.check.hold_opened and codes(result.check.problems) == [("name_en_missing", "name_en", 2)]
    assert [h.is_open for h in customs_holds(order)] == [False, True]
    assert not Declaration.objects.get(pk=declaration.pk).is_complete


def test_a_customs_hold_a_person_opened_is_theirs_to_release(lead):
    order = cross_border_order()
    manual = order_services.order_hold_open(order_id=order.pk, type=HoldType.CUSTOMS_INCOMPLETE, actor=lead,
                                            reason="等待出口许可证", owner_role="cs_lead")
    declaration = services.declaration_prepare(order_id=order.pk, country="US", actor=lead).declaration
    result = services.declaration_update(declaration_id=declaration.pk, changes=US_COMPLETION, actor=lead)
    assert result.check.complete and not result.check.hold_closed and result.check.hold.pk == manual.pk
    manual.refresh_from_db()
    assert manual.is_open and manual.reason == "等待出口许可证"


def test_at_review_the_hold_stops_the_order_and_its_release_sends_it_back_to_review(lead):
    from django_q.models import OrmQ
    from django_q.signing import SignedPackage

    order = cross_border_order(status="pending_review")
    declaration = services.declaration_prepare(order_id=order.pk, country="US", actor=lead).declaration
    with pytest.raises(OrderOnHold):
        order_services.order_transition(order_id=order.pk, name="pass_review", actor=lead)
    OrmQ.objects.all().delete()
    services.declaration_update(declaration_id=declaration.pk, changes=US_COMPLETION, actor=lead)
    # The review job, written in the release's transaction (apps.core.queue).
    jobs = [SignedPackage.loads(job.payload) for job in OrmQ.objects.all()]
    assert [(job["func"], job["args"]) for job in jobs] == [("apps.orders.tasks.audit_order", (order.pk,))]


def test_an_incomplete_declaration_stops_shipping_until_it_is_complete(lead):
    order = cross_border_order(status="packed")
    reserve_fully(order)  # shipping issues the reserved stock
    declaration = services.declaration_prepare(order_id=order.pk, country="TH", actor=lead).declaration

    clerk = make_user("warehouse_clerk")
    with pytest.raises(OrderOnHold) as caught:
        order_services.order_transition(order_id=order.pk, name="ship", actor=clerk)
    assert caught.value.code == "order_on_hold"
    assert [hold["type"] for hold in caught.value.details["holds"]] == ["customs_incomplete"]
    assert Order.objects.get(pk=order.pk).status == "packed"

    services.declaration_update(declaration_id=declaration.pk, changes=TH_COMPLETION, actor=make_user("warehouse_lead"))
    order_services.order_transition(order_id=order.pk, name="ship", actor=clerk)
    assert Order.objects.get(pk=order.pk).status == "shipped"
    # Shipped: the declaration went with the parcel.
    with pytest.raises(DeclarationClosed):
        services.declaration_update(declaration_id=declaration.pk, changes={"incoterm": "DDP"}, actor=lead)


def test_checking_a_shipped_order_reports_but_opens_no_hold(lead):
    order = cross_border_order(status="packed")
    declaration = services.declaration_prepare(order_id=order.pk, country="US", actor=lead).declaration
    services.declaration_update(declaration_id=declaration.pk, changes=US_COMPLETION, actor=lead)
    Order.objects.filter(pk=order.pk).update(status="shipped")
    DeclarationLine.objects.filter(declaration=declaration, line_no=1).update(name_en="")
    result = services.declaration_check(order_id=order.pk)
    assert not result.complete and result.hold is None and not customs_holds(order).filter(
        released_at__isnull=True).exists()


# --- totals -------------------------------------------------------------------------------------

def test_totals_add_the_rounded_line_amounts_and_the_weights(lead):
    order = cross_border_order((MICROWAVE, 1, Decimal("899.00")), (CREAM, 3, Decimal("100.00")),
                               ({**CREAM, "code": "FC-15", "weight_grams": 0}, 7, Decimal("10.00")))
    declaration = services.declaration_prepare(order_id=order.pk, country="US", actor=lead).declaration
    totals = declaration_totals(declaration)
    # 33.3333 × 3 = 99.9999 → 100.00; 1.4286 × 7 = 10.0002 → 10.00: the paid totals come back.
    assert [f.amount for f in totals.lines] == [Decimal("899.00"), Decimal("100.00"), Decimal("10.00")]
    assert (totals.value, totals.quantity, totals.currency) == (Decimal("1009.00"), 11, "CNY")
    assert (totals.net_weight_kg, totals.gross_weight_kg) == (Decimal("11.610"), Decimal("11.610"))
    assert not totals.weights_complete  # the third line's weight is unknown

    services.declaration_update(declaration_id=declaration.pk, actor=lead, changes={"lines": [
        {"line_no": 1, "gross_weight_kg": Decimal("12.800")},
        {"line_no": 3, "net_weight_kg": Decimal("0.105"), "gross_weight_kg": Decimal("0.140")}]})
    totals = declaration_totals(Declaration.objects.get(pk=declaration.pk))
    assert (totals.net_weight_kg, totals.gross_weight_kg, totals.weights_complete) == (
        Decimal("11.715"), Decimal("13.300"), True)
    assert totals.value == sum(f.amount for f in totals.lines)
