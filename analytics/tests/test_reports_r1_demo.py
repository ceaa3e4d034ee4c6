"""The demo's sales history (contracts.demo.load_demo_history): enough approved business over
~18 months for the sales reports, written with the contracts' rules, quickly and once."""

import time

import pytest
from django.db.models import Count, F, Q, Sum
from django.db.models.functions import Coalesce, TruncMonth
from django.utils import timezone

from analytics.reports.base import parse_params
from analytics.reports.registry import get_report
from contracts.demo import HISTORY_MONTHS, HISTORY_REMARK, load_demo
from contracts.models import Contract, ContractStatus, Payment, PaymentPlan, PaymentStatus, PlanStatus
from customers.models import DealStatus
from customers.tests.factories import make_customer
from opportunities.demo import load_demo as load_demo_opportunities

pytestmark = pytest.mark.django_db


def test_demo_history_is_approved_business_over_eighteen_months_with_paid_and_overdue_money(org):
    for index in range(6):
        owner = org.east_rep if index % 2 else org.south_rep
        make_customer(owner, name=f"演示客户{index}有限公司", check=False)
    load_demo_opportunities()

    started = time.monotonic()
    load_demo()
    elapsed = time.monotonic() - started
    count = Contract.objects.filter(remark=HISTORY_REMARK).count()
    load_demo()  # idempotent: nothing doubled

    history = Contract.objects.filter(remark=HISTORY_REMARK)
    assert elapsed < 20
    assert history.count() == count >= HISTORY_MONTHS * 4
    assert set(history.values_list("status", flat=True)) == {
        ContractStatus.APPROVED,
        ContractStatus.ACTIVE,
        ContractStatus.COMPLETED,
    }
    months = history.annotate(month=TruncMonth("signed_date")).values("month").distinct().count()
    assert months == HISTORY_MONTHS

    # The contracts' rules: total = Σ lines, paid = Σ confirmed payments, plans add up to the total,
    # numbered on the signing day, the owner's department, the customer's owner.
    wrong = history.annotate(
        lines_total=Coalesce(Sum("lines__subtotal"), 0, output_field=Contract._meta.get_field("total"))
    ).exclude(lines_total=F("total"))
    assert not wrong.exists()
    for contract in history.select_related("customer", "owner"):
        assert contract.number.startswith(f"HT{contract.signed_date:%Y%m%d}")
        assert contract.department_id == contract.owner.department_id
        assert contract.owner_id == contract.customer.owner_id
        paid = Payment.objects.filter(contract=contract, status=PaymentStatus.CONFIRMED).aggregate(s=Sum("amount"))
        assert contract.paid_amount == (paid["s"] or 0) <= contract.total
        planned = PaymentPlan.objects.filter(contract=contract).aggregate(s=Sum("amount"))["s"]
        assert planned == contract.total
        assert contract.customer.deal_status == DealStatus.WON
        if contract.status == ContractStatus.COMPLETED:
            assert contract.paid_amount == contract.total and contract.end_date < timezone.localdate()
    plans = PaymentPlan.objects.filter(contract__remark=HISTORY_REMARK).aggregate(
        overdue=Count("id", filter=Q(status=PlanStatus.OVERDUE)), paid=Count("id", filter=Q(status=PlanStatus.PAID))
    )
    assert plans["overdue"] > 0 and plans["paid"] > 0
    assert not Payment.objects.exclude(status=PaymentStatus.CONFIRMED).exists()

    # The sales reports now have figures over the default period.
    for key, name in (("sales_trend", "contract_amount"), ("product_ranking", "amount"), ("ranking", "payment_amount")):
        report = get_report(key)
        result = report.run(user=org.ceo, params=parse_params(report, {}))
        assert next(figure.value for figure in result.summary if figure.key == name) > 0, key
