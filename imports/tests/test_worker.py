"""The import and export jobs through a real Celery worker (a subprocess, as in the Procfile),
and the browser journey that depends on it: upload, preview errors, commit, progress to the end."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import Permission
from django.db import connection
from playwright.sync_api import expect, sync_playwright

from crm.celery import app as celery_app
from crm.tests.test_browser import CHROMIUM, CHROMIUM_ARGS, PASSWORD
from customers.models import Customer
from imports import services
from imports.models import ExportJob, ImportJob
from imports.tests.helpers import xlsx, xlsx_bytes
from pool.models import RoleLimit
from staff.models import DataScope, Role
from staff.services import user_create
from staff.tests.factories import DepartmentFactory

ROOT = Path(__file__).resolve().parents[2]


def _wait(predicate, seconds=240):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


@pytest.fixture(scope="module")
def shared_media(tmp_path_factory):
    return str(tmp_path_factory.mktemp("media"))


@pytest.fixture(scope="module")
def worker(django_db_setup, django_db_blocker, shared_media):
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "crm.settings_test",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        "TEST_BROKER_URL": settings.CELERY_BROKER_URL,
        "MEDIA_ROOT": shared_media,
    }
    celery_app.control.purge()
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "crm", "worker", "--queues", "default", "--pool", "solo",
         "--loglevel", "WARNING", "--hostname", f"imports-{os.getpid()}@%h"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        assert _wait(lambda: bool(celery_app.control.ping(timeout=0.5))), "worker did not answer"
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture
def media(settings, shared_media):
    settings.MEDIA_ROOT = shared_media


@pytest.fixture
def rep():
    role = Role.objects.create(name="销售", data_scope=DataScope.SELF)
    role.permissions.set(Permission.objects.filter(content_type__app_label__in=["customers", "imports"]))
    user = user_create(
        username="wangfang", password=PASSWORD, display_name="王芳", mobile="13800000005",
        department=DepartmentFactory(name="华东组"),
    )  # fmt: skip
    user.roles.set([role])
    # This rep imports a few hundred rows: their role's owned-customer limit fits (the default 200
    # refuses the import — imports/tests/test_commit.py shows it).
    RoleLimit.objects.create(role=role, max_owned=10_000)
    return user


def _status(model, pk):
    return model.objects.filter(pk=pk).values_list("status", flat=True).first()


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_validates_commits_and_exports(worker, media, rep):
    rows = [[f"测试{i}号物流有限公司", f"139{i:08d}"] for i in range(1200)] + [["坏手机公司", "123"]]
    job = services.import_upload(user=rep, target="customer", uploaded=xlsx(rows, header=["客户名称", "手机"]))
    assert _wait(lambda: _status(ImportJob, job.pk) == "validated"), _status(ImportJob, job.pk)
    job = ImportJob.objects.get(pk=job.pk)
    assert (job.counts["valid"], job.counts["invalid"], job.processed_rows) == (1200, 1, 1201)
    services.import_commit_start(user=rep, job=job, policy="skip")
    assert _wait(lambda: _status(ImportJob, job.pk) == "committed"), ImportJob.objects.get(pk=job.pk).message
    assert Customer.objects.count() == 1200

    export = services.export_start(user=rep, target="customer", file_format="csv", params={"q": "测试11"})
    assert _wait(lambda: _status(ExportJob, export.pk) == "done")
    export = ExportJob.objects.get(pk=export.pk)
    listed = services.export_customers_queryset(user=rep, params={"q": "测试11"}).count()  # what the list shows
    assert 111 <= export.processed_rows == listed < 1200  # 测试11, 测试110–119, 测试1100–1199 (+ near names)


@pytest.mark.browser
@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_upload_see_the_errors_commit_and_watch_the_progress(worker, media, rep, live_server, monkeypatch, tmp_path):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    upload = tmp_path / "客户名单.xlsx"
    rows = [[f"浏览器{i}号贸易有限公司", f"137{i:08d}"] for i in range(300)] + [
        ["", "13900000000"],
        ["坏号码公司", "12"],
    ]
    upload.write_bytes(xlsx_bytes(rows, header=["客户名称*", "手机"]))
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="zh-CN")
            page.goto(live_server.url + "/accounts/login/")
            page.get_by_label("用户名或手机号").fill("wangfang")
            page.get_by_label("密码").fill(PASSWORD)
            page.get_by_role("button", name="登录").click()
            expect(page.get_by_role("heading", name="工作台", level=1)).to_be_visible()

            # from the customer list to the import page; upload the sheet
            page.goto(live_server.url + "/customers/")
            page.get_by_role("link", name="导入", exact=True).click()
            expect(page.get_by_role("heading", name="导入客户和联系人")).to_be_visible()
            page.locator("#import-file").set_input_files(str(upload))
            page.get_by_role("button", name="上传并校验").click()

            # the preview: progress polls to the end, then the errors by row and column
            expect(page.locator("#import-status")).to_have_text("待确认导入", timeout=240_000)
            errors = page.locator("#import-errors tbody tr")
            expect(errors).to_have_count(2)
            expect(errors.nth(0)).to_contain_text("302")
            expect(errors.nth(0)).to_contain_text("客户名称")
            expect(errors.nth(1)).to_contain_text("303")
            expect(errors.nth(1)).to_contain_text("手机")
            expect(page.get_by_role("link", name="下载错误数据（Excel）")).to_be_visible()

            # commit with "skip"; the bar runs to 100% and the counts appear
            page.get_by_label("跳过重复").check()
            page.get_by_role("button", name="开始导入").click()
            expect(page.locator("#import-status")).to_have_text("已导入", timeout=240_000)
            expect(page.locator(".progress-bar")).to_have_text("100%")
            expect(page.locator("#import-created")).to_have_text("300")
            assert Customer.objects.count() == 300
        finally:
            browser.close()
