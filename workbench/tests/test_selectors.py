"""The workbench's figures on the hand-built world (conftest.world): each tile's answer worked out
by hand, the scope of a manager's team figures, the day and month boundaries at midnight
Asia/Shanghai, and a query count that does not grow with the data."""

import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from activities.tests.factories import TaskFactory
from contracts.models import ContractStatus
from customers.tests.factories import CustomerFactory
from notifications.reminders import day_bounds
from staff.models import FieldAccess, FieldPermission
from workbench import selectors
from workbench.tests.conftest import (
    make_approval_task,
    make_due_customers,
    make_notification,
    make_open_deal,
    make_payment,
    make_sale,
    make_tasks,
    moments,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")


def figures(user, **kwargs):
    return selectors.workbench_figures(user=user, **kwargs)


def test_a_reps_tiles_on_the_hand_built_world(org, world):
    result = figures(org.east_rep)
    mine = result["mine"]

    assert (mine["tasks"]["overdue"], mine["tasks"]["today"], mine["tasks"]["count"]) == (2, 1, 3)
    assert (mine["follow_ups_due"]["count"], mine["follow_ups_due"]["capped"]) == (2, False)
    assert mine["pool_returning"]["count"] == 1
    assert mine["approvals"]["count"] == 2
    assert mine["pipeline"]["count"] == 2
    assert mine["pipeline"]["amount"] == Decimal("3000.50")
    assert mine["pipeline"]["weighted_amount"] == Decimal("1200.10")  # 1000.50 × 20% + 2000 × 50%
    assert (mine["contracts_month"]["count"], mine["contracts_month"]["amount"]) == (2, Decimal("15000.50"))
    assert (mine["payments_month"]["count"], mine["payments_month"]["amount"]) == (2, Decimal("1234.56"))
    assert mine["notifications"]["count"] == 3
    # a rep (scope "self") gets no team figures
    assert result["is_manager"] is False and result["team"] is None
    assert result["today"] == world.today and result["month"] == world.today.strftime("%Y-%m")


def test_a_managers_own_tiles_are_only_theirs(org, world):
    mine = figures(org.east_lead)["mine"]

    assert mine["tasks"]["count"] == 1
    assert mine["follow_ups_due"]["count"] == 1
    assert (mine["pipeline"]["count"], mine["pipeline"]["amount"]) == (1, Decimal("5000.00"))
    assert (mine["contracts_month"]["count"], mine["contracts_month"]["amount"]) == (1, Decimal("3000.00"))
    assert (mine["payments_month"]["count"], mine["payments_month"]["amount"]) == (1, Decimal("300.00"))
    assert mine["approvals"]["count"] == 1 and mine["notifications"]["count"] == 1


# Each manager's team figures, worked out from the world: east_rep (华东组) 2 due customers, deals
# 1000.50@20% + 2000@50%, sales 10000 + 5000.50, payments 1000 + 234.56; east_lead (华东组) 1,
# 5000@10%, 3000, 300; east_intern (华东组) 1, 100@10%; south_rep (华南组, 销售一部) 1, 200@10%,
# 400; north_rep (华北组, 销售二部) 1, 700@30%, 700, 70. Nothing of a binned customer, a pool
# customer, a draft/pending/void contract or last month's rows, ever.
TEAM = {
    # user: (due customers, (deals, amount, weighted), (contracts, amount), (payments, amount))
    "east_lead": (4, (4, "8100.50", "1710.10"), (3, "18000.50"), (3, "1534.56")),  # self + subordinates
    "east_manager": (4, (4, "8100.50", "1710.10"), (3, "18000.50"), (3, "1534.56")),  # 华东组
    "s1_director": (5, (5, "8300.50", "1730.10"), (4, "18400.50"), (3, "1534.56")),  # 销售一部 and below
    "north_rep": (1, (1, "700.00", "210.00"), (1, "700.00"), (1, "70.00")),  # self + 华北组
    "ceo": (6, (6, "9000.50", "1940.10"), (5, "19100.50"), (4, "1604.56")),  # everything
}


@pytest.mark.parametrize("username", list(TEAM))
def test_a_managers_team_figures_are_their_scope_never_more(org, world, username):
    due, (deals, amount, weighted), (contracts, sales), (payments, paid) = TEAM[username]

    team = figures(org.users[username])["team"]

    assert team["follow_ups_due"]["count"] == due
    assert team["pipeline"]["count"] == deals
    assert team["pipeline"]["amount"] == Decimal(amount)
    assert team["pipeline"]["weighted_amount"] == Decimal(weighted)
    assert (team["contracts_month"]["count"], team["contracts_month"]["amount"]) == (contracts, Decimal(sales))
    assert (team["payments_month"]["count"], team["payments_month"]["amount"]) == (payments, Decimal(paid))


def test_team_figures_are_the_sum_of_the_members_own(org, world):
    """A department manager's team = the sum of each 华东组 member's own figures (they own nothing)."""
    members = [org.east_rep, org.east_lead, org.east_intern]
    own = [figures(user)["mine"] for user in members]
    team = figures(org.east_manager)["team"]

    for key in ("follow_ups_due", "pipeline", "contracts_month", "payments_month"):
        assert team[key]["count"] == sum(tiles[key]["count"] for tiles in own), key
    for key in ("pipeline", "contracts_month", "payments_month"):
        assert team[key]["amount"] == sum((tiles[key]["amount"] for tiles in own), Decimal(0)), key


@pytest.mark.parametrize("username", ["east_rep", "east_intern", "south_rep", "s2_rep", "norole", "north_other"])
def test_no_team_figures_for_someone_who_sees_only_their_own(org, world, username):
    assert figures(org.users[username])["team"] is None


def test_an_inactive_user_sees_nothing(org, world):
    result = figures(org.inactive)
    assert result["team"] is None
    assert all(tile["count"] == 0 for tile in result["mine"].values())


def test_tiles_whose_list_the_user_may_not_open_are_left_out(org, world):
    from django.contrib.auth.models import Permission

    role = org.roles["self"]
    for codename in ("view_task", "view_customer", "view_opportunity", "view_contract", "view_payment"):
        role.permissions.remove(Permission.objects.get(codename=codename))
    org.east_rep.refresh_from_db()  # permission cache

    mine = figures(org.east_rep)["mine"]

    assert set(mine) == {"approvals", "notifications"}


def test_the_follow_up_tile_is_left_out_when_the_field_is_hidden(org, world):
    FieldPermission.objects.create(
        role=org.roles["self"], target="customer", field="next_follow_up_at", access=FieldAccess.HIDDEN
    )
    org.east_rep.refresh_from_db()
    assert "follow_ups_due" not in figures(org.east_rep)["mine"]


# --- day and month boundaries at midnight Asia/Shanghai -------------------------------------------


def test_tasks_today_end_at_local_midnight(org):
    # given: 23:59:59 on 5 June in Shanghai (15:59:59 UTC)
    now = datetime.datetime(2026, 6, 5, 23, 59, 59, tzinfo=SHANGHAI)
    midnight = datetime.datetime(2026, 6, 6, tzinfo=SHANGHAI)
    TaskFactory(assignee=org.east_rep, due_at=midnight - datetime.timedelta(microseconds=1))  # today, last moment
    TaskFactory(assignee=org.east_rep, due_at=midnight)  # tomorrow
    TaskFactory(assignee=org.east_rep, due_at=now - datetime.timedelta(seconds=1))  # overdue

    before = selectors.my_tasks(user=org.east_rep, now=now)
    after = selectors.my_tasks(user=org.east_rep, now=midnight)

    assert (before["overdue"], before["today"]) == (1, 1)
    # at midnight the day turns: yesterday's last task is overdue, the midnight one due today
    assert (after["overdue"], after["today"]) == (2, 1)


def test_follow_ups_due_end_at_local_midnight(org):
    _start, tomorrow = day_bounds()
    CustomerFactory(owner=org.east_rep, next_follow_up_at=tomorrow - datetime.timedelta(microseconds=1))
    CustomerFactory(owner=org.east_rep, next_follow_up_at=tomorrow)

    assert selectors.follow_ups_due(user=org.east_rep)["count"] == 1


def test_this_month_turns_at_local_midnight_not_utc(org):
    # 1 June 00:00 in Shanghai is still 31 May in UTC: the month is June.
    end_of_may = datetime.datetime(2026, 5, 31, 23, 59, 59, tzinfo=SHANGHAI)
    start_of_june = datetime.datetime(2026, 6, 1, tzinfo=SHANGHAI)
    assert start_of_june.astimezone(datetime.UTC).date() == datetime.date(2026, 5, 31)
    may = make_sale(org.east_rep, "100.00", datetime.date(2026, 5, 31))
    june = make_sale(org.east_rep, "200.00", datetime.date(2026, 6, 1), ContractStatus.ACTIVE)
    make_payment(may, "10.00", datetime.date(2026, 5, 31))
    make_payment(june, "20.00", datetime.date(2026, 6, 1))

    in_may = (
        selectors.contracts_month(user=org.east_rep, now=end_of_may),
        selectors.payments_month(user=org.east_rep, now=end_of_may),
    )
    in_june = (
        selectors.contracts_month(user=org.east_rep, now=start_of_june),
        selectors.payments_month(user=org.east_rep, now=start_of_june),
    )

    assert [(tile["count"], tile["amount"]) for tile in in_may] == [(1, Decimal("100.00")), (1, Decimal("10.00"))]
    assert [(tile["count"], tile["amount"]) for tile in in_june] == [(1, Decimal("200.00")), (1, Decimal("20.00"))]
    assert "signed_after=2026-06-01&signed_before=2026-06-30" in in_june[0]["url"]
    assert "date_after=2026-05-01&date_before=2026-05-31" in in_may[1]["url"]


def test_month_range_of_a_leap_february():
    now = datetime.datetime(2028, 2, 10, 12, tzinfo=SHANGHAI)
    assert selectors.month_range(now) == (datetime.date(2028, 2, 1), datetime.date(2028, 2, 29))


# --- queries --------------------------------------------------------------------------------------


def _more_of_everything(org, n):
    m = moments()
    for user in (org.east_rep, org.east_lead, org.east_intern, org.south_rep):
        make_tasks(user, m, overdue=n, today=n)
        make_due_customers(user, m, n)
        for _ in range(n):
            make_open_deal(user, "10.00", 10)
            make_payment(make_sale(user, "100.00", m.today), "1.00", m.today)
            make_approval_task(user)
            make_notification(user)


# A fixed budget: each figure one aggregate plus the scope's and the permissions' small lookups.
QUERY_BUDGET = 60


@pytest.mark.parametrize("username", ["east_rep", "east_lead", "s1_director"])
def test_query_count_is_bounded_and_does_not_grow_with_the_data(org, world, username, django_assert_max_num_queries):
    def count_queries():
        user = type(org.users[username]).objects.select_related("department").get(pk=org.users[username].pk)
        with CaptureQueriesContext(connection) as context:
            selectors.workbench_figures(user=user)
        return len(context)

    with django_assert_max_num_queries(QUERY_BUDGET):
        small = count_queries()
    _more_of_everything(org, 15)
    assert count_queries() == small
