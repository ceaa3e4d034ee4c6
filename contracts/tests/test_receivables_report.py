"""Receivables (应收) on a hand-built data set whose figures are worked out below: summary, by
customer, by owner, the ageing buckets with their boundaries (30/31, 60/61, 90/91 days), the
filters, and scope — a department manager sees only their departments' receivables.

The data set (today = T; "d" = days overdue = T − due date):

    C1  customer 甲  owner east_rep    active     total 10,000  paid 4,000
        #1 due T−30 (d30)  5,000 paid 4,000 → 1,000 in 0–30
        #2 due T−1  (d1)   1,000 paid 0     → 1,000 in 0–30
        #3 due T+10        4,000            → not due
    C2  customer 甲  owner east_rep    approved   total 8,000   paid 0
        #1 due T−31 (d31)  3,000 → 31–60
        #2 due T−60 (d60)  2,000 → 31–60
        #3 due T−61 (d61)  3,000 → 61–90
    C3  customer 乙  owner east_lead   completed  total 5,000   paid 0
        #1 due T−90 (d90)  2,500 → 61–90
        #2 due T−91 (d91)  2,500 → 90+
    C4  customer 乙  owner east_lead   void       total 7,000   (#1 due T−100) → never counted
    C5  customer 丙  owner east_rep    draft      total 9,999   → never counted
    C6  customer 丙  owner east_rep    active     total 3,000   paid 3,000 → receivable 0
    C7  customer 丁  owner north_other active     total 1,000   paid 0, #1 due T−5 1,000 → 0–30

Everyone (ceo): contracts C1 C2 C3 C6 C7 = 5; total 27,000; paid 7,000; receivable 20,000.
  by customer: 甲 14,000 (2 contracts), 乙 5,000, 丁 1,000 (丙 is paid up: no row).
  by owner: east_rep 14,000 (C1 C2 C6: 3 contracts), east_lead 5,000, north_other 1,000.
  ageing: 0–30 3,000 (3 instalments), 31–60 5,000 (2), 61–90 5,500 (2), 90+ 2,500 (1); overdue 16,000.
east_manager (华东组, department scope): C1 C2 C3 C6 → receivable 19,000; 0–30 2,000 (2).
east_rep (self): C1 C2 C6 → receivable 14,000; 0–30 2,000, 31–60 5,000, 61–90 3,000, 90+ 0.
"""

import datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from contracts.models import ContractStatus
from contracts.selectors import payments as selectors
from contracts.tests.factories import ContractFactory, PaymentPlanFactory
from crm.tests.test_api_scope import EXPECTED, PAYMENT, _records
from customers.tests.factories import CustomerFactory

D = Decimal
URL = "api:receivables-report-receivables"


def T():
    return timezone.localdate()


def ago(days):
    return T() - datetime.timedelta(days=days)


@pytest.fixture
def data(org):
    S = ContractStatus
    jia = CustomerFactory(owner=org.east_rep, name="甲公司")
    yi = CustomerFactory(owner=org.east_lead, name="乙公司")
    bing = CustomerFactory(owner=org.east_rep, name="丙公司")
    ding = CustomerFactory(owner=org.north_other, name="丁公司")

    def contract(owner, customer, status, total, paid, plans):
        made = ContractFactory(
            owner=owner,
            customer=customer,
            status=status,
            total=D(total),
            paid_amount=D(paid),
            signed_date=ago(400),
            end_date=T() + datetime.timedelta(days=400),
        )
        for number, (due, amount, plan_paid) in enumerate(plans, start=1):
            PaymentPlanFactory(contract=made, number=number, due_date=due, amount=D(amount), paid_amount=D(plan_paid))
        return made

    return {
        "C1": contract(
            org.east_rep, jia, S.ACTIVE, "10000", "4000",
            [(ago(30), "5000", "4000"), (ago(1), "1000", "0"), (T() + datetime.timedelta(days=10), "4000", "0")],
        ),
        "C2": contract(
            org.east_rep, jia, S.APPROVED, "8000", "0",
            [(ago(31), "3000", "0"), (ago(60), "2000", "0"), (ago(61), "3000", "0")],
        ),
        "C3": contract(org.east_lead, yi, S.COMPLETED, "5000", "0", [(ago(90), "2500", "0"), (ago(91), "2500", "0")]),
        "C4": contract(org.east_lead, yi, S.VOID, "7000", "0", [(ago(100), "7000", "0")]),
        "C5": contract(org.east_rep, bing, S.DRAFT, "9999", "0", []),
        "C6": contract(org.east_rep, bing, S.ACTIVE, "3000", "3000", [(ago(10), "3000", "3000")]),
        "C7": contract(org.north_other, ding, S.ACTIVE, "1000", "0", [(ago(5), "1000", "0")]),
    }  # fmt: skip


