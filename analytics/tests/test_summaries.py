"""日报 / 周报 / 月报: the figures on hand-built data (boundaries at midnight Asia/Shanghai), the
data scope of the subject and of every figure, and the page with its subscription form."""

import datetime
import re
from decimal import Decimal

import pytest
from django.http import Http404
from django.urls import reverse
from django.utils import timezone

from activities.models import TaskStatus
from activities.tests.factories import FollowUpFactory, TaskFactory
from analytics.models import SummaryFrequency, SummarySubscription
from analytics.reports.periods import DAY, MONTH, WEEK
from analytics.summaries import (
    last_complete_period,
    summary_departments,
    summary_figures,
    summary_people,
    summary_period,
    summary_subject_for,
)
from contracts.models import ContractStatus, PaymentStatus
from contracts.tests.factories import ContractFactory, PaymentFactory
from customers.models import Customer
from customers.tests.factories import CustomerFactory
from opportunities.models import Opportunity
from opportunities.tests.factories import OpportunityFactory, stage

TZ = timezone.get_default_timezone()
DAY_ONE = datetime.date(2025, 3, 31)  # a Monday, the last day of a month
BEFORE = datetime.date(2025, 3, 30)


def at(day, hour=0, minute=0, second=0):
    """An instant in Asia/Shanghai."""
    return datetime.datetime.combine(day, datetime.time(hour, minute, second), tzinfo=TZ)


def customer(owner, *, created=None, department=None):
    made = CustomerFactory(owner=owner, department=department or owner.department)
    if created:
        Customer.objects.filter(pk=made.pk).update(created_at=created)
    return made


def deal(owner, *, created, amount="1000.00", won=None, customer_=None):
    kwargs = {"customer": customer_} if customer_ else {}
    made = OpportunityFactory(owner=owner, amount=Decimal(amount), stage=stage("won" if won else "proposal"), **kwargs)
    Opportunity.objects.filter(pk=made.pk).update(created_at=created, won_at=won)
    return made


def contract(owner, *, signed, total, status=ContractStatus.APPROVED, customer_=None):
    kwargs = {"customer": customer_} if customer_ else {}
    return ContractFactory(owner=owner, status=status, signed_date=signed, total=Decimal(total), **kwargs)


def payment(of, *, on, amount, status=PaymentStatus.CONFIRMED):
    return PaymentFactory(contract=of, date=on, amount=Decimal(amount), status=status)


def figures(viewer, subject, granularity=DAY, day=DAY_ONE, now=None):
    summary = summary_figures(
        viewer=viewer, subject=subject, period=summary_period(granularity, day), now=now or at(DAY_ONE, 12)
    )
    return summary.values()


def person(user):
    return summary_subject_for(viewer=user)


