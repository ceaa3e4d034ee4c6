"""The summary page on a phone in headless Chromium: from the reports index to a department's
weekly summary, back a period, and a subscription made from the page."""

import datetime
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone
from playwright.sync_api import expect

from analytics.models import SummaryFrequency, SummarySubscription
from contracts.tests.factories import ContractFactory
from contracts.tests.test_contracts_browser import browser  # noqa: F401 - the Chromium fixture
from crm.tests.test_browser import PASSWORD
from customers.tests.test_browser import PHONE, assert_fits_the_screen, log_in
from staff.models import DataScope, Role
from staff.services import user_create
from staff.tests.factories import DepartmentFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_leader_reads_the_weekly_summary_of_the_team_and_subscribes_on_a_phone(browser, live_server):  # noqa: F811
    department = DepartmentFactory(name="华东组")
    role = Role.objects.create(name="组长", data_scope=DataScope.DEPARTMENT)
    role.permissions.set(Permission.objects.filter(content_type__app_label__in=["customers", "contracts"]))
    leader = user_create(username="liqiang", password=PASSWORD, display_name="李强", mobile="13800000006",
                         department=department)  # fmt: skip
    leader.roles.set([role])
    rep = user_create(username="wangfang", password=PASSWORD, display_name="王芳", mobile="13800000005",
                      department=department)  # fmt: skip
    last_week = timezone.localdate() - datetime.timedelta(days=7)
    ContractFactory(owner=rep, status="approved", signed_date=last_week, total=Decimal("1234567.80"))

    page = browser.new_page(viewport=PHONE, locale="zh-CN", is_mobile=True, has_touch=True)
    log_in(page, live_server, "liqiang")
    page.goto(f"{live_server.url}/reports/")
    page.locator("#report-summaries").click()
    expect(page.locator("#summary-title")).to_have_text("日报 · 李强")
    assert_fits_the_screen(page)

    page.locator("#s-period").select_option("week")
    page.locator("#s-subject").select_option(label="华东组")
    page.get_by_role("button", name="查看").click()
    expect(page.locator("#summary-title")).to_have_text("周报 · 华东组")
    page.locator("#summary-previous").click()
    expect(page.locator('#summary-figures [data-key="contract_amount"]')).to_have_text("¥1,234,567.80")
    assert_fits_the_screen(page)

    page.locator("#sub-frequency").select_option("weekly")
    page.locator("#sub-subject").select_option(label="华东组")
    page.get_by_role("button", name="订阅", exact=True).click()
    expect(page.locator("#summary-subscription-list")).to_contain_text("周报 · 华东组")
    expect(page.locator("#summary-title")).to_have_text("周报 · 华东组")  # back where it was
    assert_fits_the_screen(page)
    subscription = SummarySubscription.objects.get()
    assert (subscription.user, subscription.frequency, subscription.department) == (
        leader,
        SummaryFrequency.WEEKLY,
        department,
    )
