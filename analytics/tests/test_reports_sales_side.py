"""客户增长, 产品排行, 业绩排行, 赢单/输单, 销售漏斗 and 应收款与账龄 (analytics.reports): each
report's figures on a hand-built data set, its scope (a manager never counts rows outside their
departments), the midnight boundaries in Asia/Shanghai, the API shape and its 400s, the page and
the .xlsx download, and a query count independent of the data size."""

import datetime
import io
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from analytics.reports.base import parse_params
from analytics.reports.registry import get_report
from contracts.models import Contract, ContractStatus, PaymentStatus, Product
from contracts.tests.factories import (
    ContractFactory,
    ContractLineFactory,
    PaymentFactory,
    PaymentPlanFactory,
    ProductFactory,
)
from customers.models import Customer
from customers.tests.factories import CustomerFactory, SourceFactory
from opportunities import selectors as deal_selectors
from opportunities.models import Opportunity
from opportunities.tests.factories import LostReasonFactory, OpportunityFactory, stage

pytestmark = pytest.mark.django_db

TZ = ZoneInfo("Asia/Shanghai")
# March to May 2026, by month: three buckets.
SPRING = {"period": "month", "start": "2026-03-01", "end": "2026-05-31"}
KEYS = ["customer_growth", "product_ranking", "ranking", "win_loss", "funnel", "receivables"]


def at(day, hour=12, minute=0, second=0):
    """An aware instant of the company's calendar."""
    return datetime.datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=TZ)


D = datetime.date


def new_customer(owner, created, *, source=None, **kwargs):
    customer = CustomerFactory(owner=owner, source=source, **kwargs)
    Customer.objects.filter(pk=customer.pk).update(created_at=created)
    return customer


def sale(owner, signed, total="1000.00", *, status=ContractStatus.APPROVED, customer=None):
    extra = {"customer": customer} if customer is not None else {}
    return ContractFactory(owner=owner, status=status, signed_date=signed, total=Decimal(total), **extra)


def line(contract, product, quantity, price):
    return ContractLineFactory(
        contract=contract, product=product, quantity=Decimal(quantity), unit_price=Decimal(price)
    )


def deal(owner, *, kind, amount, when=None, created=None, reason=None, customer=None):
    extra = {"customer": customer} if customer is not None else {}
    opportunity = OpportunityFactory(
        owner=owner, stage=stage(kind), amount=Decimal(amount), lost_reason=reason, **extra
    )
    fields = {}
    if kind == "won":
        fields["won_at"] = when
    if kind == "lost":
        fields["lost_at"] = when
    if created is not None:
        fields["created_at"] = created
    Opportunity.objects.filter(pk=opportunity.pk).update(**fields)
    return opportunity


def run(user, key, **data):
    report = get_report(key)
    return report.run(user=user, params=parse_params(report, data))


def figure(result, key):
    return next(item.value for item in result.summary if item.key == key)


def api(client_for, user, key, **data):
    return client_for(user).get(reverse("api:report-detail", args=[key]), data)


# --- the scope of every report -----------------------------------------------------------------

# Who owns the rows of each weight: east 1, south 2, north 4 — so a sum names the departments in it.
WEIGHTS = {"east_rep": 1, "south_rep": 2, "north_rep": 4}