# --- the figures ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_day_counts_from_local_midnight_to_midnight_beside_the_day_before(org):
    rep = org.east_rep
    # New customers: 00:00:00 and 23:59:59 of the day count; 00:00 the next day does not; the
    # previous day's last second counts for the previous day.
    customer(rep, created=at(DAY_ONE))
    customer(rep, created=at(DAY_ONE, 23, 59, 59))
    customer(rep, created=at(DAY_ONE + datetime.timedelta(days=1)))
    customer(rep, created=at(BEFORE, 23, 59, 59))
    # Follow-ups logged by the rep: two calls and a visit on the day, a call the day before.
    mine = customer(rep, created=at(BEFORE - datetime.timedelta(days=10)))
    FollowUpFactory(customer=mine, created_by=rep, occurred_at=at(DAY_ONE), type="call")
    FollowUpFactory(customer=mine, created_by=rep, occurred_at=at(DAY_ONE, 23, 59, 59), type="call")
    FollowUpFactory(customer=mine, created_by=rep, occurred_at=at(DAY_ONE, 9), type="visit")
    FollowUpFactory(customer=mine, created_by=rep, occurred_at=at(BEFORE, 23, 59, 59), type="call")
    FollowUpFactory(customer=mine, created_by=rep, occurred_at=at(DAY_ONE + datetime.timedelta(days=1)), type="call")
    # Deals: two new on the day (one of them won the same day), one the day before; one won on
    # the day that was created long ago.
    deal(rep, created=at(DAY_ONE, 8), amount="1000.10", customer_=mine)
    deal(rep, created=at(DAY_ONE, 23, 59, 59), amount="2000.20", won=at(DAY_ONE, 23, 59, 59), customer_=mine)
    deal(rep, created=at(BEFORE, 10), amount="500.00", customer_=mine)
    deal(rep, created=at(BEFORE - datetime.timedelta(days=40)), amount="7000.00", won=at(DAY_ONE), customer_=mine)
    # Contracts: approved or later count by signed date; a draft does not.
    signed = contract(rep, signed=DAY_ONE, total="12345.67", customer_=mine)
    contract(rep, signed=DAY_ONE, total="100.00", status=ContractStatus.ACTIVE, customer_=mine)
    contract(rep, signed=DAY_ONE, total="999.00", status=ContractStatus.DRAFT, customer_=mine)
    contract(rep, signed=BEFORE, total="50.00", customer_=mine)
    # Payments: confirmed ones by payment date; an unconfirmed one does not count.
    payment(signed, on=DAY_ONE, amount="3000.01")
    payment(signed, on=DAY_ONE, amount="0.99")
    payment(signed, on=DAY_ONE, amount="800.00", status=PaymentStatus.UNCONFIRMED)
    payment(signed, on=BEFORE, amount="10.00")
    # Tasks (now = 12:00 on the day): completed on the day (one on time, one late), one open
    # and past due (overdue), one open and due this evening (not yet), one cancelled.
    TaskFactory(assignee=rep, due_at=at(DAY_ONE, 10), status=TaskStatus.DONE, completed_at=at(DAY_ONE, 9))
    TaskFactory(assignee=rep, due_at=at(DAY_ONE, 10), status=TaskStatus.DONE, completed_at=at(DAY_ONE, 11))
    TaskFactory(assignee=rep, due_at=at(DAY_ONE, 11), status=TaskStatus.OPEN)
    TaskFactory(assignee=rep, due_at=at(DAY_ONE, 20), status=TaskStatus.OPEN)
    TaskFactory(assignee=rep, due_at=at(DAY_ONE, 8), status=TaskStatus.CANCELLED)
    TaskFactory(assignee=rep, due_at=at(BEFORE, 18), status=TaskStatus.OPEN)  # overdue, the day before

    values = figures(rep, person(rep))

    assert values["new_customers"] == (2, 1)
    assert values["follow_ups"] == (3, 1)
    assert values["follow_ups_call"] == (2, 1)
    assert values["follow_ups_visit"] == (1, 0)
    assert "follow_ups_email" not in values  # types with nothing in either period are left out
    assert values["new_deals"] == (2, 1)
    assert values["new_deal_amount"] == (Decimal("3000.30"), Decimal("500.00"))
    assert values["won_deals"] == (2, 0)
    assert values["won_deal_amount"] == (Decimal("9000.20"), Decimal("0.00"))
    assert values["contracts"] == (2, 1)
    assert values["contract_amount"] == (Decimal("12445.67"), Decimal("50.00"))
    assert values["payment_amount"] == (Decimal("3001.00"), Decimal("10.00"))
    assert values["tasks_completed"] == (2, 0)
    assert values["tasks_overdue"] == (2, 1)


@pytest.mark.django_db
def test_week_and_month_boundaries(org):
    rep = org.east_rep
    # ISO week of Monday 2025-03-31: 03-31 .. 04-06; the week before 03-24 .. 03-30.
    customer(rep, created=at(DAY_ONE))  # week and month
    customer(rep, created=at(datetime.date(2025, 4, 6), 23, 59, 59))  # the week, not March
    customer(rep, created=at(datetime.date(2025, 4, 7)))  # neither
    customer(rep, created=at(datetime.date(2025, 3, 24)))  # the week before; March
    customer(rep, created=at(datetime.date(2025, 3, 1)))  # March
    customer(rep, created=at(datetime.date(2025, 2, 28), 23, 59, 59))  # February
    customer(rep, created=at(datetime.date(2025, 3, 23), 23, 59, 59))  # March, two weeks before

    assert figures(rep, person(rep), WEEK)["new_customers"] == (2, 1)
    assert figures(rep, person(rep), MONTH)["new_customers"] == (4, 1)
    period = summary_period(MONTH, DAY_ONE)
    assert (period.start, period.end) == (datetime.date(2025, 3, 1), DAY_ONE)
    assert (period.previous().start, period.previous().end) == (datetime.date(2025, 2, 1), datetime.date(2025, 2, 28))


