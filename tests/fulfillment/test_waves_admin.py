"""Waves, scans and packages in the admin: read-only, scoped to the warehouses worked."""
import pytest
from django.test import Client
from django.urls import reverse

from apps.fulfillment.models import ScanLog
from tests.factories import make_user
from tests.fulfillment.test_waves import Floor

pytestmark = pytest.mark.django_db


def staff(user) -> Client:
    user.is_staff = True
    user.save()
    client = Client()
    client.force_login(user)
    return client


def test_wave_pages_are_read_only_and_scoped():
    floor = Floor()
    floor.order({floor.litter: 1})
    wave = floor.wave().wave
    floor.pick_all(wave)
    root = staff(make_user(superuser=True, username="root"))
    for name in ("wave", "scanlog", "package", "shopcarrier"):
        assert root.get(reverse(f"admin:fulfillment_{name}_changelist")).status_code == 200
    page = root.get(reverse("admin:fulfillment_wave_change", args=[wave.pk]))
    assert page.status_code == 200 and b"A-01-3" in page.content
    scan = ScanLog.objects.get()
    assert root.get(reverse("admin:fulfillment_scanlog_change", args=[scan.pk])).status_code == 200
    assert root.post(reverse("admin:fulfillment_wave_delete", args=[wave.pk]), {"post": "yes"}).status_code == 403

    stranger = make_user("warehouse_clerk")
    stranger.user_permissions.add(*floor.clerk.groups.get().permissions.filter(codename="view_wave"))
    listing = staff(stranger).get(reverse("admin:fulfillment_wave_changelist"))
    assert wave.code.encode() not in listing.content
