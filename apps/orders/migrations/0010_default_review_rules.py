from django.db import migrations

RULES = [("out_of_stock", "cs_lead", {}), ("expiry_conflict", "warehouse_lead", {}),
         ("price_mismatch", "cs_lead", {"tolerance_percent": 10}), ("address_unresolved", "cs_agent", {})]


def create(apps, schema_editor):
    AuditRule = apps.get_model("orders", "AuditRule")
    for code, owner, parameters in RULES:
        AuditRule.objects.get_or_create(code=code, defaults={"owner_role": owner, "parameters": parameters})


class Migration(migrations.Migration):
    dependencies = [("orders", "0009_order_region_author_and_rules")]

    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
