"""客户分布, 跟进分析, 客户价值 and 流失分析 against hand-built data whose answers are worked out here:
figures, scope (a department manager never sees more than their departments; the sum over the
departments equals the whole; a rep sees their own), period boundaries at midnight Asia/Shanghai,
the API's shape and its 400s, the page, the .xlsx, and the links to the customer list."""

import datetime
import io
from decimal import Decimal
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from django.urls import reverse
from django.utils import timezone

from activities.models import FollowUp
from analytics.models import CustomerProfile
from analytics.reports.registry import REPORTS
from customers.models import Customer
from customers.tests.factories import CustomerFactory, CustomerLevelFactory, IndustryFactory, SourceFactory

TZ = ZoneInfo("Asia/Shanghai")


def api(key):
    return reverse("api:report-detail", args=[key])


def at(*args):
    return datetime.datetime(*args, tzinfo=TZ)


def customer(owner, *, created=None, **fields):
    made = CustomerFactory(owner=owner, **fields)
    if created is not None:
        Customer.objects.filter(pk=made.pk).update(created_at=created)
    return made


def profile(customer, **fields):
    now = timezone.now()
    fields.setdefault("last_contact_at", now)
    return CustomerProfile.objects.create(customer=customer, computed_at=now, **fields)


def rows_by(data, key):
    return {row[key]: row for row in data["rows"]}


def get(client_for, user, key, **params):
    response = client_for(user).get(api(key), params)
    assert response.status_code == 200, response.content
    return response.json()


def read_xlsx(response):
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    workbook = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    return [list(row) for row in workbook.active.iter_rows(values_only=True)]


def list_count(client, url):
    """How many customers the customer list shows at ``url``."""
    response = client.get(url)
    assert response.status_code == 200
    return response.context["count"]


# --- 客户分布 ----------------------------------------------------------------------------------------


@pytest.fixture
def spread(org):
    """Customers in 华东 (east_rep, east_lead), 华南 (south_rep) and — outside 销售一部 — 华北
    (north_other), plus a pool customer and a deleted one (in nobody's scope):

    east_rep    A 广东 深圳 (won) · A 广东 广州 · (deleted A)
    east_lead   B 北京 市辖区
    south_rep   A 广东 深圳 · no level, no region
    north_other A ×3 广东 深圳 (won)
    pool        A
    """
    a = CustomerLevelFactory(code="A", name="重点客户", priority=1)
    b = CustomerLevelFactory(code="B", name="普通客户", priority=2)
    it, retail = IndustryFactory(name="软件"), IndustryFactory(name="零售")
    fair = SourceFactory(name="展会")
    shenzhen = {"province": "440000", "city": "440300"}
    guangzhou = {"province": "440000", "city": "440100"}
    beijing = {"province": "110000", "city": "110100"}
    made = {
        "won": customer(org.east_rep, level=a, industry=it, source=fair, deal_status="won", **shenzhen),
        "gz": customer(org.east_rep, level=a, industry=retail, **guangzhou),
        "lead": customer(org.east_lead, level=b, industry=it, source=fair, **beijing),
        "south": customer(org.south_rep, level=a, industry=it, **shenzhen),
        "blank": customer(org.south_rep),
    }
    deleted = customer(org.east_rep, level=a, **shenzhen)
    Customer.objects.filter(pk=deleted.pk).update(deleted_at=timezone.now())
    for _n in range(3):
        customer(org.north_other, level=a, industry=it, source=fair, deal_status="won", **shenzhen)
    customer(None, level=a, **shenzhen)
    profile(made["won"], lifecycle="active")
    profile(made["gz"], lifecycle="at_risk")
    profile(made["south"], lifecycle="active")
    return made


def test_distribution_by_level_counts_what_the_director_may_see(org, client_for, spread):
    data = get(client_for, org.s1_director, "distribution")
    assert data["report"] == "distribution" and "period" not in data
    assert [row["name"] for row in data["rows"]] == ["A 重点客户", "B 普通客户", "未填写"]
    rows = rows_by(data, "name")
    # A: east_rep ×2 (one won) + south_rep; not north_other's three, the pool's or the deleted one.
    assert rows["A 重点客户"] == {"name": "A 重点客户", "customers": 3, "share": "0.6000", "won": 1}
    assert rows["B 普通客户"]["customers"] == 1
    assert rows["未填写"]["customers"] == 1
    summary = {figure["key"]: figure["value"] for figure in data["summary"]}
    assert summary == {"customers": 5, "won": 1, "groups": 3}
    assert data["chart"]["series"][0]["type"] == "pie"


