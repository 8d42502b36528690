from django.db import migrations

RULES = [("blacklisted", "cs_lead"), ("over_credit_limit", "finance"), ("multiple_addresses", "cs_lead")]


def create(apps, schema_editor):
    AuditRule = apps.get_model("orders", "AuditRule")
    for code, owner in RULES:
        AuditRule.objects.get_or_create(code=code, defaults={"owner_role": owner})


class Migration(migrations.Migration):
    dependencies = [("orders", "0006_audit_rules")]

    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