def build_world(org, *, scale=1):
    """For each owner of WEIGHTS with weight w: w customers created in spring; a sales contract of
    w × 1000 signed in spring with one line, with a w × 100 confirmed payment in spring and an
    instalment overdue; w won and w lost deals created and closed in spring. Plus rows that must
    never count: a customer in the recycle bin with a big contract and deals, a draft contract."""
    product = Product.objects.get_or_create(code="WORLD", defaults={"name": "通用产品", "category": "软件"})[0]
    reason = LostReasonFactory(name="价格")
    for _copy in range(scale):
        for name, weight in WEIGHTS.items():
            owner = getattr(org, name)
            for _index in range(weight):
                new_customer(owner, at(D(2026, 4, 1)))
                deal(owner, kind="won", amount="10.00", when=at(D(2026, 4, 2)), created=at(D(2026, 3, 2)))
                deal(
                    owner, kind="lost", amount="10.00", when=at(D(2026, 4, 3)), created=at(D(2026, 3, 2)), reason=reason
                )
            contract = sale(owner, D(2026, 4, 5), f"{weight * 1000}.00")
            line(contract, product, weight, "1000.00")
            paid = Decimal(weight * 100)
            PaymentFactory(contract=contract, amount=paid, date=D(2026, 4, 20), status=PaymentStatus.CONFIRMED)
            Contract.objects.filter(pk=contract.pk).update(paid_amount=paid)  # as the confirm service keeps it
            PaymentPlanFactory(contract=contract, number=1, due_date=D(2026, 5, 1), amount=contract.total)
    # Never counted: a binned customer's business, and a draft.
    binned = new_customer(org.east_rep, at(D(2026, 4, 1)), deleted_at=timezone.now())
    big = sale(org.east_rep, D(2026, 4, 5), "900000.00", customer=binned)
    line(big, product, 900, "1000.00")
    PaymentPlanFactory(contract=big, number=1, due_date=D(2026, 5, 1), amount=big.total)
    deal(org.east_rep, kind="won", amount="10.00", when=at(D(2026, 4, 2)), created=at(D(2026, 3, 2)), customer=binned)
    line(sale(org.east_rep, D(2026, 4, 5), "5000.00", status=ContractStatus.DRAFT), product, 5, "1000.00")


# (report, summary figure, its value per unit of weight)
SCOPED_FIGURES = [
    ("customer_growth", "new", 1),
    ("product_ranking", "amount", 1000),
    ("ranking", "contract_amount", 1000),
    ("ranking", "payment_amount", 100),
    ("ranking", "new_customers", 1),
    ("ranking", "won_count", 1),
    ("win_loss", "won", 1),
    ("win_loss", "lost", 1),
    ("funnel", "won", 1),
    ("receivables", "receivable", 900),
]
# What each user's scope holds of WEIGHTS.
SEES = {
    "ceo": 7,
    "admin": 7,
    "s1_director": 3,  # 销售一部 and below: east + south
    "east_manager": 1,  # 华东组
    "east_lead": 1,  # self and subordinates: east_rep
    "east_rep": 1,
    "east_intern": 0,
    "south_rep": 2,
    "north_rep": 4,  # self + 华北组
    "north_other": 0,
    "s2_rep": 0,
}


@pytest.mark.parametrize(("key", "name", "unit"), SCOPED_FIGURES)
def test_every_figure_counts_exactly_the_viewers_scope(org, key, name, unit):
    build_world(org)
    for username, weight in SEES.items():
        value = figure(run(org.users[username], key, **SPRING), name)
        assert Decimal(value) == weight * unit, (username, value)


@pytest.mark.parametrize(("key", "name", "unit"), SCOPED_FIGURES)
def test_a_managers_total_is_the_sum_over_their_departments_and_a_filter_never_widens_it(org, key, name, unit):
    build_world(org)
    director = org.s1_director

    def value(**extra):
        return Decimal(figure(run(director, key, **SPRING, **extra), name))

    east, south, north = (org.departments[name].pk for name in ("east", "south", "north"))
    assert value() == value(department=east) + value(department=south) == 3 * unit
    assert value(department=org.departments["s1"].pk) == 3 * unit
    assert value(department=north) == 0  # outside the scope: the filter only narrows
    assert value(owner=[org.north_rep.pk]) == 0
    assert value(owner=[org.south_rep.pk]) == 2 * unit


@pytest.mark.parametrize("key", KEYS)
def test_query_count_does_not_grow_with_the_data(org, key):
    build_world(org)
    run(org.s1_director, key, **SPRING)  # the viewer's roles and department, read once per user object
    counts = []
    for scale in (1, 3):
        if scale > 1:
            build_world(org, scale=scale - 1)
        with CaptureQueriesContext(connection) as queries:
            run(org.s1_director, key, **SPRING)
        counts.append(len(queries))
    assert counts[0] == counts[1] <= 7


