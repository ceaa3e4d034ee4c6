"""Files for the import tests, made in memory."""

import io

from django.core.files.uploadedfile import SimpleUploadedFile
from openpyxl import Workbook

from imports import services
from imports.models import ImportJob

CUSTOMER_HEADER = [
    "客户名称*",
    "类型",
    "统一社会信用代码",
    "手机",
    "邮箱",
    "等级",
    "来源",
    "行业",
    "标签",
    "省份",
    "城市",
    "备注",
]


def xlsx_bytes(rows, *, header=CUSTOMER_HEADER):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def xlsx(rows, *, header=CUSTOMER_HEADER, name="客户.xlsx"):
    return SimpleUploadedFile(name, xlsx_bytes(rows, header=header))


def csv_file(text, *, encoding="utf-8", name="客户.csv"):
    return SimpleUploadedFile(name, text.encode(encoding))


def upload_and_validate(user, uploaded, *, target="customer"):
    job = services.import_upload(user=user, target=target, uploaded=uploaded)
    services.import_validate(job_id=job.pk)
    return ImportJob.objects.get(pk=job.pk)


def commit(user, job, policy):
    services.import_commit_start(user=user, job=job, policy=policy)
    services.import_commit(job_id=job.pk)
    return ImportJob.objects.get(pk=job.pk)


def errors_of(job):
    return list(job.row_errors.order_by("row", "id").values_list("row", "column", "message"))


def with_exact_numbers(data, replacements):
    """An .xlsx whose sheet XML holds numbers exactly as given (as another program than openpyxl
    or Excel may write them: an 18-digit integer literal, which openpyxl reads back as an int).
    ``replacements``: {text in the XML: new text}."""
    import zipfile

    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for member in source.infolist():
            content = source.read(member.filename)
            if member.filename.startswith("xl/worksheets/"):
                text = content.decode()
                for old, new in replacements.items():
                    assert old in text, old
                    text = text.replace(old, new)
                content = text.encode()
            target.writestr(member, content)
    return out.getvalue()
