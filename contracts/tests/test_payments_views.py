"""The payment pages: list (scoped, confirm buttons only for those allowed), confirm / reject /
void with htmx (the row swaps itself) and without, the entry form, the receivables page (chart
data and the same figures in tables), and the contract page's payments panel rendered directly."""

import datetime
import json
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.template.loader import render_to_string
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from contracts.models import ContractStatus, Payment, PaymentStatus
from contracts.tests.factories import ContractFactory, InvoiceFactory, PaymentFactory, PaymentPlanFactory
from contracts.views.payments import contract_payments_panel
from staff.tests.factories import RoleFactory

D = Decimal
HTMX = {"HX-Request": "true"}


@pytest.fixture
def contract(org):
    return ContractFactory(
        owner=org.east_rep, status=ContractStatus.ACTIVE, total=D("10000.00"), number="HT20261122000001"
    )


def login(client, user):
    client.force_login(user)
    return client


def test_the_list_shows_only_payments_in_scope_with_buttons_for_confirmers(org, client, contract):
    mine = PaymentFactory(contract=contract, amount=D("1234.50"))
    theirs = PaymentFactory(contract=ContractFactory(owner=org.north_other, status=ContractStatus.ACTIVE))
    page = login(client, org.east_lead).get(reverse("payments:list")).content.decode()
    assert f'id="payment-{mine.pk}"' in page and f'id="payment-{theirs.pk}"' not in page
    assert "1,234.50" in page  # zh-hans: thousands separated (crm/formats)
    assert reverse("payments:confirm", args=[mine.pk]) in page  # east_lead's role holds every permission

    limited = RoleFactory(
        name="no-confirm", data_scope="self", permissions=list(Permission.objects.exclude(codename="confirm_payment"))
    )
    org.east_rep.roles.set([limited])
    page = login(client, org.east_rep).get(reverse("payments:list")).content.decode()
    assert f'id="payment-{mine.pk}"' in page
    assert reverse("payments:confirm", args=[mine.pk]) not in page


