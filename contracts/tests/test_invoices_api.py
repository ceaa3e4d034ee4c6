"""Invoice titles and invoices through the API: titles scoped by their customer (every user of
the org), applications copying the title, the invoiced-total cap, issue / ship / void, scope of
the actions, and fixed query counts."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from contracts.models import ContractStatus, Invoice, InvoiceStatus, InvoiceTitle
from contracts.tests.factories import ContractFactory, InvoiceFactory, InvoiceTitleFactory
from crm.tests.test_api_scope import CUSTOMER, EXPECTED, INVOICE, _records

D = Decimal
USERS = sorted(set(EXPECTED) - {"inactive"})
USCC = "91350100M000100Y43"


@pytest.fixture
def contract(org):
    return ContractFactory(owner=org.east_rep, status=ContractStatus.ACTIVE, total=D("10000.00"))


def test_titles_are_created_with_a_checked_tax_number_and_one_default(org, client_for, contract):
    client = client_for(org.east_rep)
    url = reverse("api:invoice-title-list")
    bad = client.post(url, {"customer": contract.customer_id, "title": "甲", "tax_number": "91350100M000100Y44"})
    assert bad.status_code == 400 and "tax_number" in bad.json()["error"]["fields"]
    first = client.post(url, {"customer": contract.customer_id, "title": "甲公司", "tax_number": USCC.lower()})
    assert first.status_code == 201, first.content
    assert (first.json()["tax_number"], first.json()["is_default"]) == (USCC, True)
    second = client.post(url, {"customer": contract.customer_id, "title": "甲公司二", "is_default": True})
    assert second.json()["is_default"] is True
    assert InvoiceTitle.objects.get(pk=first.json()["id"]).is_default is False

    detail = reverse("api:invoice-title-detail", args=[first.json()["id"]])
    changed = client.patch(detail, {"bank": "建设银行", "customer": 999999}, format="json")
    assert changed.status_code == 200 and changed.json()["bank"] == "建设银行"
    assert changed.json()["customer"] == contract.customer_id  # the customer never changes
    assert client.delete(detail).status_code == 204


@pytest.mark.parametrize("username", USERS)
def test_titles_are_seen_through_the_customers_scope(org, client_for, username):
    customers = _records(org, CUSTOMER)
    titles = {key: InvoiceTitleFactory(customer=customer) for key, customer in customers.items()}
    client = client_for(org.users[username])
    listed = {row["id"] for row in client.get(reverse("api:invoice-title-list"), {"page_size": 200}).json()["results"]}
    expected = CUSTOMER.expected(username)
    assert listed == {titles[key].pk for key in expected}
    for key, title in titles.items():
        detail = reverse("api:invoice-title-detail", args=[title.pk])
        response = client.get(detail)
        assert response.status_code == (200 if key in expected else 404), key
        if key not in expected:
            assert client.patch(detail, {"title": "x"}, format="json").status_code == 404
            assert client.delete(detail).status_code == 404
            created = client.post(reverse("api:invoice-title-list"), {"customer": title.customer_id, "title": "x"})
            assert created.status_code == 400 and "customer" in created.json()["error"]["fields"]
    assert InvoiceTitle.objects.count() == len(titles)  # nothing created for hidden customers


def test_an_application_copies_the_title_and_is_capped_at_the_total(org, client_for, contract):
    title = InvoiceTitleFactory(customer=contract.customer, title="甲公司", bank="工行", account="123", phone="0591-1")
    client = client_for(org.east_rep)
    url = reverse("api:invoice-list")
    response = client.post(
        url, {"contract": contract.pk, "invoice_title": title.pk, "amount": "6000", "kind": "special"}
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["title"], body["tax_number"], body["bank"], body["account"], body["phone"], body["status"]) == (
        "甲公司",
        USCC,
        "工行",
        "123",
        "0591-1",
        "applied",
    )
    over = client.post(url, {"contract": contract.pk, "invoice_title": title.pk, "amount": "4000.01"})
    assert over.status_code == 400
    assert over.json()["error"]["code"] == "invoice_over_total"
    assert "4,000.00" in over.json()["error"]["message"]


def test_a_title_outside_scope_answers_like_a_missing_one(org, client_for, contract):
    theirs = InvoiceTitleFactory(customer=ContractFactory(owner=org.north_other).customer)
    client = client_for(org.east_rep)
    url = reverse("api:invoice-list")
    hidden = client.post(url, {"contract": contract.pk, "invoice_title": theirs.pk, "amount": "1"})
    missing = client.post(url, {"contract": contract.pk, "invoice_title": theirs.pk + 1000, "amount": "1"})
    assert hidden.status_code == missing.status_code == 400
    assert hidden.json()["error"]["fields"] == missing.json()["error"]["fields"]


def test_issue_ship_and_void_through_the_api(org, client_for, contract):
    invoice = InvoiceFactory(contract=contract, amount=D("2500.00"))
    client = client_for(org.east_rep)
    issued = client.post(
        reverse("api:invoice-issue", args=[invoice.pk]), {"number": "04400001", "issued_date": "2026-11-20"}
    )
    assert issued.status_code == 200, issued.content
    assert (issued.json()["status"], issued.json()["number"]) == ("issued", "04400001")
    contract.refresh_from_db()
    assert contract.invoiced_amount == D("2500.00")
    shipped = client.post(reverse("api:invoice-ship", args=[invoice.pk]), {"tracking_number": "SF123"})
    assert shipped.json()["tracking_number"] == "SF123"
    assert client.post(reverse("api:invoice-void", args=[invoice.pk])).json()["status"] == "void"
    contract.refresh_from_db()
    assert contract.invoiced_amount == 0


@pytest.mark.parametrize("username", USERS)
def test_invoice_actions_reach_only_invoices_in_scope(org, client_for, username):
    records = _records(org, INVOICE)
    client = client_for(org.users[username])
    for key, invoice in records.items():
        response = client.post(
            reverse("api:invoice-issue", args=[invoice.pk]), {"number": f"N{invoice.pk}", "issued_date": "2026-11-20"}
        )
        invoice.refresh_from_db()
        if key in EXPECTED[username]:
            assert response.status_code == 200, (key, response.content)
            assert (
                client.post(reverse("api:invoice-ship", args=[invoice.pk]), {"tracking_number": "SF"}).status_code
                == 200
            )
        else:
            assert response.status_code == 404, key
            assert invoice.status == InvoiceStatus.APPLIED
            assert (
                client.post(reverse("api:invoice-ship", args=[invoice.pk]), {"tracking_number": "x"}).status_code == 404
            )
            assert client.post(reverse("api:invoice-void", args=[invoice.pk])).status_code == 404


def _queries(client, url):
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, {"page_size": 100})
    assert response.status_code == 200
    return len(captured.captured_queries), len(response.json()["results"])


def test_invoice_and_title_lists_make_a_fixed_number_of_queries(org, client_for):
    client = client_for(org.east_lead)
    for _ in range(5):
        contract = ContractFactory(owner=org.east_rep, status=ContractStatus.ACTIVE)
        InvoiceFactory(contract=contract)
        InvoiceTitleFactory(customer=contract.customer)
    few = [_queries(client, reverse(name)) for name in ("api:invoice-list", "api:invoice-title-list")]
    for _ in range(20):
        contract = ContractFactory(owner=org.east_intern, status=ContractStatus.ACTIVE)
        InvoiceFactory(contract=contract)
        InvoiceTitleFactory(customer=contract.customer)
    many = [_queries(client, reverse(name)) for name in ("api:invoice-list", "api:invoice-title-list")]
    assert [rows for _count, rows in many] == [25, 25]
    assert [count for count, _rows in few] == [count for count, _rows in many]
    assert all(count <= 10 for count, _rows in many)
    assert Invoice.objects.count() == 25
