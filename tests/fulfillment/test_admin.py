"""Carriers are configured in the admin; shipments are shown there, read-only and scoped."""
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from apps.fulfillment.models import Carrier
from apps.fulfillment.services import shipment_request_waybill
from tests.factories import make_user
from tests.fulfillment.factories import shippable_order

pytestmark = pytest.mark.django_db


def staff_client(user):
    user.is_staff = True
    user.save()
    client = Client()
    client.force_login(user)
    return client


def test_carrier_pages_show_the_schema_and_edit_only_the_companys_settings():
    client = staff_client(make_user(superuser=True, username="root"))
    sf = Carrier.objects.get(code="sf")
    assert client.get(reverse("admin:fulfillment_carrier_changelist")).status_code == 200
    page = client.get(reverse("admin:fulfillment_carrier_change", args=[sf.pk]))
    assert page.status_code == 200 and "月结卡号".encode() in page.content
    client.post(reverse("admin:fulfillment_carrier_change", args=[sf.pk]), {
        "is_active": "on", "monthly_account": "0210012345", "cod_account": "",
        "api_base_url": "https://gw.example.com/sf",
        "name_zh": "改名", "waybill_schema": "{}"})
    sf.refresh_from_db()
    assert (sf.monthly_account, sf.api_base_url, sf.name_zh) == ("0210012345", "https://gw.example.com/sf", "顺丰速运")
    assert sf.waybill_schema["fields"]
    assert client.get(reverse("admin:fulfillment_senderprofile_changelist")).status_code == 200


def test_shipments_are_read_only_and_scoped_to_the_orders_one_may_see(fake_carrier):
    mine, theirs = shippable_order(), shippable_order()
    shipments = [shipment_request_waybill(order_id=order.pk, carrier_code="zto", actor=None, service_type="standard",
                                          weight=Decimal("1")) for order in (mine, theirs)]
    lead = make_user("warehouse_lead", warehouses=[mine.warehouse])
    # Roles do not list fulfillment permissions yet (apps.accounts.roles); grant the one needed here.
    lead.user_permissions.add(Permission.objects.get(codename="view_shipment"))
    client = staff_client(lead)
    page = client.get(reverse("admin:fulfillment_shipment_changelist"))
    assert page.status_code == 200
    assert shipments[0].tracking_number.encode() in page.content
    assert shipments[1].tracking_number.encode() not in page.content
    detail = client.get(reverse("admin:fulfillment_shipment_change", args=[shipments[0].pk]))
    assert detail.status_code == 200 and b"request_id" in detail.content
    assert client.post(reverse("admin:fulfillment_shipment_change", args=[shipments[0].pk]), {}).status_code == 403
