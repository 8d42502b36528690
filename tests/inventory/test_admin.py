"""The stock admin pages as a warehouse lead reads them."""
import re

import pytest
from django.test import Client
from django.urls import reverse

from apps.inventory import services
from tests.factories import SKUFactory, WarehouseFactory, make_user
from tests.inventory.conftest import days

pytestmark = pytest.mark.django_db


def test_the_batch_list_shows_the_earliest_expiry_first_and_undated_lots_last():
    warehouse = WarehouseFactory()
    dated = SKUFactory(code="MILK", batch_tracked=True, shelf_life_days=365)
    undated = SKUFactory(code="DRILL", batch_tracked=True, shelf_life_days=None)
    for lot, expires in [("M-LATE", days(200)), ("M-SOON", days(10)), ("M-MID", days(90))]:
        services.stock_receive(warehouse_id=warehouse.pk, sku_id=dated.pk, quantity=5, actor=None, lot_number=lot,
                               expires_on=expires)
    services.stock_receive(warehouse_id=warehouse.pk, sku_id=undated.pk, quantity=5, actor=None, lot_number="D-1")
    client = Client()
    client.force_login(make_user(superuser=True, username="root"))

    page = client.get(reverse("admin:inventory_batch_changelist")).content.decode()

    lots = re.findall(r'class="field-lot_number"><a [^>]*>([^<]+)</a>', page)
    assert lots == ["M-SOON", "M-MID", "M-LATE", "D-1"]
