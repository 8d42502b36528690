from django.db import migrations, models


def load(apps, schema_editor):
    # The fixture now carries complaint keywords per leaf: load it again (update_or_create by code).
    from apps.returns.reasons import load_reason_tree

    load_reason_tree(apps.get_model("returns", "ReasonNode"))


class Migration(migrations.Migration):
    dependencies = [("returns", "0003_roles")]

    operations = [
        migrations.AddField(
            model_name="reasonnode",
            name="keywords",
            field=models.JSONField(blank=True, default=list,
                                   help_text="Words in a buyer's earlier complaint that point to this reason (suggestions).",
                                   verbose_name="complaint keywords"),
        ),
        migrations.RunPython(load, migrations.RunPython.noop),
    ]
