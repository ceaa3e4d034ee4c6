"""Browser journeys: headless Debian Chromium (Playwright) against pytest-django's live server.

Fails, never skips, when /usr/bin/chromium is missing (`make pytest` installs it).
"""

import re

import pytest
from playwright.sync_api import expect, sync_playwright

from staff.services import user_create

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PASSWORD = "Secret-pass-2026"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def liuyang():
    return user_create(username="liuyang", password=PASSWORD, display_name="刘洋", mobile="13800000004")


@pytest.fixture
def browser(monkeypatch):
    # Playwright's sync API runs an event loop in this thread; Django's ORM calls from the test
    # (none after this point, but fixtures' teardown) would otherwise refuse to run.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


def log_in(page, live_server, login, password=PASSWORD):
    page.goto(live_server.url + "/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/$"))
    page.get_by_label("用户名或手机号").fill(login)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()


def test_login_by_mobile_switch_language_and_log_out(liuyang, browser, live_server):
    page = browser.new_page(viewport={"width": 1280, "height": 800}, locale="zh-CN")

    # given: an anonymous visitor is sent to the login page, in Chinese
    page.goto(live_server.url + "/")
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    expect(page.get_by_text("用户名或手机号")).to_be_visible()

    # when: they log in with their mobile number
    log_in(page, live_server, "13800000004")

    # then: the workbench, with the Chinese navbar and their name in the user menu
    expect(page).to_have_url(live_server.url + "/")
    expect(page.get_by_role("heading", name="工作台", level=1)).to_be_visible()
    nav = page.locator("#main-navbar")
    expect(nav.get_by_role("link", name="工作台")).to_have_class(re.compile(r"\bactive\b"))
    for label in ["客户", "公海", "商机", "合同", "待办", "报表", "设置"]:
        expect(nav.get_by_role("link", name=label, exact=True)).to_be_visible()
    expect(nav.get_by_role("button", name="刘洋")).to_be_visible()

    # when: they switch the language to English
    page.locator("#main-navbar select[name=language]").select_option("en")

    # then: the same page in English
    expect(page.get_by_role("heading", name="Workbench", level=1)).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    for label in ["Customers", "Public pool", "Deals", "Contracts", "Tasks", "Reports", "Settings"]:
        expect(nav.get_by_role("link", name=label, exact=True)).to_be_visible()

    # when: they log out from the user menu
    nav.get_by_role("button", name="刘洋").click()
    nav.get_by_role("button", name="Log out").click()

    # then: back at the login page (still in English: the language is the visitor's, not the session's)
    expect(page).to_have_url(re.compile(r"/accounts/login/$"))
    expect(page.get_by_label("Username or mobile number")).to_be_visible()
    page.goto(live_server.url + "/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/$"))


def test_navbar_collapses_behind_toggler_on_phone(liuyang, browser, live_server):
    page = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True, locale="zh-CN")
    log_in(page, live_server, "liuyang")
    expect(page.get_by_role("heading", name="工作台", level=1)).to_be_visible()

    customers = page.locator("#main-navbar").get_by_role("link", name=re.compile(r"^客户(\s|$)"))
    toggler = page.locator(".navbar-toggler")
    expect(toggler).to_be_visible()
    expect(customers).to_be_hidden()

    toggler.click()

    expect(customers).to_be_visible()
    expect(toggler).to_have_attribute("aria-expanded", "true")
