"""The default contract approval chains (SPEC §5), and the general manager permission they use:

- 合同审批（¥50,000 及以下）: the leader of the owner's department;
- 合同审批（¥50,000 以上）: the department leader, then a holder of
  ``approvals.approve_as_general_manager`` (give it to the 总经理 role, or to a person, in the admin).

Payments get no default chain: a payment is confirmed by a holder of ``contracts.confirm_payment``
unless an admin configures a payment chain."""

from decimal import Decimal

from django.db import migrations

LIMIT = Decimal("50000.00")


def create_defaults(apps, schema_editor):
    ApprovalChain = apps.get_model("approvals", "ApprovalChain")
    ApprovalStep = apps.get_model("approvals", "ApprovalStep")
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    if ApprovalChain.objects.filter(doc_type="contract").exists():
        return
    # Permissions are normally created after migrating; the chain needs this one now.
    content_type, _ = ContentType.objects.get_or_create(app_label="approvals", model="approvalchain")
    general_manager, _ = Permission.objects.get_or_create(
        content_type=content_type, codename="approve_as_general_manager", defaults={"name": "可以作为总经理审批"}
    )
    small = ApprovalChain.objects.create(
        name="合同审批（¥50,000 及以下）",
        doc_type="contract",
        max_amount=LIMIT,
        priority=100,
        description="部门负责人审批",
    )
    ApprovalStep.objects.create(chain=small, order=1, name="部门负责人审批", kind="leader")
    large = ApprovalChain.objects.create(
        name="合同审批（¥50,000 以上）",
        doc_type="contract",
        min_amount=LIMIT,
        priority=100,
        description="部门负责人审批，再由总经理审批",
    )
    ApprovalStep.objects.create(chain=large, order=1, name="部门负责人审批", kind="leader")
    ApprovalStep.objects.create(
        chain=large, order=2, name="总经理审批", kind="permission", permission=general_manager
    )


class Migration(migrations.Migration):
    dependencies = [
        ("approvals", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_defaults, migrations.RunPython.noop)]
