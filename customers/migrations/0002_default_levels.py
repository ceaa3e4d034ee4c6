from django.db import migrations

DEFAULT_LEVELS = [
    ("A", "重点客户", "#ff0000", 1),
    ("B", "普通客户", "#00ff00", 2),
    ("C", "潜力客户", "#0000ff", 3),
]


def add_levels(apps, schema_editor):
    CustomerLevel = apps.get_model("customers", "CustomerLevel")
    for code, name, color, priority in DEFAULT_LEVELS:
        CustomerLevel.objects.get_or_create(code=code, defaults={"name": name, "color": color, "priority": priority})


def remove_levels(apps, schema_editor):
    CustomerLevel = apps.get_model("customers", "CustomerLevel")
    CustomerLevel.objects.filter(code__in=[code for code, *_rest in DEFAULT_LEVELS]).delete()


class Migration(migrations.Migration):
    dependencies = [("customers", "0001_initial")]

    operations = [migrations.RunPython(add_levels, remove_levels)]
