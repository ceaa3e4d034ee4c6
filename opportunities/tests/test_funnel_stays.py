"""The funnel's single pass gives exactly what its three passes gave: the average days in a stage
from ``Opportunity.stay_totals`` equal the old ``AVG`` over the ended stays in the stage history
(to the last digit, before rounding), the loss reasons equal the old GROUP BY (order included) —
over deals with varied histories (skips, moves back, lost, won, rows added out of order, edited,
moved to another deal, deleted, a stage reordered). And ``stay_totals`` follows the history
whatever writes it, and nothing else writes it."""

import random
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from opportunities import selectors, services
from opportunities.models import Opportunity, StageHistory
from opportunities.tests.factories import LostReasonFactory, OpportunityFactory, stage

CODES = ["lead", "opportunity", "proposal", "negotiation", "won", "lost", "invalid"]


def old_average_days(deals):
    """The old ``_average_days``: the reference."""
    inner, params = deals.values("pk").query.sql_with_params()
    sql = (
        "SELECT h.to_stage_id, AVG(EXTRACT(EPOCH FROM (h.left_at - h.changed_at))) / 86400.0 "
        f"FROM opportunities_stagehistory h WHERE h.left_at IS NOT NULL AND h.opportunity_id IN ({inner}) "
        "GROUP BY h.to_stage_id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {stage_id: average for stage_id, average in cursor.fetchall()}


def expected_stay_totals(deal):
    """{stage id: [µs, stays]} of the deal's ended stays, worked out in Python from its rows."""
    rows = list(StageHistory.objects.filter(opportunity=deal).order_by("changed_at", "id"))
    totals = {}
    for row, following in zip(rows, rows[1:], strict=False):
        length = following.changed_at - row.changed_at
        micros = (length.days * 86400 + length.seconds) * 1_000_000 + length.microseconds
        total = totals.setdefault(str(row.to_stage_id), [0, 0])
        total[0] += micros
        total[1] += 1
    return totals or None


def assert_stays_follow(deals):
    for deal in deals:
        stored = Opportunity.objects.values_list("stay_totals", flat=True).get(pk=deal.pk)
        assert stored == expected_stay_totals(deal), deal.pk


def assert_funnel_as_before(deals):
    group = stage("lead").group
    scoped = deals.filter(stage__group=group)
    stages = list(selectors.stages_of(group, kinds=["open", "won"]))
    raw = scoped.aggregate(**selectors._average_days_sums(stages))
    old = old_average_days(scoped)
    for item in stages:
        if item.kind == "open":
            # The same numeric, scale included (str), not only the same rounded figure.
            assert str(raw[f"d{item.pk}"]) == str(old.get(item.pk)), item.code
    result = selectors.funnel(deals=deals, group=group)
    for row in result["stages"]:
        expected = selectors._days(old.get(row["stage"].pk)) if row["stage"].kind == "open" else None
        assert row["average_days"] == expected
    assert result["loss_reasons"] == selectors.loss_reasons(deals=scoped)
    return result


def random_histories(org, rng, deals):
    """Each deal's history: a random walk over the pipeline's stages (forward, skipping, back,
    lost, won, reopened), at random times — some rows at the same instant."""
    start = timezone.now() - timedelta(days=400)
    reasons = [LostReasonFactory(name=name) for name in ["价格过高", "竞品", "预算取消"]]
    for deal in deals:
        at = start + timedelta(days=rng.uniform(0, 100))
        previous = deal.stage
        rows = []
        for _step in range(rng.randrange(0, 7)):
            target = stage(rng.choice(CODES))
            at += timedelta(seconds=rng.choice([0, 1, rng.uniform(1, 40 * 86400)]))
            rows.append(StageHistory(opportunity=deal, from_stage=previous, to_stage=target, changed_at=at))
            previous = target
        StageHistory.objects.bulk_create(rows)  # one statement: several rows of a deal at once
        lost = previous.kind == "lost"
        reason = rng.choice([*reasons, None]) if lost else None
        amount = rng.choice([0, 500, 1000])
        Opportunity.objects.filter(pk=deal.pk).update(stage=previous, lost_reason=reason, amount=amount)


def test_the_single_pass_equals_the_old_passes_over_varied_histories(org):
    rng = random.Random(7)
    deals = [OpportunityFactory(owner=org.east_rep, stage=stage(rng.choice(CODES[:4]))) for _ in range(30)]
    random_histories(org, rng, deals)
    everything = Opportunity.objects.all()
    assert_stays_follow(deals)
    result = assert_funnel_as_before(everything)
    assert any(row["average_days"] for row in result["stages"]) and result["loss_reasons"]

    rows = list(StageHistory.objects.order_by("id"))
    # Edited: times moved (a row now out of order), a stage changed, a row given to another deal.
    for row in rng.sample(rows, 10):
        row.changed_at += timedelta(days=rng.uniform(-30, 30))
        row.save()
    StageHistory.objects.filter(pk__in=[row.pk for row in rng.sample(rows, 5)]).update(to_stage=stage("proposal"))
    StageHistory.objects.filter(pk=rows[3].pk).update(opportunity=deals[-1])
    # Added out of order, into the past of existing stays.
    StageHistory.objects.create(
        opportunity=deals[1], to_stage=stage("negotiation"), changed_at=timezone.now() - timedelta(days=390)
    )
    assert_stays_follow(deals)
    assert_funnel_as_before(everything)

    # Deleted: single rows, and all of one deal's rows.
    StageHistory.objects.filter(pk__in=[row.pk for row in rng.sample(rows, 8)]).delete()
    StageHistory.objects.filter(opportunity=deals[2]).delete()
    assert_stays_follow(deals)
    assert Opportunity.objects.get(pk=deals[2].pk).stay_totals is None
    assert_funnel_as_before(everything)

    # A stage reordered: the reached stages change, the stays do not.
    proposal = stage("proposal")
    proposal.order = 5
    proposal.save()
    assert_stays_follow(deals)
    assert_funnel_as_before(everything)
    assert_funnel_as_before(Opportunity.objects.visible_to(org.east_rep))


def test_a_move_records_the_stay_it_ends(org):
    deal = OpportunityFactory(owner=org.east_rep, stage=stage("lead"))
    assert Opportunity.objects.get(pk=deal.pk).stay_totals is None  # the first stay has not ended
    current = Opportunity.objects.get(pk=deal.pk)
    services.opportunity_move(user=org.east_rep, opportunity=current, stage=stage("proposal"), version=current.version)
    totals = Opportunity.objects.get(pk=deal.pk).stay_totals
    assert list(totals) == [str(stage("lead").pk)] and totals[str(stage("lead").pk)][1] == 1
    assert_stays_follow([deal])


def test_only_the_history_triggers_write_the_column(org):
    deal = OpportunityFactory(owner=org.east_rep, stage=stage("lead"))
    stale = Opportunity.objects.get(pk=deal.pk)  # read before the move: stay_totals None
    StageHistory.objects.create(opportunity=deal, from_stage=stage("lead"), to_stage=stage("proposal"))
    stale.title = "改名"
    stale.save()  # a full save of the stale instance writes stay_totals too: kept
    Opportunity.objects.filter(pk=deal.pk).update(stay_totals={"1": [1, 1]})
    assert Opportunity.objects.get(pk=deal.pk).title == "改名"
    assert_stays_follow([deal])
    assert Opportunity.objects.get(pk=deal.pk).stay_totals is not None


@pytest.mark.parametrize("no_reason_amount", [500, 1000])
def test_loss_reasons_in_the_old_order_when_counts_and_amounts_tie(org, no_reason_amount):
    # Names whose order differs from the reasons' ids; no reason (NULL name) sorts last on a tie.
    reasons = [LostReasonFactory(name=name) for name in ["竞品", "价格过高", "Budget", "预算取消"]]
    for reason, amount in zip([*reasons, None, reasons[0]], [1000, 1000, 1000, 500, no_reason_amount, 0], strict=True):
        OpportunityFactory(owner=org.east_rep, stage=stage("lost"), lost_reason=reason, amount=Decimal(amount))
    result = assert_funnel_as_before(Opportunity.objects.all())
    assert [row["name"] for row in result["loss_reasons"]][0] == "竞品"  # two deals
    assert result["loss_reasons"][-1]["amount"] == Decimal("500.00")


def test_the_funnel_reads_the_deals_once_with_or_without_details(org, django_assert_num_queries):
    OpportunityFactory(owner=org.east_rep, stage=stage("lost"), lost_reason=LostReasonFactory(name="竞品"))
    group = stage("lead").group
    with django_assert_num_queries(3):  # stages, lost reasons, the deals
        result = selectors.funnel(deals=Opportunity.objects.all(), group=group)
    assert result["loss_reasons"][0]["count"] == 1
    with django_assert_num_queries(2):  # stages, the deals
        compact = selectors.funnel(deals=Opportunity.objects.all(), group=group, details=False)
    assert compact["loss_reasons"] == [] and all(row["average_days"] is None for row in compact["stages"])
