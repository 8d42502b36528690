"""Roles are Groups with model permissions; scope (which shops, which warehouses) is separate.

`sync_roles` is idempotent: data migrations call it whenever a later app adds permissions.
"""
from django.utils.translation import gettext_lazy as _

CS_AGENT = "cs_agent"
CS_LEAD = "cs_lead"
WAREHOUSE_CLERK = "warehouse_clerk"
WAREHOUSE_LEAD = "warehouse_lead"
FINANCE = "finance"
MANAGER = "manager"
ADMIN = "admin"

ROLE_LABELS = {
    CS_AGENT: _("Customer-service agent"),
    CS_LEAD: _("Customer-service lead"),
    WAREHOUSE_CLERK: _("Warehouse clerk"),
    WAREHOUSE_LEAD: _("Warehouse lead"),
    FINANCE: _("Finance"),
    MANAGER: _("Manager"),
    ADMIN: _("Administrator"),
}

_READ_ORDERS = {
    "orders.view_shop",
    "orders.view_order",
    "orders.view_orderline",
    "orders.view_orderevent",
    "orders.view_orderhold",
    "catalog.view_sku",
    "inventory.view_warehouse",
    "inventory.view_stocklevel",
    "inventory.view_batch",
    "inventory.view_stockalert",
}
_STOCK_LEDGER = {"inventory.view_stockmove", "inventory.view_reservation"}
_SHIPPING = {"fulfillment.view_carrier", "fulfillment.view_shipment", "fulfillment.view_senderprofile"}
_READ_CUSTOMERS = {"customers.view_customer", "customers.view_address"}
_READ_APPROVALS = {"approvals.view_approvalrequest", "approvals.view_approvalstep",
                   "approvals.view_approvaldecision", "approvals.view_approvalpolicy"}

ROLE_PERMISSIONS: dict[str, set[str]] = {
    CS_AGENT: _READ_ORDERS
    | _READ_CUSTOMERS
    | {"orders.add_order", "orders.cancel_order", "orders.intercept_order", "orders.add_orderhold"},
    # Clerks open short-pick holds; finance opens and settles credit holds.
    WAREHOUSE_CLERK: _READ_ORDERS
    | _STOCK_LEDGER
    | _SHIPPING
    | {"orders.pick_order", "orders.pack_order", "orders.ship_order", "orders.add_orderhold",
       "inventory.receive_stock"},
    FINANCE: _READ_ORDERS
    | _READ_CUSTOMERS
    | _READ_APPROVALS
    | {"orders.pay_order", "customers.change_customer", "orders.view_personal_data", "orders.add_orderhold",
       "orders.change_orderhold"},
}
ROLE_PERMISSIONS[CS_LEAD] = ROLE_PERMISSIONS[CS_AGENT] | _READ_APPROVALS | {
    "orders.pay_order",
    "orders.review_order",
    "orders.change_orderhold",
    "orders.view_personal_data",
    "customers.change_customer",
    "customers.change_address",
}
ROLE_PERMISSIONS[WAREHOUSE_LEAD] = ROLE_PERMISSIONS[WAREHOUSE_CLERK] | {
    "inventory.adjust_stock",
    "inventory.transfer_stock",
    "inventory.quarantine_stock",
    "orders.track_order",
    "orders.add_orderhold",
    "orders.change_orderhold",
    "orders.view_personal_data",
    "orders.intercept_order",
}
ROLE_PERMISSIONS[MANAGER] = (
    ROLE_PERMISSIONS[CS_LEAD]
    | ROLE_PERMISSIONS[WAREHOUSE_LEAD]
    | {"orders.approve_order", "customers.change_customer"}
)

# Admins get every permission of these apps (configuration, users, scopes) plus the job queue.
ADMIN_APPS = ("accounts", "auth", "customers", "catalog", "inventory", "orders", "approvals", "fulfillment", "guardian",
              "django_q")


def sync_roles(apps=None):
    """Create the role Groups and set exactly their permissions (works with migration or live apps)."""
    if apps is None:
        from django.apps import apps as live_apps

        apps = live_apps
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")

    def lookup(names):
        perms = []
        for name in sorted(names):
            app_label, codename = name.split(".")
            if not apps.all_models.get(app_label):
                continue  # an earlier migration, before that app's models exist; its own migration syncs again
            perm = Permission.objects.filter(content_type__app_label=app_label, codename=codename).first()
            if perm is None:
                raise LookupError(f"permission {name} does not exist; run the app's migrations first")
            perms.append(perm)
        return perms

    for role, names in ROLE_PERMISSIONS.items():
        group, _created = Group.objects.get_or_create(name=role)
        group.permissions.set(lookup(names))
    admin_group, _created = Group.objects.get_or_create(name=ADMIN)
    admin_group.permissions.set(Permission.objects.filter(content_type__app_label__in=ADMIN_APPS))


def create_all_permissions(apps):
    """Permissions are normally made after migrate; a data migration needs them now."""
    from django.contrib.auth.management import create_permissions

    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