def test_the_period_just_ended():
    monday = datetime.date(2026, 12, 7)
    assert last_complete_period(DAY, today=monday).start == datetime.date(2026, 12, 6)
    week = last_complete_period(WEEK, today=monday)
    assert (week.start, week.end) == (datetime.date(2026, 11, 30), datetime.date(2026, 12, 6))
    month = last_complete_period(MONTH, today=datetime.date(2026, 12, 1))
    assert (month.start, month.end) == (datetime.date(2026, 11, 1), datetime.date(2026, 11, 30))


@pytest.mark.django_db
def test_the_figures_take_a_bounded_number_of_queries(org, django_assert_max_num_queries):
    for owner in (org.east_rep, org.south_rep, org.east_lead):
        for hour in range(8):
            mine = customer(owner, created=at(DAY_ONE, hour))
            FollowUpFactory(customer=mine, created_by=owner, occurred_at=at(DAY_ONE, hour))
            contract(owner, signed=DAY_ONE, total="10.00", customer_=mine)
    director = org.s1_director
    subject = summary_subject_for(viewer=director, department_id=org.departments["s1"].pk)
    # Eight aggregates, the department subtree, and the data scope's own look-ups (team members).
    with django_assert_max_num_queries(12):
        values = figures(director, subject)
    assert values["new_customers"][0] == 24 and values["contracts"][0] == 24


# --- scope ---------------------------------------------------------------------------------------


def _activity(owner, *, department=None, amount="100.00"):
    """One of everything on DAY_ONE for ``owner`` (a customer in ``department``, default theirs)."""
    mine = customer(owner, created=at(DAY_ONE, 9), department=department)
    FollowUpFactory(customer=mine, created_by=owner, occurred_at=at(DAY_ONE, 9))
    deal(owner, created=at(DAY_ONE, 9), amount=amount, won=at(DAY_ONE, 10), customer_=mine)
    signed = contract(owner, signed=DAY_ONE, total=amount, customer_=mine)
    payment(signed, on=DAY_ONE, amount=amount)
    TaskFactory(assignee=owner, customer=mine, due_at=at(DAY_ONE, 10), status=TaskStatus.OPEN)
    TaskFactory(
        assignee=owner, customer=mine, due_at=at(DAY_ONE, 8), status=TaskStatus.DONE, completed_at=at(DAY_ONE, 7)
    )
    return mine


@pytest.mark.django_db
def test_a_department_summary_is_the_sum_of_its_departments_and_never_more(org):
    _activity(org.east_rep, amount="100.00")
    _activity(org.east_lead, amount="20.00")
    _activity(org.south_rep, amount="3.00")
    _activity(org.s1_director, amount="0.40")  # 销售一部 itself
    _activity(org.north_rep, amount="5000.00")  # 销售二部 → 华北组: outside 销售一部
    _activity(org.s2_rep, amount="60000.00")
    # An east rep's follow-up and task on a customer of 华北组 (e.g. one handed over): the
    # department manager of 华东组 cannot see that customer, so neither is counted for them.
    north_customer = customer(org.north_other, created=at(BEFORE))
    FollowUpFactory(customer=north_customer, created_by=org.east_rep, occurred_at=at(DAY_ONE, 11))
    TaskFactory(assignee=org.east_rep, customer=north_customer, due_at=at(DAY_ONE, 9), status=TaskStatus.OPEN)

    director = org.s1_director
    departments = org.departments

    def of(viewer, department):
        return figures(viewer, summary_subject_for(viewer=viewer, department_id=departments[department].pk))

    s1, east, south = of(director, "s1"), of(director, "east"), of(director, "south")
    assert s1["contract_amount"][0] == Decimal("123.40")
    assert s1["payment_amount"][0] == Decimal("123.40")
    assert s1["won_deal_amount"][0] == Decimal("123.40")
    for key in ("new_customers", "new_deals", "won_deals", "contracts", "tasks_completed"):
        assert s1[key][0] == east[key][0] + south[key][0] + 1, key
    # Follow-ups and tasks are counted by who did them: the director sees 华东组's customers,
    # not 华北组's, so the east rep's follow-up there is not in the figures.
    assert east["follow_ups"][0] == 2 and east["tasks_overdue"][0] == 2
    assert east["new_customers"][0] == 2 and east["contract_amount"][0] == Decimal("120.00")

    # The department manager of 华东组 sees the same for 华东组; the CEO (all) sees the handed-over
    # customer's follow-up and task too.
    manager_east = of(org.east_manager, "east")
    assert manager_east == east
    ceo_east = of(org.ceo, "east")
    assert ceo_east["follow_ups"][0] == 3 and ceo_east["tasks_overdue"][0] == 3
    assert of(org.ceo, "root")["contract_amount"][0] == Decimal("65123.40")


