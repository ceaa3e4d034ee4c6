"""Contract reminder kinds fire on their day in Asia/Shanghai — not the day before nor after —
to the contract's owner, exactly once however often beat runs."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from contracts.models import ContractStatus
from contracts.tests.factories import ContractFactory, PaymentPlanFactory
from customers.models import Customer
from notifications import reminders
from notifications.models import Notification
from notifications.services import reminders_generate

KEYS = {"contract_expiring_30", "contract_expiring_7", "payment_due", "payment_overdue"}


def shanghai_morning(day):
    """09:00 in Shanghai on ``day`` (01:00 UTC)."""
    return datetime(day.year, day.month, day.day, 1, 0, tzinfo=UTC)


def sent(kind):
    return list(Notification.objects.filter(kind=kind).values_list("recipient__username", "target_id", "occasion"))


def run(day, kind):
    return reminders_generate(now=shanghai_morning(day), keys={kind})[kind]


def contract_ending(org, end, status=ContractStatus.ACTIVE, **kwargs):
    return ContractFactory(
        owner=org.east_rep,
        status=status,
        signed_date=end - timedelta(days=365),
        end_date=end,
        number=kwargs.pop("number", f"HT-{end:%Y%m%d}-{status}"),
        **kwargs,
    )


def test_the_kinds_are_registered_by_the_app():
    assert KEYS <= set(reminders.REMINDER_KINDS)


@pytest.mark.parametrize(("kind", "days"), [("contract_expiring_30", 30), ("contract_expiring_7", 7)])
def test_contract_expiry_fires_on_its_day_only_once_to_the_owner(org, kind, days):
    end = date(2027, 3, 31)
    contract = contract_ending(org, end, number="HT20260401000001", title="年度服务合同")
    remind_on = end - timedelta(days=days)

    assert run(remind_on - timedelta(days=1), kind) == 0
    assert run(remind_on, kind) == 1
    assert run(remind_on, kind) == 0  # beat again the same day
    assert run(remind_on + timedelta(days=1), kind) == 0
    assert sent(kind) == [("east_rep", contract.pk, "2027-03-31")]
    note = Notification.objects.get(kind=kind)
    assert note.title == f"合同 HT20260401000001 将在 {days} 天后到期"
    assert "年度服务合同" in note.body and "2027-03-31" in note.body
    assert note.link == f"/contracts/{contract.pk}/"


def test_contract_expiry_leaves_out_void_draft_and_ended_contracts_and_the_recycle_bin(org):
    end = date(2027, 3, 31)
    for status in (ContractStatus.VOID, ContractStatus.DRAFT, ContractStatus.COMPLETED, ContractStatus.TERMINATED):
        contract_ending(org, end, status=status)
    approved = contract_ending(org, end, status=ContractStatus.APPROVED)
    binned = contract_ending(org, end, number="HT-binned")
    Customer.objects.filter(pk=binned.customer_id).update(deleted_at=shanghai_morning(end))
    assert run(end - timedelta(days=30), "contract_expiring_30") == 1
    assert sent("contract_expiring_30") == [("east_rep", approved.pk, "2027-03-31")]


def instalment(org, due, reminder_days=3, paid="0", status=ContractStatus.ACTIVE, number=1):
    contract = ContractFactory(
        owner=org.east_rep, status=status, number=f"HT-{due:%Y%m%d}-{number}-{status}", total=Decimal("1000")
    )
    return PaymentPlanFactory(
        contract=contract,
        number=number,
        due_date=due,
        amount=Decimal("1000.00"),
        paid_amount=Decimal(paid),
        reminder_days=reminder_days,
    )


def test_payment_due_fires_reminder_days_before_the_due_date_once(org):
    due = date(2027, 5, 10)
    plan = instalment(org, due)  # default: 3 days ahead

    assert run(date(2027, 5, 6), "payment_due") == 0
    assert run(date(2027, 5, 7), "payment_due") == 1
    assert run(date(2027, 5, 7), "payment_due") == 0
    assert run(date(2027, 5, 8), "payment_due") == 0
    assert sent("payment_due") == [("east_rep", plan.pk, "2027-05-10")]
    note = Notification.objects.get(kind="payment_due")
    assert note.title == f"回款提醒：合同 {plan.contract.number} 第 1 期将于 2027-05-10 到期"
    assert note.body == "待回款 1000.00 元。"
    assert note.link == f"/contracts/{plan.contract_id}/"


def test_payment_due_follows_each_instalments_own_reminder_days(org):
    week_ahead = instalment(org, date(2027, 5, 10), reminder_days=7, number=1)
    on_the_day = instalment(org, date(2027, 5, 10), reminder_days=0, number=2)
    assert run(date(2027, 5, 2), "payment_due") == 0
    assert run(date(2027, 5, 3), "payment_due") == 1
    assert run(date(2027, 5, 4), "payment_due") == 0
    assert run(date(2027, 5, 10), "payment_due") == 1
    assert sorted(sent("payment_due")) == sorted(
        [("east_rep", week_ahead.pk, "2027-05-10"), ("east_rep", on_the_day.pk, "2027-05-10")]
    )


def test_payment_due_leaves_out_paid_and_void_instalments(org):
    instalment(org, date(2027, 5, 10), paid="1000", number=1)
    instalment(org, date(2027, 5, 10), status=ContractStatus.VOID, number=2)
    instalment(org, date(2027, 5, 10), status=ContractStatus.DRAFT, number=3)
    partly = instalment(org, date(2027, 5, 10), paid="400", number=4)
    assert run(date(2027, 5, 7), "payment_due") == 1
    assert sent("payment_due") == [("east_rep", partly.pk, "2027-05-10")]
    assert Notification.objects.get(kind="payment_due").body == "待回款 600.00 元。"


def test_payment_overdue_fires_the_day_after_the_due_date_once(org):
    due = date(2027, 5, 10)
    plan = instalment(org, due, paid="250")
    instalment(org, due, paid="1000", number=2)

    assert run(due, "payment_overdue") == 0
    assert run(due + timedelta(days=1), "payment_overdue") == 1
    assert run(due + timedelta(days=1), "payment_overdue") == 0
    assert run(due + timedelta(days=2), "payment_overdue") == 0
    assert sent("payment_overdue") == [("east_rep", plan.pk, "2027-05-10")]
    note = Notification.objects.get(kind="payment_overdue")
    assert note.title == f"回款逾期：合同 {plan.contract.number} 第 1 期已逾期"
    assert note.body == "计划回款日 2027-05-10，未回款 750.00 元。"


def test_reminders_use_the_shanghai_day(org):
    plan = instalment(org, date(2027, 5, 10))
    # 2027-05-06 16:30 UTC is already 05-07 00:30 in Shanghai: the reminder day.
    assert reminders_generate(now=datetime(2027, 5, 6, 15, 59, tzinfo=UTC), keys={"payment_due"}) == {"payment_due": 0}
    assert reminders_generate(now=datetime(2027, 5, 6, 16, 30, tzinfo=UTC), keys={"payment_due"}) == {"payment_due": 1}
    assert sent("payment_due") == [("east_rep", plan.pk, "2027-05-10")]