def test_distribution_department_totals_add_up_and_never_leak(org, client_for, spread):
    def counts(user, **params):
        return {row["name"]: row["customers"] for row in get(client_for, user, "distribution", **params)["rows"]}

    whole = counts(org.s1_director)
    east = counts(org.s1_director, department=org.departments["east"].pk)
    south = counts(org.s1_director, department=org.departments["south"].pk)
    assert east == {"A 重点客户": 2, "B 普通客户": 1}
    assert south == {"A 重点客户": 1, "未填写": 1}
    assert {name: east.get(name, 0) + south.get(name, 0) for name in whole} == whole
    # The department manager: their department only, whatever the filter asks for.
    assert counts(org.east_manager) == east
    assert counts(org.east_manager, department=org.departments["north"].pk) == {}
    assert counts(org.east_manager, department=org.departments["root"].pk) == east
    # A rep: their own; the CEO with the 销售一部 filter: what the director sees.
    assert counts(org.east_rep) == {"A 重点客户": 2}
    assert counts(org.ceo, department=org.departments["s1"].pk) == whole
    assert counts(org.ceo)["A 重点客户"] == 6
    assert counts(org.s1_director, owner=org.south_rep.pk) == south


@pytest.mark.parametrize(
    ("by", "expected"),
    [
        ("industry", {"软件": 3, "零售": 1, "未填写": 1}),
        ("source", {"展会": 2, "未填写": 3}),
        ("province", {"广东省": 3, "北京市": 1, "未填写": 1}),
        ("lifecycle", {"活跃客户": 2, "流失风险客户": 1, "未计算画像": 2}),
    ],
)
def test_distribution_by_other_dimensions(org, client_for, spread, by, expected):
    data = get(client_for, org.s1_director, "distribution", by=by)
    assert {row["name"]: row["customers"] for row in data["rows"]} == expected
    assert data["columns"][0]["key"] == "name"


def test_distribution_by_city_carries_the_province(org, client_for, spread):
    data = get(client_for, org.s1_director, "distribution", by="city")
    assert [column["key"] for column in data["columns"]][:2] == ["province", "name"]
    cities = {(row["province"], row["name"]): row["customers"] for row in data["rows"]}
    # 北京市 → 市辖区 reads as 北京市.
    assert cities == {
        ("广东省", "深圳市"): 2,
        ("广东省", "广州市"): 1,
        ("北京市", "北京市"): 1,
        ("未填写", "未填写"): 1,
    }
    assert data["chart"]["series"][0]["type"] == "bar"


def test_distribution_by_owner(org, client_for, spread):
    data = get(client_for, org.east_manager, "distribution", by="owner")
    assert {row["name"]: row["customers"] for row in data["rows"]} == {
        str(org.east_rep): 2,
        str(org.east_lead): 1,
    }


def test_distribution_links_show_as_many_customers_as_counted(org, client, spread):
    client.force_login(org.s1_director)
    for by in ("level", "city", "owner", "lifecycle", "industry"):
        result = REPORTS["distribution"].run(user=org.s1_director, params=_params("distribution", by=by))
        linked = [row for row in result.table.rows if "_links" in row]
        assert linked, by
        for row in linked:
            assert list_count(client, row["_links"]["customers"]) == row["customers"], (by, row)
    # With the department filter (its subtree) and an owner filter.
    params = _params("distribution", department=org.departments["s1"].pk, owner=[org.east_rep.pk])
    result = REPORTS["distribution"].run(user=org.s1_director, params=params)
    assert [row["customers"] for row in result.table.rows] == [2]
    assert list_count(client, result.table.rows[0]["_links"]["customers"]) == 2


def _params(key, **data):
    from analytics.reports.base import parse_params

    return parse_params(REPORTS[key], data)


def test_distribution_bad_dimension_is_a_400(org, client_for, spread):
    response = client_for(org.ceo).get(api("distribution"), {"by": "planet"})
    assert response.status_code == 400
    assert "by" in str(response.json())


