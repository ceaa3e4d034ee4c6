"""Writes on deals: every path that changes a stage writes its history row in the same
transaction; stale versions, lost reasons, stage groups, and what follows customer transfers and
merges."""

import pytest
from django.db import transaction

from crm.errors import ConflictError, DomainError
from customers import selectors as customer_selectors
from customers import services as customer_services
from customers.models import Customer
from customers.tests.factories import make_customer
from opportunities import services
from opportunities.models import Opportunity, StageHistory, StageKind
from opportunities.tests.factories import LostReasonFactory, OpportunityFactory, stage


@pytest.fixture
def customer(org):
    return make_customer(org.east_rep, name="华东客户有限公司")


def make_deal(user, target, **data):
    data = {"customer": target.pk, "title": "ERP 项目", "amount": "120000.50", "stage": stage("lead").pk, **data}
    return services.opportunity_create(user=user, data=data)


def history_of(deal):
    return list(
        StageHistory.objects.filter(opportunity=deal)
        .order_by("changed_at", "id")
        .values_list("from_stage__code", "to_stage__code", "changed_by__username")
    )


def test_create_records_the_first_stage_and_takes_the_stage_probability(org, customer):
    deal = make_deal(org.east_rep, customer)
    assert (deal.owner, deal.department, deal.created_by) == (org.east_rep, org.departments["east"], org.east_rep)
    assert deal.probability == 10 and deal.version == 1
    assert str(deal.amount) == "120000.50"
    assert history_of(deal) == [(None, "lead", "east_rep")]


def test_create_with_an_overridden_probability_keeps_it(org, customer):
    deal = make_deal(org.east_rep, customer, probability=35)
    assert deal.probability == 35


def test_create_refuses_a_customer_outside_scope_like_a_missing_one(org, customer):
    theirs = make_customer(org.north_other, name="北方客户")
    with pytest.raises(DomainError) as hidden:
        make_deal(org.east_rep, theirs)
    with pytest.raises(DomainError) as missing:
        make_deal(org.east_rep, customer, customer=999_999)
    assert hidden.value.fields["customer"] == missing.value.fields["customer"]
    assert not Opportunity.objects.exists()


@pytest.mark.parametrize(
    ("field", "value"), [("amount", "-1"), ("amount", "abc"), ("probability", 101), ("title", "  ")]
)
def test_create_rejects_bad_input_and_writes_nothing(org, customer, field, value):
    with pytest.raises(DomainError) as error:
        make_deal(org.east_rep, customer, **{field: value})
    assert field in error.value.fields
    assert not Opportunity.objects.exists() and not StageHistory.objects.exists()


def test_create_cannot_start_lost(org, customer):
    with pytest.raises(DomainError) as error:
        make_deal(org.east_rep, customer, stage=stage("lost").pk)
    assert "stage" in error.value.fields


def test_move_writes_history_bumps_version_and_resets_probability(org, customer):
    deal = make_deal(org.east_rep, customer, probability=15)
    moved, actions = services.opportunity_move(user=org.east_rep, opportunity=deal, stage=stage("proposal"), version=1)
    assert (moved.stage.code, moved.probability, moved.version, actions) == ("proposal", 50, 2, {})
    assert history_of(deal) == [(None, "lead", "east_rep"), ("lead", "proposal", "east_rep")]


def test_move_with_a_stale_version_is_a_conflict_and_writes_nothing(org, customer):
    deal = make_deal(org.east_rep, customer)
    services.opportunity_move(user=org.east_rep, opportunity=deal, stage=stage("proposal"), version=1)
    with pytest.raises(ConflictError) as error:
        services.opportunity_move(user=org.east_rep, opportunity=deal, stage=stage("negotiation"), version=1)
    assert error.value.code == "stale_version" and error.value.extra == {"current_version": 2}
    deal.refresh_from_db()
    assert deal.stage.code == "proposal"
    assert len(history_of(deal)) == 2


def test_moving_to_lost_needs_a_reason_and_records_it(org, customer):
    deal = make_deal(org.east_rep, customer)
    with pytest.raises(DomainError) as error:
        services.opportunity_move(user=org.east_rep, opportunity=deal, stage=stage("lost"), version=1)
    assert error.value.code == "lost_reason_required" and "lost_reason" in error.value.fields
    deal.refresh_from_db()
    assert deal.stage.code == "lead" and len(history_of(deal)) == 1

    reason = LostReasonFactory(name="价格过高")
    moved, _ = services.opportunity_move(
        user=org.east_rep, opportunity=deal, stage=stage("lost"), version=1, lost_reason=reason, lost_note="贵了 20%"
    )
    assert (moved.lost_reason, moved.lost_note, moved.probability) == (reason, "贵了 20%", 0)
    assert moved.lost_at is not None and moved.won_at is None
    assert history_of(deal)[-1] == ("lead", "lost", "east_rep")


