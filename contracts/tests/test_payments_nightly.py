"""The nightly upkeep: instalment statuses (overdue, void, …) and contracts past their end date,
set-based and idempotent; the beat entries point at real tasks."""

import datetime
from decimal import Decimal

import pytest
from django.conf import settings
from django.utils import timezone

from contracts import tasks
from contracts.models import Contract, ContractStatus, PaymentPlan, PlanStatus
from contracts.services import nightly
from contracts.tests.factories import ContractFactory, PaymentPlanFactory

D = Decimal
TODAY = datetime.date(2026, 11, 22)


def plan(contract, due, amount="1000", paid="0", status=PlanStatus.PENDING, number=1):
    return PaymentPlanFactory(
        contract=contract, due_date=due, amount=D(amount), paid_amount=D(paid), status=status, number=number
    )


def ending(status, end_date, org):
    return ContractFactory(
        owner=org.east_rep, status=status, signed_date=end_date - datetime.timedelta(days=200), end_date=end_date
    )


def status_of(row):
    row.refresh_from_db()
    return row.status


def test_instalments_become_overdue_the_day_after_their_due_date_unless_fully_paid(org):
    contract = ContractFactory(owner=org.east_rep, status=ContractStatus.ACTIVE)
    due_today = plan(contract, TODAY, number=1)
    due_yesterday = plan(contract, TODAY - datetime.timedelta(days=1), number=2)
    partly_paid = plan(contract, TODAY - datetime.timedelta(days=5), paid="400", status=PlanStatus.PARTIAL, number=3)
    paid = plan(contract, TODAY - datetime.timedelta(days=5), paid="1000", status=PlanStatus.PAID, number=4)

    changed = nightly.payment_plans_refresh(today=TODAY)

    assert changed == 2
    assert status_of(due_today) == PlanStatus.PENDING
    assert status_of(due_yesterday) == PlanStatus.OVERDUE
    assert status_of(partly_paid) == PlanStatus.OVERDUE
    assert status_of(paid) == PlanStatus.PAID
    assert nightly.payment_plans_refresh(today=TODAY) == 0  # idempotent


def test_instalments_of_a_void_contract_become_void(org):
    contract = ContractFactory(owner=org.east_rep, status=ContractStatus.VOID)
    row = plan(contract, TODAY + datetime.timedelta(days=10))
    assert nightly.payment_plans_refresh(today=TODAY) == 1
    assert status_of(row) == PlanStatus.VOID


def test_statuses_are_repaired_from_the_paid_amounts(org):
    contract = ContractFactory(owner=org.east_rep, status=ContractStatus.ACTIVE)
    wrong = plan(contract, TODAY + datetime.timedelta(days=10), paid="300", status=PlanStatus.PENDING)
    nightly.payment_plans_refresh(today=TODAY)
    assert status_of(wrong) == PlanStatus.PARTIAL


def test_active_contracts_past_their_end_date_expire_through_the_legal_transitions_only(org):
    yesterday = TODAY - datetime.timedelta(days=1)
    ending_yesterday = ending(ContractStatus.ACTIVE, yesterday, org)
    ending_today = ending(ContractStatus.ACTIVE, TODAY, org)
    approved = ending(ContractStatus.APPROVED, yesterday, org)
    completed = ending(ContractStatus.COMPLETED, yesterday, org)
    draft = ending(ContractStatus.DRAFT, yesterday, org)

    assert nightly.contracts_expire_due(today=TODAY) == 1

    rows = {c.pk: (c.status, c.version) for c in Contract.objects.all()}
    assert rows[ending_yesterday.pk] == (ContractStatus.EXPIRED, 2)  # the version moves: open forms get a 409
    assert rows[ending_today.pk] == (ContractStatus.ACTIVE, 1)
    assert rows[approved.pk][0] == ContractStatus.APPROVED  # approved → expired is not a legal transition
    assert rows[completed.pk][0] == ContractStatus.COMPLETED
    assert rows[draft.pk][0] == ContractStatus.DRAFT
    assert nightly.contracts_expire_due(today=TODAY) == 0


def test_nightly_tasks_run_the_services_once_a_day(org):
    contract = ending(ContractStatus.ACTIVE, timezone.localdate() - datetime.timedelta(days=3), org)
    row = plan(contract, timezone.localdate() - datetime.timedelta(days=2))
    assert tasks.contracts_expire_due_task() == {"expired": 1}
    assert tasks.payment_plans_refresh_task() == {"changed": 1}
    assert status_of(row) == PlanStatus.OVERDUE
    # a second beat the same day does nothing and answers the first run's result
    assert tasks.payment_plans_refresh_task() == {"changed": 1}
    assert PaymentPlan.objects.get(pk=row.pk).status == PlanStatus.OVERDUE


@pytest.mark.parametrize(
    "task", ["contracts.tasks.payment_plans_refresh_task", "contracts.tasks.contracts_expire_due_task"]
)
def test_beat_runs_the_nightly_tasks(task):
    entries = [entry for entry in settings.CELERY_BEAT_SCHEDULE.values() if entry["task"] == task]
    assert len(entries) == 1
    assert entries[0]["schedule"].hour == {0}
