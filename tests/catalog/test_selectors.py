"""active_skus_by_code: what intake resolves SKU codes with (a prepared statement on PostgreSQL)."""
import pytest
from django.forms.models import model_to_dict

from apps.catalog.models import SKU
from apps.catalog.selectors import active_skus_by_code
from tests.factories import SKUFactory

pytestmark = pytest.mark.django_db


def test_only_active_skus_of_the_codes_asked_for_are_returned_as_the_orm_reads_them():
    wanted, other = SKUFactory(), SKUFactory()
    SKUFactory(code="RETIRED", is_active=False)
    found = active_skus_by_code([wanted.code, wanted.code, "RETIRED", "NO-SUCH-CODE"])
    assert list(found) == [wanted.code]
    assert model_to_dict(found[wanted.code]) == model_to_dict(SKU.objects.get(pk=wanted.pk))
    assert found[wanted.code].pk == wanted.pk and other.code not in found


def test_no_codes_find_nothing():
    SKUFactory()
    assert active_skus_by_code([]) == {}