def test_distribution_query_count_does_not_grow(org, client_for, spread, django_assert_max_num_queries):
    for _n in range(20):
        customer(org.east_rep, level=CustomerLevelFactory(code=f"X{_n}", name=f"等级{_n}", priority=9))
    client = client_for(org.s1_director)
    # Authentication (token, user, roles) + the department + one GROUP BY.
    with django_assert_max_num_queries(8):
        assert client.get(api("distribution"), {"department": org.departments["s1"].pk}).status_code == 200


def test_distribution_page_and_xlsx(org, client, spread):
    client.force_login(org.s1_director)
    page = client.get(reverse("reports:detail", args=["distribution"]), {"by": "level"})
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="report-table"' in html and "A 重点客户" in html and 'name="by"' in html
    assert reverse("customers:list") in html  # the counts link to the list
    rows = read_xlsx(client.get(reverse("reports:xlsx", args=["distribution"]), {"by": "level"}))
    assert rows[0] == ["客户等级", "客户数", "占比（%）", "已成交客户数"]
    assert rows[1][:2] == ["A 重点客户", 3] and float(rows[1][2]) == pytest.approx(60) and rows[1][3] == 1
    assert len(rows) == 4


# --- 跟进分析 ----------------------------------------------------------------------------------------


@pytest.fixture
def follow_ups(org):
    """Follow-ups of January–March 2025 (Asia/Shanghai) on customers of east_rep, south_rep and
    (outside 销售一部) north_other, and the boundary instants around the range."""
    east = customer(org.east_rep)
    south = customer(org.south_rep)
    north = customer(org.north_other)

    def follow(on, when, by, kind="call"):
        return FollowUp.objects.create(customer=on, occurred_at=when, type=kind, created_by=by)

    follow(east, at(2025, 1, 1, 0, 0), org.east_rep)  # the first instant: counts (January)
    follow(east, at(2024, 12, 31, 23, 59, 59), org.east_rep)  # before: does not
    follow(east, at(2025, 1, 15, 10), org.east_rep, "visit")
    follow(east, at(2025, 2, 3, 9), org.east_lead, "wechat")  # a colleague's, on east_rep's customer
    follow(south, at(2025, 2, 20, 9), org.south_rep)
    follow(south, at(2025, 3, 31, 23, 59, 59), org.south_rep, "email")  # the last instant: counts
    follow(south, at(2025, 4, 1, 0, 0), org.south_rep)  # after: does not
    follow(north, at(2025, 2, 10, 9), org.north_other)  # out of the director's scope
    follow(north, at(2025, 2, 11, 9), org.north_other, "visit")
    return {"east": east, "south": south, "north": north}


Q1 = {"period": "month", "start": "2025-01-01", "end": "2025-03-31"}


def test_follow_ups_per_month_and_type_with_midnight_boundaries(org, client_for, follow_ups):
    data = get(client_for, org.s1_director, "follow_ups", **Q1)
    assert data["period"] == {"period": "month", "granularity": "month", "start": "2025-01-01", "end": "2025-03-31"}
    months = rows_by(data, "period")
    assert list(months) == ["2025-01", "2025-02", "2025-03"]
    january = months["2025-01"]
    assert (january["type_call"], january["type_visit"], january["type_email"]) == (1, 1, 0)
    assert (january["total"], january["persons"], january["customers"]) == (2, 1, 1)
    assert (months["2025-02"]["total"], months["2025-02"]["type_wechat"], months["2025-02"]["type_call"]) == (2, 1, 1)
    assert months["2025-02"]["persons"] == 2
    assert (months["2025-03"]["total"], months["2025-03"]["type_email"]) == (1, 1)
    summary = {figure["key"]: figure["value"] for figure in data["summary"]}
    assert (summary["follow_ups"], summary["persons"], summary["customers_followed"]) == (5, 3, 2)
    persons = {row["person"]: row for row in data["extra_tables"][0]["rows"]}
    assert {name: row["total"] for name, row in persons.items()} == {
        str(org.east_rep): 2,
        str(org.east_lead): 1,
        str(org.south_rep): 2,
    }
    assert persons[str(org.south_rep)]["type_email"] == 1


