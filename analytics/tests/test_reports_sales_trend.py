"""销售趋势 and the report frame around it: figures on a hand-built set, scope, filters, bad
input, the page and the .xlsx download."""

import datetime
import io
from decimal import Decimal

import openpyxl
import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from analytics.reports.base import daily, in_period
from analytics.reports.periods import unit_end
from contracts.models import ContractStatus, PaymentStatus
from contracts.tests.factories import ContractFactory, PaymentFactory
from customers.models import Customer
from customers.tests.factories import CustomerFactory

D = datetime.date
URL = reverse("api:report-detail", args=["sales_trend"])
NOVEMBER = {"period": "month", "start": "2026-11-01", "end": "2026-11-30"}


def sale(owner, signed, total, status=ContractStatus.APPROVED, **kwargs):
    return ContractFactory(owner=owner, signed_date=signed, total=Decimal(total), status=status, **kwargs)


@pytest.fixture
def sales(org):
    """华东组 (east) and 华南组 (south) sales, with rows that must never count."""
    east_rep, east_manager, south_rep, north_rep = org.east_rep, org.east_manager, org.south_rep, org.north_rep
    november = sale(east_rep, D(2026, 11, 3), "1000.00")
    sale(east_rep, D(2026, 10, 15), "500.00", ContractStatus.ACTIVE)  # the month before
    sale(east_manager, D(2025, 11, 20), "300.00", ContractStatus.COMPLETED)  # a year before
    sale(east_rep, D(2026, 11, 30), "70.00", ContractStatus.TERMINATED)  # terminated still counts as a sale
    # Never sales: a draft, a rejected and a void contract, and one of a customer in the recycle bin.
    sale(east_rep, D(2026, 11, 5), "9000.00", ContractStatus.DRAFT)
    sale(east_rep, D(2026, 11, 5), "9000.00", ContractStatus.REJECTED)
    sale(east_rep, D(2026, 11, 5), "9000.00", ContractStatus.VOID)
    binned = CustomerFactory(owner=east_rep)
    Customer.objects.filter(pk=binned.pk).update(deleted_at=timezone.now())
    sale(east_rep, D(2026, 11, 5), "9000.00", customer=binned)
    # 1 December: outside November.
    sale(east_rep, D(2026, 12, 1), "9000.00")
    # Other departments.
    south = sale(south_rep, D(2026, 11, 8), "200.00")
    sale(north_rep, D(2026, 11, 9), "4000.00")

    PaymentFactory(contract=november, amount=Decimal("400.00"), date=D(2026, 11, 10), status=PaymentStatus.CONFIRMED)
    PaymentFactory(contract=november, amount=Decimal("100.00"), date=D(2026, 10, 31), status=PaymentStatus.CONFIRMED)
    PaymentFactory(contract=november, amount=Decimal("900.00"), date=D(2026, 11, 11), status=PaymentStatus.PENDING)
    PaymentFactory(contract=south, amount=Decimal("50.00"), date=D(2026, 11, 12), status=PaymentStatus.CONFIRMED)
    return org


def figures(client, user, **params):
    response = client(user).get(URL, {**NOVEMBER, **params})
    assert response.status_code == 200, response.content
    return response.json()


def test_monthly_figures_with_previous_month_and_last_year(sales, client_for):
    body = figures(client_for, sales.east_manager)
    assert body["period"] == {"period": "month", "granularity": "month", "start": "2026-11-01", "end": "2026-11-30"}
    [row] = body["rows"]
    assert row["period"] == "2026-11"
    assert row["contracts"] == 2
    assert row["contract_amount"] == "1070.00"
    assert row["contract_previous"] == "500.00"
    assert row["contract_change"] == "1.1400"  # (1070 − 500) / 500
    assert row["contract_last_year"] == "300.00"
    assert row["contract_yoy"] == "2.5667"  # (1070 − 300) / 300, to four places
    assert row["payment_amount"] == "400.00"  # confirmed only
    assert row["payment_previous"] == "100.00"
    assert row["payment_change"] == "3.0000"
    assert row["payment_last_year"] == "0.00" and row["payment_yoy"] is None  # nothing to compare with
    summary = {figure["key"]: figure["value"] for figure in body["summary"]}
    assert summary["contract_amount"] == "1070.00"
    assert summary["payment_amount"] == "400.00"
    assert summary["contracts"] == 2
    assert [column["key"] for column in body["columns"]][:3] == ["period", "contracts", "contract_amount"]


def test_daily_buckets_put_each_sale_on_its_day(sales, client_for):
    body = figures(client_for, sales.east_manager, period="day")
    by_day = {row["period"]: row for row in body["rows"]}
    assert len(by_day) == 30
    assert by_day["2026-11-03"]["contract_amount"] == "1000.00"
    assert by_day["2026-11-30"]["contract_amount"] == "70.00"
    assert by_day["2026-11-10"]["payment_amount"] == "400.00"
    # The day before 3 November is 2 November; a year before, 3 November 2025.
    assert by_day["2026-11-04"]["contract_previous"] == "1000.00"


@pytest.mark.parametrize(
    "username, amount",
    [
        ("east_rep", "1070.00"),  # their own
        ("east_manager", "1070.00"),  # 华东组
        ("south_rep", "200.00"),
        ("s1_director", "1270.00"),  # 销售一部 and below: 华东组 + 华南组, never 华北组
        ("north_rep", "4000.00"),
        ("ceo", "5270.00"),
    ],
)
def test_each_viewer_counts_only_their_scope(sales, client_for, username, amount):
    assert figures(client_for, sales.users[username])["rows"][0]["contract_amount"] == amount


