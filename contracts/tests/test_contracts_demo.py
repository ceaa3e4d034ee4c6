import pytest

from contracts.demo import load_demo
from contracts.models import Contract, ContractStatus, Product
from opportunities.demo import load_demo as load_demo_opportunities
from opportunities.models import Opportunity, StageKind

pytestmark = pytest.mark.django_db


def test_demo_products_and_a_draft_per_won_deal(org):
    from customers.tests.factories import make_customer

    for index in range(6):
        make_customer(org.east_rep, name=f"演示客户{index}有限公司", check=False)
    load_demo_opportunities()
    load_demo()
    load_demo()  # idempotent: run twice, nothing doubled

    won = Opportunity.objects.filter(stage__kind=StageKind.WON)
    # The drafts from the won deals (the sales history besides them: analytics/tests/test_reports_r1_demo.py).
    contracts = Contract.objects.filter(opportunity__isnull=False)
    assert won.exists() and Product.objects.count() == 6
    assert contracts.count() == won.count()
    assert set(contracts.values_list("status", flat=True)) <= {ContractStatus.DRAFT}
    for contract in contracts:
        assert contract.total == contract.opportunity.amount and contract.lines.count() == 1
        assert contract.owner_id == contract.opportunity.owner_id and contract.end_date > contract.start_date
