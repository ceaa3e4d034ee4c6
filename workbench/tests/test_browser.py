"""The workbench at phone width in headless Chromium: a rep's tiles fit the screen and lead to
their lists; a department manager also sees the team's tiles and the funnel chart."""

import datetime
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone
from playwright.sync_api import expect

from contracts.tests.test_contracts_browser import browser  # noqa: F401 - the Chromium fixture
from crm.tests.test_browser import PASSWORD
from customers.tests.factories import CustomerFactory
from customers.tests.test_browser import assert_fits_the_screen, log_in
from opportunities.tests.factories import OpportunityFactory, stage
from pool.tests.factories import company_pool
from staff.models import DataScope, Department, Role
from staff.services import user_create
from staff.tests.factories import DepartmentFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "locale": "zh-CN"}
APPS = ["customers", "opportunities", "contracts", "activities"]


@pytest.fixture
def team():
    company_pool()  # flushed by transactional tests
    department = DepartmentFactory(name="华东组")
    roles = {}
    for name, scope in (("销售", DataScope.SELF), ("组长", DataScope.DEPARTMENT)):
        roles[scope] = Role.objects.create(name=name, data_scope=scope)
        roles[scope].permissions.set(Permission.objects.filter(content_type__app_label__in=APPS))
    rep = user_create(username="wangfang", password=PASSWORD, display_name="王芳", department=department)
    leader = user_create(username="liqiang", password=PASSWORD, display_name="李强", department=department)
    rep.roles.set([roles[DataScope.SELF]])
    leader.roles.set([roles[DataScope.DEPARTMENT]])
    Department.objects.filter(pk=department.pk).update(leader=leader)
    yesterday = timezone.now() - datetime.timedelta(days=1)
    CustomerFactory(owner=rep, name="今天要联系的客户", next_follow_up_at=yesterday)
    OpportunityFactory(owner=rep, amount=Decimal("123456.78"), stage=stage("proposal"), probability=50)
    return rep, leader


def test_a_rep_on_a_phone_opens_a_tile_and_gets_its_list(team, browser, live_server):  # noqa: F811
    page = browser.new_page(**PHONE)
    log_in(page, live_server, "wangfang")

    tile = page.locator("#tile-follow-ups-due")
    expect(tile).to_be_visible()
    expect(tile.locator("[data-figure=count]")).to_have_text("1")
    expect(page.locator("#tile-pipeline [data-figure=amount]")).to_have_text("¥123,456.78")
    expect(page.locator("#workbench-team")).to_have_count(0)
    assert_fits_the_screen(page)

    tile.locator("[data-figure=count]").click()

    expect(page.get_by_text("今天要联系的客户").first).to_be_visible()
    expect(page.locator("#result-count")).to_contain_text("共 1 条")


def test_a_manager_on_a_phone_sees_the_team_and_the_funnel(team, browser, live_server):  # noqa: F811
    page = browser.new_page(**PHONE)
    log_in(page, live_server, "liqiang")

    expect(page.locator("#workbench-team")).to_be_visible()
    expect(page.locator("#tile-team-pipeline [data-figure=amount]")).to_have_text("¥123,456.78")
    expect(page.locator("#workbench-funnel-chart canvas")).to_have_count(1)  # ECharts drew it
    expect(page.locator("#workbench-funnel-table")).to_be_visible()
    assert_fits_the_screen(page)
