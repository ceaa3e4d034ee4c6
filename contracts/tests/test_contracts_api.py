"""The product and contract API as the mini-program uses it: field names, totals computed by the
server, PATCH with versions, read-only after approval, the status actions, renew, drafts from
deals, filters, a fixed number of queries on the list, and scope on every endpoint (404 outside
it, the list never shows it, filters cannot widen it)."""

import datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from contracts.models import Contract, ContractStatus, Product
from contracts.tests.factories import ContractFactory, ContractLineFactory, ProductFactory
from customers.tests.factories import ContactFactory, make_customer
from opportunities.tests.factories import OpportunityFactory, stage

S = ContractStatus
LIST = reverse("api:contract-list")
PRODUCTS = reverse("api:product-list")
FROM_DEAL = reverse("api:contract-from-opportunity")
ACTIONS = ["activate", "complete", "terminate", "void", "renew"]


def detail(pk):
    return reverse("api:contract-detail", args=[pk])


def act(pk, name):
    return reverse(f"api:contract-{name}", args=[pk])


@pytest.fixture
def customer(org):
    return make_customer(org.east_rep, name="华东合同客户有限公司")


@pytest.fixture
def product(db):
    return ProductFactory(code="ERP", name="ERP 软件", price=Decimal("1000.00"))


def payload(customer, product, **extra):
    return {
        "customer": customer.pk,
        "title": "年度框架合同",
        "lines": [{"product": product.pk, "quantity": "3", "unit_price": "33.33", "discount_rate": "0.15"}],
        "signed_date": "2026-11-22",
        "start_date": "2026-12-01",
        "end_date": "2027-11-30",
        **extra,
    }


# --- products -----------------------------------------------------------------------------------


