from django.db import migrations, models

OLD, NEW = "missing_customs_data", "customs_incomplete"
HOLD_EVENTS = ("hold_opened", "hold_released")


def rename(old, new):
    def run(apps, schema_editor):
        # Hold events carry the hold type as their name; both move so a history reads as one type.
        apps.get_model("orders", "OrderHold").objects.filter(type=old).update(type=new)
        apps.get_model("orders", "OrderEvent").objects.filter(type__in=HOLD_EVENTS, name=old).update(name=new)

    return run


class Migration(migrations.Migration):
    dependencies = [("orders", "0010_default_review_rules")]

    operations = [
        migrations.AlterField(
            model_name="orderhold",
            name="type",
            field=models.CharField(
                choices=[("out_of_stock", "Out of stock"), ("expiry_conflict", "Expiry conflict"),
                         ("address_unresolved", "Address unresolved"), ("blacklisted", "Blacklisted customer"),
                         ("over_credit_limit", "Over credit limit"), ("price_mismatch", "Price mismatch"),
                         ("multiple_addresses", "Several addresses for one buyer"),
                         ("customs_incomplete", "Missing customs data"), ("stalled_in_transit", "Stalled in transit"),
                         ("short_pick", "Short pick"), ("quarantined_stock", "Quarantined stock picked"),
                         ("buyer_request", "Buyer request"), ("manual", "Manual hold")],
                max_length=32, verbose_name="hold type"),
        ),
        migrations.RunPython(rename(OLD, NEW), rename(NEW, OLD)),
    ]
