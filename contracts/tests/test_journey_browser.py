"""The contract journey the issue names, end to end in headless Chromium: a sales rep drafts a
contract from a won deal and submits it; the department leader approves it from 我的审批 (the
≤ ¥50,000 default chain: the leader alone); the rep records a payment and the leader, who may
confirm payments, confirms it; the contract page shows it paid in part."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from playwright.sync_api import expect

from approvals.models import ApprovalChain, StepKind
from approvals.tests.factories import make_chain
from contracts.models import Contract, ContractStatus, Payment, PaymentStatus
from contracts.tests.factories import ProductFactory
from contracts.tests.test_contracts_browser import browser  # noqa: F401 - the Chromium fixture
from crm.tests.test_browser import PASSWORD
from customers.models import DealStatus
from customers.tests.factories import ContactFactory, make_customer
from customers.tests.test_browser import log_in
from opportunities.tests.factories import OpportunityFactory, stage
from staff.models import DataScope, Department, Role
from staff.services import user_create
from staff.tests.factories import DepartmentFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SALES_APPS = ["customers", "opportunities", "contracts", "activities"]


@pytest.fixture
def team():
    """华东组: 王芳 (sales, own data) and her leader 李强 (department scope, confirms payments)."""
    department = DepartmentFactory(name="华东组")
    sales = Role.objects.create(name="销售", data_scope=DataScope.SELF)
    sales.permissions.set(
        Permission.objects.filter(content_type__app_label__in=SALES_APPS).exclude(codename="confirm_payment")
    )
    leading = Role.objects.create(name="组长", data_scope=DataScope.DEPARTMENT)
    leading.permissions.set(Permission.objects.filter(content_type__app_label__in=SALES_APPS))
    rep = user_create(username="wangfang", password=PASSWORD, display_name="王芳", mobile="13800000005",
                      department=department)  # fmt: skip
    leader = user_create(username="liqiang", password=PASSWORD, display_name="李强", mobile="13800000006",
                         department=department)  # fmt: skip
    rep.roles.set([sales])
    leader.roles.set([leading])
    Department.objects.filter(pk=department.pk).update(leader=leader)
    if not ApprovalChain.objects.filter(doc_type="contract").exists():  # flushed by a transactional test
        make_chain("contract", max_amount=Decimal("50000.00"), steps=[{"kind": StepKind.LEADER}])
    return rep, leader


def test_draft_from_a_won_deal_submit_approve_record_and_confirm_a_payment(team, browser, live_server):  # noqa: F811
    rep, leader = team
    customer = make_customer(rep, name="华东旅程科技有限公司")
    ContactFactory(customer=customer, name="赵总", is_primary=True)
    deal = OpportunityFactory(owner=rep, customer=customer, title="CRM 项目", amount=Decimal("30000.00"),
                              stage=stage("won"))  # fmt: skip
    ProductFactory(code="CRM", name="CRM 订阅", price=Decimal("10000.00"))

    # The rep drafts the contract from the won deal and submits it.
    page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    log_in(page, live_server, "wangfang")
    page.goto(f"{live_server.url}/opportunities/{deal.pk}/")
    page.get_by_role("link", name="起草合同").click()
    line = page.locator("[data-line]").nth(0)
    line.locator('[data-field="product"]').select_option(label="CRM CRM 订阅（套）")
    line.locator('[data-field="quantity"]').fill("3")
    line.locator('[data-field="unit_price"]').fill("10000")
    line.locator('[data-field="discount_rate"]').fill("0.1")
    expect(page.locator("#contract-total")).to_have_text("27,000.00")
    page.get_by_role("button", name="保存").click()
    expect(page.locator('[data-figure="total"]')).to_have_text("27,000.00")
    contract = Contract.objects.get()
    assert (contract.status, contract.opportunity_id) == (ContractStatus.DRAFT, deal.pk)
    page.get_by_role("button", name="提交审批").click()
    expect(page.locator("#contract-approval")).to_contain_text("李强")  # waiting for the leader
    contract.refresh_from_db()
    assert contract.status == ContractStatus.PENDING

    # The leader approves it from 我的审批.
    boss = browser.new_page(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    log_in(boss, live_server, "liqiang")
    boss.goto(f"{live_server.url}/approvals/")
    expect(boss.get_by_text(contract.number)).to_be_visible()
    boss.goto(f"{live_server.url}/contracts/{contract.pk}/")
    boss.locator("#contract-approval").get_by_role("button", name="同意").click()
    expect(boss.locator("#contract-approval")).to_contain_text("已通过")
    contract.refresh_from_db()
    customer.refresh_from_db()
    assert contract.status == ContractStatus.APPROVED and contract.approved_at is not None
    assert customer.deal_status == DealStatus.WON  # approval marks the customer 已成交

    # The rep records a payment against it; the leader confirms it.
    page.goto(f"{live_server.url}/contracts/{contract.pk}/")
    page.get_by_role("link", name="登记回款").click()
    page.get_by_label("回款金额（元）").fill("10000")
    page.get_by_label("回款方式").select_option("wire")
    page.get_by_role("button", name="保存").click()
    payment = Payment.objects.get()
    assert payment.status == PaymentStatus.UNCONFIRMED
    boss.goto(f"{live_server.url}/payments/")
    boss.locator(f"#payment-{payment.pk}").get_by_role("button", name="确认").click()
    expect(boss.locator(f"#payment-{payment.pk}")).to_contain_text("已确认")

    contract.refresh_from_db()
    assert (contract.paid_amount, contract.outstanding) == (Decimal("10000.00"), Decimal("17000.00"))
    page.goto(f"{live_server.url}/contracts/{contract.pk}/")
    expect(page.locator("body")).to_contain_text("17,000.00")  # outstanding on the contract page