def test_confirm_with_htmx_swaps_the_row(org, client, contract):
    payment = PaymentFactory(contract=contract, amount=D("3000"))
    response = login(client, org.east_lead).post(reverse("payments:confirm", args=[payment.pk]), headers=HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith("<tr") or f'id="payment-{payment.pk}"' in html
    assert "已确认" in html and f'hx-post="{reverse("payments:confirm", args=[payment.pk])}"' not in html
    contract.refresh_from_db()
    assert contract.paid_amount == D("3000.00")


def test_a_refused_confirmation_shows_its_reason_in_the_row(org, client, contract):
    PaymentFactory(contract=contract, amount=D("8000"), status=PaymentStatus.CONFIRMED)
    contract.paid_amount = D("8000")
    contract.save(update_fields=["paid_amount"])
    too_much = PaymentFactory(contract=contract, amount=D("3000"))
    response = login(client, org.east_lead).post(reverse("payments:confirm", args=[too_much.pk]), headers=HTMX)
    assert "2,000.00" in response.content.decode()  # what is still open
    too_much.refresh_from_db()
    assert too_much.status == PaymentStatus.UNCONFIRMED


def test_confirm_without_htmx_redirects_back(org, client, contract):
    payment = PaymentFactory(contract=contract)
    response = login(client, org.east_lead).post(
        reverse("payments:void", args=[payment.pk]), {"next": "/payments/?status=void"}
    )
    assert (response.status_code, response["Location"]) == (302, "/payments/?status=void")
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.VOID


def test_actions_on_a_payment_outside_scope_are_404(org, client):
    theirs = PaymentFactory(contract=ContractFactory(owner=org.north_other, status=ContractStatus.ACTIVE))
    login(client, org.east_manager)
    for name in ("confirm", "reject", "void"):
        assert client.post(reverse(f"payments:{name}", args=[theirs.pk]), headers=HTMX).status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == PaymentStatus.UNCONFIRMED


def test_the_entry_form_records_a_payment_against_an_instalment(org, client, contract):
    plan = PaymentPlanFactory(contract=contract, number=1, amount=D("10000.00"))
    login(client, org.east_rep)
    url = f"{reverse('payments:create')}?contract={contract.pk}"
    page = client.get(url).content.decode()
    assert "HT20261122000001" in page and "第 1 期" in page
    response = client.post(
        url,
        {
            "contract": contract.pk,
            "contract_ref": contract.pk,
            "plan": plan.pk,
            "amount": "2500.00",
            "date": "2026-11-20",
            "method": "wechat",
            "remark": "首款",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    payment = Payment.objects.get()
    assert (payment.plan, payment.amount, payment.method, payment.entered_by) == (
        plan,
        D("2500.00"),
        "wechat",
        org.east_rep,
    )


def test_the_entry_form_shows_the_overpayment_message(org, client, contract):
    login(client, org.east_rep)
    url = f"{reverse('payments:create')}?contract={contract.pk}"
    response = client.post(url, {"contract": contract.pk, "amount": "10000.01", "date": "2026-11-20", "method": "wire"})
    assert response.status_code == 200
    assert "10,000.00" in response.content.decode()
    assert not Payment.objects.exists()


def test_the_entry_form_refuses_a_contract_outside_scope_or_not_approved(org, client):
    login(client, org.east_rep)
    theirs = ContractFactory(owner=org.north_other, status=ContractStatus.ACTIVE)
    draft = ContractFactory(owner=org.east_rep, status=ContractStatus.DRAFT)
    assert client.get(f"{reverse('payments:create')}?contract={theirs.pk}").status_code == 404
    assert client.get(f"{reverse('payments:create')}?contract={draft.pk}").status_code == 404


def test_the_receivables_page_shows_the_chart_data_and_the_same_figures(org, client):
    today = timezone.localdate()
    overdue = ContractFactory(owner=org.east_rep, status=ContractStatus.ACTIVE, total=D("8000.00"))
    PaymentPlanFactory(contract=overdue, number=1, due_date=today - datetime.timedelta(days=45), amount=D("8000"))
    ContractFactory(owner=org.north_other, status=ContractStatus.ACTIVE, total=D("999.00"))  # not east's
    response = login(client, org.east_manager).get(reverse("payments:receivables"))
    assert response.status_code == 200
    html = response.content.decode()
    chart = json.loads(html.split('id="ageing-data" type="application/json">')[1].split("</script>")[0])
    assert chart["amounts"] == ["0.00", "8000.00", "0.00", "0.00"]
    assert "31–60 天" in chart["labels"][1]
    assert "8,000.00" in html.split('id="ageing-table"')[1]
    assert "8,000.00" in html.split('id="summary-receivable"')[1][:60]
    assert "999.00" not in html
    assert "echarts.min.js" in html


def test_the_contract_panel_shows_paid_outstanding_progress_invoiced_plans_payments_invoices(org, contract):
    contract.paid_amount = D("2500.00")
    contract.invoiced_amount = D("4000.00")
    contract.save(update_fields=["paid_amount", "invoiced_amount"])
    PaymentPlanFactory(contract=contract, number=1, amount=D("10000.00"), paid_amount=D("2500.00"))
    waiting = PaymentFactory(contract=contract, amount=D("500.00"))
    InvoiceFactory(contract=contract, amount=D("4000.00"), number="04400001", title="甲公司发票")
    request = RequestFactory().get(f"/contracts/{contract.pk}/")
    request.user = org.east_lead

    panel = contract_payments_panel(request, contract)
    assert panel["template"] == "contracts/payments/_panel.html"
    assert (panel["figures"]["paid"], panel["figures"]["outstanding"], panel["figures"]["progress"]) == (
        D("2500.00"),
        D("7500.00"),
        D("25.00"),
    )
    assert (panel["figures"]["invoiced"], panel["figures"]["awaiting"]) == (D("4000.00"), D("500.00"))
    html = render_to_string(panel["template"], {"panel": panel, "request": request, "perms": None})
    assert "7,500.00" in html and "25.00%" in html and "4,000.00" in html
    assert "甲公司发票" in html and "04400001" in html
    assert reverse("payments:confirm", args=[waiting.pk]) in html

    org.norole.user_permissions.clear()
    request.user = type(org.norole).objects.get(pk=org.norole.pk)
    assert contract_payments_panel(request, contract) is None  # no view_payment


def test_the_list_page_makes_a_fixed_number_of_queries(org, client):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    login(client, org.east_lead)

    def queries():
        with CaptureQueriesContext(connection) as captured:
            assert client.get(reverse("payments:list")).status_code == 200
        return len(captured.captured_queries)

    for _ in range(3):
        PaymentFactory(contract=ContractFactory(owner=org.east_rep, status=ContractStatus.ACTIVE))
    few = queries()
    for _ in range(22):
        PaymentFactory(
            contract=ContractFactory(owner=org.east_intern, status=ContractStatus.ACTIVE),
            plan=None,
            status=PaymentStatus.CONFIRMED,
            confirmed_by=org.east_lead,
        )
    assert queries() == few


def test_the_plan_page_saves_the_whole_plan_and_explains_a_wrong_sum(org, client, contract):
    login(client, org.east_rep)
    url = reverse("payments:plan", args=[contract.pk])
    page = client.get(url).content.decode()
    assert 'name="rows" value="3"' in page  # no instalments yet: three blank rows

    rows = {
        "rows": "3",
        "due_date-0": "2027-03-01", "amount-0": "6000", "reminder_days-0": "5", "remark-0": "尾款",
        "due_date-1": "2027-01-01", "amount-1": "3999.99", "reminder_days-1": "3",
        "due_date-2": "", "amount-2": "", "reminder_days-2": "3",
    }  # fmt: skip
    wrong = client.post(url, rows)
    assert wrong.status_code == 200
    assert "少 0.01 元" in wrong.content.decode()
    assert not contract.payment_plans.exists()

    response = client.post(url, {**rows, "amount-1": "4000"})
    assert response.status_code == 302
    assert [(p.number, str(p.due_date), p.amount, p.reminder_days, p.remark) for p in contract.payment_plans.all()] == [
        (1, "2027-01-01", D("4000.00"), 3, ""),
        (2, "2027-03-01", D("6000.00"), 5, "尾款"),
    ]
    page = client.get(url).content.decode()
    assert 'name="rows" value="5"' in page and 'name="number-1" value="2"' in page


def test_the_plan_page_of_a_contract_outside_scope_or_void_is_404(org, client):
    login(client, org.east_rep)
    theirs = ContractFactory(owner=org.north_other, status=ContractStatus.ACTIVE)
    void = ContractFactory(owner=org.east_rep, status=ContractStatus.VOID)
    assert client.get(reverse("payments:plan", args=[theirs.pk])).status_code == 404
    assert client.post(reverse("payments:plan", args=[void.pk]), {"rows": "0"}).status_code == 404
