from django.db import migrations

# 节日营销 defaults. Lunar holidays (春节, 端午节, 中秋节) fall on different dates every year;
# admins add later years in 设置 → 节日.
LUNAR = {
    "春节": ["2026-02-17", "2027-02-06", "2028-01-26", "2029-02-13", "2030-02-03"],
    "端午节": ["2026-06-19", "2027-06-09", "2028-05-28", "2029-06-16", "2030-06-05"],
    "中秋节": ["2026-09-25", "2027-09-15", "2028-10-03", "2029-09-22", "2030-09-12"],
}
FIXED = {"元旦": "01-01", "劳动节": "05-01", "国庆节": "10-01"}
YEARS = range(2026, 2031)


def default_holidays():
    rows = [(name, date) for name, dates in LUNAR.items() for date in dates]
    rows += [(name, f"{year}-{month_day}") for name, month_day in FIXED.items() for year in YEARS]
    return rows


def add_holidays(apps, schema_editor):
    Holiday = apps.get_model("notifications", "Holiday")
    for name, date in default_holidays():
        Holiday.objects.get_or_create(name=name, date=date, defaults={"remind_days_before": 7 if name == "春节" else 3})


def remove_holidays(apps, schema_editor):
    Holiday = apps.get_model("notifications", "Holiday")
    for name, date in default_holidays():
        Holiday.objects.filter(name=name, date=date).delete()


class Migration(migrations.Migration):
    dependencies = [("notifications", "0001_initial")]

    operations = [migrations.RunPython(add_holidays, remove_holidays)]
