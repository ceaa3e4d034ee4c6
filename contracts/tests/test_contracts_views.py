"""The contract pages as a signed-in user uses them: list (scope, filters, nav), the form with line
items (server totals, per-line errors, pre-filled from a deal), edit (read-only after approval),
the detail page (figures, status actions, renew, delete, registered panels), the customer's 360
panel and timeline, and the deal page's "draft a contract" button."""

import re
from decimal import Decimal

import pytest
from django.urls import reverse

from contracts.models import Contract, ContractStatus
from contracts.tests.factories import ContractFactory, ContractLineFactory, ProductFactory
from contracts.views import contracts as views
from customers.tests.factories import ContactFactory, make_customer
from opportunities.tests.factories import OpportunityFactory, stage

S = ContractStatus
LIST = reverse("contracts:list")
NEW = reverse("contracts:create")


def url(name, *args):
    return reverse(f"contracts:{name}", args=args)


def logged_in(client, user):
    client.force_login(user)
    return client


def text(response):
    return response.content.decode()


@pytest.fixture
def customer(org):
    return make_customer(org.east_rep, name="华东合同客户有限公司")


@pytest.fixture
def product(db):
    return ProductFactory(code="ERP", name="ERP 软件", price=Decimal("1000.00"))


# --- list ---------------------------------------------------------------------------------------


def test_the_list_shows_only_contracts_in_scope_and_filters(org, client):
    ContractFactory(owner=org.east_rep, title="华东合同", number="HT20260101000001", total=Decimal("1234.5"))
    ContractFactory(owner=org.east_rep, title="执行中合同", status=S.ACTIVE, number="HT20260101000002")
    ContractFactory(owner=org.north_other, title="北方合同", number="HT20260101000003")
    client = logged_in(client, org.east_rep)
    page = text(client.get(LIST))
    assert "华东合同" in page and "执行中合同" in page and "北方合同" not in page
    assert "1,234.50" in page
    assert 'href="/contracts/"' in page and "nav-link active" in page
    assert 'class="table-responsive"' in page  # the table scrolls on a phone
    filtered = text(client.get(LIST, {"status": "active"}))
    assert "执行中合同" in filtered and "华东合同" not in filtered
    assert "HT20260101000001" in text(client.get(LIST, {"q": "000001"}))
    # A filter naming someone else's owner shows nothing of theirs; a bad filter is ignored.
    assert "北方合同" not in text(client.get(LIST, {"owner": org.north_other.pk}))
    ignored = text(client.get(LIST, {"amount_min": "abc"}))
    assert "部分筛选条件无效" in ignored and "华东合同" in ignored


def test_the_list_needs_the_view_permission(org, client):
    from staff.tests.factories import RoleFactory

    org.east_rep.roles.set([RoleFactory(name="空角色", data_scope="self")])
    assert logged_in(client, org.east_rep).get(LIST).status_code == 403


# --- form ---------------------------------------------------------------------------------------


def form_data(customer, lines, **extra):
    data = {"customer": customer.pk, "title": "网页合同", "signed_date": "2026-11-22", "remark": "", **extra}
    for name in ("product", "quantity", "unit_price", "discount_rate"):
        data[f"line_{name}"] = [str(line.get(name, "")) for line in lines]
    return data


def test_creating_a_contract_with_lines_computes_the_total_on_the_server(org, client, customer, product):
    page = text(logged_in(client, org.east_rep).get(NEW))
    assert 'id="line-template"' in page and "js/contracts.js" in page and 'data-price="1000.00"' in page
    lines = [
        {"product": product.pk, "quantity": "3", "unit_price": "33.33", "discount_rate": "0.15"},
        {"product": "", "quantity": "", "unit_price": "", "discount_rate": ""},  # a blank row: dropped
        {"product": product.pk, "quantity": "1"},
    ]
    response = client.post(NEW, {**form_data(customer, lines), "total": "1"})
    assert response.status_code == 302, text(response)
    contract = Contract.objects.get()
    assert response["Location"] == url("detail", contract.pk)
    assert contract.total == Decimal("1084.99") and contract.lines.count() == 2
    detail = text(client.get(response["Location"]))
    assert "1,084.99" in detail and contract.number in detail


def test_form_errors_are_shown_per_line_and_nothing_is_saved(org, client, customer, product):
    lines = [{"product": product.pk, "quantity": "1"}, {"product": product.pk, "quantity": "1", "discount_rate": "1.5"}]
    response = logged_in(client, org.east_rep).post(NEW, form_data(customer, lines))
    assert response.status_code == 200
    page = text(response)
    assert "提交的数据有误" in page and "1.5" in page  # the row is kept as typed
    assert page.count('class="invalid-feedback d-block"') == 1
    assert not Contract.objects.exists()


