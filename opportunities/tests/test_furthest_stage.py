"""The funnel's derived columns follow the stage history: ``Opportunity.furthest_stage_order`` is
always the furthest funnel stage (open or won) in it and ``StageHistory.left_at`` the next row's
time — after every move (forward, skipping, back, to lost, to won) and whatever else writes the
history or the stages."""

from datetime import timedelta

import pytest

from customers.tests.factories import make_customer
from opportunities import services
from opportunities.models import Opportunity, StageHistory
from opportunities.tests.factories import LostReasonFactory, OpportunityFactory, stage


def furthest_in_history(deal):
    orders = StageHistory.objects.filter(opportunity=deal, to_stage__kind__in=["open", "won"]).values_list(
        "to_stage__order", flat=True
    )
    return max(orders, default=None)


def assert_left_at_follows(deal):
    rows = list(StageHistory.objects.filter(opportunity=deal).order_by("changed_at", "id"))
    expected = [row.changed_at for row in rows[1:]] + [None]
    assert [row.left_at for row in rows] == expected


def stored(deal):
    return Opportunity.objects.values_list("furthest_stage_order", flat=True).get(pk=deal.pk)


@pytest.fixture
def deal(org):
    customer = make_customer(org.east_rep, name="华东客户有限公司")
    data = {"customer": customer.pk, "title": "ERP 项目", "amount": "1000", "stage": stage("lead").pk}
    return services.opportunity_create(user=org.east_rep, data=data)


def move(org, deal, code, **extra):
    current = Opportunity.objects.get(pk=deal.pk)
    moved, _actions = services.opportunity_move(
        user=org.east_rep, opportunity=current, stage=stage(code), version=current.version, **extra
    )
    return moved


def test_the_column_follows_every_stage_move(org, deal):
    assert stored(deal) == deal.furthest_stage_order == stage("lead").order
    steps = [
        ("opportunity", "opportunity"),  # forward
        ("negotiation", "negotiation"),  # skipping 报价
        ("proposal", "negotiation"),  # back: what was reached stays reached
        ("lead", "negotiation"),
        ("lost", "negotiation"),  # lost is not a funnel stage
        ("opportunity", "negotiation"),  # reopened
        ("won", "won"),
        ("negotiation", "won"),  # back from won
    ]
    reason = LostReasonFactory(name="价格过高")
    for code, expected in steps:
        moved = move(org, deal, code, **({"lost_reason": reason} if code == "lost" else {}))
        assert stored(deal) == stage(expected).order == furthest_in_history(deal), code
        assert moved.furthest_stage_order == stored(deal), code  # the instance agrees
        assert_left_at_follows(deal)


def test_a_deal_created_in_a_later_stage_reached_that_stage(org):
    customer = make_customer(org.east_rep, name="华南客户有限公司")
    data = {"customer": customer.pk, "title": "项目", "amount": "10", "stage": stage("proposal").pk}
    created = services.opportunity_create(user=org.east_rep, data=data)
    assert stored(created) == stage("proposal").order


def test_history_written_directly_is_followed_too(org):
    """Rows written outside the services (demo data, fixtures, SQL): the triggers keep the column."""
    deal = OpportunityFactory(owner=org.east_rep, stage=stage("lead"))
    assert stored(deal) == stage("lead").order
    row = StageHistory.objects.create(opportunity=deal, from_stage=stage("lead"), to_stage=stage("won"))
    StageHistory.objects.create(opportunity=deal, from_stage=stage("won"), to_stage=stage("opportunity"))
    assert stored(deal) == stage("won").order
    assert_left_at_follows(deal)
    row.to_stage = stage("proposal")  # a corrected row
    row.save()
    assert stored(deal) == stage("proposal").order == furthest_in_history(deal)
    backdated = StageHistory.objects.create(
        opportunity=deal, from_stage=stage("lead"), to_stage=stage("lead"), changed_at=row.changed_at - timedelta(1)
    )
    assert_left_at_follows(deal)  # a row written out of order slots in
    StageHistory.objects.filter(pk=backdated.pk).update(changed_at=row.changed_at + timedelta(days=30))
    assert_left_at_follows(deal)
    StageHistory.objects.filter(opportunity=deal, to_stage=stage("proposal")).delete()
    assert stored(deal) == stage("opportunity").order == furthest_in_history(deal)
    assert_left_at_follows(deal)
    StageHistory.objects.filter(opportunity=deal).delete()
    assert stored(deal) is None


def test_a_stage_reordered_or_changed_in_kind_recomputes_the_deals_through_it(org):
    deal = OpportunityFactory(owner=org.east_rep, stage=stage("lead"))
    StageHistory.objects.create(opportunity=deal, from_stage=stage("lead"), to_stage=stage("proposal"))
    other = OpportunityFactory(owner=org.east_rep, stage=stage("negotiation"))
    proposal = stage("proposal")
    proposal.order = 5  # now before 线索
    proposal.save()
    assert stored(deal) == stage("lead").order == furthest_in_history(deal)
    assert stored(other) == stage("negotiation").order
    proposal.order = 35
    proposal.save()
    assert stored(deal) == 35
    proposal.kind = "lost"
    proposal.save()
    assert stored(deal) == stage("lead").order == furthest_in_history(deal)
