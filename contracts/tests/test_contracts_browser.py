"""Browser journey on the contract form: headless Debian Chromium (Playwright) against the live
server — from a won deal, "起草合同" opens the form pre-filled; lines are added and removed and the
total follows live (to the fen, half up); the saved contract shows the server's total; at phone
width the form and the list fit the screen."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from playwright.sync_api import expect, sync_playwright

from contracts.models import Contract
from contracts.tests.factories import ProductFactory
from crm.tests.test_browser import CHROMIUM, CHROMIUM_ARGS, PASSWORD
from customers.tests.factories import ContactFactory, make_customer
from customers.tests.test_browser import PHONE, assert_fits_the_screen, log_in
from opportunities.tests.factories import OpportunityFactory, stage
from staff.models import DataScope, Role
from staff.services import user_create
from staff.tests.factories import DepartmentFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def sales_rep():
    role = Role.objects.create(name="销售", data_scope=DataScope.SELF)
    role.permissions.set(
        Permission.objects.filter(content_type__app_label__in=["customers", "opportunities", "contracts"])
    )
    user = user_create(
        username="wangfang",
        password=PASSWORD,
        display_name="王芳",
        mobile="13800000005",
        department=DepartmentFactory(name="华东组"),
    )
    user.roles.set([role])
    return user


@pytest.fixture
def browser(monkeypatch):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


def test_draft_a_contract_from_a_won_deal_with_live_totals(sales_rep, browser, live_server):
    customer = make_customer(sales_rep, name="华东合同客户有限公司")
    ContactFactory(customer=customer, name="王经理", is_primary=True)
    deal = OpportunityFactory(owner=sales_rep, customer=customer, title="ERP 项目", amount=Decimal("8800.80"),
                              stage=stage("won"))  # fmt: skip
    ProductFactory(code="ERP", name="ERP 软件", price=Decimal("33.33"))
    ProductFactory(code="SVC", name="实施服务", price=Decimal("0.05"))

    page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    log_in(page, live_server, "wangfang")
    page.goto(f"{live_server.url}/opportunities/{deal.pk}/")
    page.get_by_role("link", name="起草合同").click()
    expect(page.get_by_role("heading", name="新建合同", level=1)).to_be_visible()
    expect(page.locator("#id_title")).to_have_value("ERP 项目")
    expect(page.locator("#id_signatory option:checked")).to_have_text("王经理")

    rows = page.locator("[data-line]")
    first = rows.nth(0)
    first.locator('[data-field="product"]').select_option(label="ERP ERP 软件（套）")
    # the deal amount was pre-filled as the unit price: 1 × 8,800.80
    expect(page.locator("#contract-total")).to_have_text("8,800.80")
    first.locator('[data-field="quantity"]').fill("3")
    first.locator('[data-field="unit_price"]').fill("33.33")
    first.locator('[data-field="discount_rate"]').fill("0.15")
    expect(first.locator("[data-subtotal]")).to_have_text("84.99")  # 84.9915

    page.get_by_role("button", name="添加一行").click()
    second = rows.nth(1)
    second.locator('[data-field="product"]').select_option(label="SVC 实施服务（套）")
    second.locator('[data-field="discount_rate"]').fill("0.5")
    expect(second.locator("[data-subtotal]")).to_have_text("0.03")  # 0.025, half up, from the list price
    expect(page.locator("#contract-total")).to_have_text("85.02")

    page.get_by_role("button", name="添加一行").click()
    expect(rows).to_have_count(3)
    rows.nth(2).get_by_role("button", name="删除").click()
    expect(rows).to_have_count(2)
    expect(page.locator("#contract-total")).to_have_text("85.02")

    page.get_by_role("button", name="保存").click()
    expect(page.locator('[data-figure="total"]')).to_have_text("85.02")
    contract = Contract.objects.get()
    assert (contract.total, contract.opportunity_id, contract.lines.count()) == (Decimal("85.02"), deal.pk, 2)

    phone = browser.new_page(viewport=PHONE, locale="zh-CN", is_mobile=True, has_touch=True)
    log_in(phone, live_server, "wangfang")
    for path in ("/contracts/", "/contracts/new/", f"/contracts/{contract.pk}/"):
        phone.goto(live_server.url + path)
        assert_fits_the_screen(phone)
