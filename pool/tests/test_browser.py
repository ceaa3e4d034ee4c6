"""Browser journey: a sales rep finds a pool customer on 公海 (number masked), claims it, lands
on its 360 page with the number in full and the claim on the timeline; at phone width too."""

import pytest
from django.contrib.auth.models import Permission
from playwright.sync_api import expect

from crm.tests.test_browser import PASSWORD
from customers.tests.test_browser import PHONE, assert_fits_the_screen, browser, log_in  # noqa: F401
from pool.tests.factories import company_pool, in_pool
from staff.models import DataScope, Role
from staff.services import user_create
from staff.tests.factories import DepartmentFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def rep():
    role = Role.objects.create(name="销售", data_scope=DataScope.SELF)
    role.permissions.set(
        Permission.objects.filter(content_type__app_label="customers")
        | Permission.objects.filter(codename="claim_customer")
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


@pytest.mark.parametrize("viewport", [{"width": 1280, "height": 900}, PHONE], ids=["desktop", "phone"])
def test_claim_a_pool_customer(rep, browser, live_server, viewport):  # noqa: F811
    pool = company_pool()
    in_pool(pool, name="杭州西湖茶业有限公司", mobile="13912345678")
    in_pool(pool, name="宁波港城进出口有限公司")
    page = browser.new_page(viewport=viewport, locale="zh-CN", is_mobile=viewport is PHONE)
    log_in(page, live_server, "wangfang")

    # given: 公海, reached from the navigation (the phone's menu folds it away)
    if viewport is PHONE:
        page.goto(live_server.url + "/pool/")
    else:
        page.locator("#main-navbar").get_by_role("link", name="公海", exact=True).click()
    expect(page.get_by_role("heading", name="公海", level=1)).to_be_visible()
    assert_fits_the_screen(page)

    # when: they search for a customer, whose number is masked, and claim it
    page.get_by_role("searchbox", name="客户名称").fill("西湖")
    page.get_by_role("button", name="筛选").click()
    row = page.locator("tr", has_text="杭州西湖茶业有限公司")
    expect(row).to_have_count(1)
    expect(page.locator("tr", has_text="宁波港城")).to_have_count(0)
    if viewport is not PHONE:
        expect(row).to_contain_text("139****5678")
    row.get_by_role("button", name="领取").click()

    # then: the customer is theirs — its 360 page, number in full, the claim on the timeline
    expect(page.get_by_role("alert").filter(has_text="已领取")).to_be_visible()
    expect(page.get_by_role("heading", name="杭州西湖茶业有限公司", level=1)).to_be_visible()
    expect(page.locator("#details")).to_contain_text("13912345678")
    expect(page.locator("#timeline")).to_contain_text("领取了公海客户")
    assert_fits_the_screen(page)

    # and it has left the pool
    page.goto(live_server.url + "/pool/")
    expect(page.locator("tr", has_text="杭州西湖茶业有限公司")).to_have_count(0)
    expect(page.locator("tr", has_text="宁波港城进出口有限公司")).to_have_count(1)
