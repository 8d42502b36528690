from django.db import migrations


def load(apps, schema_editor):
    # The live loader with the historical model: a changed fixture ships as another migration that
    # calls it again (update_or_create by code).
    from apps.customs.profiles import load_country_profiles

    load_country_profiles(apps.get_model("customs", "CountryProfile"))


class Migration(migrations.Migration):
    dependencies = [("customs", "0001_initial")]

    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