def test_the_form_is_prefilled_from_a_deal(org, client, customer):
    ContactFactory(customer=customer, is_primary=True, name="王经理")
    deal = OpportunityFactory(owner=org.east_rep, customer=customer, title="ERP 项目", amount=Decimal("8800.80"),
                              stage=stage("won"))  # fmt: skip
    page = text(logged_in(client, org.east_rep).get(NEW, {"opportunity": deal.pk}))
    assert 'value="ERP 项目"' in page
    assert re.search(rf'<option value="{customer.pk}" selected>', page)
    assert re.search(rf'<option value="{deal.pk}" selected>', page)
    assert 'value="8800.80"' in page
    assert not Contract.objects.exists()  # nothing saved until the form is posted
    # A deal out of scope pre-fills nothing.
    theirs = OpportunityFactory(owner=org.north_other, title="北方项目", stage=stage("won"))
    assert "北方项目" not in text(client.get(NEW, {"opportunity": theirs.pk}))


def test_editing_replaces_the_lines_and_an_approved_contract_is_read_only(org, client, customer, product):
    client = logged_in(client, org.east_rep)
    client.post(NEW, form_data(customer, [{"product": product.pk, "quantity": "1"}]))
    contract = Contract.objects.get()
    page = text(client.get(url("edit", contract.pk)))
    assert f'name="version" value="{contract.version}"' in page
    response = client.post(
        url("edit", contract.pk),
        {**form_data(customer, [{"product": product.pk, "quantity": "2", "unit_price": "10"}]), "version": 1},
    )
    assert response.status_code == 302
    contract.refresh_from_db()
    assert contract.total == Decimal("20.00") and contract.version == 2
    stale = client.post(url("edit", contract.pk), {**form_data(customer, []), "version": 1})
    assert "已被他人修改" in text(stale)

    approved = ContractFactory(owner=org.east_rep, status=S.APPROVED)
    refused = client.get(url("edit", approved.pk), follow=True)
    assert "不能修改" in text(refused)


# --- detail and actions -------------------------------------------------------------------------


def test_the_detail_page_shows_figures_lines_and_the_actions_of_its_status(org, client):
    contract = ContractFactory(owner=org.east_rep, status=S.ACTIVE, total=Decimal("3000.00"))
    Contract.objects.filter(pk=contract.pk).update(paid_amount=Decimal("1000.00"))
    ContractLineFactory(contract=contract, quantity=Decimal("3"), unit_price=Decimal("1000.00"))
    page = text(logged_in(client, org.east_rep).get(url("detail", contract.pk)))
    assert 'data-figure="paid">1,000.00' in page
    assert 'data-figure="outstanding">2,000.00' in page
    assert "33.33%" in page
    actions = set(re.findall(r'data-action="(\w+)"', page))
    assert actions == {"complete", "terminate", "void"}
    assert "续签" in page and url("edit", contract.pk) not in page

    draft = ContractFactory(owner=org.east_rep)
    page = text(client.get(url("detail", draft.pk)))
    assert set(re.findall(r'data-action="(\w+)"', page)) == {"void"}
    assert url("edit", draft.pk) in page and url("delete", draft.pk) in page


def test_status_actions_from_the_page(org, client):
    client = logged_in(client, org.east_rep)
    contract = ContractFactory(owner=org.east_rep, status=S.APPROVED)
    response = client.post(url("action", contract.pk, "activate"), {"version": 1}, follow=True)
    assert "执行中" in text(response)
    contract.refresh_from_db()
    assert contract.status == S.ACTIVE
    illegal = client.post(url("action", contract.pk, "activate"), {"version": contract.version}, follow=True)
    assert "不能变更为" in text(illegal)
    Contract.objects.filter(pk=contract.pk).update(paid_amount=Decimal("1"))
    refused = client.post(url("action", contract.pk, "void"), {}, follow=True)
    assert "不能作废" in text(refused)
    assert client.post(f"/contracts/{contract.pk}/submit/").status_code == 404  # not this page's action


def test_renew_and_delete_from_the_page(org, client):
    client = logged_in(client, org.east_rep)
    old = ContractFactory(owner=org.east_rep, status=S.COMPLETED)
    response = client.post(url("renew", old.pk))
    renewal = Contract.objects.get(renewed_from=old)
    assert response["Location"] == url("detail", renewal.pk)
    assert old.number in text(client.get(url("detail", renewal.pk)))
    assert client.post(url("delete", renewal.pk))["Location"] == LIST
    assert not Contract.objects.filter(pk=renewal.pk).exists()


