import pytest
from django.contrib.auth.models import Group

from apps.accounts.roles import ROLE_PERMISSIONS, sync_roles

pytestmark = pytest.mark.django_db
ROLES = ["cs_agent", "cs_lead", "warehouse_clerk", "warehouse_lead", "finance", "manager", "admin"]


def perms(role):
    return {f"{p.content_type.app_label}.{p.codename}" for p in Group.objects.get(name=role).permissions.all()}


def test_migration_created_every_role_with_its_permissions():
    assert set(Group.objects.values_list("name", flat=True)) >= set(ROLES)
    for role, expected in ROLE_PERMISSIONS.items():
        assert perms(role) == expected


def test_roles_follow_the_jobs():
    assert "orders.pick_order" in perms("warehouse_clerk") and "orders.pick_order" not in perms("cs_agent")
    assert "orders.approve_order" in perms("manager") and "orders.approve_order" not in perms("cs_lead")
    assert "orders.view_personal_data" not in perms("cs_agent")
    assert {"orders.add_shop", "accounts.change_user", "orders.serve_shop"} <= perms("admin")


def test_sync_is_idempotent_and_repairs_drift():
    Group.objects.get(name="cs_agent").permissions.clear()
    sync_roles()
    sync_roles()
    assert perms("cs_agent") == ROLE_PERMISSIONS["cs_agent"]
