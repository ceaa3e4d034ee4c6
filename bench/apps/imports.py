"""Import and export at the sizes SPEC §2.3 promises (the benchmark issue's targets): 100,000
customers imported from an .xlsx — preview (validate) then commit, policy "skip" — and 500,000
customers exported to .xlsx. Both run through the services the Celery tasks call, as the bench's
``all``-scope user, in a transaction rolled back afterwards; their files are removed.

The upload is made once per database and file version and kept in ``bench/results/cache/`` (not
committed): its first run also spends ~1 minute writing it. Each job prints its phases (seconds,
peak RSS so far) to stderr; the harness reports the whole child process."""

import os
import random
import resource
import sys
import time
from pathlib import Path

from bench.registry import batch_job
from bench.words import MAIL_DOMAINS, STREETS, CompanyNames, latin_word, mobile, person_name

IMPORT_ROWS = 100_000
CACHE = Path(__file__).resolve().parent.parent / "results" / "cache"
FILE_VERSION = 2  # bump when the generated upload changes
HEADER = [
    "客户名称*", "类型", "统一社会信用代码", "手机", "电话", "邮箱", "行业", "来源", "等级", "标签",
    "省份", "城市", "区县", "详细地址", "备注",
]  # fmt: skip
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def _backend_cpu():
    """CPU seconds of this process's PostgreSQL backend (Linux /proc; None elsewhere): on a busy
    machine wall time says little, the two CPU figures say what the job itself costs."""
    from django.db import connection

    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            pid = cursor.fetchone()[0]
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime
    except (OSError, ValueError, IndexError):
        return None


def _log(message):
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage.ru_utime + usage.ru_stime
    backend = _backend_cpu()
    database = f", database backend CPU {backend:.1f} s" if backend is not None else ""
    summary = f"[so far: process CPU {cpu:.1f} s{database}, peak RSS {usage.ru_maxrss / 1024:.0f} MB]"
    print(f"  {message} {summary}", file=sys.stderr, flush=True)


def _user():
    from bench.apps.staff import BENCH_USERS
    from staff.models import User

    return User.objects.select_related("department").get(username=BENCH_USERS["all"])


def _credit_code(rng):
    from stdnum.cn import uscc

    body = "91" + f"{rng.randrange(110000, 660000):06d}" + "".join(rng.choices(USCC_ALPHABET, k=9))
    return body + uscc.calc_check_digit(body)


def _landline(rng):
    # bench.words.landline gives 4-digit area codes 7-digit numbers; 0755, 0512, 0571 and 0731
    # numbers have 8, so a third of those are not valid numbers: only 3-digit codes here.
    area = rng.choice(("010", "020", "021", "022", "023", "025", "027", "028", "029"))
    return f"{area}-{rng.randrange(2, 9)}{rng.randrange(10**7):07d}"


def _regions():
    from crm import regions

    triples = []
    for province_code, province in regions.provinces():
        for city_code, city in regions.children(province_code):
            for _code, district in regions.children(city_code)[:3]:
                triples.append((province, city, district))
    return triples