def test_follow_ups_per_week_and_quarter_buckets(org, client_for, follow_ups):
    weeks = get(client_for, org.s1_director, "follow_ups", period="week", start="2025-01-13", end="2025-02-09")
    assert {row["period"]: row["total"] for row in weeks["rows"]} == {
        "2025-W03": 1,  # 15 January
        "2025-W04": 0,
        "2025-W05": 0,
        "2025-W06": 1,  # Monday 3 February
    }
    quarters = get(client_for, org.s1_director, "follow_ups", period="quarter", start="2025-01-01", end="2025-06-30")
    assert {row["period"]: row["total"] for row in quarters["rows"]} == {"2025-Q1": 5, "2025-Q2": 1}
    # A custom range keeps its days: 31 March 23:59:59 is in, 1 April 00:00 is not.
    custom = get(client_for, org.s1_director, "follow_ups", period="custom", start="2025-03-31", end="2025-03-31")
    assert [row["total"] for row in custom["rows"]] == [1]


def test_follow_ups_scope_and_filters(org, client_for, follow_ups):
    def total(user, **params):
        return {
            figure["key"]: figure["value"] for figure in get(client_for, user, "follow_ups", **Q1, **params)["summary"]
        }["follow_ups"]

    director = total(org.s1_director)
    east = total(org.s1_director, department=org.departments["east"].pk)
    south = total(org.s1_director, department=org.departments["south"].pk)
    assert (director, east, south) == (5, 3, 2)
    assert total(org.east_manager) == 3
    assert total(org.east_manager, department=org.departments["north"].pk) == 0
    assert total(org.east_rep) == 3  # the follow-ups on their customer, their colleague's included
    assert total(org.east_rep, owner=org.east_rep.pk) == 2  # the person filter: whose follow-ups
    assert total(org.south_rep) == 2
    assert total(org.ceo) == 7


def test_follow_ups_by_person_table(org, client_for, follow_ups):
    data = get(client_for, org.s1_director, "follow_ups", by="person", **Q1)
    assert data["columns"][0]["key"] == "person"
    assert [row["total"] for row in data["rows"]] == [2, 2, 1]
    assert data["extra_tables"][0]["columns"][0]["key"] == "period"
    assert data["chart"]["yAxis"]["type"] == "category"


@pytest.fixture
def stale(org):
    """east_rep's customers by their last follow-up (now − n days) and never followed up ones; one
    of north_other's, stale for long (outside 销售一部)."""
    now = timezone.now()
    long_ago = now - datetime.timedelta(days=400)

    def made(owner, last_days=None, created_days=400):
        return customer(
            owner,
            created=now - datetime.timedelta(days=created_days),
            last_follow_up_at=None if last_days is None else now - datetime.timedelta(days=last_days),
        )

    made(org.east_rep, 1)  # followed up yesterday: none
    made(org.east_rep, 7, created_days=10)  # 7 days (a few seconds more): ≥ 7
    made(org.east_rep, 20)  # ≥ 7, ≥ 15
    made(org.south_rep, 40)  # all three
    made(org.east_rep, None, created_days=40)  # never followed up, created 40 days ago: all three
    made(org.east_rep, None, created_days=2)  # never followed up, but new: none
    made(org.north_other, 100)  # out of scope
    return long_ago


def test_not_followed_up_counts_and_their_links(org, client_for, client, stale):
    data = get(client_for, org.s1_director, "follow_ups")
    table = data["extra_tables"][1]
    assert [row["customers"] for row in table["rows"]] == [4, 3, 2]
    assert [row["share"] for row in table["rows"]] == ["0.6667", "0.5000", "0.3333"]
    summary = {figure["key"]: figure["value"] for figure in data["summary"]}
    assert (summary["stale_7"], summary["stale_15"], summary["stale_30"]) == (4, 3, 2)
    east = get(client_for, org.s1_director, "follow_ups", department=org.departments["east"].pk)
    assert [row["customers"] for row in east["extra_tables"][1]["rows"]] == [3, 2, 1]
    assert [row["customers"] for row in get(client_for, org.east_manager, "follow_ups")["extra_tables"][1]["rows"]] == [
        3,
        2,
        1,
    ]
    # The links: the customer list with no_follow_up_days=N shows that many customers.
    client.force_login(org.s1_director)
    result = REPORTS["follow_ups"].run(user=org.s1_director, params=_params("follow_ups"))
    stale_table = result.extra_tables[1]
    for row in stale_table.rows:
        assert "no_follow_up_days=" in row["_links"]["customers"]
        assert list_count(client, row["_links"]["customers"]) == row["customers"]