# --- 客户增长 -------------------------------------------------------------------------------------


def test_customer_growth_by_source_and_conversion_to_a_contract_any_time_up_to_now(org):
    web, expo = SourceFactory(name="官网", order=1), SourceFactory(name="展会", order=2)
    rep = org.east_rep
    # March: 00:00 on the first day counts; two of three bought (one only after the period).
    bought = new_customer(rep, at(D(2026, 3, 1), 0), source=web)
    sale(rep, D(2026, 3, 10), customer=bought)
    new_customer(rep, at(D(2026, 3, 15)), source=web)
    late = new_customer(rep, at(D(2026, 3, 20)), source=expo)
    sale(rep, D(2026, 7, 1), status=ContractStatus.COMPLETED, customer=late)  # after the period: still converted
    # April: a draft and a void contract are no purchase.
    drafted = new_customer(rep, at(D(2026, 4, 30), 23, 59, 59))
    sale(rep, D(2026, 4, 30), status=ContractStatus.DRAFT, customer=drafted)
    voided = new_customer(rep, at(D(2026, 4, 2)), source=expo)
    sale(rep, D(2026, 4, 3), status=ContractStatus.VOID, customer=voided)
    # May: 23:59:59 on the last day counts.
    last = new_customer(rep, at(D(2026, 5, 31), 23, 59, 59), source=web)
    sale(rep, D(2026, 6, 2), status=ContractStatus.ACTIVE, customer=last)
    # Never: 00:00 the day after, 23:59:59 the day before, the recycle bin, a public pool.
    new_customer(rep, at(D(2026, 6, 1), 0), source=web)
    new_customer(rep, at(D(2026, 2, 28), 23, 59, 59), source=web)
    new_customer(rep, at(D(2026, 3, 5)), source=web, deleted_at=timezone.now())
    new_customer(None, at(D(2026, 3, 5)), source=web)

    result = run(org.ceo, "customer_growth", **SPRING)

    web_key, expo_key = f"source_{web.pk}", f"source_{expo.pk}"
    assert [column.key for column in result.table.columns] == [
        "period", "new", web_key, expo_key, "source_none", "converted", "rate",
    ]  # fmt: skip
    rows = {row["period"]: row for row in result.table.rows}
    assert list(rows) == ["2026-03", "2026-04", "2026-05"]
    assert rows["2026-03"] | {} == {
        "period": "2026-03", "new": 3, web_key: 2, expo_key: 1, "source_none": 0, "converted": 2,
        "rate": Decimal("0.6667"),
    }  # fmt: skip
    assert (rows["2026-04"]["new"], rows["2026-04"][expo_key], rows["2026-04"]["source_none"]) == (2, 1, 1)
    assert (rows["2026-04"]["converted"], rows["2026-04"]["rate"]) == (0, Decimal("0"))
    assert (rows["2026-05"]["new"], rows["2026-05"]["converted"], rows["2026-05"]["rate"]) == (1, 1, Decimal("1"))
    by_source = [(row["source"], row["new"], row["converted"], row["rate"]) for row in result.extra_tables[0].rows]
    assert by_source == [
        ("官网", 3, 2, Decimal("0.6667")),
        ("展会", 2, 1, Decimal("0.5")),
        ("未填写来源", 1, 0, Decimal("0")),
    ]
    assert (figure(result, "new"), figure(result, "converted"), figure(result, "rate")) == (6, 3, Decimal("0.5"))


def test_customer_growth_counts_only_contracts_the_viewer_sees_as_conversions(org):
    # An east customer whose only sales contract belongs to a north colleague: for the east
    # manager the customer is new but not (visibly) converted; for the CEO it is converted.
    customer = new_customer(org.east_rep, at(D(2026, 4, 1)))
    sale(org.north_rep, D(2026, 4, 2), customer=customer)
    assert figure(run(org.east_manager, "customer_growth", **SPRING), "converted") == 0
    assert figure(run(org.ceo, "customer_growth", **SPRING), "converted") == 1


# --- 产品排行 -------------------------------------------------------------------------------------