def test_pages_and_actions_of_a_contract_out_of_scope_are_404(org, client):
    theirs = ContractFactory(owner=org.north_other, status=S.APPROVED)
    draft = ContractFactory(owner=org.north_other)
    client = logged_in(client, org.east_rep)
    assert client.get(url("detail", theirs.pk)).status_code == 404
    assert client.get(url("edit", draft.pk)).status_code == 404
    assert client.post(url("action", theirs.pk, "activate")).status_code == 404
    assert client.post(url("renew", theirs.pk)).status_code == 404
    assert client.post(url("delete", draft.pk)).status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == S.APPROVED and Contract.objects.count() == 2


def test_registered_panels_render_on_the_contract_page_in_order(org, client, monkeypatch):
    contract = ContractFactory(owner=org.east_rep)

    def panel(request, shown):
        return {"template": "contracts/partials/_customer_contracts.html", "customer": shown.customer,
                "contracts": [shown], "can_add": False}  # fmt: skip

    monkeypatch.setitem(views.CONTRACT_PANELS, "test.panel", panel)

    def button(request, shown):
        return {"template": "contracts/partials/_status.html", "placement": "actions"}

    monkeypatch.setitem(views.CONTRACT_PANELS, "test.none", lambda request, shown: None)
    monkeypatch.setitem(views.CONTRACT_PANELS, "test.button", button)
    page = text(logged_in(client, org.east_rep).get(url("detail", contract.pk)))
    assert 'id="customer-contracts"' in page
    actions = page[page.index('id="contract-actions"') : page.index('id="details"')]
    assert "contract-status-draft" in actions  # the "actions" placement renders in the header bar


# --- the customer's 360 page and the deal page --------------------------------------------------


def test_the_customer_page_lists_its_contracts_in_scope_with_status_total_and_paid(org, client, customer):
    mine = ContractFactory(owner=org.east_rep, customer=customer, status=S.ACTIVE, total=Decimal("5000.00"),
                           number="HT20260101000001")  # fmt: skip
    Contract.objects.filter(pk=mine.pk).update(paid_amount=Decimal("1200.00"))
    ContractFactory(owner=org.north_other, customer=customer, number="HT20260101000099")
    page = text(logged_in(client, org.east_rep).get(reverse("customers:detail", args=[customer.pk])))
    panel = page[page.index('id="customer-contracts"') :]
    assert "HT20260101000001" in panel and "HT20260101000099" not in page
    assert "执行中" in panel and "5,000.00" in panel and "1,200.00" in panel
    assert f"{NEW}?customer={customer.pk}" in panel
    assert 'data-kind="contract"' in page  # the timeline's entries


def test_the_deal_page_offers_a_contract_draft(org, client, customer):
    won = OpportunityFactory(owner=org.east_rep, customer=customer, stage=stage("won"))
    lost = OpportunityFactory(owner=org.east_rep, customer=customer, stage=stage("lost"))
    client = logged_in(client, org.east_rep)
    assert f"{NEW}?opportunity={won.pk}" in text(client.get(reverse("opportunities:detail", args=[won.pk])))
    assert "draft-contract" not in text(client.get(reverse("opportunities:detail", args=[lost.pk])))


def test_the_deal_and_signatory_pickers_follow_the_chosen_customer(org, client, customer):
    ContactFactory(customer=customer, name="王经理")
    OpportunityFactory(owner=org.east_rep, customer=customer, title="本客户商机")
    other = make_customer(org.east_rep, name="别家有限公司")
    ContactFactory(customer=other, name="李总")
    OpportunityFactory(owner=org.east_rep, customer=other, title="别家商机")
    theirs = make_customer(org.north_other, name="北方有限公司")
    ContactFactory(customer=theirs, name="赵总")
    client = logged_in(client, org.east_rep)

    fields = text(client.get(url("customer_fields"), {"customer": customer.pk}))
    assert "王经理" in fields and "本客户商机" in fields
    assert "李总" not in fields and "别家商机" not in fields
    assert "赵总" not in text(client.get(url("customer_fields"), {"customer": theirs.pk}))
    blank = text(client.get(NEW))
    assert "王经理" not in blank and "李总" not in blank  # no customer chosen yet: nothing to pick


def test_the_list_page_runs_a_fixed_number_of_queries(org, client):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = logged_in(client, org.ceo)

    def queries():
        with CaptureQueriesContext(connection) as captured:
            assert client.get(LIST).status_code == 200
        return len(captured)

    for index in range(20):
        ContractFactory(owner=[org.east_rep, org.north_other][index % 2])
    client.get(LIST)
    few = queries()
    for index in range(25):
        ContractFactory(owner=[org.east_rep, org.north_other][index % 2])
    assert queries() == few