def report(user, group="customer", **filters):
    contracts = selectors.receivable_contracts(user=user)
    if "owner" in filters:
        contracts = contracts.filter(owner=filters["owner"])
    return selectors.receivables_report(contracts=contracts, group=group, today=T())


def ageing(result):
    return {row["bucket"]: (row["count"], row["amount"]) for row in result["ageing"]}


def test_summary_and_rows_by_customer(org, data):
    result = report(org.ceo)
    assert result["summary"] == {
        "contracts": 5,
        "total": D("27000.00"),
        "paid": D("7000.00"),
        "receivable": D("20000.00"),
        "overdue": D("16000.00"),
    }
    assert [(row["name"], row["contracts"], row["receivable"]) for row in result["rows"]] == [
        ("甲公司", 2, D("14000.00")),
        ("乙公司", 1, D("5000.00")),
        ("丁公司", 1, D("1000.00")),
    ]
    jia = result["rows"][0]
    assert (jia["key"], jia["total"], jia["paid"]) == (data["C1"].customer_id, D("18000.00"), D("4000.00"))


def test_rows_by_owner(org, data):
    result = report(org.ceo, group="owner")
    assert [(row["key"], row["contracts"], row["receivable"]) for row in result["rows"]] == [
        (org.east_rep.pk, 3, D("14000.00")),
        (org.east_lead.pk, 1, D("5000.00")),
        (org.north_other.pk, 1, D("1000.00")),
    ]
    assert result["rows"][0]["name"] == org.east_rep.display_name


def test_ageing_buckets_and_their_boundaries(org, data):
    result = report(org.ceo, group="ageing")
    assert result["rows"] == []
    assert ageing(result) == {
        "0-30": (3, D("3000.00")),  # d1, d30 (C1) and d5 (C7)
        "31-60": (2, D("5000.00")),  # d31, d60
        "61-90": (2, D("5500.00")),  # d61, d90
        "90+": (1, D("2500.00")),  # d91
    }


def test_a_department_manager_sees_only_their_departments_receivables(org, data):
    result = report(org.east_manager)
    assert result["summary"]["receivable"] == D("19000.00")
    assert {row["name"] for row in result["rows"]} == {"甲公司", "乙公司"}
    assert ageing(report(org.east_manager))["0-30"] == (2, D("2000.00"))


def test_a_rep_sees_only_their_own(org, data):
    result = report(org.east_rep)
    assert result["summary"]["receivable"] == D("14000.00")
    assert ageing(result) == {
        "0-30": (2, D("2000.00")),
        "31-60": (2, D("5000.00")),
        "61-90": (1, D("3000.00")),
        "90+": (0, D("0.00")),
    }