def _products_world(org):
    a = ProductFactory(code="A", name="产品A", category="软件", price=Decimal("100.00"))
    b = ProductFactory(code="B", name="产品B", category="软件", price=Decimal("100.00"))
    c = ProductFactory(code="C", name="产品C", category="服务", price=Decimal("50.00"))
    rep = org.east_rep
    first = sale(rep, D(2026, 3, 1))
    line(first, a, "2", "100.00")
    line(first, c, "1", "50.00")
    second = sale(rep, D(2026, 4, 10), status=ContractStatus.ACTIVE)
    line(second, a, "1", "100.00")
    line(second, b, "5", "100.00")
    line(sale(rep, D(2026, 5, 31)), c, "3", "50.00")
    # Never: a draft, a pending one, one signed the day after the period.
    line(sale(rep, D(2026, 4, 10), status=ContractStatus.DRAFT), a, "100", "100.00")
    line(sale(rep, D(2026, 4, 10), status=ContractStatus.PENDING), a, "100", "100.00")
    line(sale(rep, D(2026, 6, 1)), b, "9", "100.00")
    return a, b, c


def test_product_ranking_by_amount_and_by_quantity_with_categories(org):
    _products_world(org)

    result = run(org.ceo, "product_ranking", **SPRING)
    rows = [(r["rank"], r["code"], r["quantity"], r["amount"], r["share"]) for r in result.table.rows]
    assert rows == [
        (1, "B", Decimal("5"), Decimal("500.00"), Decimal("0.5")),
        (2, "A", Decimal("3"), Decimal("300.00"), Decimal("0.3")),
        (3, "C", Decimal("4"), Decimal("200.00"), Decimal("0.2")),
    ]
    categories = [(r["category"], r["products"], r["quantity"], r["amount"]) for r in result.extra_tables[0].rows]
    assert categories == [("软件", 2, Decimal("8"), Decimal("800.00")), ("服务", 1, Decimal("4"), Decimal("200.00"))]
    assert figure(result, "amount") == Decimal("1000.00") and figure(result, "contracts") == 3

    by_quantity = run(org.ceo, "product_ranking", **SPRING, order="quantity")
    assert [row["code"] for row in by_quantity.table.rows] == ["B", "C", "A"]
    assert [row["category"] for row in by_quantity.extra_tables[0].rows] == ["软件", "服务"]


# --- 业绩排行 -------------------------------------------------------------------------------------


def _ranking_world(org):
    east, south, north = org.east_rep, org.south_rep, org.north_rep
    sale(east, D(2026, 3, 10), "1000.00")
    sale(east, D(2026, 3, 10), "5000.00", status=ContractStatus.DRAFT)
    earlier = sale(east, D(2025, 12, 1), "9000.00")  # signed before: only its payment counts
    PaymentFactory(contract=earlier, amount=Decimal("400.00"), date=D(2026, 4, 1), status=PaymentStatus.CONFIRMED)
    PaymentFactory(contract=earlier, amount=Decimal("300.00"), date=D(2026, 4, 1), status=PaymentStatus.UNCONFIRMED)
    PaymentFactory(contract=earlier, amount=Decimal("200.00"), date=D(2026, 6, 1), status=PaymentStatus.CONFIRMED)
    new_customer(east, at(D(2026, 3, 1), 0))
    new_customer(east, at(D(2026, 5, 31), 23, 59, 59))
    new_customer(east, at(D(2026, 6, 1), 0))  # the next day
    deal(east, kind="won", amount="800.00", when=at(D(2026, 5, 31), 23, 59, 59))
    deal(east, kind="won", amount="700.00", when=at(D(2026, 6, 1), 0))  # the next day

    south_contract = sale(south, D(2026, 5, 1), "3000.00")
    PaymentFactory(
        contract=south_contract, amount=Decimal("3000.00"), date=D(2026, 5, 2), status=PaymentStatus.CONFIRMED
    )
    deal(south, kind="lost", amount="999.00", when=at(D(2026, 4, 1)))

    sale(north, D(2026, 4, 1), "500.00")
    for _index in range(5):
        new_customer(north, at(D(2026, 4, 1)))


