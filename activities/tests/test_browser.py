"""Browser journey (headless Chromium): log a visit on a customer's 360 page from a phone, then
find the next follow-up on 待办."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.db.models import Q
from django.utils import timezone
from playwright.sync_api import expect, sync_playwright

from crm.tests.test_browser import CHROMIUM, CHROMIUM_ARGS, PASSWORD
from customers.services import customer_create
from staff.models import DataScope, Role
from staff.services import user_create
from staff.tests.factories import DepartmentFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 375, "height": 812}


@pytest.fixture
def sales_rep():
    role = Role.objects.create(name="销售", data_scope=DataScope.SELF)
    role.permissions.set(Permission.objects.filter(Q(content_type__app_label__in=["customers", "activities"])))
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


def test_log_a_visit_on_the_360_page_and_see_the_task_on_todo(sales_rep, browser, live_server):
    customer = customer_create(user=sales_rep, data={"name": "上海明远贸易有限公司"})
    page = browser.new_page(viewport=PHONE, is_mobile=True, has_touch=True, locale="zh-CN")
    page.goto(live_server.url + "/accounts/login/")
    page.get_by_label("用户名或手机号").fill("wangfang")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("heading", name="工作台", level=1)).to_be_visible()

    # given: the customer's 360 page on a phone
    page.goto(live_server.url + f"/customers/{customer.pk}/")
    card = page.locator("#quick-follow-up")
    expect(card).to_be_visible()

    # when: they tap 拜访, note it, pick the next follow-up (10:00 in two days) and save
    card.get_by_text("拜访", exact=True).tap()
    card.get_by_label("跟进内容").fill("上门拜访，客户对新品有兴趣")
    # two days ahead in the company's time zone: upcoming whatever the hour the suite runs
    next_day = f"{timezone.localdate() + timedelta(days=2):%Y-%m-%d}"
    card.get_by_label("下次跟进时间").fill(f"{next_day}T10:00")
    expect(card.get_by_label("加入我的待办")).to_be_checked()
    card.get_by_role("button", name="保存跟进").tap()

    # then: saved, on the timeline, and the customer's last follow-up moved
    expect(page.get_by_role("alert").filter(has_text="已记录跟进")).to_be_visible()
    visit = page.locator("#timeline .timeline-entry[data-kind='follow_up']")
    expect(visit).to_contain_text("拜访")
    expect(visit).to_contain_text("上门拜访，客户对新品有兴趣")
    expect(page.locator("#details")).to_contain_text(f"{next_day} 10:00")
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the page is {overflow}px wider than the screen"

    # when: they open 待办 from the navigation
    page.get_by_role("button", name="展开导航").tap()
    page.locator("#main-navbar").get_by_role("link", name="待办", exact=True).tap()

    # then: the follow-up is there as an upcoming task for the customer
    expect(page.get_by_role("heading", name="待办", level=1)).to_be_visible()
    upcoming = page.locator("#tasks-upcoming")
    expect(upcoming).to_contain_text("跟进：上海明远贸易有限公司")
    expect(upcoming).to_contain_text(f"{next_day} 10:00")