@pytest.mark.django_db
def test_who_may_be_summarised(org):
    d = org.departments

    def people(name):
        return set(summary_people(viewer=org.users[name]).values_list("username", flat=True))

    def departments(name):
        return {dept.name for dept in summary_departments(viewer=org.users[name])}

    assert people("east_rep") == {"east_rep"}
    assert people("east_lead") == {"east_lead", "east_rep", "east_intern"}
    assert "south_rep" in people("s1_director") and "north_rep" not in people("s1_director")
    assert "inactive" not in people("ceo")
    assert departments("east_rep") == set() and departments("east_lead") == set()
    assert departments("east_manager") == {"华东组"}
    assert departments("s1_director") == {"销售一部", "华东组", "华南组"}
    assert departments("ceo") == {dept.name for dept in d.values()}

    # Outside scope is a 404, like a missing one.
    for viewer, kwargs in [
        ("east_rep", {"user_id": org.south_rep.pk}),
        ("east_rep", {"user_id": org.east_intern.pk}),  # managed by the rep, but the rep's scope is "self"
        ("east_rep", {"department_id": d["east"].pk}),
        ("east_lead", {"department_id": d["east"].pk}),
        ("east_lead", {"user_id": org.south_rep.pk}),
        ("east_manager", {"department_id": d["s1"].pk}),
        ("east_manager", {"user_id": org.north_other.pk}),
        ("s1_director", {"department_id": d["s2"].pk}),
        ("s1_director", {"user_id": org.inactive.pk}),
        ("east_rep", {"user_id": 10**9}),
        ("east_rep", {"user_id": "x"}),
    ]:
        with pytest.raises(Http404):
            summary_subject_for(viewer=org.users[viewer], **kwargs)
    assert summary_subject_for(viewer=org.east_lead, user_id=org.east_intern.pk).user == org.east_intern


@pytest.mark.django_db
def test_a_rep_cannot_see_another_reps_figures(org, client):
    _activity(org.south_rep, amount="777.00")
    client.force_login(org.east_rep)
    url = reverse("analytics:summary")
    day = {"period": "day", "date": DAY_ONE.isoformat()}
    assert client.get(url, {**day, "subject": f"user:{org.south_rep.pk}"}).status_code == 404
    assert client.get(url, {**day, "subject": f"department:{org.departments['south'].pk}"}).status_code == 404
    assert client.get(url, {**day, "subject": "nonsense"}).status_code == 404
    own = client.get(url, day)
    assert own.status_code == 200
    assert "777" not in own.content.decode()
    # The person picker offers only themselves.
    assert re.findall(r'value="user:(\d+)"', own.content.decode()) == [str(org.east_rep.pk)]


# --- the page ------------------------------------------------------------------------------------


def _shown(html, key):
    match = re.search(rf'data-key="{key}">([^<]*)<', html)
    return match.group(1).strip() if match else None


