"""The default sales pipeline (默认销售流程) and a starting list of lost reasons."""

from django.db import migrations

# code, name, probability %, kind — in order. Kept in step with opportunities.services.DEFAULT_STAGES.
DEFAULT_STAGES = [
    ("lead", "线索", 10, "open", "#6c757d"),
    ("opportunity", "商机", 30, "open", "#0dcaf0"),
    ("proposal", "报价", 50, "open", "#0d6efd"),
    ("negotiation", "谈判", 75, "open", "#6f42c1"),
    ("won", "成交", 100, "won", "#198754"),
    ("lost", "输单", 0, "lost", "#dc3545"),
    ("invalid", "无效", 0, "invalid", "#adb5bd"),
]
LOST_REASONS = ["价格过高", "选择了竞争对手", "需求变化", "预算不足", "联系不上", "其他"]


def create_defaults(apps, schema_editor):
    StageGroup = apps.get_model("opportunities", "StageGroup")
    Stage = apps.get_model("opportunities", "Stage")
    LostReason = apps.get_model("opportunities", "LostReason")
    if not StageGroup.objects.filter(is_default=True).exists():
        group = StageGroup.objects.create(name="默认销售流程", is_default=True)
        for order, (code, name, probability, kind, color) in enumerate(DEFAULT_STAGES, start=1):
            Stage.objects.create(
                group=group, code=code, name=name, probability=probability, kind=kind, color=color, order=order * 10
            )
    for order, name in enumerate(LOST_REASONS, start=1):
        LostReason.objects.get_or_create(name=name, defaults={"order": order})


class Migration(migrations.Migration):
    dependencies = [("opportunities", "0001_initial")]

    operations = [migrations.RunPython(create_defaults, migrations.RunPython.noop)]
