"""The payment plan and payment endpoints: shapes, rules surfacing as clear 400s, the confirm
permission, scope on every action for every user of the org, and fixed query counts."""

import datetime
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from contracts.models import ContractStatus, Payment, PaymentPlan, PaymentStatus
from contracts.tests.factories import ContractFactory, PaymentFactory, PaymentPlanFactory
from crm.tests.test_api_scope import EXPECTED, PAYMENT, PAYMENT_PLAN, _records
from staff.tests.factories import RoleFactory

D = Decimal
USERS = sorted(set(EXPECTED) - {"inactive"})
PAYMENT_FIELDS = {
    "id", "contract", "plan", "amount", "date", "method", "confirmed",
    "status", "entered_by", "confirmed_by", "confirmed_at", "remark",
}  # fmt: skip


def today():
    return timezone.localdate()


@pytest.fixture
def contract(org):
    return ContractFactory(owner=org.east_rep, status=ContractStatus.APPROVED, total=D("10000.00"))


def post_payment(client, contract, amount, **extra):
    body = {"contract": contract.pk, "amount": amount, "date": str(today()), "method": "wire", **extra}
    return client.post(reverse("api:payment-list"), body, format="json")


def test_a_payment_is_recorded_with_exactly_the_documented_fields(org, client_for, contract):
    response = post_payment(client_for(org.east_rep), contract, "1234.56", remark="首款")
    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == PAYMENT_FIELDS
    assert body["amount"] == "1234.56"
    assert (body["confirmed"], body["status"], body["entered_by"], body["confirmed_by"]) == (
        False,
        "unconfirmed",
        org.east_rep.pk,
        None,
    )


@pytest.mark.parametrize("status", [ContractStatus.DRAFT, ContractStatus.VOID])
def test_a_payment_against_a_draft_or_void_contract_is_a_clear_400(org, client_for, status):
    contract = ContractFactory(owner=org.east_rep, status=status)
    response = post_payment(client_for(org.east_rep), contract, "100")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "contract_not_approved"
    assert "审批通过" in error["message"]
    assert not Payment.objects.exists()


def test_overpayment_is_a_400_showing_the_outstanding_amount(org, client_for, contract):
    client = client_for(org.east_rep)
    assert post_payment(client, contract, "9000").status_code == 201
    response = post_payment(client, contract, "1000.01")
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], error["outstanding"]) == ("overpayment", "1000.00")
    assert "1,000.00" in error["message"] and "amount" in error["fields"]


@pytest.mark.parametrize("amount", ["0", "-5", "1.001", "abc"])
def test_bad_amounts_are_400(org, client_for, contract, amount):
    assert post_payment(client_for(org.east_rep), contract, amount).status_code == 400
    assert not Payment.objects.exists()


def test_a_contract_outside_scope_answers_like_a_missing_one(org, client_for):
    theirs = ContractFactory(owner=org.north_other, status=ContractStatus.APPROVED)
    client = client_for(org.east_rep)
    hidden = post_payment(client, theirs, "100")
    missing = client.post(
        reverse("api:payment-list"),
        {"contract": theirs.pk + 10_000, "amount": "100", "date": str(today()), "method": "wire"},
        format="json",
    )
    assert hidden.status_code == missing.status_code == 400
    assert hidden.json()["error"]["fields"]["contract"] == missing.json()["error"]["fields"]["contract"]
    assert not Payment.objects.exists()


def test_payments_cannot_be_edited_or_deleted(org, client_for, contract):
    payment = PaymentFactory(contract=contract)
    client = client_for(org.ceo)
    url = reverse("api:payment-detail", args=[payment.pk])
    assert client.patch(url, {"amount": "1"}, format="json").status_code == 405
    assert client.delete(url).status_code == 405


def test_confirm_needs_the_permission_and_then_updates_the_figures(org, client_for, contract):
    payment = PaymentFactory(contract=contract, amount=D("2500.00"))
    # east_manager's role may do everything but confirm payments
    limited = RoleFactory(
        name="no-confirm",
        data_scope="department",
        permissions=list(Permission.objects.exclude(codename="confirm_payment")),
    )
    org.east_manager.roles.set([limited])
    url = reverse("api:payment-confirm", args=[payment.pk])
    response = client_for(org.east_manager).post(url)
    assert response.status_code == 403
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.UNCONFIRMED

    response = client_for(org.s1_director).post(url)
    assert response.status_code == 200, response.content
    assert (response.json()["confirmed"], response.json()["confirmed_by"]) == (True, org.s1_director.pk)
    contract.refresh_from_db()
    assert contract.paid_amount == D("2500.00")
    assert client_for(org.s1_director).post(url).status_code == 409  # confirmed once


def test_reject_and_void(org, client_for, contract):
    client = client_for(org.ceo)
    rejected = PaymentFactory(contract=contract)
    response = client.post(reverse("api:payment-reject", args=[rejected.pk]), {"remark": "未到账"}, format="json")
    assert (response.status_code, response.json()["status"]) == (200, "rejected")
    confirmed = PaymentFactory(contract=contract, amount=D("3000"))
    client.post(reverse("api:payment-confirm", args=[confirmed.pk]))
    response = client.post(reverse("api:payment-void", args=[confirmed.pk]))
    assert (response.status_code, response.json()["status"]) == (200, "void")
    contract.refresh_from_db()
    assert contract.paid_amount == 0