def test_follow_ups_bad_filters_are_400(org, client_for, follow_ups):
    client = client_for(org.s1_director)
    assert client.get(api("follow_ups"), {"period": "custom", "start": "2025-01-01"}).status_code == 400
    assert client.get(api("follow_ups"), {"by": "moon"}).status_code == 400
    assert client.get(api("follow_ups"), {"period": "month", "start": "2025-02-30"}).status_code == 400
    assert client.get(api("follow_ups"), {"department": "abc"}).status_code == 400


def test_follow_ups_query_count_page_and_xlsx(org, client, client_for, follow_ups, django_assert_max_num_queries):
    api_client = client_for(org.s1_director)
    with django_assert_max_num_queries(15):  # + the department subtree ids
        assert api_client.get(api("follow_ups"), {**Q1, "department": org.departments["s1"].pk}).status_code == 200
    client.force_login(org.s1_director)
    page = client.get(reverse("reports:detail", args=["follow_ups"]), Q1)
    assert page.status_code == 200
    html = page.content.decode()
    assert "2025-02" in html and "各跟进人跟进次数" in html and "未跟进客户" in html
    rows = read_xlsx(client.get(reverse("reports:xlsx", args=["follow_ups"]), Q1))
    assert rows[0][0] == "周期" and rows[0][-3:] == ["跟进次数", "跟进人数", "跟进客户数"]
    assert [row[0] for row in rows[1:]] == ["2025-01", "2025-02", "2025-03"]
    assert [row[-3] for row in rows[1:]] == [2, 2, 1]


# --- 客户价值 ----------------------------------------------------------------------------------------


@pytest.fixture
def values(org):
    """Profiles (R, F, M; purchase total; predicted value; CLV):

    east_rep   5/5/5  9000   20000   50000   重要价值
    east_rep   5/1/5  6000    5000   12000   重要发展
    east_lead  1/1/1   500       0       0   一般挽留 (predicted 0)
    south_rep  0/0/0     0       0       0   未购买
    south_rep  2/4/3  3000 2000000 5000000   重要保持
    north      5/5/5 99999  999999 9999999   (outside 销售一部)
    """

    def made(owner, r, f, m, total, predicted, clv, **fields):
        return profile(
            customer(owner),
            recency=r,
            frequency=f,
            monetary=m,
            purchase_count=1 if r else 0,
            purchase_total=Decimal(total),
            predicted_value=Decimal(predicted),
            clv=Decimal(clv),
            **fields,
        )

    made(org.east_rep, 5, 5, 5, "9000.00", "20000.00", "50000.00", lifecycle="loyal")
    made(org.east_rep, 5, 1, 5, "6000.00", "5000.00", "12000.00", lifecycle="new")
    made(org.east_lead, 1, 1, 1, "500.00", "0", "0", lifecycle="at_risk")
    made(org.south_rep, 0, 0, 0, "0", "0", "0")
    made(org.south_rep, 2, 4, 3, "3000.00", "2000000.00", "5000000.00", lifecycle="active")
    made(org.north_other, 5, 5, 5, "99999.00", "999999.00", "9999999.00")


def test_customer_value_segments(org, client_for, values):
    data = get(client_for, org.s1_director, "customer_value")
    segments = rows_by(data, "segment")
    assert list(segments) == [
        "重要价值客户",
        "重要发展客户",
        "重要保持客户",
        "重要挽留客户",
        "一般价值客户",
        "一般发展客户",
        "一般保持客户",
        "一般挽留客户",
        "未购买客户",
    ]
    assert segments["重要价值客户"] == {
        "segment": "重要价值客户",
        "rule": "高 / 高 / 高",
        "customers": 1,
        "share": "0.2000",
        "purchase_total": "9000.00",
        "average": "9000.00",
        "predicted_value": "20000.00",
        "clv": "50000.00",
    }
    assert segments["重要发展客户"]["customers"] == 1
    assert (segments["重要保持客户"]["customers"], segments["重要保持客户"]["clv"]) == (1, "5000000.00")
    assert segments["一般挽留客户"]["purchase_total"] == "500.00"
    assert segments["未购买客户"]["customers"] == 1
    assert segments["一般价值客户"] == {**segments["一般价值客户"], "customers": 0, "average": None}
    summary = {figure["key"]: figure["value"] for figure in data["summary"]}
    assert summary == {
        "customers": 5,
        "buyers": 4,
        "purchase_total": "18500.00",
        "predicted_value": "2025000.00",
        "clv": "5062000.00",
    }
    grid = {row["recency"]: row for row in data["extra_tables"][0]["rows"]}
    assert (grid["R5"]["f5"], grid["R5"]["f1"], grid["R1"]["f1"], grid["R2"]["f4"]) == (1, 1, 1, 1)
    assert sum(row[f"f{f}"] for row in grid.values() for f in range(1, 6)) == 4


