from django.db import migrations

LEVEL_DAYS = {"A": 60, "B": 30, "C": 15}


def create_default_pool(apps, schema_editor):
    Pool = apps.get_model("pool", "Pool")
    PoolLevelRule = apps.get_model("pool", "PoolLevelRule")
    PoolSettings = apps.get_model("pool", "PoolSettings")
    CustomerLevel = apps.get_model("customers", "CustomerLevel")
    PoolSettings.objects.get_or_create(pk=1)
    pool = Pool.objects.filter(is_default=True).first()
    if pool is None:
        pool = Pool.objects.create(name="公司公海", is_default=True, serves_everyone=True)
    for level in CustomerLevel.objects.filter(code__in=list(LEVEL_DAYS)):
        PoolLevelRule.objects.get_or_create(pool=pool, level=level, defaults={"no_follow_up_days": LEVEL_DAYS[level.code]})


class Migration(migrations.Migration):
    dependencies = [
        ("pool", "0001_initial"),
        ("customers", "0002_default_levels"),
    ]

    operations = [migrations.RunPython(create_default_pool, migrations.RunPython.noop)]
