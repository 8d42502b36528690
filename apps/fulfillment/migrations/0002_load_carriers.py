from django.db import migrations


def load(apps, schema_editor):
    # The live loader with the historical model: later schema changes ship as another migration
    # that calls it again (update_or_create by code keeps each company's accounts and endpoint).
    from apps.fulfillment.carrier_data import load_carriers

    load_carriers(apps.get_model("fulfillment", "Carrier"))


class Migration(migrations.Migration):
    dependencies = [("fulfillment", "0001_initial")]

    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