def test_customer_value_distribution_and_top(org, client_for, values):
    data = get(client_for, org.s1_director, "customer_value")
    buckets = {row["bucket"]: row for row in data["extra_tables"][1]["rows"]}
    assert {name: row["predicted_customers"] for name, row in buckets.items()} == {
        "0 元": 2,
        "0–10,000 元": 1,  # 5,000
        "10,000–50,000 元": 1,  # 20,000
        "50,000–100,000 元": 0,
        "100,000–500,000 元": 0,
        "500,000–1,000,000 元": 0,
        "1,000,000 元以上": 1,  # 2,000,000
    }
    assert {name: row["clv_customers"] for name, row in buckets.items()}["10,000–50,000 元"] == 2  # 12,000 and 50,000
    assert buckets["10,000–50,000 元"]["clv_sum"] == "62000.00"
    top = data["extra_tables"][2]
    assert [row["clv"] for row in top["rows"]] == ["5000000.00", "50000.00", "12000.00", "0.00", "0.00"]
    assert top["rows"][0]["owner"] == str(org.south_rep) and top["rows"][0]["lifecycle"] == "活跃客户"
    by_total = get(client_for, org.s1_director, "customer_value", rank_by="purchase_total")["extra_tables"][2]
    assert [row["purchase_total"] for row in by_total["rows"]][:3] == ["9000.00", "6000.00", "3000.00"]


def test_customer_value_scope(org, client_for, values):
    def summary(user, **params):
        data = get(client_for, user, "customer_value", **params)
        return {figure["key"]: figure["value"] for figure in data["summary"]}

    director = summary(org.s1_director)
    east = summary(org.s1_director, department=org.departments["east"].pk)
    south = summary(org.s1_director, department=org.departments["south"].pk)
    assert (east["customers"], south["customers"]) == (3, 2)
    assert Decimal(east["clv"]) + Decimal(south["clv"]) == Decimal(director["clv"])
    assert summary(org.east_manager) == east
    assert summary(org.east_manager, department=org.departments["north"].pk)["customers"] == 0
    assert summary(org.east_rep)["purchase_total"] == "15000.00"
    assert summary(org.ceo)["purchase_total"] == "118499.00"
    top = get(client_for, org.east_manager, "customer_value")["extra_tables"][2]["rows"]
    assert {row["owner"] for row in top} == {str(org.east_rep), str(org.east_lead)}


def test_customer_value_segment_links(org, client, values):
    client.force_login(org.s1_director)
    result = REPORTS["customer_value"].run(user=org.s1_director, params=_params("customer_value"))
    for row in result.table.rows:
        assert list_count(client, row["_links"]["customers"]) == row["customers"], row["segment"]
    cell = result.extra_tables[0].rows[0]  # R5
    assert list_count(client, cell["_links"]["f5"]) == cell["f5"] == 1


def test_customer_value_400_query_count_page_and_xlsx(org, client, client_for, values, django_assert_max_num_queries):
    api_client = client_for(org.s1_director)
    assert api_client.get(api("customer_value"), {"rank_by": "age"}).status_code == 400
    with django_assert_max_num_queries(10):
        assert api_client.get(api("customer_value"), {"department": org.departments["s1"].pk}).status_code == 200
    client.force_login(org.s1_director)
    page = client.get(reverse("reports:detail", args=["customer_value"]))
    assert page.status_code == 200
    html = page.content.decode()
    assert "重要价值客户" in html and "R × F" in html and "高价值客户" in html
    rows = read_xlsx(client.get(reverse("reports:xlsx", args=["customer_value"])))
    assert rows[0][:3] == ["客户分群", "R / F / M", "客户数"]
    assert len(rows) == 10
    assert rows[1][:3] == ["重要价值客户", "高 / 高 / 高", 1] and float(rows[1][4]) == pytest.approx(9000)


# --- 流失分析 ----------------------------------------------------------------------------------------

CHURN = datetime.timedelta(days=180)
Q1_2025 = {"period": "month", "start": "2025-01-01", "end": "2025-03-31"}


