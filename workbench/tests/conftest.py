"""A hand-built world for the workbench: for each tile, rows that count and rows that must not
(wrong owner, wrong status, just outside the day or month, deleted, in the pool, out of scope)."""

import datetime
from dataclasses import dataclass
from decimal import Decimal

import pytest
from django.utils import timezone

from activities.models import TaskStatus
from activities.tests.factories import TaskFactory
from approvals.models import ApprovalRequest, ApprovalTask, Decision, DocType
from contracts.models import ContractStatus, PaymentStatus
from contracts.tests.factories import ContractFactory, PaymentFactory
from customers.tests.factories import CustomerFactory
from notifications.models import Notification
from notifications.reminders import day_bounds
from opportunities.tests.factories import OpportunityFactory, stage
from pool.tests.factories import company_pool, levels, owned

_sequence = iter(range(1, 1_000_000))


def _next():
    return next(_sequence)


@dataclass
class Moments:
    now: datetime.datetime
    later_today: datetime.datetime
    tomorrow: datetime.datetime  # local midnight starting tomorrow
    first: datetime.date  # first day of this month
    today: datetime.date
    last_month: datetime.date  # the last day of the previous month


def moments():
    now = timezone.now()
    _start, tomorrow = day_bounds(now)
    today = timezone.localdate(now)
    first = today.replace(day=1)
    return Moments(
        now=now,
        later_today=now + (tomorrow - now) / 2,
        tomorrow=tomorrow,
        first=first,
        today=today,
        last_month=first - datetime.timedelta(days=1),
    )


def make_tasks(user, m, *, overdue=0, today=0):
    for _ in range(overdue):
        TaskFactory(assignee=user, due_at=m.now - datetime.timedelta(hours=1))
    for _ in range(today):
        TaskFactory(assignee=user, due_at=m.later_today)


def make_due_customers(user, m, n):
    return [CustomerFactory(owner=user, next_follow_up_at=m.now - datetime.timedelta(days=1)) for _ in range(n)]


def make_open_deal(user, amount, probability, **kwargs):
    return OpportunityFactory(
        owner=user, amount=Decimal(amount), stage=stage("proposal"), probability=probability, **kwargs
    )


def make_sale(user, total, signed_date, status=ContractStatus.APPROVED, **kwargs):
    return ContractFactory(owner=user, total=Decimal(total), status=status, signed_date=signed_date, **kwargs)


def make_payment(contract, amount, date, status=PaymentStatus.CONFIRMED):
    return PaymentFactory(contract=contract, amount=Decimal(amount), date=date, status=status)


def make_approval_task(approver, decision=Decision.PENDING):
    request = ApprovalRequest.objects.create(
        doc_type=DocType.CONTRACT,
        object_id=_next(),
        title="合同审批",
        amount=Decimal("100.00"),
        submitted_at=timezone.now(),
    )
    return ApprovalTask.objects.create(request=request, step=1, approver=approver, decision=decision)


def make_notification(recipient, *, read=False):
    return Notification.objects.create(
        recipient=recipient,
        kind="test",
        target_id=_next(),
        occasion="x",
        title="提醒",
        read_at=timezone.now() if read else None,
    )


@pytest.fixture
def world(org):
    """East_rep's tiles (answers worked out here, in ``expected``) plus rows of east_lead (their
    manager), east_intern (east_rep's subordinate), south_rep (销售一部) and north_rep (销售二部),
    which a manager's team figures must count exactly as far as their scope reaches."""
    m = moments()
    company_pool()
    rep = org.east_rep

    # tasks: 2 overdue + 1 later today; not: tomorrow, done, someone else's
    make_tasks(rep, m, overdue=2, today=1)
    TaskFactory(assignee=rep, due_at=m.tomorrow)
    TaskFactory(assignee=rep, due_at=m.now - datetime.timedelta(days=3), status=TaskStatus.DONE)
    TaskFactory(assignee=rep, due_at=m.now - datetime.timedelta(days=3), status=TaskStatus.CANCELLED)
    make_tasks(org.east_lead, m, overdue=1)

    # follow-ups due: yesterday and later today; not: from tomorrow's midnight, none, deleted, pool
    make_due_customers(rep, m, 1)
    CustomerFactory(owner=rep, next_follow_up_at=m.later_today)
    CustomerFactory(owner=rep, next_follow_up_at=m.tomorrow)
    CustomerFactory(owner=rep)
    binned = CustomerFactory(owner=rep, next_follow_up_at=m.now, deleted_at=m.now)
    CustomerFactory(owner=None, next_follow_up_at=m.now)
    for user, n in (("east_lead", 1), ("east_intern", 1), ("south_rep", 1), ("north_rep", 1)):
        make_due_customers(org.users[user], m, n)

    # about to return to the pool: one (29 days without a follow-up, level B's rule is 30); not: 5 days
    lv = levels()
    owned(rep, level=lv["B"], days_since_follow_up=29, age_days=50)
    owned(rep, level=lv["B"], days_since_follow_up=5, age_days=50)

    # approvals: 2 pending for me; not: decided, someone else's
    make_approval_task(rep)
    make_approval_task(rep)
    make_approval_task(rep, Decision.APPROVED)
    make_approval_task(org.east_lead)

    # open deals: 1000.50 × 20% + 2000.00 × 50% = 1200.10 weighted; not: won, lost
    make_open_deal(rep, "1000.50", 20)
    make_open_deal(rep, "2000.00", 50)
    OpportunityFactory(owner=rep, amount=Decimal("3000"), stage=stage("won"))
    OpportunityFactory(owner=rep, amount=Decimal("4000"), stage=stage("lost"))
    make_open_deal(rep, "9999.00", 90, customer=binned)  # its customer is in the recycle bin
    make_open_deal(org.east_lead, "5000.00", 10)
    make_open_deal(org.east_intern, "100.00", 10)
    make_open_deal(org.south_rep, "200.00", 10)
    make_open_deal(org.north_rep, "700.00", 30)

    # contracts signed this month counting as sales: 10000.00 + 5000.50
    sold = make_sale(rep, "10000.00", m.first)
    make_sale(rep, "5000.50", m.today, ContractStatus.ACTIVE)
    make_sale(rep, "900.00", m.today, ContractStatus.DRAFT)
    make_sale(rep, "800.00", m.today, ContractStatus.PENDING)
    make_sale(rep, "700.00", m.today, ContractStatus.VOID)
    last_months = make_sale(rep, "600.00", m.last_month)
    binned_sale = make_sale(rep, "9999.00", m.today, customer=binned)
    lead_sale = make_sale(org.east_lead, "3000.00", m.today)
    make_sale(org.south_rep, "400.00", m.today)
    north_sale = make_sale(org.north_rep, "700.00", m.today)

    # confirmed payments dated this month: 1000.00 + 234.56; not: unconfirmed, void, last month's
    make_payment(sold, "1000.00", m.today)
    make_payment(sold, "234.56", m.first)
    make_payment(sold, "500.00", m.today, PaymentStatus.UNCONFIRMED)
    make_payment(sold, "50.00", m.today, PaymentStatus.VOID)
    make_payment(last_months, "600.00", m.last_month)
    make_payment(binned_sale, "99.00", m.today)
    make_payment(lead_sale, "300.00", m.today)
    make_payment(north_sale, "70.00", m.today)

    # notifications: 3 unread; not: read, someone else's
    for _ in range(3):
        make_notification(rep)
    make_notification(rep, read=True)
    make_notification(org.east_lead)
    return m