def test_ranking_of_staff_and_departments_by_each_measure(org):
    _ranking_world(org)

    result = run(org.ceo, "ranking", **SPRING)
    staff = [
        (row["rank"], row["name"], row["contract_amount"], row["payment_amount"], row["new_customers"],
         row["won_count"], row["won_amount"])
        for row in result.table.rows
    ]  # fmt: skip
    assert staff == [
        (1, str(org.south_rep), Decimal("3000.00"), Decimal("3000.00"), 0, 0, Decimal("0.00")),
        (2, str(org.east_rep), Decimal("1000.00"), Decimal("400.00"), 2, 1, Decimal("800.00")),
        (3, str(org.north_rep), Decimal("500.00"), Decimal("0.00"), 5, 0, Decimal("0.00")),
    ]
    assert result.table.rows[1]["department"] == "华东组"
    departments = [(row["rank"], row["name"], row["contract_amount"]) for row in result.extra_tables[0].rows]
    assert departments == [
        (1, "华南组", Decimal("3000.00")),
        (2, "华东组", Decimal("1000.00")),
        (3, "华北组", Decimal("500.00")),
    ]

    assert [row["name"] for row in run(org.ceo, "ranking", **SPRING, by="new_customers").table.rows] == [
        str(org.north_rep),
        str(org.east_rep),
        str(org.south_rep),
    ]
    assert [row["name"] for row in run(org.ceo, "ranking", **SPRING, by="won_amount").table.rows][0] == str(
        org.east_rep
    )
    assert [row["name"] for row in run(org.ceo, "ranking", by="payment_amount", **SPRING).extra_tables[0].rows] == [
        "华南组", "华东组", "华北组"
    ]  # fmt: skip


def test_a_manager_ranks_only_what_they_see(org):
    _ranking_world(org)
    manager = run(org.east_manager, "ranking", **SPRING)
    assert [row["name"] for row in manager.table.rows] == [str(org.east_rep)]
    assert [row["name"] for row in manager.extra_tables[0].rows] == ["华东组"]
    director = run(org.s1_director, "ranking", **SPRING)
    assert [row["name"] for row in director.table.rows] == [str(org.south_rep), str(org.east_rep)]
    assert run(org.east_intern, "ranking", **SPRING).table.rows == []


# --- 赢单/输单 ------------------------------------------------------------------------------------


def test_win_loss_per_bucket_with_midnight_boundaries_and_loss_reasons(org):
    rep = org.east_rep
    price, rival = LostReasonFactory(name="价格"), LostReasonFactory(name="竞品")
    deal(rep, kind="won", amount="800.00", when=at(D(2026, 3, 1), 0))
    deal(rep, kind="won", amount="200.00", when=at(D(2026, 5, 31), 23, 59, 59))
    deal(rep, kind="won", amount="999.00", when=at(D(2026, 6, 1), 0))
    deal(rep, kind="won", amount="999.00", when=at(D(2026, 2, 28), 23, 59, 59))
    deal(rep, kind="lost", amount="100.00", when=at(D(2026, 3, 15)), reason=price)
    deal(rep, kind="lost", amount="300.00", when=at(D(2026, 4, 10)), reason=price)
    deal(rep, kind="lost", amount="50.00", when=at(D(2026, 4, 20)), reason=rival)
    deal(rep, kind="lost", amount="70.00", when=at(D(2026, 6, 2)), reason=rival)
    OpportunityFactory(owner=rep)  # open: neither

    result = run(org.ceo, "win_loss", **SPRING)
    rows = [
        (row["period"], row["won"], row["won_amount"], row["lost"], row["lost_amount"], row["win_rate"])
        for row in result.table.rows
    ]
    assert rows == [
        ("2026-03", 1, Decimal("800.00"), 1, Decimal("100.00"), Decimal("0.5")),
        ("2026-04", 0, Decimal("0.00"), 2, Decimal("350.00"), Decimal("0")),
        ("2026-05", 1, Decimal("200.00"), 0, Decimal("0.00"), Decimal("1")),
    ]
    reasons = [(row["reason"], row["count"], row["amount"], row["share"]) for row in result.extra_tables[0].rows]
    assert reasons == [
        ("价格", 2, Decimal("400.00"), Decimal("0.6667")),
        ("竞品", 1, Decimal("50.00"), Decimal("0.3333")),
    ]
    assert figure(result, "win_rate") == Decimal("0.4")  # 2 won, 3 lost


