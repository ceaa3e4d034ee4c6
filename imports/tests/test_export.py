import csv
import io

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from openpyxl import load_workbook

from audit.models import AuditEvent
from customers.tests.factories import ContactFactory, CustomerFactory, TagFactory
from imports import services
from imports.models import ExportJob
from imports.tests.helpers import commit, upload_and_validate, xlsx
from staff.models import FieldPermission

pytestmark = pytest.mark.django_db


def run_export(user, *, target="customer", file_format="xlsx", params=None):
    job = services.export_start(user=user, target=target, file_format=file_format, params=params or {})
    services.export_run(job_id=job.pk)
    job = ExportJob.objects.get(pk=job.pk)
    assert job.status == "done", job.message
    return job


def rows_of(job):
    with job.file.open("rb") as handle:
        data = handle.read()
    if job.file_format == "csv":
        assert data.startswith(b"\xef\xbb\xbf")  # Excel opens UTF-8 with a BOM correctly
        return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    return [list(row) for row in load_workbook(io.BytesIO(data)).active.values]


@pytest.mark.parametrize("file_format", ["xlsx", "csv"])
def test_export_content_and_neutralised_cells(org, file_format):
    tag = TagFactory(name="重点")
    mine = CustomerFactory(name='=HYPERLINK("http://evil")', owner=org.east_rep, mobile="13800138000", remark="+1")
    mine.tags.set([tag])
    CustomerFactory(name="@SUM(A1)", owner=org.east_rep, remark="-2", address="\tx")
    CustomerFactory(name="正常公司", owner=org.east_rep, remark="\r回车")
    job = run_export(org.east_rep, file_format=file_format)
    rows = rows_of(job)
    header = rows[0]
    assert header[:4] == ["客户名称", "类型", "统一社会信用代码", "手机"]
    by_name = {row[0]: dict(zip(header, row, strict=True)) for row in rows[1:]}
    assert set(by_name) == {'\'=HYPERLINK("http://evil")', "'@SUM(A1)", "正常公司"}
    first = by_name['\'=HYPERLINK("http://evil")']
    assert (first["手机"], first["标签"], first["备注"], first["负责人"]) == (
        "13800138000",
        "重点",
        "'+1",
        str(org.east_rep),
    )
    assert by_name["'@SUM(A1)"]["备注"] == "'-2"
    assert by_name["'@SUM(A1)"]["详细地址"] == "'\tx"
    assert by_name["正常公司"]["备注"] in ("'\r回车", "'\n回车")  # XML readers normalise CR
    assert job.total_rows == 3


def test_export_follows_the_filters_the_scope_and_the_masking(org):
    CustomerFactory(name="甲有限公司", owner=org.east_rep, mobile="13800138000", email="zhang@example.com")
    CustomerFactory(name="乙有限公司", owner=org.east_rep, mobile="13900139000")
    CustomerFactory(name="华北有限公司", owner=org.north_rep, mobile="13700137000")
    # east_lead sees east_rep's customers (subordinate), masked: they are not the owner
    job = run_export(org.east_lead)
    rows = rows_of(job)
    header = rows[0]
    got = {row[0]: dict(zip(header, row, strict=True)) for row in rows[1:]}
    assert set(got) == {"甲有限公司", "乙有限公司"}
    assert got["甲有限公司"]["手机"] == "138****8000"
    assert got["甲有限公司"]["邮箱"] == "zh***@example.com"
    # the owner sees them in full; the list's filters apply
    rows = rows_of(run_export(org.east_rep, params={"q": "甲有限"}))
    assert [row[0] for row in rows[1:]] == ["甲有限公司"]
    assert rows[1][3] == "13800138000"


def test_hidden_fields_are_not_exported(org):
    CustomerFactory(name="甲有限公司", owner=org.east_rep, mobile="13800138000")
    FieldPermission.objects.create(role=org.roles["self"], target="customer", field="mobile", access="hidden")
    header = rows_of(run_export(org.east_rep))[0]
    assert "手机" not in header and "客户名称" in header


def test_contacts_export_of_the_filtered_customers(org):
    a = CustomerFactory(name="甲有限公司", owner=org.east_rep)
    b = CustomerFactory(name="乙有限公司", owner=org.east_rep)
    ContactFactory(customer=a, name="张伟", mobile="13800138000")
    ContactFactory(customer=b, name="李娜")
    ContactFactory(customer=CustomerFactory(owner=org.north_rep), name="外人")
    rows = rows_of(run_export(org.east_rep, target="contact", params={"q": "甲有限"}))
    assert rows[0][:3] == ["所属客户", "姓名", "职务"]
    assert [(row[0], row[1], row[3]) for row in rows[1:]] == [("甲有限公司", "张伟", "13800138000")]