def test_the_report_through_the_api_with_filters(org, client_for, data):
    client = client_for(org.ceo)
    body = client.get(reverse(URL), {"group": "owner"}).json()
    assert body["summary"]["receivable"] == "20000.00"
    assert [row["receivable"] for row in body["rows"]] == ["14000.00", "5000.00", "1000.00"]
    assert [row["bucket"] for row in body["ageing"]] == ["0-30", "31-60", "61-90", "90+"]

    body = client.get(reverse(URL), {"owner": org.east_lead.pk}).json()
    assert (body["summary"]["receivable"], body["summary"]["overdue"]) == ("5000.00", "5000.00")
    body = client.get(reverse(URL), {"department": org.departments["s1"].pk, "group": "ageing"}).json()
    assert body["summary"]["receivable"] == "19000.00"  # 销售一部 and below: not 华北组's C7
    assert body["ageing"][0] == {"bucket": "0-30", "count": 2, "amount": "2000.00"}

    assert client.get(reverse(URL), {"group": "region"}).status_code == 400
    assert client.get(reverse(URL), {"department": "abc"}).status_code == 400


def test_the_report_makes_a_fixed_number_of_queries(org, client_for, data):
    client = client_for(org.ceo)
    for group in ("customer", "owner", "ageing"):
        with CaptureQueriesContext(connection) as captured:
            assert client.get(reverse(URL), {"group": group}).status_code == 200
        assert len(captured.captured_queries) <= 8, group


@pytest.mark.parametrize("username", sorted(set(EXPECTED) - {"inactive"}))
def test_every_user_sees_exactly_their_scopes_receivables(org, client_for, username):
    """One approved contract per user (plus "moved" and "pool"), totals 1, 2, 4, 8, … and nothing
    paid, so the receivable names exactly the contracts it counted."""
    records = _records(org, PAYMENT)
    expected = D(0)
    for power, (key, payment) in enumerate(sorted(records.items())):
        contract = payment.contract
        type(contract).objects.filter(pk=contract.pk).update(total=D(2**power))
        if key in EXPECTED[username]:
            expected += D(2**power)
    body = client_for(org.users[username]).get(reverse(URL)).json()
    assert D(body["summary"]["receivable"]) == expected
    assert body["summary"]["contracts"] == len(EXPECTED[username])


def test_ageing_applies_confirmed_payments_oldest_instalment_first(org):
    """A contract of 9,000 in three instalments of 3,000 (d100, d50, d10) with 4,000 paid — by
    payments naming no instalment or the newest: the oldest is settled, 2,000 of the middle one
    is open, the newest is open. Overdue 5,000 = the receivable: never more."""
    contract = ContractFactory(
        owner=org.east_rep, status=ContractStatus.ACTIVE, total=D("9000"), paid_amount=D("4000"), signed_date=ago(400)
    )
    PaymentPlanFactory(contract=contract, number=1, due_date=ago(100), amount=D("3000"))
    PaymentPlanFactory(contract=contract, number=2, due_date=ago(50), amount=D("3000"))
    PaymentPlanFactory(contract=contract, number=3, due_date=ago(10), amount=D("3000"))
    result = report(org.east_rep, group="ageing")
    assert ageing(result) == {
        "0-30": (1, D("3000.00")),
        "31-60": (1, D("2000.00")),
        "61-90": (0, D("0.00")),
        "90+": (0, D("0.00")),
    }
    assert result["summary"]["overdue"] == result["summary"]["receivable"] == D("5000.00")


def test_the_api_returns_the_largest_receivables_first_up_to_the_limit(org, client_for, data):
    client = client_for(org.ceo)
    every = client.get(reverse(URL)).json()["rows"]
    assert len(every) >= 3
    assert [row["receivable"] for row in every] == sorted((row["receivable"] for row in every), key=D, reverse=True)
    body = client.get(reverse(URL), {"limit": 2}).json()
    assert body["rows"] == every[:2]
    assert body["summary"] == client.get(reverse(URL)).json()["summary"]  # the summary is over all of them


@pytest.mark.parametrize("limit", ["0", "-1", "1001", "abc"])
def test_a_bad_limit_is_a_400_naming_it(org, client_for, data, limit):
    response = client_for(org.ceo).get(reverse(URL), {"limit": limit})
    assert response.status_code == 400
    assert "limit" in response.json()["error"]["fields"]
