"""Browser journeys on the kanban board: headless Debian Chromium (Playwright) against the live
server — drag a deal from 报价 to 谈判 and watch both columns' totals change; a stale card comes
back with a message; at phone width the board scrolls sideways inside the page."""

import pytest
from django.contrib.auth.models import Permission
from playwright.sync_api import expect, sync_playwright

from crm.tests.test_browser import CHROMIUM, CHROMIUM_ARGS, PASSWORD
from customers.tests.test_browser import PHONE, assert_fits_the_screen, log_in
from opportunities.models import Opportunity
from opportunities.tests.factories import OpportunityFactory, stage
from staff.models import DataScope, Role
from staff.services import user_create
from staff.tests.factories import DepartmentFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def sales_rep():
    role = Role.objects.create(name="销售", data_scope=DataScope.SELF)
    role.permissions.set(Permission.objects.filter(content_type__app_label__in=["customers", "opportunities"]))
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


def column(page, name):
    return page.locator(".kanban-column").filter(has=page.get_by_role("heading", name=name, exact=True))


def drag(page, card, target):
    """Mouse down on the card, move in steps onto the target column, release (Sortable's fallback)."""
    box, goal = card.bounding_box(), target.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] / 2 + 10, box["y"] + box["height"] / 2 + 5, steps=5)
    page.mouse.move(goal["x"] + goal["width"] / 2, goal["y"] + 40, steps=20)
    page.mouse.move(goal["x"] + goal["width"] / 2, goal["y"] + 50, steps=5)
    page.mouse.up()


def test_drag_a_deal_from_proposal_to_negotiation_and_both_totals_change(sales_rep, browser, live_server):
    OpportunityFactory(owner=sales_rep, title="华为 ERP 项目", amount="10000.00", stage=stage("proposal"))
    OpportunityFactory(owner=sales_rep, title="云帆 CRM 项目", amount="2000.00", stage=stage("proposal"))
    OpportunityFactory(owner=sales_rep, title="明远 OA 项目", amount="4000.00", stage=stage("negotiation"))
    page = browser.new_page(viewport={"width": 1400, "height": 900}, locale="zh-CN")
    log_in(page, live_server, "wangfang")

    # given: the board, reached from the navbar
    page.locator("#main-navbar").get_by_role("link", name="商机", exact=True).click()
    expect(page.get_by_role("heading", name="商机看板", level=1)).to_be_visible()
    proposal, negotiation = column(page, "报价"), column(page, "谈判")
    expect(proposal.locator('[data-total="count"]')).to_have_text("2")
    expect(proposal.locator('[data-total="amount"]')).to_have_text("12,000.00")
    expect(negotiation.locator('[data-total="amount"]')).to_have_text("4,000.00")
    expect(negotiation.locator('[data-total="weighted"]')).to_have_text("3,000.00")

    # when: they drag 华为 ERP 项目 from 报价 to 谈判
    card = proposal.locator(".kanban-card").filter(has_text="华为 ERP 项目")
    drag(page, card, negotiation.locator(".kanban-cards"))

    # then: the card stands in 谈判 and both columns' totals follow
    expect(negotiation.locator(".kanban-card").filter(has_text="华为 ERP 项目")).to_have_count(1)
    expect(proposal.locator('[data-total="count"]')).to_have_text("1")
    expect(proposal.locator('[data-total="amount"]')).to_have_text("2,000.00")
    expect(proposal.locator('[data-total="weighted"]')).to_have_text("1,000.00")
    expect(negotiation.locator('[data-total="count"]')).to_have_text("2")
    expect(negotiation.locator('[data-total="amount"]')).to_have_text("14,000.00")
    expect(negotiation.locator('[data-total="weighted"]')).to_have_text("10,500.00")
    expect(page.locator("#board-alert")).to_be_hidden()
    moved = Opportunity.objects.get(title="华为 ERP 项目")
    assert moved.stage.code == "negotiation" and moved.stage_history.count() == 2

    # when: someone else moves 云帆 meanwhile, and they drag the card they still see
    other = Opportunity.objects.get(title="云帆 CRM 项目")
    Opportunity.objects.filter(pk=other.pk).update(version=other.version + 1)
    drag(page, proposal.locator(".kanban-card").filter(has_text="云帆 CRM 项目"), negotiation.locator(".kanban-cards"))

    # then: a clear message, and the card is back in 报价
    expect(page.locator("#board-alert")).to_contain_text("已被他人修改")
    expect(proposal.locator(".kanban-card").filter(has_text="云帆 CRM 项目")).to_have_count(1)
    expect(negotiation.locator('[data-total="count"]')).to_have_text("2")


def test_the_board_scrolls_sideways_on_a_phone(sales_rep, browser, live_server):
    for code in ("lead", "proposal", "negotiation", "won"):
        OpportunityFactory(owner=sales_rep, title=f"项目-{code}", stage=stage(code))
    page = browser.new_page(viewport=PHONE, is_mobile=True, has_touch=True, locale="zh-CN")
    log_in(page, live_server, "wangfang")
    page.goto(live_server.url + "/opportunities/board/")
    expect(page.get_by_role("heading", name="商机看板", level=1)).to_be_visible()
    assert_fits_the_screen(page)
    board = page.locator("#board")
    assert board.evaluate("el => el.scrollWidth > el.clientWidth")  # the columns scroll inside
    board.evaluate("el => { el.scrollLeft = el.scrollWidth; }")
    expect(column(page, "输单")).to_be_in_viewport()

    page.goto(live_server.url + "/opportunities/funnel/")
    expect(page.locator("#funnel-chart canvas")).to_have_count(1)
    assert_fits_the_screen(page)
