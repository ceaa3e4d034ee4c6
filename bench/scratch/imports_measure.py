"""Scratch measurement for issue 4: 100,000 customers imported (validate + commit) and a
500,000-row export to .xlsx, in-process through the services (what the Celery tasks call).

    export DATABASE_URL=postgres://postgres@127.0.0.1:5432/crm_imports
    .venv/bin/python manage.py migrate
    PYTHONPATH=. LOG_LEVEL=ERROR .venv/bin/python bench/scratch/imports_measure.py import 100000
    psql … -f bench/scratch/customers_500k.sql        # 500,000 customers
    PYTHONPATH=. LOG_LEVEL=ERROR .venv/bin/python bench/scratch/imports_measure.py export 500000

Prints wall time per phase and the process's peak RSS (resource.getrusage, Linux: KiB)."""

import os
import resource
import sys
import tempfile
import time

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")
django.setup()

from django.core.files.uploadedfile import SimpleUploadedFile  # noqa: E402
from openpyxl import Workbook  # noqa: E402

from imports import services  # noqa: E402
from imports.models import ExportJob, ImportJob  # noqa: E402
from staff.models import Department, User  # noqa: E402


def peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_user():
    department, _ = Department.objects.get_or_create(name="测量部")
    user = User.objects.filter(username="bench_importer").first()
    if user is None:
        user = User.objects.create_user(username="bench_importer", password=None, department=department)
    user.is_superuser = True
    user.is_staff = True
    user.save()
    return User.objects.get(pk=user.pk)


def run_import(rows):
    user = bench_user()
    start = time.monotonic()
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("客户")
    sheet.append(["客户名称*", "类型", "手机", "邮箱", "等级", "省份", "备注"])
    words = "华为明远云帆科技智联金陵南方天府长江海湾鹭岛中原春城精密建材电子食品物流医疗教育信息"
    for i in range(rows):
        name = "".join(words[(i // 42**k) % 42] for k in range(4)) + f"{i}号贸易有限公司"
        sheet.append([name, "企业", f"13{i:09d}", f"c{i}@bench.example.com", "A", "上海市", f"第{i}行"])
    with tempfile.NamedTemporaryFile(suffix=".xlsx") as handle:
        workbook.save(handle.name)
        data = open(handle.name, "rb").read()
    print(f"file: {rows} rows, {len(data) / 1e6:.1f} MB, made in {time.monotonic() - start:.1f}s")

    start = time.monotonic()
    job = services.import_upload(user=user, target="customer", uploaded=SimpleUploadedFile("bench.xlsx", data))
    services.import_validate(job_id=job.pk)
    job = ImportJob.objects.get(pk=job.pk)
    validated = time.monotonic() - start
    print(f"validate: {validated:.1f}s  counts={job.counts}  peak RSS {peak_mb():.0f} MB")

    start = time.monotonic()
    services.import_commit_start(user=user, job=job, policy="skip")
    services.import_commit(job_id=job.pk)
    job = ImportJob.objects.get(pk=job.pk)
    committed = time.monotonic() - start
    print(f"commit: {committed:.1f}s  status={job.status} counts={job.counts}  peak RSS {peak_mb():.0f} MB")
    print(f"total validate+commit: {validated + committed:.1f}s")


def run_export(rows):
    user = bench_user()
    start = time.monotonic()
    job = services.export_start(user=user, target="customer", file_format="xlsx", params={})
    services.export_run(job_id=job.pk)
    job = ExportJob.objects.get(pk=job.pk)
    print(
        f"export: {job.processed_rows} rows in {time.monotonic() - start:.1f}s, "
        f"{job.file.size / 1e6:.1f} MB, status={job.status}, peak RSS {peak_mb():.0f} MB"
    )


if __name__ == "__main__":
    kind, count = sys.argv[1], int(sys.argv[2])
    run_import(count) if kind == "import" else run_export(count)