# --- 销售漏斗 -------------------------------------------------------------------------------------


def test_funnel_report_is_the_funnel_selector_over_the_deals_created_in_the_period(org):
    rep = org.east_rep
    deal(rep, kind="won", amount="100.00", when=at(D(2026, 4, 1)), created=at(D(2026, 3, 1), 0))
    deal(rep, kind="lost", amount="200.00", when=at(D(2026, 4, 1)), created=at(D(2026, 5, 31), 23, 59, 59))
    deal(rep, kind="proposal", amount="300.00", created=at(D(2026, 4, 1)))
    deal(rep, kind="won", amount="900.00", when=at(D(2026, 6, 2)), created=at(D(2026, 6, 1), 0))  # created after

    result = run(org.ceo, "funnel", **SPRING)

    deals = Opportunity.objects.filter(created_at__lt=at(D(2026, 6, 1), 0))
    expected = deal_selectors.funnel(deals=deals, group=deal_selectors.default_stage_group())
    assert [row["count"] for row in result.table.rows] == [row["count"] for row in expected["stages"]]
    assert [row["amount"] for row in result.table.rows] == [row["amount"] for row in expected["stages"]]
    assert (figure(result, "won"), figure(result, "lost"), figure(result, "win_rate")) == (1, 1, Decimal("0.5"))
    assert [row["stage"] for row in result.table.rows] == [row["stage"].name for row in expected["stages"]]
    assert [row["count"] for row in result.extra_tables[0].rows] == [1]


# --- 应收款与账龄 ---------------------------------------------------------------------------------


def test_receivables_report_ageing_main_table_and_customers_extra_table(org):
    today = timezone.localdate()
    rep = org.east_rep
    contract = sale(rep, D(2026, 1, 5), "1000.00")
    PaymentPlanFactory(contract=contract, number=1, due_date=today - datetime.timedelta(days=10), amount=Decimal("600"))
    PaymentPlanFactory(contract=contract, number=2, due_date=today - datetime.timedelta(days=45), amount=Decimal("400"))
    PaymentFactory(contract=contract, amount=Decimal("100.00"), status=PaymentStatus.CONFIRMED)
    Contract.objects.filter(pk=contract.pk).update(paid_amount=Decimal("100.00"))
    sale(rep, D(2026, 1, 5), "5000.00", status=ContractStatus.DRAFT)  # no receivable

    result = run(org.ceo, "receivables")
    ageing = [(row["count"], row["amount"]) for row in result.table.rows]
    # The payment settles the older instalment (due 45 days ago) first: 300 left there, 600 on the other.
    assert ageing == [(1, Decimal("600.00")), (1, Decimal("300.00")), (0, Decimal("0.00")), (0, Decimal("0.00"))]
    assert [row["receivable"] for row in result.extra_tables[0].rows] == [Decimal("900.00")]
    assert (figure(result, "receivable"), figure(result, "overdue")) == (Decimal("900.00"), Decimal("900.00"))


# --- API, pages, downloads ----------------------------------------------------------------------


@pytest.mark.parametrize("key", KEYS)
def test_api_shape(org, client_for, key):
    build_world(org)
    path = reverse("api:report-detail", args=[key])
    if key in ("funnel", "receivables"):
        # Those paths belong to the older endpoints registered before the generic route.
        assert path in ("/api/v1/reports/funnel/", "/api/v1/reports/receivables/")
        return
    response = api(client_for, org.east_manager, key, **SPRING)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["report"] == key and body["period"]["start"] == "2026-03-01"
    assert {"title", "summary", "columns", "rows", "extra_tables", "chart"} <= set(body)
    assert body["rows"] and body["extra_tables"][0]["rows"]
    money_columns = [column["key"] for column in body["columns"] if column["kind"] == "money"]
    for row in body["rows"]:
        for name in money_columns:
            assert row[name] is None or isinstance(row[name], str)


