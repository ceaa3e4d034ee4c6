"""Browser journeys through the customer pages: headless Debian Chromium (Playwright) against
pytest-django's live server, at desktop and phone width."""

import re

import pytest
from django.contrib.auth.models import Permission
from playwright.sync_api import expect, sync_playwright

from crm.tests.test_browser import CHROMIUM, CHROMIUM_ARGS, PASSWORD
from customers.models import CustomField
from staff.models import DataScope, Role
from staff.services import user_create
from staff.tests.factories import DepartmentFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 375, "height": 812}


@pytest.fixture
def sales_rep():
    role = Role.objects.create(name="销售", data_scope=DataScope.SELF)
    role.permissions.set(Permission.objects.filter(content_type__app_label="customers"))
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
def budget_field():
    return CustomField.objects.create(target="customer", key="budget", label="年度预算", type="number")


@pytest.fixture
def browser(monkeypatch):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


def log_in(page, live_server, login):
    page.goto(live_server.url + "/accounts/login/")
    page.get_by_label("用户名或手机号").fill(login)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("heading", name="工作台", level=1)).to_be_visible()


def assert_fits_the_screen(page):
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the page is {overflow}px wider than the screen"


def test_create_a_customer_with_a_custom_field_find_it_and_open_its_360_page(
    sales_rep, budget_field, browser, live_server
):
    page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    log_in(page, live_server, "wangfang")

    # given: the customer list, reached from the navbar
    page.locator("#main-navbar").get_by_role("link", name="客户", exact=True).click()
    expect(page.get_by_role("heading", name="客户", level=1)).to_be_visible()

    # when: they create a customer, with the custom field and a cascading region filled in
    page.get_by_role("link", name="新建客户").click()
    page.get_by_label("客户名称").fill("深圳腾云科技有限公司")
    page.get_by_label("手机").fill("138 0013 8000")
    page.get_by_label("省份").select_option("440000")
    expect(page.locator("#id_city option[value='440300']")).to_have_count(1)  # htmx loaded the cities
    page.get_by_label("城市").select_option("440300")
    expect(page.locator("#id_district option[value='440305']")).to_have_count(1)
    page.get_by_label("区县").select_option("440305")
    page.get_by_label("年度预算").fill("12000")
    page.get_by_role("button", name="保存").click()

    # then: its 360 page, saved
    expect(page.get_by_role("alert").filter(has_text="已保存")).to_be_visible()
    expect(page.get_by_role("heading", name="深圳腾云科技有限公司", level=1)).to_be_visible()

    # when: they look for it from the list's search box
    page.goto(live_server.url + "/customers/")
    page.get_by_role("searchbox", name="搜索").fill("腾云")
    page.get_by_role("button", name="搜索", exact=True).click()
    expect(page.locator("#result-count")).to_contain_text("共 1 条")
    page.get_by_role("link", name="深圳腾云科技有限公司").click()

    # then: the 360 page shows the custom field's value, the region and the creation on the timeline
    expect(page.get_by_role("heading", name="深圳腾云科技有限公司", level=1)).to_be_visible()
    custom = page.locator("#custom-fields")
    expect(custom).to_contain_text("年度预算")
    expect(custom).to_contain_text("12000")
    expect(page.locator("#details")).to_contain_text("广东省 深圳市 南山区")
    expect(page.locator("#details")).to_contain_text("13800138000")
    creation = page.locator("#timeline .timeline-entry").filter(has_text="创建了客户")
    expect(creation).to_have_count(1)
    expect(creation).to_contain_text("王芳")


def test_customer_pages_fit_a_phone_screen(sales_rep, budget_field, browser, live_server):
    from customers.services import customer_create

    customer = customer_create(
        user=sales_rep,
        data={"name": "上海华为技术有限公司", "mobile": "13800138000", "custom_fields": {"budget": 500}},
    )
    page = browser.new_page(viewport=PHONE, is_mobile=True, has_touch=True, locale="zh-CN")
    log_in(page, live_server, "wangfang")

    page.goto(live_server.url + "/customers/")
    expect(page.get_by_role("link", name="上海华为技术有限公司")).to_be_visible()
    assert_fits_the_screen(page)
    # the filters panel opens and stays within the screen too
    page.get_by_role("button", name="筛选").click()
    expect(page.locator("#filters-panel")).to_be_visible()
    assert_fits_the_screen(page)

    page.goto(live_server.url + f"/customers/{customer.pk}/")
    expect(page.get_by_role("heading", name="上海华为技术有限公司", level=1)).to_be_visible()
    expect(page.locator("#timeline")).to_contain_text("创建了客户")
    assert_fits_the_screen(page)

    page.goto(live_server.url + f"/customers/{customer.pk}/edit/")
    expect(page.get_by_label("年度预算")).to_have_value("500")
    assert_fits_the_screen(page)
    expect(page).to_have_url(re.compile(r"/edit/$"))