@pytest.fixture
def lapses(org):
    """Profiles whose customers lapse 180 days after the later of their last purchase and last
    contact (churned_at), January–March 2025:

    A east_rep   created 2024-01-01, contact → churned 2025-01-06             (January)
    B east_rep   purchase later than contact → churned 2025-02-11             (February)
    C east_lead  contact 2025-06-01 → churned 2025-11-28                      (active throughout)
    D south_rep  created 2025-02-10, contact then → churned 2025-08-09        (active at March's start)
    E east_rep   churned 2024-11-28                                           (before: nowhere)
    F south_rep  churned exactly 2025-02-01 00:00                             (February, active at Feb's start)
    G east_rep   churned 2025-01-31 23:59:59                                  (January)
    N north      churned 2025-01-10                                           (outside 销售一部)
    """
    created = at(2024, 1, 1)

    def made(owner, churned, *, purchase=None, created_at=created):
        contact = churned - CHURN
        return profile(
            customer(owner, created=created_at),
            last_contact_at=contact if purchase is None else contact - datetime.timedelta(days=70),
            last_purchase_at=None if purchase is None else contact,
        )

    made(org.east_rep, at(2025, 1, 6))
    made(org.east_rep, at(2025, 2, 11), purchase=True)
    made(org.east_lead, at(2025, 11, 28))
    made(org.south_rep, at(2025, 2, 10) + CHURN, created_at=at(2025, 2, 10))
    made(org.east_rep, at(2024, 11, 28))
    made(org.south_rep, at(2025, 2, 1))
    made(org.east_rep, at(2025, 1, 31, 23, 59, 59))
    made(org.north_other, at(2025, 1, 10))


def test_churn_rate_per_month(org, client_for, lapses):
    data = get(client_for, org.s1_director, "churn", **Q1_2025)
    months = {row["period"]: (row["active"], row["churned"], row["rate"]) for row in data["rows"]}
    assert months == {
        "2025-01": (5, 2, "0.4000"),  # active A B C F G; churned A G
        "2025-02": (3, 2, "0.6667"),  # active B C F; churned B F
        "2025-03": (2, 0, "0.0000"),  # active C D
    }
    summary = {figure["key"]: figure["value"] for figure in data["summary"]}
    assert summary["churned"] == 4
    assert summary["average_rate"] == "0.3556"  # (0.4 + 0.6667 + 0) / 3


def test_churn_rate_scope_and_departments(org, client_for, lapses):
    def months(user, **params):
        data = get(client_for, user, "churn", **Q1_2025, **params)
        return [(row["active"], row["churned"]) for row in data["rows"]]

    east = months(org.s1_director, department=org.departments["east"].pk)
    south = months(org.s1_director, department=org.departments["south"].pk)
    assert east == [(4, 2), (2, 1), (1, 0)]
    assert south == [(1, 0), (1, 1), (1, 0)]
    assert [(a[0] + b[0], a[1] + b[1]) for a, b in zip(east, south, strict=True)] == months(org.s1_director)
    assert months(org.east_manager) == east
    assert months(org.east_manager, department=org.departments["north"].pk) == [(0, 0)] * 3
    assert months(org.east_rep) == [(3, 2), (1, 1), (0, 0)]
    assert months(org.ceo)[0] == (6, 3)


def test_churn_in_the_current_month_counts_only_what_has_happened(org, client_for):
    now = timezone.now()
    long_ago = now - datetime.timedelta(days=400)
    profile(customer(org.east_rep, created=long_ago), last_contact_at=now - CHURN - datetime.timedelta(seconds=5))
    profile(customer(org.east_rep, created=long_ago), last_contact_at=now - CHURN + datetime.timedelta(hours=1))
    data = get(client_for, org.east_rep, "churn", period="day")
    churned = {row["period"]: row["churned"] for row in data["rows"]}
    # The one past its 180 days counts on the day it lapsed; the one lapsing in an hour nowhere.
    lapsed_on = timezone.localtime(now - datetime.timedelta(seconds=5)).date().isoformat()
    assert churned[lapsed_on] == 1 and sum(churned.values()) == 1