@pytest.mark.parametrize(
    ("key", "params", "field"),
    [
        ("customer_growth", {"period": "year"}, "period"),
        ("customer_growth", {"period": "custom", "start": "2026-05-01", "end": "2026-04-01"}, "__all__"),
        ("product_ranking", {"order": "price"}, "order"),
        ("ranking", {"by": "charm"}, "by"),
        ("ranking", {"department": "abc"}, "department"),
        ("win_loss", {"owner": "999999"}, "owner"),
        ("win_loss", {"start": "2026-13-01"}, "start"),
    ],
)
def test_api_bad_filters_are_a_400_naming_the_field(org, client_for, key, params, field):
    response = api(client_for, org.ceo, key, **params)
    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["fields"], response.json()


def test_api_unknown_report_and_missing_permission(org, client_for):
    from staff.tests.factories import UserFactory

    assert api(client_for, org.ceo, "nope").status_code == 404
    assert api(client_for, UserFactory(department=org.departments["east"]), "ranking").status_code == 403


@pytest.mark.parametrize("key", KEYS)
def test_page_renders_table_rows_and_filters(org, client, key):
    build_world(org)
    client.force_login(org.s1_director)
    response = client.get(reverse("reports:detail", args=[key]), SPRING)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="report-chart"' in html
    table = html[html.index('id="report-table"') :]
    table = table[: table.index("</table>")]
    assert table.count("<tr>") >= 2 and "暂无数据" not in table  # the header and at least one row
    if key == "ranking":
        assert str(org.south_rep) in table and str(org.north_rep) not in table
    if key == "receivables":
        assert 'id="f-period"' not in html  # a snapshot: no period
    bad = client.get(reverse("reports:detail", args=[key]), {"department": "abc"})
    assert bad.status_code == 400 and 'id="report-errors"' in bad.content.decode()


def test_index_lists_the_new_reports_as_generic_pages(org, client):
    client.force_login(org.ceo)
    html = client.get(reverse("reports:index")).content.decode()
    for key in KEYS:
        assert f'href="{reverse("reports:detail", args=[key])}"' in html
    assert 'href="/opportunities/funnel/"' not in html


@pytest.mark.parametrize("key", KEYS)
def test_xlsx_holds_the_table(org, client, key):
    build_world(org)
    client.force_login(org.s1_director)
    response = client.get(reverse("reports:xlsx", args=[key]), SPRING)
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    values = list(sheet.iter_rows(values_only=True))
    result = run(org.s1_director, key, **SPRING)
    assert len(values) == 1 + len(result.table.rows)
    assert values[0][0] == str(result.table.columns[0].label) or values[0][0].startswith(
        str(result.table.columns[0].label)
    )


def test_xlsx_figures_of_product_ranking(org, client):
    _products_world(org)
    client.force_login(org.ceo)
    response = client.get(reverse("reports:xlsx", args=["product_ranking"]), SPRING)
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:3] == ("排名", "产品编码", "产品名称")
    assert [(row[1], float(row[6]), float(row[7])) for row in rows[1:]] == [
        ("B", 500.0, 50.0),
        ("A", 300.0, 30.0),
        ("C", 200.0, 20.0),
    ]


def test_receivables_customers_table_lists_the_largest_receivables_only(org, monkeypatch):
    from analytics.reports import receivables

    monkeypatch.setattr(receivables, "TOP_CUSTOMERS", 2)
    for total in ("300.00", "100.00", "200.00"):
        sale(org.east_rep, D(2026, 1, 5), total)
    result = run(org.east_manager, "receivables")
    assert [row["receivable"] for row in result.extra_tables[0].rows] == [Decimal("300.00"), Decimal("200.00")]
    assert figure(result, "receivable") == Decimal("600.00")  # the summary still counts every one