def test_winning_sets_won_at_and_runs_the_contract_hook(org, customer, monkeypatch):
    calls = []
    monkeypatch.setitem(
        services.DEAL_WON_HOOKS, "contracts", lambda user, opportunity: calls.append(opportunity.pk) or {"draft": 1}
    )
    deal = make_deal(org.east_rep, customer)
    moved, actions = services.opportunity_move(user=org.east_rep, opportunity=deal, stage=stage("won"), version=1)
    assert moved.won_at is not None and actions == {"draft": 1} and calls == [deal.pk]
    # reopening clears the closing time
    reopened, _ = services.opportunity_move(user=org.east_rep, opportunity=deal, stage=stage("negotiation"), version=2)
    assert reopened.won_at is None and reopened.probability == 75


def test_moving_to_the_same_stage_changes_nothing(org, customer):
    deal = make_deal(org.east_rep, customer)
    moved, _ = services.opportunity_move(user=org.east_rep, opportunity=deal, stage=stage("lead"), version=1)
    assert moved.version == 1 and len(history_of(deal)) == 1


def test_move_to_a_stage_of_another_group_is_refused(org, customer):
    from opportunities.models import Stage
    from opportunities.tests.factories import StageGroupFactory

    other = Stage.objects.create(group=StageGroupFactory(), code="x", name="X", probability=20)
    deal = make_deal(org.east_rep, customer)
    with pytest.raises(DomainError):
        services.opportunity_move(user=org.east_rep, opportunity=deal, stage=other, version=1)


def test_update_changes_fields_but_not_the_stage(org, customer):
    deal = make_deal(org.east_rep, customer)
    updated = services.opportunity_update(
        user=org.east_rep, opportunity=deal, version=1, data={"amount": "99.99", "expected_close_date": "2026-06-30"}
    )
    assert (str(updated.amount), str(updated.expected_close_date), updated.version) == ("99.99", "2026-06-30", 2)
    with pytest.raises(DomainError) as error:
        services.opportunity_update(user=org.east_rep, opportunity=deal, version=2, data={"stage": stage("won").pk})
    assert error.value.code == "use_move"
    with pytest.raises(ConflictError):
        services.opportunity_update(user=org.east_rep, opportunity=deal, version=1, data={"title": "x"})
    assert len(history_of(deal)) == 1


def test_a_read_only_viewer_cannot_move(org, customer):
    deal = make_deal(org.east_rep, customer)
    services.opportunity_team_member_set(user=org.east_rep, opportunity=deal, member=org.north_other, access="read")
    assert Opportunity.objects.visible_to(org.north_other).filter(pk=deal.pk).exists()
    with pytest.raises(DomainError) as error:
        services.opportunity_move(user=org.north_other, opportunity=deal, stage=stage("won"), version=1)
    assert error.value.status == 403
    services.opportunity_team_member_set(user=org.east_rep, opportunity=deal, member=org.north_other, access="write")
    moved, _ = services.opportunity_move(user=org.north_other, opportunity=deal, stage=stage("won"), version=1)
    assert history_of(moved)[-1] == ("lead", "won", "north_other")


def test_a_stage_that_deals_stand_in_cannot_be_deleted(org, customer):
    make_deal(org.east_rep, customer)
    with pytest.raises(ConflictError) as error:
        services.stage_delete(stage=stage("lead"))
    assert error.value.code == "stage_in_use"
    services.stage_delete(stage=stage("invalid"))  # unused: goes
    assert not stage("lead").group.stages.filter(code="invalid").exists()


def test_deals_of_a_deleted_customer_are_hidden(org, customer):
    deal = make_deal(org.east_rep, customer)
    customer_services.customer_delete(user=org.east_rep, customer=customer)
    assert not Opportunity.objects.visible_to(org.east_rep).filter(pk=deal.pk).exists()