def test_exports_are_audited(org):
    CustomerFactory(name="甲有限公司", owner=org.east_rep)
    job = run_export(org.east_rep, params={"q": "甲有限", "page": "3"})
    event = AuditEvent.objects.get(action="export")
    assert event.actor == org.east_rep and event.target_id == str(job.pk)
    assert event.data == {"target": "customer", "format": "xlsx", "filter": {"q": "甲有限"}, "rows": 1}


def test_export_needs_the_export_permission(org, client_for):
    org.east_rep.roles.clear()
    org.east_rep.user_permissions.set(Permission.objects.filter(content_type__app_label="customers"))
    client = client_for(org.east_rep)
    response = client.post(reverse("api:export-list"), {"model": "customer"}, format="json")
    assert response.status_code == 403
    assert not ExportJob.objects.exists()
    with pytest.raises(services.DomainError):
        services.export_start(user=org.east_rep, target="customer", file_format="xlsx", params={})


def test_export_jobs_and_files_are_their_starters_own(org, client_for):
    CustomerFactory(name="甲有限公司", owner=org.east_rep)
    job = run_export(org.east_rep)
    other = client_for(org.east_manager)
    assert other.get(reverse("api:export-detail", args=[job.pk])).status_code == 404
    assert other.get(reverse("api:export-download", args=[job.pk])).status_code == 404
    own = client_for(org.east_rep)
    body = own.get(reverse("api:export-detail", args=[job.pk])).json()
    assert body["progress"] == {"done": 1, "total": 1, "percent": 100}
    response = own.get(body["download_url"])
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment")


def test_import_api_journey_and_other_users_get_404(org, client_for):
    client = client_for(org.east_rep)
    template = client.get(reverse("api:import-template"), {"model": "customer"})
    assert template.status_code == 200
    sheet = load_workbook(io.BytesIO(template.content))
    assert sheet.active["A1"].value == "客户名称*"
    assert sheet.active.data_validations.dataValidation  # drop-downs
    response = client.post(
        reverse("api:import-list"),
        {"model": "customer", "file": xlsx([["甲有限公司"]], header=["客户名称"])},
        format="multipart",
    )
    assert response.status_code == 201, response.content
    job_id = response.json()["id"]
    services.import_validate(job_id=job_id)
    body = client.get(reverse("api:import-detail", args=[job_id])).json()
    assert (body["status"], body["counts"]["valid"]) == ("validated", 1)
    assert client.get(reverse("api:import-errors", args=[job_id])).json()["results"] == []

    other = client_for(org.east_manager)
    for name in ("api:import-detail", "api:import-errors", "api:import-error-file"):
        assert other.get(reverse(name, args=[job_id])).status_code == 404
    for name in ("api:import-commit", "api:import-undo"):
        assert other.post(reverse(name, args=[job_id]), {"policy": "skip"}, format="json").status_code == 404

    response = client.post(reverse("api:import-commit", args=[job_id]), {"policy": "skip"}, format="json")
    assert response.status_code == 202, response.content
    services.import_commit(job_id=job_id)
    body = client.get(reverse("api:import-detail", args=[job_id])).json()
    assert (body["status"], body["counts"]["created"]) == ("committed", 1)
    assert client.post(reverse("api:import-undo", args=[job_id])).json()["status"] == "undone"


def test_upload_refusal_through_the_api(org, client_for):
    client = client_for(org.east_rep)
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = client.post(
        reverse("api:import-list"),
        {"model": "customer", "file": SimpleUploadedFile("a.xlsm", b"PK\x03\x04x")},
        format="multipart",
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "file_refused"


def test_create_anyway_needs_the_force_permission(org):
    org.east_rep.roles.clear()
    org.east_rep.user_permissions.set(
        Permission.objects.filter(content_type__app_label__in=["customers", "imports"]).exclude(
            codename="force_duplicate_customer"
        )
    )
    from staff.models import User

    user = User.objects.get(pk=org.east_rep.pk)
    job = upload_and_validate(user, xlsx([["甲有限公司"]], header=["客户名称"]))
    with pytest.raises(services.DomainError):
        services.import_commit_start(user=user, job=job, policy="create")
    assert commit(user, job, "skip").counts["created"] == 1
