"""The report journey the issue names, in headless Chromium: a department manager opens 销售趋势
from the report index, switches to monthly, and downloads the table as .xlsx."""

import datetime
from decimal import Decimal

import openpyxl
import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone
from playwright.sync_api import expect

from contracts.models import ContractStatus, PaymentStatus
from contracts.tests.factories import ContractFactory, PaymentFactory
from contracts.tests.test_contracts_browser import browser  # noqa: F401 - the Chromium fixture
from crm.tests.test_browser import PASSWORD
from customers.tests.test_browser import log_in
from staff.models import DataScope, Role
from staff.services import user_create
from staff.tests.factories import DepartmentFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_open_sales_trend_switch_to_monthly_and_download_the_table(browser, live_server, tmp_path):  # noqa: F811
    east, south = DepartmentFactory(name="华东组"), DepartmentFactory(name="华南组")
    managing = Role.objects.create(name="经理", data_scope=DataScope.DEPARTMENT)
    managing.permissions.set(Permission.objects.filter(content_type__app_label="contracts"))
    manager = user_create(username="zhouli", password=PASSWORD, display_name="周丽", mobile="13800000007",
                          department=east)  # fmt: skip
    other = user_create(username="sunhao", password=PASSWORD, display_name="孙浩", mobile="13800000008",
                        department=south)  # fmt: skip
    manager.roles.set([managing])
    today = timezone.localdate()
    earlier = (today.replace(day=1) - datetime.timedelta(days=1)).replace(day=10)  # the month before
    this_month = ContractFactory(owner=manager, signed_date=today, total=Decimal("12345.00"),
                                 status=ContractStatus.APPROVED)  # fmt: skip
    ContractFactory(owner=manager, signed_date=earlier, total=Decimal("2000.00"), status=ContractStatus.ACTIVE)
    ContractFactory(owner=other, signed_date=today, total=Decimal("99999.00"), status=ContractStatus.APPROVED)
    PaymentFactory(contract=this_month, amount=Decimal("5000.00"), date=today, status=PaymentStatus.CONFIRMED)

    page = browser.new_page(viewport={"width": 390, "height": 844}, locale="zh-CN", accept_downloads=True)
    log_in(page, live_server, "zhouli")
    page.goto(f"{live_server.url}/reports/")
    page.get_by_role("link", name="销售趋势").click()
    # Daily by default: the last 30 days, today's sale on today's row.
    expect(page.locator("#f-period")).to_have_value("day")
    expect(page.locator("#report-table")).to_contain_text(today.isoformat())
    expect(page.locator("#report-chart canvas")).to_have_count(1)

    page.locator("#f-period").select_option("month")
    page.get_by_role("button", name="查询").click()
    expect(page.locator("#f-period")).to_have_value("month")
    this_row = page.locator("#report-table tbody tr", has_text=f"{today:%Y-%m}")
    expect(this_row.locator('[data-key="contract_amount"]')).to_have_text("12,345.00")
    expect(this_row.locator('[data-key="contract_previous"]')).to_have_text("2,000.00")
    expect(this_row.locator('[data-key="payment_amount"]')).to_have_text("5,000.00")
    expect(page.locator('#report-summary [data-key="contract_amount"]')).to_have_text("¥14,345.00")  # never 华南组's

    with page.expect_download() as download_info:
        page.locator("#report-download").click()
    download = download_info.value
    assert download.suggested_filename.startswith("销售趋势_") and download.suggested_filename.endswith(".xlsx")
    path = tmp_path / "trend.xlsx"
    download.save_as(path)
    rows = list(openpyxl.load_workbook(path).active.values)
    assert rows[0][:3] == ("周期", "合同数", "合同金额")
    assert len(rows) == 1 + 12  # the header and twelve months
    by_month = {row[0]: row for row in rows[1:]}
    assert by_month[f"{today:%Y-%m}"][1:4] == (1, 12345, 2000)
