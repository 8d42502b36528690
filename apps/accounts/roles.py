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
_SHIPPING = {"fulfillment.view_carrier", "fulfillment.view_shipment", "fulfillment.view_senderprofile",
             "fulfillment.view_shopcarrier"}
# Clerks build waves themselves (the scope is their warehouses) and read what the scanner wrote.
_PICKING = {"fulfillment.add_wave", "fulfillment.view_wave", "fulfillment.view_waveorder",
            "fulfillment.view_picktask", "fulfillment.view_scanlog", "fulfillment.view_package"}
_READ_CUSTOMERS = {"customers.view_customer", "customers.view_address"}
_READ_APPROVALS = {"approvals.view_approvalrequest", "approvals.view_approvalstep",
                   "approvals.view_approvaldecision", "approvals.view_approvalpolicy"}

ROLE_PERMISSIONS: dict[str, set[str]] = {
    # Agents record a buyer's new address; after packing only once a warehouse lead has unlocked it.
    CS_AGENT: _READ_ORDERS
    | _READ_CUSTOMERS
    | {"orders.add_order", "orders.cancel_order", "orders.intercept_order", "orders.add_orderhold",
       "orders.change_shipping_address", "orders.record_complaint"},
    # Clerks open short-pick holds; finance opens and settles credit holds.
    WAREHOUSE_CLERK: _READ_ORDERS
    | _STOCK_LEDGER
    | _SHIPPING
    | _PICKING
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
    # The address lock after packing: the lead unlocks it (an intervention), cancels a waybill
    # printed for the old address, and may make the change.
    "orders.unlock_address",
    "orders.change_shipping_address",
    "fulfillment.change_shipment",
}
ROLE_PERMISSIONS[MANAGER] = (
    ROLE_PERMISSIONS[CS_LEAD]
    | ROLE_PERMISSIONS[WAREHOUSE_LEAD]
    | {"orders.approve_order", "customers.change_customer"}
)
# Customs declarations (apps.customs): whoever works an order reads its declaration; the leads
# prepare and correct it — customer service owns the customs hold, the warehouse makes the last
# corrections (gross weights) before shipping.
_READ_CUSTOMS = {"customs.view_countryprofile", "customs.view_declaration", "customs.view_declarationline"}
_WRITE_CUSTOMS = {"customs.add_declaration", "customs.change_declaration"}
for _role in (CS_AGENT, CS_LEAD, WAREHOUSE_CLERK, WAREHOUSE_LEAD, FINANCE, MANAGER):
    ROLE_PERMISSIONS[_role] = ROLE_PERMISSIONS[_role] | _READ_CUSTOMS
for _role in (CS_LEAD, WAREHOUSE_LEAD, MANAGER):
    ROLE_PERMISSIONS[_role] = ROLE_PERMISSIONS[_role] | _WRITE_CUSTOMS

# Returns (apps.returns): agents open and follow returns, the customer-service lead decides and
# settles them (refund, exchange, reship, close), the warehouse receives and inspects the goods,
# finance reads them (refund amounts).
_READ_RETURNS = {"returns.view_returnrequest", "returns.view_returnline", "returns.view_returnphoto",
                 "returns.view_returnevent", "returns.view_reasonnode"}
for _role in (CS_AGENT, CS_LEAD, WAREHOUSE_CLERK, WAREHOUSE_LEAD, FINANCE, MANAGER):
    ROLE_PERMISSIONS[_role] = ROLE_PERMISSIONS[_role] | _READ_RETURNS
for _role in (CS_AGENT, CS_LEAD, MANAGER):
    ROLE_PERMISSIONS[_role] = ROLE_PERMISSIONS[_role] | {"returns.add_returnrequest"}
for _role in (CS_LEAD, MANAGER):
    ROLE_PERMISSIONS[_role] = ROLE_PERMISSIONS[_role] | {"returns.approve_returnrequest",
                                                         "returns.settle_returnrequest"}
for _role in (WAREHOUSE_CLERK, WAREHOUSE_LEAD, MANAGER):
    ROLE_PERMISSIONS[_role] = ROLE_PERMISSIONS[_role] | {"returns.receive_returnrequest",
                                                         "returns.inspect_returnrequest"}

# Workbench pages (issue 7): agents mark orders urgent and keep private notes, which only customer
# service reads — not managers, not admins (the notes are encrypted at rest, apps.core.crypto).
# Finance and managers read payments, refunds and receivables; managers the holds and lateness board.
CS_NOTES = {"orders.add_csnote", "orders.view_csnote"}
for _role in (CS_AGENT, CS_LEAD, MANAGER):
    ROLE_PERMISSIONS[_role] = ROLE_PERMISSIONS[_role] | {"orders.mark_urgent"}
for _role in (CS_AGENT, CS_LEAD):
    ROLE_PERMISSIONS[_role] = ROLE_PERMISSIONS[_role] | CS_NOTES
ROLE_PERMISSIONS[MANAGER] = ROLE_PERMISSIONS[MANAGER] - CS_NOTES
for _role in (FINANCE, MANAGER):
    ROLE_PERMISSIONS[_role] = ROLE_PERMISSIONS[_role] | {"orders.view_finance"}
ROLE_PERMISSIONS[MANAGER] = ROLE_PERMISSIONS[MANAGER] | {"orders.view_operations_board"}

# Admins get every permission of these apps (configuration, users, scopes) plus the job queue.
ADMIN_APPS = ("accounts", "auth", "customers", "catalog", "inventory", "orders", "approvals", "fulfillment", "customs",
              "returns", "imports", "guardian", "django_q")


def sync_roles(apps=None):
    """Create the role Groups and set exactly their permissions (works with migration or live apps)."""
    if apps is None:
        from django.apps import apps as live_apps

        apps = live_apps
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")

    declared_by_app = {}

    def declared(app_label) -> set[str]:
        """Codenames the app's models declare at this point of the migration history."""
        if app_label not in declared_by_app:
            codenames = set()
            for model in apps.get_app_config(app_label).get_models():
                opts = model._meta
                codenames.update(f"{action}_{opts.model_name}" for action in opts.default_permissions)
                codenames.update(codename for codename, _label in opts.permissions)
            declared_by_app[app_label] = codenames
        return declared_by_app[app_label]

    def lookup(names):
        perms = []
        for name in sorted(names):
            app_label, codename = name.split(".")
            if not apps.all_models.get(app_label):
                continue  # an earlier migration, before that app's models exist; its own migration syncs again
            if codename not in declared(app_label):
                continue  # a permission (or model) a later migration adds; that migration syncs again
            perm = Permission.objects.filter(content_type__app_label=app_label, codename=codename).first()
            if perm is None:
                raise LookupError(f"permission {name} does not exist; run the app's migrations first")
            perms.append(perm)
        return perms

    for role, names in ROLE_PERMISSIONS.items():
        group, _created = Group.objects.get_or_create(name=role)
        group.permissions.set(lookup(names))
    admin_group, _created = Group.objects.get_or_create(name=ADMIN)
    admin_group.permissions.set(Permission.objects.filter(content_type__app_label__in=ADMIN_APPS).exclude(
        content_type__app_label="orders", codename__in=[name.split(".")[1] for name in CS_NOTES]))


def create_all_permissions(apps):
    """Permissions are normally made after migrate; a data migration needs them now."""
    from django.contrib.auth.management import create_permissions

    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