def test_products_are_read_by_everyone_and_written_with_the_model_permission(org, client_for, product):
    from django.contrib.auth.models import Permission

    from staff.tests.factories import RoleFactory

    role = RoleFactory(name="只读销售", data_scope="self")
    role.permissions.set(Permission.objects.filter(codename="view_contract"))
    org.east_rep.roles.set([role])
    rep = client_for(org.east_rep)
    listed = rep.get(PRODUCTS)
    assert listed.status_code == 200
    assert listed.json()["results"][0] == {
        "id": product.pk, "code": "ERP", "name": "ERP 软件", "category": "软件", "unit": "套", "price": "1000.00",
        "active": True,
    }  # fmt: skip
    assert rep.post(PRODUCTS, {"code": "X", "name": "x"}, format="json").status_code == 403
    assert rep.patch(reverse("api:product-detail", args=[product.pk]), {"price": "1"}, format="json").status_code == 403

    admin = client_for(org.admin)
    created = admin.post(PRODUCTS, {"code": "CRM", "name": "CRM 订阅", "unit": "年", "price": "19800"}, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["price"] == "19800.00" and created.json()["active"] is True
    duplicate = admin.post(PRODUCTS, {"code": "CRM", "name": "重复"}, format="json")
    assert duplicate.status_code == 400 and duplicate.json()["error"]["code"] == "duplicate_code"
    assert "code" in duplicate.json()["error"]["fields"]
    changed = admin.patch(reverse("api:product-detail", args=[product.pk]), {"active": False}, format="json")
    assert changed.status_code == 200 and changed.json()["active"] is False
    assert [row["code"] for row in rep.get(PRODUCTS, {"active": "true"}).json()["results"]] == ["CRM"]
    ContractLineFactory(product=product, contract=ContractFactory(owner=org.east_rep))
    in_use = admin.delete(reverse("api:product-detail", args=[product.pk]))
    assert in_use.status_code == 409 and in_use.json()["error"]["code"] == "in_use"
    assert Product.objects.filter(pk=product.pk).exists()


# --- create, read, update, delete ---------------------------------------------------------------


def test_create_returns_the_issue_field_names_and_a_server_computed_total(org, client_for, customer, product):
    response = client_for(org.east_rep).post(LIST, payload(customer, product, total="999999.00"), format="json")
    assert response.status_code == 201, response.content
    data = response.json()
    issue_fields = {
        "id", "number", "customer", "opportunity", "title", "lines", "total", "signed_date", "start_date",
        "end_date", "owner", "signatory", "status", "paid", "outstanding", "version",
    }  # fmt: skip
    assert issue_fields <= set(data)
    assert data["total"] == "84.99" and data["paid"] == "0.00" and data["outstanding"] == "84.99"
    assert data["lines"] == [
        {"product": product.pk, "product_name": "ERP 软件", "quantity": "3.00", "unit_price": "33.33",
         "discount_rate": "0.1500", "subtotal": "84.99"}
    ]  # fmt: skip
    assert (data["status"], data["owner"], data["version"]) == ("draft", org.east_rep.pk, 1)
    assert data["number"].startswith("HT") and len(data["number"]) == 16
    assert Contract.objects.get(pk=data["id"]).total == Decimal("84.99")


def test_create_errors_use_the_shared_shape(org, client_for, customer, product):
    client = client_for(org.east_rep)
    missing = client.post(LIST, {"lines": []}, format="json")
    assert missing.status_code == 400 and set(missing.json()["error"]["fields"]) == {"customer", "title"}
    bad_line = client.post(
        LIST,
        payload(customer, product, lines=[{"product": product.pk, "quantity": "1", "discount_rate": "2"}]),
        format="json",
    )
    assert bad_line.status_code == 400
    assert "discount_rate" in bad_line.json()["error"]["fields"]["lines"][0]
    unknown = client.post(LIST, payload(customer, product, lines=[{"product": 10**9, "quantity": "1"}]), format="json")
    assert unknown.status_code == 400 and "product" in unknown.json()["error"]["fields"]["lines"][0]
    backwards = client.post(LIST, payload(customer, product, end_date="2026-01-01"), format="json")
    assert backwards.status_code == 400 and "end_date" in backwards.json()["error"]["fields"]
    assert not Contract.objects.exists()


def test_patch_needs_the_version_replaces_lines_and_409s_when_stale(org, client_for, customer, product):
    client = client_for(org.east_rep)
    contract = client.post(LIST, payload(customer, product), format="json").json()
    url = detail(contract["id"])
    assert client.patch(url, {"title": "新名"}, format="json").status_code == 400
    changed = client.patch(
        url,
        {"version": 1, "title": "新名", "lines": [{"product": product.pk, "quantity": "2"}], "total": "1"},
        format="json",
    )
    assert changed.status_code == 200, changed.content
    assert (changed.json()["title"], changed.json()["total"], changed.json()["version"]) == ("新名", "2000.00", 2)
    stale = client.patch(url, {"version": 1, "title": "旧"}, format="json")
    assert stale.status_code == 409
    assert client.put(url, {"title": "x"}, format="json").status_code == 405


@pytest.mark.parametrize("status", [S.PENDING, S.APPROVED, S.ACTIVE, S.COMPLETED, S.VOID])
def test_approved_or_later_contracts_are_read_only(org, client_for, status):
    contract = ContractFactory(owner=org.east_rep, status=status, title="原名")
    response = client_for(org.east_rep).patch(detail(contract.pk), {"version": 1, "title": "改"}, format="json")
    assert response.status_code == 400 and response.json()["error"]["code"] == "read_only"
    contract.refresh_from_db()
    assert contract.title == "原名"


def test_delete_only_drafts(org, client_for):
    client = client_for(org.east_rep)
    draft = ContractFactory(owner=org.east_rep)
    approved = ContractFactory(owner=org.east_rep, status=S.APPROVED)
    assert client.delete(detail(draft.pk)).status_code == 204
    refused = client.delete(detail(approved.pk))
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "not_draft"
    assert Contract.objects.filter(pk=approved.pk).exists()


# --- status actions -----------------------------------------------------------------------------


def test_status_actions_follow_the_machine(org, client_for):
    client = client_for(org.east_rep)
    contract = ContractFactory(owner=org.east_rep, status=S.APPROVED)
    illegal = client.post(act(contract.pk, "complete"), {}, format="json")
    assert illegal.status_code == 400 and illegal.json()["error"]["code"] == "illegal_transition"
    assert client.post(act(contract.pk, "activate"), {"version": 9}, format="json").status_code == 409
    active = client.post(act(contract.pk, "activate"), {"version": 1}, format="json")
    assert active.status_code == 200 and active.json()["status"] == "active"
    assert client.post(act(contract.pk, "complete"), {}, format="json").json()["status"] == "completed"
    other = ContractFactory(owner=org.east_rep, status=S.ACTIVE)
    assert client.post(act(other.pk, "terminate"), {}, format="json").json()["status"] == "terminated"


def test_void_is_refused_once_payments_are_confirmed(org, client_for):
    client = client_for(org.east_rep)
    paid = ContractFactory(owner=org.east_rep, status=S.ACTIVE)
    Contract.objects.filter(pk=paid.pk).update(paid_amount=Decimal("500.00"))
    refused = client.post(act(paid.pk, "void"), {}, format="json")
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "has_payments"
    unpaid = ContractFactory(owner=org.east_rep, status=S.APPROVED)
    voided = client.post(act(unpaid.pk, "void"), {}, format="json")
    assert voided.status_code == 200 and voided.json()["status"] == "void" and voided.json()["voided_at"]


def test_paid_outstanding_and_progress(org, client_for):
    contract = ContractFactory(owner=org.east_rep, status=S.ACTIVE, total=Decimal("3000.00"))
    Contract.objects.filter(pk=contract.pk).update(paid_amount=Decimal("1000.00"))
    data = client_for(org.east_rep).get(detail(contract.pk)).json()
    assert (data["paid"], data["outstanding"], data["progress"]) == ("1000.00", "2000.00", "33.33")


def test_renew_drafts_the_next_contract(org, client_for):
    old = ContractFactory(
        owner=org.east_rep, status=S.ACTIVE, start_date=datetime.date(2026, 1, 1), end_date=datetime.date(2026, 6, 30)
    )
    ContractLineFactory(contract=old, quantity=Decimal("2"), unit_price=Decimal("10.00"), discount_rate=Decimal("0.5"))
    client = client_for(org.east_rep)
    response = client.post(act(old.pk, "renew"))
    assert response.status_code == 201, response.content
    data = response.json()
    assert (data["status"], data["renewed_from"], data["total"]) == ("draft", old.pk, "10.00")
    assert (data["start_date"], data["end_date"]) == ("2026-07-01", "2026-12-31")
    again = client.post(act(old.pk, "renew"))
    assert again.status_code == 409 and again.json()["error"]["code"] == "already_renewed"


# --- drafts from deals --------------------------------------------------------------------------


def test_a_draft_from_a_deal(org, client_for, customer, product):
    ContactFactory(customer=customer, is_primary=True)
    deal = OpportunityFactory(owner=org.east_rep, customer=customer, amount=Decimal("5000"), stage=stage("won"))
    client = client_for(org.east_rep)
    response = client.post(FROM_DEAL, {"opportunity": deal.pk, "product": product.pk}, format="json")
    assert response.status_code == 201, response.content
    data = response.json()
    assert (data["customer"], data["opportunity"], data["title"], data["total"]) == (
        customer.pk, deal.pk, deal.title, "5000.00",
    )  # fmt: skip
    moved = client.post(
        reverse("api:opportunity-move", args=[OpportunityFactory(owner=org.east_rep, customer=customer).pk]),
        {"stage": stage("won").pk, "version": 1},
        format="json",
    )
    assert moved.json()["won_actions"]["draft_contract_api"] == FROM_DEAL


def test_a_draft_from_a_deal_out_of_scope_answers_like_a_missing_one(org, client_for):
    theirs = OpportunityFactory(owner=org.north_other, stage=stage("won"))
    client = client_for(org.east_rep)
    hidden = client.post(FROM_DEAL, {"opportunity": theirs.pk}, format="json")
    missing = client.post(FROM_DEAL, {"opportunity": theirs.pk + 10_000}, format="json")
    assert hidden.status_code == missing.status_code == 400
    assert hidden.json() == missing.json()
    assert not Contract.objects.exists()


# --- scope on every endpoint --------------------------------------------------------------------


def test_every_endpoint_answers_404_outside_scope_and_changes_nothing(org, client_for):
    theirs = ContractFactory(owner=org.north_other, status=S.APPROVED, title="北方合同")
    draft = ContractFactory(owner=org.north_other, title="北方草稿")
    client = client_for(org.east_rep)
    assert client.get(detail(theirs.pk)).status_code == 404
    assert client.patch(detail(draft.pk), {"version": 1, "title": "x"}, format="json").status_code == 404
    assert client.delete(detail(draft.pk)).status_code == 404
    for name in ACTIONS:
        response = client.post(act(theirs.pk, name), {}, format="json")
        assert response.status_code == 404, name
        assert response.json()["error"]["code"] == "not_found"
    theirs.refresh_from_db()
    draft.refresh_from_db()
    assert (theirs.status, theirs.version, draft.title) == (S.APPROVED, 1, "北方草稿")
    assert Contract.objects.count() == 2  # no renewal drafted


def test_the_list_and_its_filters_stay_in_scope(org, client_for):
    mine = ContractFactory(owner=org.east_rep, title="合同甲", total=Decimal("100"))
    ContractFactory(owner=org.north_other, title="合同乙", total=Decimal("100"))
    client = client_for(org.east_rep)
    assert [row["id"] for row in client.get(LIST).json()["results"]] == [mine.pk]
    assert [row["id"] for row in client.get(LIST, {"q": "合同"}).json()["results"]] == [mine.pk]
    # Filtering on someone else's owner or department does not reveal their contracts.
    assert client.get(LIST, {"owner": org.north_other.pk}).json()["results"] == []
    assert client.get(LIST, {"department": org.departments["north"].pk}).json()["results"] == []
    assert client.get(LIST, {"status": "draft", "amount_min": 0}).json()["count"] == 1


def test_filtering_by_an_out_of_scope_customer_answers_like_a_missing_one(org, client_for):
    theirs = ContractFactory(owner=org.north_other)
    client = client_for(org.east_rep)
    hidden = client.get(LIST, {"customer": theirs.customer_id})
    missing = client.get(LIST, {"customer": theirs.customer_id + 10_000})
    assert hidden.status_code == missing.status_code == 400
    assert hidden.json()["error"]["fields"]["customer"] == missing.json()["error"]["fields"]["customer"]


def test_list_filters(org, client_for):
    rep = org.east_rep
    small = ContractFactory(owner=rep, total=Decimal("100"), status=S.DRAFT, signed_date=datetime.date(2026, 3, 1),
                            number="HT20260301000001", title="小单")  # fmt: skip
    big = ContractFactory(owner=rep, total=Decimal("90000"), status=S.ACTIVE, signed_date=datetime.date(2026, 6, 1),
                          number="HT20260601000001", title="大单")  # fmt: skip
    client = client_for(rep)

    def ids(**params):
        response = client.get(LIST, params)
        assert response.status_code == 200, response.content
        return {row["id"] for row in response.json()["results"]}

    assert ids(status="active") == {big.pk}
    assert ids(status=["active", "draft"]) == {small.pk, big.pk}
    assert ids(amount_min="1000") == {big.pk}
    assert ids(amount_max="1000") == {small.pk}
    assert ids(signed_after="2026-05-01") == {big.pk}
    assert ids(signed_before="2026-05-01") == {small.pk}
    assert ids(q="20260301") == {small.pk}
    assert ids(q="大单") == {big.pk}
    assert ids(customer=small.customer_id) == {small.pk}
    assert ids(owner=rep.pk) == {small.pk, big.pk}
    assert ids(department=org.departments["s1"].pk) == {small.pk, big.pk}  # with the departments below
    assert client.get(LIST, {"status": "nonsense"}).status_code == 400
    assert client.get(LIST, {"ordering": "-total"}).json()["results"][0]["id"] == big.pk


def test_the_list_runs_a_fixed_number_of_queries(org, client_for):
    client = client_for(org.ceo)

    def make(count):
        for index in range(count):
            contract = ContractFactory(owner=[org.east_rep, org.north_other][index % 2])
            ContractLineFactory(contract=contract)
            ContractLineFactory(contract=contract)

    def queries():
        with CaptureQueriesContext(connection) as captured:
            response = client.get(LIST)
        return len(captured), len(response.json()["results"])

    make(20)
    client.get(LIST)
    few = queries()
    make(25)
    many = queries()
    assert (few[1], many[1]) == (20, 45)
    assert few[0] == many[0], (few, many)


@pytest.mark.parametrize("follow", [False, True])
def test_customer_transfer_takes_live_contracts_when_asked(org, client_for, customer, follow):
    """The API's transfer passes ``contracts`` to the contracts follower: live contracts move, a
    pending one stays (its approval was routed by the old owner's department)."""
    draft = ContractFactory(customer=customer, owner=org.east_rep, status=ContractStatus.DRAFT)
    active = ContractFactory(customer=customer, owner=org.east_rep, status=ContractStatus.ACTIVE)
    pending = ContractFactory(customer=customer, owner=org.east_rep, status=ContractStatus.PENDING)
    response = client_for(org.east_lead).post(
        reverse("api:customer-transfer"),
        {"customers": [customer.pk], "to_owner": org.east_intern.pk, "reason": "离职交接"}
        | ({"contracts": True} if follow else {}),
        format="json",
    )
    assert response.status_code == 200, response.content
    for contract in (draft, active, pending):
        contract.refresh_from_db()
    expected = org.east_intern if follow else org.east_rep
    assert (draft.owner, active.owner, pending.owner) == (expected, expected, org.east_rep)
