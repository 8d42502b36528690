"""The declaration API: scoped like orders, the same services as everywhere, coded errors."""
from decimal import Decimal

import pytest
from django.contrib.admin.sites import site
from django.test import Client
from django.urls import reverse

from apps.customs import services
from apps.customs.models import CountryProfile, Declaration
from tests.customs.factories import TH_COMPLETION, cross_border_order
from tests.factories import ShopFactory, make_user

pytestmark = pytest.mark.django_db


def url(order, action=""):
    return f"/api/v1/orders/{order.pk}/declaration/{action}"


@pytest.fixture
def shops():
    return ShopFactory(code="mine"), ShopFactory(code="theirs")


def prepared(order, country="TH"):
    return services.declaration_prepare(order_id=order.pk, country=country, actor=None).declaration


def test_a_lead_prepares_reads_updates_and_checks_through_the_api(shops, user_client):
    mine, _theirs = shops
    order = cross_border_order(shop=mine)
    client = user_client("cs_lead", shops=[mine])

    response = client.post(url(order, "prepare/"), {"country": "TH"}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["country"]["code"] == "TH" and body["order"]["external_id"] == order.external_id
    assert body["hold"]["owner_role"] == "cs_lead" and not body["is_complete"]
    assert {p["code"] for p in body["problems"]} == {"consignee_tax_id_missing", "legal_unit_missing",
                                                     "local_name_missing", "tisi_number_missing"}
    assert body["consignee"]["phone"] == "13812345678"  # leads see personal data in full
    assert body["lines"][1]["unit_value"] == "33.3333" and body["lines"][1]["amount"] == "100.00"
    assert body["totals"] == {"currency": "CNY", "quantity": 4, "value": "999.00", "net_weight_kg": "11.610",
                              "gross_weight_kg": "11.610", "weights_complete": True}
    assert client.post(url(order, "prepare/"), {"country": "TH"}, format="json").status_code == 200

    changes = {**TH_COMPLETION, "lines": [{**line, "legal_quantity": str(line["legal_quantity"])}
                                          for line in TH_COMPLETION["lines"]]}
    response = client.patch(url(order), changes, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["is_complete"] and response.json()["problems"] == [] and response.json()["hold"] is None

    response = client.post(url(order, "check/"), format="json")
    assert response.status_code == 200 and response.json()["is_complete"]
    assert client.get(url(order)).json()["lines"][0]["extras"] == {"tisi_number": "TIS 1773-2548"}


def test_another_shops_declaration_is_not_found(shops, user_client):
    mine, theirs = shops
    foreign = cross_border_order(shop=theirs)
    prepared(foreign)
    client = user_client("cs_lead", shops=[mine])
    for response in (client.get(url(foreign)), client.post(url(foreign, "check/")),
                     client.patch(url(foreign), {"incoterm": "DDP"}, format="json")):
        assert response.status_code == 404 and response.json()["code"] == "declaration_not_found"
    response = client.post(url(foreign, "prepare/"), {"country": "TH"}, format="json")
    assert response.status_code == 404 and response.json()["code"] == "order_not_found"
    assert Declaration.objects.get(order=foreign).incoterm == ""


def test_an_order_without_a_declaration_is_not_cross_border(shops, user_client):
    mine, _theirs = shops
    order = cross_border_order(shop=mine)
    response = user_client("cs_agent", shops=[mine]).get(url(order))
    assert response.status_code == 404 and response.json()["code"] == "declaration_not_found"


def test_agents_read_masked_and_may_not_prepare_or_change(shops, user_client):
    mine, _theirs = shops
    order = cross_border_order(shop=mine)
    prepared(order)
    agent = user_client("cs_agent", shops=[mine])
    body = agent.get(url(order)).json()
    assert body["consignee"]["phone"] == "138****5678" and body["consignee"]["name"].startswith("S*")
    assert agent.post(url(order, "prepare/"), {"country": "TH"}, format="json").status_code == 403
    assert agent.patch(url(order), {"incoterm": "DDP"}, format="json").status_code == 403


def test_a_clerk_of_the_warehouse_reads_the_declaration(user_client):
    order = cross_border_order()
    prepared(order)
    clerk = user_client("warehouse_clerk", warehouses=[order.warehouse])
    assert clerk.get(url(order)).status_code == 200


def test_malformed_input_is_refused_with_codes(shops, user_client):
    mine, _theirs = shops
    order = cross_border_order(shop=mine)
    prepared(order)
    client = user_client("warehouse_lead", shops=[mine])

    response = client.patch(url(order), {"lines": [{"line_no": 1, "gross_weight_kg": "1.000"}]}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "declaration_invalid"
    assert [(p["code"], p["field"], p["line_no"]) for p in body["details"]["problems"]] == [
        ("gross_below_net", "gross_weight_kg", 1)]

    response = client.patch(url(order), {"incoterms": "DDP"}, format="json")
    assert response.status_code == 400 and response.json()["details"]["incoterms"][0]["code"] == "unknown_field"
    response = client.patch(url(order), {"lines": [{"line_no": 1, "net_weight_kg": "1.23456"}]}, format="json")
    assert response.status_code == 400 and response.json()["code"] == "validation_failed"
    response = client.post(url(order, "prepare/"), {"country": "DE"}, format="json")
    assert response.status_code == 409 and response.json()["code"] == "declaration_country_mismatch"
    assert Declaration.objects.get(order=order).lines.get(line_no=1).gross_weight_kg == Decimal("11.250")


def test_country_profiles_are_listed(user_client):
    rows = user_client("cs_agent").get("/api/v1/customs/countries/").json()
    assert [row["code"] for row in rows] == list(CountryProfile.objects.order_by("code").values_list("code",
                                                                                                      flat=True))
    thailand = next(row for row in rows if row["code"] == "TH")
    assert thailand["description_languages"] == ["th"] and thailand["de_minimis"] == "1500.00"


def test_the_admin_shows_profiles_and_declarations_read_only_and_scoped(shops):
    mine, theirs = shops
    own, foreign = cross_border_order(shop=mine), cross_border_order(shop=theirs)
    prepared(own), prepared(foreign)
    root = Client()
    root.force_login(make_user(superuser=True, username="root"))
    for model in (CountryProfile, Declaration):
        assert root.get(reverse(f"admin:customs_{model._meta.model_name}_changelist")).status_code == 200
        assert not site._registry[model].has_change_permission(None)
    th = CountryProfile.objects.get(code="TH")
    assert "tisi_number" in root.get(reverse("admin:customs_countryprofile_change", args=[th.pk])).content.decode()
    assert root.get(reverse("admin:customs_declaration_change", args=[own.declaration.pk])).status_code == 200

    manager = make_user("manager", shops=[mine])
    manager.is_staff = True
    manager.save()
    staff = Client()
    staff.force_login(manager)
    page = staff.get(reverse("admin:customs_declaration_changelist"))
    assert page.status_code == 200
    assert own.external_id in page.content.decode() and foreign.external_id not in page.content.decode()
