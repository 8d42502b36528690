from django.db import migrations

# The seed articles' keywords; admins edit the table afterwards.
KEYWORDS = [
    ("发票", "invoice", "开发票"),
    ("开票", "invoice", "开发票"),
    ("赠品", "gift", "赠品"),
    ("加急", "urgent", "加急"),
    ("急发", "urgent", "加急"),
    ("开箱验货", "inspect_on_delivery", "开箱验货"),
    ("顺丰", "carrier_sf", "指定顺丰"),
]


def create(apps, schema_editor):
    RemarkKeyword = apps.get_model("orders", "RemarkKeyword")
    for keyword, tag, label in KEYWORDS:
        RemarkKeyword.objects.get_or_create(keyword=keyword, defaults={"tag": tag, "label": label})


class Migration(migrations.Migration):
    dependencies = [("orders", "0004_remark_tags_and_ship_promise")]

    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
