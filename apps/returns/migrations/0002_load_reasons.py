from django.db import migrations


def load(apps, schema_editor):
    # The live loader (checks the file) with the historical model: a changed fixture ships as another
    # migration that calls it again (update_or_create by code).
    from apps.returns.reasons import load_reason_tree

    load_reason_tree(apps.get_model("returns", "ReasonNode"))


class Migration(migrations.Migration):
    dependencies = [("returns", "0001_initial")]

    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