@pytest.mark.django_db
def test_the_page_shows_the_figures_and_the_previous_period(org, client):
    _activity(org.east_rep, amount="1234.50")
    customer(org.east_rep, created=at(BEFORE, 12))
    client.force_login(org.s1_director)
    response = client.get(
        reverse("analytics:summary"),
        {"period": "day", "date": DAY_ONE.isoformat(), "subject": f"department:{org.departments['east'].pk}"},
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "日报 · 华东组" in html
    assert "2025-03-31 ~ 2025-03-31" in html and "2025-03-30 ~ 2025-03-30" in html
    assert _shown(html, "new_customers") == "1"
    assert re.search(r'data-previous="new_customers">1<', html)
    assert _shown(html, "contract_amount") == "¥1,234.50"  # thousands separators in Chinese too
    assert 'id="summary-subscribe"' in html and 'name="viewport"' in html
    # The department picker holds what the director may summarise, no more.
    assert set(re.findall(r'value="department:(\d+)"', html)) >= {str(org.departments["east"].pk)}
    assert str(org.departments["north"].pk) not in re.findall(r'value="department:(\d+)"', html)


@pytest.mark.django_db
def test_the_page_takes_a_bounded_number_of_queries(org, client, django_assert_max_num_queries):
    for owner in (org.east_rep, org.south_rep, org.east_lead):
        for hour in range(5):
            _activity(owner, amount=str(hour + 1))
    SummarySubscription.objects.create(user=org.s1_director, frequency=SummaryFrequency.DAILY)
    client.force_login(org.s1_director)
    url = reverse("analytics:summary")
    # Session and user, the figures (with the scope's look-ups), the pickers, the subscriptions,
    # the navigation's badges — none of it per row.
    with django_assert_max_num_queries(25):
        response = client.get(url, {"date": DAY_ONE.isoformat(), "subject": f"department:{org.departments['s1'].pk}"})
    assert response.status_code == 200
    assert _shown(response.content.decode(), "contracts") == "15"


@pytest.mark.django_db
def test_week_and_month_pages_and_bad_input(org, client):
    client.force_login(org.east_rep)
    url = reverse("analytics:summary")
    week = client.get(url, {"period": "week", "date": "2025-04-02"})
    assert week.status_code == 200 and "周报" in week.content.decode()
    assert "2025-03-31 ~ 2025-04-06" in week.content.decode()
    month = client.get(url, {"period": "month", "date": "2025-02-10"})
    assert "2025-02-01 ~ 2025-02-28" in month.content.decode()
    bad = client.get(url, {"period": "year", "date": "2025-13-01"})
    assert bad.status_code == 400
    assert 'id="summary-errors"' in bad.content.decode()


@pytest.mark.django_db
def test_the_reports_index_links_to_the_summaries(org, client):
    client.force_login(org.east_rep)
    html = client.get(reverse("reports:index")).content.decode()
    assert f'href="{reverse("analytics:summary")}"' in html


@pytest.mark.django_db
def test_subscribe_and_unsubscribe_from_the_page(org, client):
    director = org.s1_director
    client.force_login(director)
    subscribe = reverse("analytics:summary-subscribe")
    query = f"period=week&date=2025-03-31&subject=department:{org.departments['east'].pk}"
    response = client.post(subscribe, {"frequency": "weekly", "subject": f"department:{org.departments['east'].pk}",
                                       "query": query})  # fmt: skip
    assert response.status_code == 302 and response.url == f"{reverse('analytics:summary')}?{query.replace(':', '%3A')}"
    client.post(subscribe, {"frequency": "daily", "subject": "self"})
    client.post(subscribe, {"frequency": "daily", "subject": "self"})  # again: still one
    rows = set(SummarySubscription.objects.filter(user=director).values_list("frequency", "department__name"))
    assert rows == {(SummaryFrequency.WEEKLY, "华东组"), (SummaryFrequency.DAILY, None)}

    # Out of scope or nonsense: 404 / an error, nothing written.
    assert (
        client.post(
            subscribe, {"frequency": "daily", "subject": f"department:{org.departments['north'].pk}"}
        ).status_code
        == 404
    )
    assert client.post(subscribe, {"frequency": "yearly", "subject": "self"}).status_code == 302
    assert client.post(subscribe, {"frequency": "daily", "subject": "user:1"}).status_code == 302
    assert SummarySubscription.objects.count() == 2

    page = client.get(reverse("analytics:summary")).content.decode()
    assert "周报 · 华东组" in page

    # Someone else's subscription cannot be removed (404); one's own can.
    theirs = SummarySubscription.objects.create(user=org.east_rep, frequency=SummaryFrequency.DAILY)
    unsubscribe = reverse("analytics:summary-unsubscribe", args=[theirs.pk])
    assert client.post(unsubscribe).status_code == 404
    assert SummarySubscription.objects.filter(pk=theirs.pk).exists()
    mine = SummarySubscription.objects.get(user=director, frequency=SummaryFrequency.DAILY)
    assert client.post(reverse("analytics:summary-unsubscribe", args=[mine.pk])).status_code == 302
    assert not SummarySubscription.objects.filter(pk=mine.pk).exists()


@pytest.mark.django_db
def test_a_rep_may_subscribe_only_to_their_own_summary(org, client):
    client.force_login(org.east_rep)
    east = org.departments["east"]
    response = client.post(
        reverse("analytics:summary-subscribe"), {"frequency": "daily", "subject": f"department:{east.pk}"}
    )
    assert response.status_code == 404
    assert not SummarySubscription.objects.exists()
    page = client.get(reverse("analytics:summary")).content.decode()
    assert 'value="department:' not in page
