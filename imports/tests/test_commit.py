"""The commit after a preview: the preview's checked rows are written as checked while the rules
they were checked by are unchanged; the database matching always runs again."""

import pytest
from django.core.files.storage import default_storage

from customers.models import Customer
from customers.services import RecordValidator
from customers.tests.factories import CustomFieldFactory, TagFactory, make_customer
from imports.models import ImportStatus
from imports.tests.helpers import commit, upload_and_validate, xlsx

pytestmark = pytest.mark.django_db


def row(name, mobile="", *, level="", tags="", province="", remark=""):
    return [name, "", "", mobile, "", level, "", "", tags, province, "", remark]


def test_the_commit_writes_the_previews_rows_without_validating_them_again(org, monkeypatch):
    TagFactory(name="重点")
    job = upload_and_validate(
        org.east_rep, xlsx([row("上海云帆科技有限公司", "138 0013 8000", level="A", tags="重点", province="上海")])
    )
    assert job.rows_file

    def refuse(*args, **kwargs):
        raise AssertionError("validated again")

    monkeypatch.setattr(RecordValidator, "validate", refuse)
    job = commit(org.east_rep, job, "skip")

    assert (job.status, job.counts["created"]) == (ImportStatus.COMMITTED, 1)
    customer = Customer.objects.get()
    assert (customer.mobile, customer.level.code, customer.province) == ("13800138000", "A", "310000")
    assert [tag.name for tag in customer.tags.all()] == ["重点"]
    assert (customer.owner, customer.department, customer.name_key) == (
        org.east_rep,
        org.east_rep.department,
        "云帆科技",
    )
    assert customer.history.get().history_change_reason.startswith("导入")
    assert "13800138000" in customer.search_text


def test_customers_created_since_the_preview_are_matched_at_commit(org):
    job = upload_and_validate(
        org.east_rep, xlsx([row("上海云帆科技有限公司", "13800138000"), row("北京明远贸易有限公司", "13800138001")])
    )
    assert job.counts["duplicates"] == 0
    make_customer(org.south_rep, name="云帆科技（上海）有限公司")

    job = commit(org.east_rep, job, "skip")

    assert (job.counts["created"], job.counts["skipped"]) == (1, 1)
    assert Customer.objects.count() == 2


def test_a_customer_matched_twice_since_the_preview_makes_the_row_ambiguous(org):
    job = upload_and_validate(org.east_rep, xlsx([row("上海云帆科技有限公司", "13800138000")]))
    make_customer(org.east_rep, name="云帆科技（上海）有限公司")
    make_customer(org.east_rep, check=False, name="其他公司", mobile="13800138000")

    job = commit(org.east_rep, job, "update")

    assert (job.counts["created"], job.counts["updated"], job.counts["invalid"]) == (0, 0, 1)


def test_rows_are_checked_again_when_the_rules_changed_since_the_preview(org):
    job = upload_and_validate(org.east_rep, xlsx([row("上海云帆科技有限公司"), row("北京明远贸易有限公司")]))
    assert job.counts["valid"] == 2
    CustomFieldFactory(key="budget", label="预算", required=True)  # the file does not have it

    job = commit(org.east_rep, job, "skip")

    assert job.status == ImportStatus.VALIDATED
    assert "未写入任何数据" in job.message and "预算" in job.message
    assert not Customer.objects.exists()


def test_a_tag_removed_since_the_preview_is_not_written(org):
    tag = TagFactory(name="重点")
    rows = [row("上海云帆科技有限公司", tags="重点"), row("北京明远贸易有限公司")]
    job = upload_and_validate(org.east_rep, xlsx(rows))
    tag.delete()

    job = commit(org.east_rep, job, "skip")

    assert (job.counts["created"], job.counts["invalid"]) == (1, 1)
    assert list(Customer.objects.values_list("name", flat=True)) == ["北京明远贸易有限公司"]


def test_rows_with_errors_in_the_preview_stay_out(org):
    job = upload_and_validate(
        org.east_rep,
        xlsx([row("上海云帆科技有限公司", "123"), row("北京明远贸易有限公司"), row("北京明远贸易有限公司")]),
    )
    assert (job.counts["valid"], job.counts["invalid"]) == (1, 2)

    job = commit(org.east_rep, job, "skip")

    assert (job.counts["rows"], job.counts["created"], job.counts["invalid"]) == (3, 1, 2)


def test_the_checked_rows_are_removed_once_committed(org, django_capture_on_commit_callbacks):
    job = upload_and_validate(org.east_rep, xlsx([row("上海云帆科技有限公司")]))
    stored = job.rows_file.name
    assert default_storage.exists(stored)

    with django_capture_on_commit_callbacks(execute=True):
        job = commit(org.east_rep, job, "skip")

    assert job.status == ImportStatus.COMMITTED and not job.rows_file
    assert not default_storage.exists(stored)


def test_an_import_past_the_owned_customer_limit_writes_nothing(org):
    """SPEC §2.2: the owned-customer limit is checked on import too ("拥有客户已达上限")."""
    from pool.models import PoolSettings

    PoolSettings.objects.update_or_create(pk=1, defaults={"max_owned": 2})
    make_customer(org.east_rep, name="已有客户")
    job = upload_and_validate(
        org.east_rep, xlsx([row("上海云帆科技有限公司", "13800138000"), row("北京明远贸易有限公司", "13800138001")])
    )
    job = commit(org.east_rep, job, "skip")
    assert job.status == ImportStatus.VALIDATED
    assert "拥有客户已达上限" in job.message
    assert Customer.objects.count() == 1

    PoolSettings.objects.filter(pk=1).update(max_owned=3)
    job = commit(org.east_rep, upload_and_validate(org.east_rep, xlsx([row("上海云帆科技有限公司")])), "skip")
    assert (job.status, job.counts["created"]) == (ImportStatus.COMMITTED, 1)