def test_open_deals_follow_a_transfer_when_asked(org, customer):
    open_deal = make_deal(org.east_rep, customer)
    won = make_deal(org.east_rep, customer, stage=stage("won").pk)
    customer_services.customer_transfer(
        user=org.east_rep, customers=[customer], to_owner=org.south_rep, reason="调岗", options={}
    )
    open_deal.refresh_from_db()
    assert open_deal.owner == org.east_rep  # not asked

    customer_services.customer_transfer(
        user=org.ceo,  # the deal's owner (east_rep) is in the transferrer's scope
        customers=[customer],
        to_owner=org.north_other,
        reason="调岗",
        options={"opportunities": True},
    )
    open_deal.refresh_from_db()
    won.refresh_from_db()
    assert (open_deal.owner, open_deal.department, open_deal.version) == (
        org.north_other,
        org.departments["north"],
        2,
    )
    assert won.owner == org.east_rep


def test_a_merge_moves_deals_to_the_survivor(org, customer):
    other = make_customer(org.east_rep, name="重复客户")
    deal = make_deal(org.east_rep, other)
    with transaction.atomic():
        moved = services.opportunities_move_to_survivor(user=org.east_rep, survivor=customer, other=other)
    deal.refresh_from_db()
    assert moved == 1 and deal.customer == customer
    assert customer_services.MERGE_MOVERS["opportunities"] is services.opportunities_move_to_survivor


def test_stage_changes_appear_on_the_customer_timeline(org, customer):
    deal = make_deal(org.east_rep, customer)
    services.opportunity_move(user=org.east_rep, opportunity=deal, stage=stage("proposal"), version=1)
    entries = [
        e
        for e in customer_selectors.customer_timeline(user=org.east_rep, customer=customer)
        if e["kind"] == "opportunity"
    ]
    assert [entry["text"] for entry in entries] == ["ERP 项目：线索 → 报价", "ERP 项目：线索"]
    # someone who sees the customer but not the deal does not see its stage changes
    customer_services.customer_team_member_set(user=org.east_rep, customer=customer, member=org.s2_rep, access="read")
    theirs = customer_selectors.customer_timeline(user=org.s2_rep, customer=customer)
    assert not [entry for entry in theirs if entry["kind"] == "opportunity"]


def test_open_deals_count_as_open_kind(org, customer):
    make_deal(org.east_rep, customer)
    make_deal(org.east_rep, customer, stage=stage("won").pk)
    assert Opportunity.objects.open().count() == 1
    assert {kind for kind in Opportunity.objects.values_list("stage__kind", flat=True)} == {
        StageKind.OPEN,
        StageKind.WON,
    }


def test_default_pipeline_from_the_data_migration(db):
    from opportunities.models import StageGroup

    group = StageGroup.objects.get(is_default=True)
    assert [(s.name, s.code, s.probability, s.kind) for s in group.stages.order_by("order")] == [
        ("线索", "lead", 10, "open"),
        ("商机", "opportunity", 30, "open"),
        ("报价", "proposal", 50, "open"),
        ("谈判", "negotiation", 75, "open"),
        ("成交", "won", 100, "won"),
        ("输单", "lost", 0, "lost"),
        ("无效", "invalid", 0, "invalid"),
    ]


def test_factory_deals_get_a_history_row(org):
    deal = OpportunityFactory(owner=org.east_rep)
    assert history_of(deal) == [(None, "proposal", "east_rep")]


def test_winning_a_deal_marks_the_customer_dealt(org, customer):
    deal = make_deal(org.east_rep, customer)
    customer.refresh_from_db()
    assert customer.deal_status != "won"
    moved, _actions = services.opportunity_move(user=org.east_rep, opportunity=deal, stage=stage("won"), version=1)
    customer.refresh_from_db()
    assert (customer.deal_status, customer.deal_at) == ("won", moved.won_at)
    # A second won deal later keeps the first deal time.
    other = make_deal(org.east_rep, customer, stage=stage("won").pk)
    customer.refresh_from_db()
    assert customer.deal_at == moved.won_at != other.won_at


def test_an_open_deal_keeps_its_customer_out_of_the_pool(org):
    """The pool's "90 days from the claim without a deal or an open deal" rule (SPEC §2.2)."""
    from pool import services as pool_services
    from pool.tests.factories import company_pool, owned

    company_pool()
    with_open = owned(org.east_rep, days_since_follow_up=1, age_days=100)
    with_lost = owned(org.east_rep, days_since_follow_up=1, age_days=100)
    OpportunityFactory(customer=with_open, owner=org.east_rep, stage=stage("negotiation"))
    OpportunityFactory(customer=with_lost, owner=org.east_rep, stage=stage("lost"))

    pool_services.pool_recall_run()

    assert Customer.objects.get(pk=with_open.pk).owner_id == org.east_rep.pk
    assert Customer.objects.get(pk=with_lost.pk).owner_id is None