def _rows(count):
    """The upload's rows: a sales team's sheet — company names as bench.words makes them (with
    near-duplicate spellings), ~3% customers already in the database (their name and mobile: the
    duplicate check finds them, "skip" leaves them), ~1% repeating an earlier row of the file,
    ~1% with a bad mobile or an unknown level (reported, not written)."""
    from django.db import connection

    from customers.models import CustomerLevel, Industry, Source, Tag

    rng = random.Random(f"imports-{count}")
    names = CompanyNames(rng)
    levels = [level.name for level in CustomerLevel.objects.all()] or [""]
    industries = [industry.name for industry in Industry.objects.filter(is_active=True)] or [""]
    sources = [source.name for source in Source.objects.filter(is_active=True)] or [""]
    tags = [tag.name for tag in Tag.objects.all()]
    regions = _regions()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT name, mobile FROM customers_customer WHERE deleted_at IS NULL AND kind = 'company' "
            "ORDER BY id LIMIT %s",
            [max(count // 20, 1)],
        )
        existing = cursor.fetchall()
    made = []
    for i in range(count):
        roll = rng.random()
        if roll < 0.03 and existing:
            name, phone = rng.choice(existing)
            row = [name, "企业", "", phone, "", "", "", "", "", "", "", "", "", "", "已有客户"]
        elif roll < 0.04 and made:
            row = list(rng.choice(made))
        else:
            person = rng.random() < 0.1
            province, city, district = rng.choice(regions)
            row = [
                person_name(rng) if person else names.near_duplicate() if rng.random() < 0.05 else names.new(),
                "个人" if person else "企业",
                "" if person or rng.random() < 0.4 else _credit_code(rng),
                mobile(rng) if rng.random() < 0.9 else "",
                _landline(rng) if rng.random() < 0.3 else "",
                f"{latin_word(rng)}{i}@{rng.choice(MAIL_DOMAINS)}" if rng.random() < 0.6 else "",
                rng.choice(industries),
                rng.choice(sources),
                rng.choice(levels),
                "、".join(rng.sample(tags, k=min(len(tags), rng.randint(1, 2)))) if tags and rng.random() < 0.3 else "",
                province,
                city,
                district,
                f"{rng.choice(STREETS)}{rng.randint(1, 999)}号",
                f"{person_name(rng)}介绍，第{i + 1}行",
            ]
            if rng.random() < 0.005:
                row[3] = "1380013800"  # 10 digits
            elif rng.random() < 0.005:
                row[8] = "不存在的等级"
            if len(made) < 5000:
                made.append(row)
        yield row


def import_file(count):
    """The .xlsx upload of ``count`` rows, made once (write-only openpyxl) and cached."""
    from django.db import connection
    from openpyxl import Workbook

    path = CACHE / f"import-{count}-v{FILE_VERSION}-{connection.settings_dict['NAME']}.xlsx"
    if path.exists():
        return path
    started = time.monotonic()
    CACHE.mkdir(parents=True, exist_ok=True)
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("客户")
    sheet.append(HEADER)
    for row in _rows(count):
        sheet.append(row)
    partial = path.with_suffix(".partial")
    workbook.save(partial)
    partial.rename(path)
    _log(f"made {path.name} ({path.stat().st_size / 1e6:.1f} MB) in {time.monotonic() - started:.1f} s")
    return path


def _remove_files(*names):
    from django.core.files.storage import default_storage

    for name in set(names) - {"", None}:
        default_storage.delete(name)


def run_import(count, policy="skip"):
    """Upload, validate and commit ``count`` rows as the ``all``-scope user; phases to stderr."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from imports import services
    from imports.models import ImportJob

    path = import_file(count)
    user = _user()
    started = time.monotonic()
    job = services.import_upload(
        user=user, target="customer", uploaded=SimpleUploadedFile(path.name, path.read_bytes())
    )
    uploaded = time.monotonic()
    files = [job.file.name]
    try:
        services.import_validate(job_id=job.pk)
        job = ImportJob.objects.get(pk=job.pk)
        validated = time.monotonic()
        files += [job.error_file.name, job.rows_file.name]  # the commit lets go of the rows file on_commit
        _log(f"upload {uploaded - started:.1f} s, validate {validated - uploaded:.1f} s: {job.counts}")
        services.import_commit_start(user=user, job=job, policy=policy)
        services.import_commit(job_id=job.pk)
        job = ImportJob.objects.get(pk=job.pk)
        committed = time.monotonic()
        _log(
            f"commit {committed - validated:.1f} s: {job.status} "
            f"{ {key: job.counts.get(key) for key in ('created', 'updated', 'skipped', 'invalid')} } "
            f"; validate + commit {committed - uploaded:.1f} s"
        )
        if job.status != "committed":
            raise RuntimeError(f"import ended {job.status}: {job.message}")
    finally:
        _remove_files(*files)


def run_export(file_format="xlsx"):
    """Export every customer the ``all``-scope user sees; phases to stderr."""
    from imports import services
    from imports.models import ExportJob

    user = _user()
    started = time.monotonic()
    job = services.export_start(user=user, target="customer", file_format=file_format, params={})
    try:
        services.export_run(job_id=job.pk)
        job = ExportJob.objects.get(pk=job.pk)
        _log(
            f"export {job.processed_rows} rows to .{file_format} in {time.monotonic() - started:.1f} s, "
            f"{job.file.size / 1e6:.1f} MB, {job.status}"
        )
        if job.status != "done":
            raise RuntimeError(f"export ended {job.status}: {job.message}")
    finally:
        job = ExportJob.objects.filter(pk=job.pk).first() or job
        _remove_files(job.file.name)


# Targets: the benchmark issue's (seconds, peak RSS MB).
@batch_job(
    "imports.import_100k",
    "import 100,000 customers (.xlsx): validate + commit, skip (rolled back)",
    target=(120, 500),
    rollback=True,
)
def import_100k():
    run_import(IMPORT_ROWS)


@batch_job("imports.export_500k", "export 500,000 customers to .xlsx (rolled back)", target=(120, 300), rollback=True)
def export_500k():
    run_export("xlsx")
