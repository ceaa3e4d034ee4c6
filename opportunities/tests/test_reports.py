"""Funnel and forecast figures against a hand-built history whose answers are worked out here,
through the API (scope, filters, shapes) and to the fen."""

import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from opportunities.models import Opportunity, StageHistory
from opportunities.tests.factories import LostReasonFactory, OpportunityFactory, stage

FUNNEL = reverse("api:report-funnel")
FORECAST = reverse("api:report-forecast")
T0 = datetime.datetime(2026, 3, 2, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


def day(n):
    return T0 + datetime.timedelta(days=n)


def deal(owner, amount, path, *, created=0, reason=None, expected=None, probability=None):
    """A deal whose stage history is ``path``: [(stage code, day), …]; it stands in the last one."""
    last = stage(path[-1][0])
    opportunity = OpportunityFactory(
        owner=owner, amount=Decimal(amount), stage=last, history=False, expected_close_date=expected,
        probability=last.probability if probability is None else probability, lost_reason=reason,
    )  # fmt: skip
    previous = None
    for code, when in path:
        StageHistory.objects.create(
            opportunity=opportunity, from_stage=previous, to_stage=stage(code), changed_at=day(when)
        )
        previous = stage(code)
    closing = day(path[-1][1])
    Opportunity.objects.filter(pk=opportunity.pk).update(
        created_at=day(created),
        won_at=closing if last.kind == "won" else None,
        lost_at=closing if last.kind == "lost" else None,
    )
    return opportunity


@pytest.fixture
def history(org):
    """Five deals of east_rep (and one of north_other, outside east_rep's scope):

    A 1000  线索 d0 → 商机 d2 → 报价 d5 → 成交 d10
    B 2000  线索 d0 → 报价 d4 (skips 商机) → 输单 d7 (价格过高)
    C 3000  商机 d0 (skips 线索) → 谈判 d3 (skips 报价) → 成交 d9
    D 4000  线索 d0, still there
    E  500  线索 d0 → 输单 d6 (价格过高)
    F 100000 (north_other) 线索 d0 → 成交 d1
    """
    price = LostReasonFactory(name="价格过高")
    rep = org.east_rep
    deal(rep, 1000, [("lead", 0), ("opportunity", 2), ("proposal", 5), ("won", 10)])
    deal(rep, 2000, [("lead", 0), ("proposal", 4), ("lost", 7)], reason=price)
    deal(rep, 3000, [("opportunity", 0), ("negotiation", 3), ("won", 9)])
    deal(rep, 4000, [("lead", 0)])
    deal(rep, 500, [("lead", 0), ("lost", 6)], reason=price)
    deal(org.north_other, 100000, [("lead", 0), ("won", 1)])
    return price


def test_funnel_figures_match_the_hand_computed_answer(org, client_for, history):
    response = client_for(org.east_rep).get(FUNNEL)
    assert response.status_code == 200, response.content
    data = response.json()
    rows = {row["code"]: row for row in data["stages"]}
    assert [row["code"] for row in data["stages"]] == ["lead", "opportunity", "proposal", "negotiation", "won"]

    # Reached (furthest stage in the history, skipped stages included):
    # A→won, B→proposal, C→won, D→lead, E→lead (its lost row is not a funnel stage).
    assert {code: row["count"] for code, row in rows.items()} == {
        "lead": 5, "opportunity": 3, "proposal": 3, "negotiation": 2, "won": 2,
    }  # fmt: skip
    assert {code: row["amount"] for code, row in rows.items()} == {
        "lead": "10500.00",  # A+B+C+D+E
        "opportunity": "6000.00",  # A+B+C
        "proposal": "6000.00",  # A+B+C
        "negotiation": "4000.00",  # A+C
        "won": "4000.00",  # A+C
    }
    # amount × the stage's probability: 10500×10%, 6000×30%, 6000×50%, 4000×75%, 4000×100%
    assert [row["weighted_amount"] for row in data["stages"]] == [
        "1050.00", "1800.00", "3000.00", "3000.00", "4000.00",
    ]  # fmt: skip
    assert [row["average_amount"] for row in data["stages"]] == [
        "2100.00", "2000.00", "2000.00", "2000.00", "2000.00",
    ]  # fmt: skip
    # 3/5, 3/3, 2/3, 2/2, and none after won
    assert [row["conversion_rate"] for row in data["stages"]] == ["0.6000", "1.0000", "0.6667", "1.0000", None]
    # Ended stays: 线索 A 2d, B 4d, E 6d (D still there) → 4; 商机 A 3d, C 3d → 3;
    # 报价 A 5d, B 3d → 4; 谈判 C 6d → 6; none for won.
    assert [row["average_days"] for row in data["stages"]] == ["4.0", "3.0", "4.0", "6.0", None]

    # won A, C; lost B, E → 2 / 4; won sizes (1000 + 3000) / 2; cycles 10 and 9 days
    assert (data["won"], data["lost"], data["win_rate"]) == (2, 2, "0.5000")
    assert data["average_won_amount"] == "2000.00"
    assert data["average_cycle_days"] == "9.5"
    assert data["loss_reasons"] == [{"reason": history.pk, "name": "价格过高", "count": 2, "amount": "2500.00"}]


def test_funnel_counts_only_deals_in_scope(org, client_for, history):
    ceo = client_for(org.ceo).get(FUNNEL).json()
    assert ceo["stages"][0]["count"] == 6 and ceo["stages"][0]["amount"] == "110500.00"
    assert ceo["won"] == 3

    other = client_for(org.north_other).get(FUNNEL).json()
    # F went 线索 → 成交 directly: skipping forward, it reached every stage on the way
    assert [row["count"] for row in other["stages"]] == [1, 1, 1, 1, 1]
    assert other["loss_reasons"] == [] and other["average_cycle_days"] == "1.0"

    nobody = client_for(org.s2_rep).get(FUNNEL).json()
    assert [row["count"] for row in nobody["stages"]] == [0, 0, 0, 0, 0]
    assert nobody["win_rate"] is None and nobody["average_won_amount"] is None
    assert nobody["stages"][0]["conversion_rate"] is None and nobody["stages"][0]["average_days"] is None


def test_funnel_filters_by_owner_department_and_period(org, client_for, history):
    ceo = client_for(org.ceo)
    by_owner = ceo.get(FUNNEL, {"owner": org.north_other.pk}).json()
    assert by_owner["stages"][0]["count"] == 1
    by_department = ceo.get(FUNNEL, {"department": org.departments["s1"].pk}).json()  # 华东组 is below 销售一部
    assert by_department["stages"][0]["count"] == 5
    # the period selects deals created in it: C was created on day 0 like the others; move B later
    Opportunity.objects.filter(amount=2000).update(created_at=day(40))
    later = ceo.get(FUNNEL, {"period_after": day(30).date().isoformat()}).json()
    assert later["stages"][0]["count"] == 1 and later["lost"] == 1
    earlier = ceo.get(FUNNEL, {"period_before": day(1).date().isoformat()}).json()
    assert earlier["stages"][0]["count"] == 5


def test_funnel_rejects_bad_filters_with_the_error_shape(org, client_for, history):
    response = client_for(org.ceo).get(FUNNEL, {"period_after": "not-a-date"})
    assert response.status_code == 400
    assert "period" in response.json()["error"]["fields"] or "period_after" in response.json()["error"]["fields"]
    assert client_for(org.ceo).get(FUNNEL, {"group": 999_999}).status_code == 400


def test_forecast_by_expected_close_month_to_the_fen(org, client_for):
    rep = org.east_rep
    april, may = datetime.date(2026, 4, 10), datetime.date(2026, 5, 1)
    deal(rep, "1000.00", [("proposal", 0)], expected=april)  # 1000 × 50% = 500
    deal(rep, "333.33", [("negotiation", 0)], expected=datetime.date(2026, 4, 20))  # × 75% = 249.9975
    deal(rep, "2000.00", [("lead", 0)], expected=may)  # × 10% = 200
    deal(rep, "100.00", [("opportunity", 0)])  # no date: × 30% = 30
    deal(rep, "5000.00", [("lead", 0), ("won", 2)], expected=april)  # won: not pipeline
    deal(rep, "80.00", [("lead", 0)], expected=april, probability=25)  # overridden: × 25% = 20
    deal(org.north_other, "9999.00", [("lead", 0)], expected=april)  # outside east_rep's scope

    data = client_for(rep).get(FORECAST).json()
    assert data["months"] == [
        # 500 + 249.9975 + 20 = 769.9975 → 770.00
        {"month": "2026-04", "count": 3, "amount": "1413.33", "weighted_amount": "770.00"},
        {"month": "2026-05", "count": 1, "amount": "2000.00", "weighted_amount": "200.00"},
        {"month": None, "count": 1, "amount": "100.00", "weighted_amount": "30.00"},
    ]
    # 769.9975 + 200 + 30 = 999.9975 → 1000.00
    assert (data["count"], data["amount"], data["weighted_amount"]) == (5, "3513.33", "1000.00")

    may_only = client_for(rep).get(FORECAST, {"period_after": "2026-05-01", "period_before": "2026-05-31"}).json()
    assert may_only["months"] == [{"month": "2026-05", "count": 1, "amount": "2000.00", "weighted_amount": "200.00"}]
    ceo = client_for(org.ceo).get(FORECAST).json()
    assert ceo["months"][0]["count"] == 4 and ceo["count"] == 6


def test_reports_need_the_view_permission(org, client_for):
    from django.contrib.auth.models import Permission

    from staff.tests.factories import RoleFactory

    role = RoleFactory(name="只看客户", data_scope="self")
    role.permissions.set(Permission.objects.filter(codename="view_customer"))
    org.east_rep.roles.set([role])
    assert client_for(org.east_rep).get(FUNNEL).status_code == 403
    assert client_for(org.east_rep).get(FORECAST).status_code == 403


def test_compact_funnel_has_the_same_stages_without_the_two_detail_statements(org, history, django_assert_num_queries):
    from opportunities import selectors

    deals = selectors.opportunity_list(user=org.east_rep).order_by()
    group = selectors.stage_group_for(org.east_rep.department)
    full = selectors.funnel(deals=deals, group=group)
    with django_assert_num_queries(2):  # the stages, the deals' one pass
        compact = selectors.funnel(deals=deals, group=group, details=False)

    def without_days(rows):
        return [{key: value for key, value in row.items() if key != "average_days"} for row in rows]

    assert without_days(compact["stages"]) == without_days(full["stages"])
    assert [row["average_days"] for row in compact["stages"]] == [None] * len(full["stages"])
    assert [row["average_days"] for row in full["stages"]] != [None] * len(full["stages"])
    assert compact["loss_reasons"] == [] and full["loss_reasons"]
    assert (compact["won"], compact["lost"], compact["win_rate"]) == (full["won"], full["lost"], full["win_rate"])
