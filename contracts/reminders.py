"""The contracts app's reminder kinds (see ``notifications.reminders``), registered by
``register_reminders()`` from the app's ``ready()``:

- ``contract_expiring_30`` / ``contract_expiring_7``: an approved or active contract ends in 30 / 7
  days — to its owner, on that day only;
- ``payment_due``: an instalment not yet fully paid falls due in its ``reminder_days`` days (3 by
  default; 0 = on the day) — to the contract's owner;
- ``payment_overdue``: the day after an instalment's due date, when it is not fully paid — to the
  contract's owner.

All daily, on the exact day (Asia/Shanghai); the occasion is the end or due date, so a moved date
is a new reminder and the same one is never sent twice. Contracts that are void (or not yet
approved) and customers in the recycle bin are left out. Set-based: one query per kind.
"""

from datetime import timedelta

from django.db.models import CharField, DateField, DecimalField, ExpressionWrapper, F
from django.db.models.functions import Cast
from django.utils.translation import gettext_lazy as _

from contracts.models import MONEY, SALES_STATUSES, Contract, ContractStatus, PaymentPlan, PlanStatus
from notifications.reminders import DAILY, ReminderKind, local_today, register

RUNNING_STATUSES = (ContractStatus.APPROVED, ContractStatus.ACTIVE)


def _expiring_rows(days):
    def rows(now):
        end_date = local_today(now) + timedelta(days=days)
        return Contract.objects.filter(
            status__in=RUNNING_STATUSES,
            end_date=end_date,
            owner__isnull=False,
            customer__deleted_at__isnull=True,
        ).annotate(
            target_id=F("pk"),
            recipient_id=F("owner_id"),
            occasion=Cast("end_date", CharField()),
            contract_number=F("number"),
            contract_title=F("title"),
            contract_end=F("end_date"),
            contract_ref=F("pk"),
        )

    rows.__name__ = f"contract_expiring_{days}_rows"
    return rows


def _open_instalments():
    return PaymentPlan.objects.filter(
        contract__status__in=SALES_STATUSES,
        owner__isnull=False,
        contract__customer__deleted_at__isnull=True,
        paid_amount__lt=F("amount"),
    ).exclude(status=PlanStatus.VOID)


def _instalment_fields(queryset):
    return queryset.annotate(
        target_id=F("pk"),
        recipient_id=F("owner_id"),
        occasion=Cast("due_date", CharField()),
        contract_number=F("contract__number"),
        contract_ref=F("contract_id"),
        plan_number=F("number"),
        plan_due=F("due_date"),
        plan_open=ExpressionWrapper(F("amount") - F("paid_amount"), output_field=DecimalField(**MONEY)),
    )


def payment_due_rows(now):
    """Open instalments whose reminder day is today: due date − reminder days = today."""
    today = local_today(now)
    remind_on = ExpressionWrapper(F("due_date") - F("reminder_days"), output_field=DateField())
    return _instalment_fields(_open_instalments().alias(remind_on=remind_on).filter(remind_on=today))


def payment_overdue_rows(now):
    """Open instalments that fell due yesterday: their first day overdue is today."""
    yesterday = local_today(now) - timedelta(days=1)
    return _instalment_fields(_open_instalments().filter(due_date=yesterday))


def _contract_link(row):
    return f"/contracts/{row['contract_ref']}/"


KINDS = [
    ReminderKind(
        key="contract_expiring_30",
        rows=_expiring_rows(30),
        fields=("contract_number", "contract_title", "contract_end", "contract_ref"),
        title=_("合同 %(contract_number)s 将在 30 天后到期"),
        body=_("%(contract_title)s，到期日 %(contract_end)s，请跟进续签。"),
        link=_contract_link,
        cadence=DAILY,
        label=_("合同 30 天后到期"),
    ),
    ReminderKind(
        key="contract_expiring_7",
        rows=_expiring_rows(7),
        fields=("contract_number", "contract_title", "contract_end", "contract_ref"),
        title=_("合同 %(contract_number)s 将在 7 天后到期"),
        body=_("%(contract_title)s，到期日 %(contract_end)s，请尽快跟进续签。"),
        link=_contract_link,
        cadence=DAILY,
        label=_("合同 7 天后到期"),
    ),
    ReminderKind(
        key="payment_due",
        rows=payment_due_rows,
        fields=("contract_number", "contract_ref", "plan_number", "plan_due", "plan_open"),
        title=_("回款提醒：合同 %(contract_number)s 第 %(plan_number)s 期将于 %(plan_due)s 到期"),
        body=_("待回款 %(plan_open)s 元。"),
        link=_contract_link,
        cadence=DAILY,
        label=_("回款即将到期"),
    ),
    ReminderKind(
        key="payment_overdue",
        rows=payment_overdue_rows,
        fields=("contract_number", "contract_ref", "plan_number", "plan_due", "plan_open"),
        title=_("回款逾期：合同 %(contract_number)s 第 %(plan_number)s 期已逾期"),
        body=_("计划回款日 %(plan_due)s，未回款 %(plan_open)s 元。"),
        link=_contract_link,
        cadence=DAILY,
        label=_("回款逾期"),
    ),
]


def register_reminders():
    """Add the contract reminder kinds to the notifications registry (idempotent)."""
    for kind in KINDS:
        register(kind)