@pytest.fixture
def risks(org):
    """Churn risk and lifecycle: 0 · 0.3 · 0.6 · 0.7 · 1.0 lost · 0.8 active · 0.4 at_risk (east and
    south); 0.9 at north (outside)."""

    def made(owner, risk, lifecycle="active", clv="0"):
        return profile(
            customer(owner),
            churn_risk=Decimal(risk),
            lifecycle=lifecycle,
            clv=Decimal(clv),
            purchase_total=Decimal(clv),
            recommended_actions=["紧急联系挽回", "高优先级跟进"],
        )

    made(org.east_rep, "0")
    made(org.east_rep, "0.3")
    made(org.east_lead, "0.6")
    made(org.south_rep, "0.7")
    made(org.east_rep, "1.0", "lost", "100.00")
    made(org.south_rep, "0.8", "active", "2000.00")
    made(org.east_rep, "0.4", "at_risk", "300.00")
    made(org.east_rep, "0.8", "loyal", "5000.00")
    made(org.north_other, "0.9")


def test_churn_risk_distribution_and_at_risk_list(org, client_for, client, risks):
    data = get(client_for, org.s1_director, "churn")
    bands = {row["band"]: row["customers"] for row in data["extra_tables"][0]["rows"]}
    assert bands == {"无风险（0）": 1, "低风险（≤30%）": 1, "中风险（30%–70%）": 3, "高风险（>70%）": 3}
    high = data["extra_tables"][0]["rows"][3]
    assert (high["share"], high["purchase_total"], high["clv"]) == ("0.3750", "7100.00", "7100.00")
    at_risk = data["extra_tables"][1]["rows"]
    # Risk first, then CLV: 0.8 (5,000), 0.8 (2,000), 0.4 at_risk; not the lost 1.0, not the 0.7 active.
    assert [(row["churn_risk"], row["clv"]) for row in at_risk] == [
        ("0.8000", "5000.00"),
        ("0.8000", "2000.00"),
        ("0.4000", "300.00"),
    ]
    assert at_risk[0]["owner"] == str(org.east_rep) and at_risk[1]["owner"] == str(org.south_rep)
    assert at_risk[0]["actions"] == "紧急联系挽回、高优先级跟进"
    summary = {figure["key"]: figure["value"] for figure in data["summary"]}
    assert (summary["high_risk"], summary["at_risk"]) == (3, 3)
    # Scope: the department manager sees east only; a rep their own.
    manager = get(client_for, org.east_manager, "churn")
    assert [row["clv"] for row in manager["extra_tables"][1]["rows"]] == ["5000.00", "300.00"]
    assert sum(row["customers"] for row in manager["extra_tables"][0]["rows"]) == 6
    assert sum(row["customers"] for row in get(client_for, org.ceo, "churn")["extra_tables"][0]["rows"]) == 9
    # Each band's count links to the customer list's churn-risk filters, which show that many.
    client.force_login(org.s1_director)
    result = REPORTS["churn"].run(user=org.s1_director, params=_params("churn"))
    for row in result.extra_tables[0].rows:
        assert list_count(client, row["_links"]["customers"]) == row["customers"], row["band"]


def test_at_risk_list_is_bounded(org, client_for, django_assert_max_num_queries):
    for _n in range(55):
        profile(customer(org.east_rep), churn_risk=Decimal("0.9"), lifecycle="at_risk")
    client = client_for(org.east_manager)
    with django_assert_max_num_queries(10):
        data = client.get(api("churn")).json()
    assert len(data["extra_tables"][1]["rows"]) == 50
    assert {figure["key"]: figure["value"] for figure in data["summary"]}["at_risk"] == 55


def test_churn_400_page_and_xlsx(org, client, client_for, lapses, risks):
    assert client_for(org.ceo).get(api("churn"), {"period": "year"}).status_code == 400
    client.force_login(org.s1_director)
    page = client.get(reverse("reports:detail", args=["churn"]), Q1_2025)
    assert page.status_code == 200
    html = page.content.decode()
    assert "2025-02" in html and "流失预警客户" in html and "紧急联系挽回" in html
    assert (
        reverse("customers:detail", args=[CustomerProfile.objects.filter(churn_risk=Decimal("0.8")).first().pk]) in html
    )
    rows = read_xlsx(client.get(reverse("reports:xlsx", args=["churn"]), Q1_2025))
    assert rows[0] == ["周期", "期初活跃客户数", "流失客户数", "流失率（%）"]
    assert [row[:3] for row in rows[1:]] == [["2025-01", 5, 2], ["2025-02", 3, 2], ["2025-03", 2, 0]]
    assert [float(row[3]) for row in rows[1:]] == pytest.approx([40, 66.67, 0])
