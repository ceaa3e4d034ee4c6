"""Browser journey at phone width (headless Chromium): record a payment, confirm it from the list
with htmx (the row turns 已确认 in place), and the receivables page draws its ageing chart —
every page within the screen."""

import datetime
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone
from playwright.sync_api import expect, sync_playwright

from contracts.models import ContractStatus, Payment, PaymentStatus
from contracts.tests.factories import ContractFactory, PaymentPlanFactory
from crm.tests.test_browser import CHROMIUM, CHROMIUM_ARGS, PASSWORD
from customers.tests.factories import CustomerFactory
from customers.tests.test_browser import PHONE, assert_fits_the_screen, log_in
from staff.models import DataScope, Role
from staff.services import user_create
from staff.tests.factories import DepartmentFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def finance():
    role = Role.objects.create(name="财务", data_scope=DataScope.DEPARTMENT)
    role.permissions.set(Permission.objects.filter(content_type__app_label="contracts"))
    user = user_create(
        username="lixia",
        password=PASSWORD,
        display_name="李霞",
        mobile="13800000006",
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


def test_record_and_confirm_a_payment_and_see_receivables_at_phone_width(finance, browser, live_server):
    today = timezone.localdate()
    contract = ContractFactory(
        owner=finance,
        customer=CustomerFactory(owner=finance, name="福州甲科技有限公司"),
        status=ContractStatus.ACTIVE,
        total=Decimal("12000.00"),
        number="HT20261122000007",
    )
    PaymentPlanFactory(
        contract=contract, number=1, due_date=today - datetime.timedelta(days=40), amount=Decimal("12000")
    )
    page = browser.new_page(viewport=PHONE, is_mobile=True, has_touch=True, locale="zh-CN")
    log_in(page, live_server, "lixia")

    # record a payment from the contract's link
    page.goto(f"{live_server.url}/payments/new/?contract={contract.pk}")
    assert_fits_the_screen(page)
    page.get_by_label("回款金额（元）").fill("5000")
    page.get_by_label("回款方式").select_option("wechat")
    page.get_by_role("button", name="保存").click()
    expect(page.get_by_text("已登记回款，待确认。")).to_be_visible()
    payment = Payment.objects.get()

    # confirm it in the list: the row changes in place
    row = page.locator(f"#payment-{payment.pk}")
    expect(row).to_contain_text("待确认")
    assert_fits_the_screen(page)
    row.get_by_role("button", name="确认").click()
    expect(page.locator(f"#payment-{payment.pk}")).to_contain_text("已确认")
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.CONFIRMED

    # the receivables page: 7,000 open, 40 days overdue (31–60), chart drawn, within the screen
    page.goto(f"{live_server.url}/payments/receivables/")
    expect(page.locator("#summary-receivable")).to_contain_text("7,000.00")
    expect(page.locator("#ageing-table")).to_contain_text("7,000.00")
    expect(page.locator("#ageing-chart canvas")).to_have_count(1)
    assert_fits_the_screen(page)