def test_payment_list_filters(org, client_for, contract):
    confirmed = PaymentFactory(contract=contract, status=PaymentStatus.CONFIRMED)
    open_one = PaymentFactory(contract=contract)
    PaymentFactory(contract=ContractFactory(owner=org.east_rep, status=ContractStatus.ACTIVE))
    client = client_for(org.east_rep)
    url = reverse("api:payment-list")
    ids = lambda params: {row["id"] for row in client.get(url, params).json()["results"]}  # noqa: E731
    assert ids({"contract": contract.pk}) == {confirmed.pk, open_one.pk}
    assert ids({"contract": contract.pk, "confirmed": "true"}) == {confirmed.pk}
    assert ids({"contract": contract.pk, "status": "unconfirmed"}) == {open_one.pk}


# --- payment plans ------------------------------------------------------------------------------


def test_set_plan_replaces_the_plan_and_explains_a_wrong_sum(org, client_for, contract):
    client = client_for(org.east_rep)
    url = reverse("api:payment-plan-set")
    due = today() + datetime.timedelta(days=30)
    wrong = client.post(
        url,
        {"contract": contract.pk, "instalments": [{"due_date": str(due), "amount": "9999.99"}]},
        format="json",
    )
    assert wrong.status_code == 400
    assert wrong.json()["error"]["code"] == "plan_sum_mismatch"
    assert "少 0.01 元" in wrong.json()["error"]["message"]

    response = client.post(
        url,
        {
            "contract": contract.pk,
            "instalments": [
                {"due_date": str(due + datetime.timedelta(days=30)), "amount": "6000", "reminder_days": 5},
                {"due_date": str(due), "amount": "4000", "remark": "首付"},
            ],
        },
        format="json",
    )
    assert response.status_code == 200, response.content
    rows = response.json()
    assert [(r["number"], r["amount"], r["reminder_days"], r["status"]) for r in rows] == [
        (1, "4000.00", 3, "pending"),
        (2, "6000.00", 5, "pending"),
    ]
    listed = client.get(reverse("api:payment-plan-list"), {"contract": contract.pk}).json()["results"]
    assert {row["id"] for row in listed} == {row["id"] for row in rows}


@pytest.mark.parametrize("username", USERS)
def test_set_plan_reaches_only_contracts_in_scope(org, client_for, username):
    records = _records(org, PAYMENT_PLAN)
    client = client_for(org.users[username])
    for key, plan in records.items():
        contract = plan.contract
        body = {
            "contract": contract.pk,
            "instalments": [{"number": 1, "due_date": str(today()), "amount": str(contract.total)}],
        }
        response = client.post(reverse("api:payment-plan-set"), body, format="json")
        if key in EXPECTED[username]:
            assert response.status_code == 200, (key, response.content)
        else:
            assert response.status_code == 400, (key, response.status_code)
            assert "contract" in response.json()["error"]["fields"]


@pytest.mark.parametrize("username", USERS)
def test_confirm_reject_and_void_reach_only_payments_in_scope(org, client_for, username):
    records = _records(org, PAYMENT)
    client = client_for(org.users[username])
    for index, (key, payment) in enumerate(sorted(records.items())):
        action = ("confirm", "reject", "void")[index % 3]
        response = client.post(reverse(f"api:payment-{action}", args=[payment.pk]))
        payment.refresh_from_db()
        if key in EXPECTED[username]:
            assert response.status_code == 200, (key, action, response.content)
        else:
            assert response.status_code == 404, (key, action, response.status_code)
            assert payment.status == PaymentStatus.UNCONFIRMED


# --- query counts -------------------------------------------------------------------------------


def _queries(client, url, params=None):
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, {"page_size": 100, **(params or {})})
    assert response.status_code == 200
    return len(captured.captured_queries), len(response.json()["results"])


def test_payment_list_makes_a_fixed_number_of_queries(org, client_for):
    client = client_for(org.east_lead)
    url = reverse("api:payment-list")
    for _ in range(5):
        PaymentFactory(contract=ContractFactory(owner=org.east_rep, status=ContractStatus.APPROVED))
    few, rows = _queries(client, url)
    assert rows == 5
    for _ in range(20):
        PaymentFactory(contract=ContractFactory(owner=org.east_intern, status=ContractStatus.ACTIVE))
    many, rows = _queries(client, url)
    assert rows == 25
    assert few == many <= 10


def test_payment_plan_list_makes_a_fixed_number_of_queries(org, client_for):
    client = client_for(org.east_lead)
    url = reverse("api:payment-plan-list")
    for number in range(1, 6):
        PaymentPlanFactory(contract=ContractFactory(owner=org.east_rep), number=number)
    few, rows = _queries(client, url)
    for number in range(1, 21):
        PaymentPlanFactory(contract=ContractFactory(owner=org.east_intern), number=number)
    many, rows = _queries(client, url)
    assert rows == 25
    assert few == many <= 10
    assert PaymentPlan.objects.count() == 25