def test_a_department_managers_total_is_the_sum_over_their_departments(sales, client_for):
    director = figures(client_for, sales.s1_director)["summary"][0]["value"]
    east = figures(client_for, sales.ceo, department=sales.departments["east"].pk)["summary"][0]["value"]
    south = figures(client_for, sales.ceo, department=sales.departments["south"].pk)["summary"][0]["value"]
    assert Decimal(director) == Decimal(east) + Decimal(south)
    # Asking for another department narrows; it never widens the scope.
    north = figures(client_for, sales.s1_director, department=sales.departments["north"].pk)
    assert north["summary"][0]["value"] == "0.00"


def test_owner_filter(sales, client_for):
    body = figures(client_for, sales.s1_director, owner=[sales.south_rep.pk])
    assert body["rows"][0]["contract_amount"] == "200.00"
    assert body["rows"][0]["payment_amount"] == "50.00"


@pytest.mark.parametrize(
    "params, field",
    [
        ({"period": "hour"}, "period"),
        ({"period": "custom", "start": "2026-11-30", "end": "2026-11-01"}, "__all__"),
        ({"period": "day", "start": "2020-01-01", "end": "2026-11-30"}, "__all__"),
        ({"start": "2026-13-01"}, "start"),
        ({"owner": "abc"}, "owner"),
        ({"department": "999999"}, "department"),
    ],
)
def test_bad_filters_are_a_400_naming_the_field(sales, client_for, params, field):
    response = client_for(sales.east_manager).get(URL, params)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["message"] == "报表筛选条件有误。"
    assert field in error["fields"]


def test_an_unknown_report_is_a_404_and_a_missing_permission_a_403(sales, client_for):
    assert client_for(sales.ceo).get(reverse("api:report-detail", args=["nope"])).status_code == 404
    sales.east_rep.roles.clear()
    sales.east_rep.user_permissions.set(Permission.objects.filter(codename="view_customer"))
    assert client_for(sales.east_rep).get(URL).status_code == 403


def test_query_count_does_not_grow_with_buckets_or_rows(sales, client_for, django_assert_max_num_queries):
    client = client_for(sales.s1_director)
    with django_assert_max_num_queries(12):
        client.get(URL, {"period": "quarter"})
    for index in range(20):
        sale(sales.east_rep, D(2026, 1, 1) + datetime.timedelta(days=index * 15), "10.00")
    with django_assert_max_num_queries(12):
        assert client.get(URL, {"period": "day", "start": "2026-09-01", "end": "2026-11-30"}).status_code == 200


def test_the_page_shows_the_table_and_the_chart(sales, client):
    client.force_login(sales.east_manager)
    response = client.get(reverse("reports:detail", args=["sales_trend"]), NOVEMBER)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="report-table"' in html and 'id="report-chart"' in html
    assert "1,070.00" in html
    assert "2026-11-01 ~ 2026-11-30" in html


def test_the_page_shows_bad_filters_and_falls_back_to_defaults(sales, client):
    client.force_login(sales.east_manager)
    response = client.get(reverse("reports:detail", args=["sales_trend"]), {"period": "custom"})
    assert response.status_code == 400
    assert "自定义时间段需要填写开始和结束日期。" in response.content.decode()


def test_the_index_lists_the_reports_the_viewer_may_open(sales, client):
    client.force_login(sales.east_manager)
    html = client.get(reverse("reports:index")).content.decode()
    assert reverse("reports:detail", args=["sales_trend"]) in html


def test_the_xlsx_download_is_the_table(sales, client):
    client.force_login(sales.east_manager)
    response = client.get(reverse("reports:xlsx", args=["sales_trend"]), NOVEMBER)
    assert response.status_code == 200
    assert "attachment" in response["Content-Disposition"]
    assert "20261101-20261130.xlsx" in response["Content-Disposition"]
    sheet = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    rows = list(sheet.values)
    assert rows[0][:5] == ("周期", "合同数", "合同金额", "上期合同金额", "合同环比（%）")
    assert rows[1][:5] == ("2026-11", 2, 1070, 500, 114)
    assert len(rows) == 2


def test_datetime_columns_are_cut_at_midnight_asia_shanghai(org):
    """A row at 23:59:59 on the last day counts; one at 00:00 the next day does not."""
    tz = timezone.get_current_timezone()
    inside = CustomerFactory(owner=org.east_rep)
    outside = CustomerFactory(owner=org.east_rep)
    before = CustomerFactory(owner=org.east_rep)
    Customer.objects.filter(pk=inside.pk).update(created_at=datetime.datetime(2026, 11, 30, 23, 59, 59, tzinfo=tz))
    Customer.objects.filter(pk=outside.pk).update(created_at=datetime.datetime(2026, 12, 1, 0, 0, tzinfo=tz))
    Customer.objects.filter(pk=before.pk).update(created_at=datetime.datetime(2026, 11, 1, 0, 0, tzinfo=tz))
    customers = Customer.objects.filter(pk__in=[inside.pk, outside.pk, before.pk])
    november = (D(2026, 11, 1), D(2026, 11, 30))
    assert set(in_period(customers, "created_at", november, is_datetime=True)) == {inside, before}
    from django.db.models import Count

    days = daily(
        customers, "created_at", {"n": Count("id")}, first=D(2026, 11, 1), last=D(2026, 12, 1), is_datetime=True
    )
    assert days == {D(2026, 11, 30): {"n": 1}, D(2026, 12, 1): {"n": 1}, D(2026, 11, 1): {"n": 1}}


def test_blank_filters_from_the_page_form_mean_all(sales, client_for):
    body = figures(client_for, sales.east_manager, owner="", department="", start="", end="", period="month")
    assert body["period"]["granularity"] == "month"
    assert body["period"]["end"] == unit_end(timezone.localdate(), "month").isoformat()
