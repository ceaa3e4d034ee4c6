"""Imports (SPEC §2.3): upload → validated preview → commit with a duplicate policy → undo.

Every row goes through the customers services' own validation (``RecordValidator``: field
permissions for the importing user, then CustomerForm / ContactForm) and the duplicate service
(``imports.matching``). A commit is one transaction: an exception, a killed worker or a database
restart leaves nothing imported, and the task simply runs again (``acks_late``). Progress is kept
in the cache while a commit runs (the job row is inside the commit's transaction)."""

import contextlib
import functools
import gc
import gzip
import json
import logging
import tempfile
from dataclasses import dataclass, field
from datetime import timedelta
from itertools import islice
from types import SimpleNamespace

from django.core.cache import cache
from django.core.files.base import ContentFile, File
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.models import AuditAction
from audit.services import audit_record
from crm.errors import ConflictError, DomainError
from crm.validators import normalize_cn_mobile, normalize_credit_code
from customers import selectors as customer_selectors
from customers import services as customer_services
from customers.duplicates import normalize_company_name
from customers.models import DealStatus
from customers.services import BULK_BATCH_SIZE, FORCE_DUPLICATE_PERMISSION, BulkRowsInvalid, RecordValidator
from imports import files, matching
from imports.columns import CUSTOMER_LINK, columns_for, match_header, resolve_regions
from imports.matching import PendingMatch, match_existing
from imports.models import (
    ExportJob,
    ExportStatus,
    ImportItem,
    ImportJob,
    ImportRowError,
    ImportStatus,
    ItemAction,
    Policy,
    Target,
)
from imports.workbooks import ErrorSheet
from staff.scope import user_for_job

logger = logging.getLogger(__name__)

# Rows checked (and written) per step: one duplicate query (customers.duplicates.MANY_MAX_ROWS at
# most) and one progress update each; small enough that a step's rows stay a few MB.
CHUNK_ROWS = 1000
ERRORS_KEPT_DAYS = 7  # SPEC §2.3: the error sheet (and the upload) are kept 7 days
PROGRESS_SECONDS = 24 * 60 * 60


# --- progress -------------------------------------------------------------------------------------


def _progress_key(kind, job_id):
    return f"imports:progress:{kind}:{job_id}"


def _progress_set(kind, job_id, done, total):
    cache.set(_progress_key(kind, job_id), [done, total], PROGRESS_SECONDS)


def job_progress(job):
    """(rows done, rows in all) of a job, live while it runs."""
    kind = "export" if isinstance(job, ExportJob) else "import"
    if job.running:
        live = cache.get(_progress_key(kind, job.pk))
        if live:
            return live[0], max(live[1], live[0])
    return job.processed_rows, max(job.total_rows, job.processed_rows)


# --- upload ---------------------------------------------------------------------------------------


def import_upload(*, user, target, uploaded):
    """A new import job for ``uploaded`` (a Django UploadedFile), validated in the background; or
    DomainError with the reason the file is refused (nothing is kept then)."""
    if target not in Target.values:
        raise DomainError(_("导入对象应为客户或联系人。"), fields={"model": [_("导入对象应为客户或联系人。")]})
    name = (getattr(uploaded, "name", "") or "upload").rsplit("/", 1)[-1][:255]
    try:
        inspected = files.inspect(uploaded, name)
        if inspected.row_hint is not None and inspected.row_hint > files.MAX_ROWS:
            raise files.FileRefused(_("文件超过 %(n)s 行，请拆分后分批导入。") % {"n": f"{files.MAX_ROWS:,}"})
        header, rows = files.iter_rows(uploaded, inspected)
        rows.close()
    except files.FileRefused as refused:
        raise DomainError(refused.message, code="file_refused", fields={"file": [refused.message]}) from None
    _mapping, _unknown, missing = match_header(header, columns_for(user, target))
    if not header:
        raise DomainError(_("文件没有表头行。"), code="file_refused", fields={"file": [_("文件没有表头行。")]})
    if missing:
        message = _("缺少必填列：%(columns)s。请使用导入模板。") % {"columns": "、".join(missing)}
        raise DomainError(message, code="file_refused", fields={"file": [message]})
    uploaded.seek(0)
    with transaction.atomic():
        job = ImportJob(
            user=user,
            target=target,
            file_name=name,
            file_format=inspected.file_format,
            encoding=inspected.encoding,
            total_rows=inspected.row_hint or 0,
        )
        job.file.save(f"{inspected.file_format}-upload.{inspected.file_format}", uploaded, save=False)
        job.save()
        from imports.tasks import import_validate_task

        import_validate_task.delay_on_commit(job.pk)
    return job


@contextlib.contextmanager
def _collecting_per_chunk():
    """Python's cyclic garbage collector run once a chunk (call the yielded function after each)
    instead of by its allocation counts, put back as it was on leaving. A preview holds a chunk
    or two of checked rows (~20,000 objects each) while it reads the next: left to its counts,
    the collector promotes them to its oldest generation and scans the whole heap ~30 times in
    100,000 rows (~4 s). Collecting the young generations after each chunk finds the chunk's
    cyclic garbage (its forms' errors, with their tracebacks) all the same; what outlives a
    chunk and is garbage later is freed by reference counting, or by the collector afterwards."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield functools.partial(gc.collect, 1)
    finally:
        if enabled:
            gc.enable()


# --- checking rows --------------------------------------------------------------------------------


@dataclass
class Checked:
    number: int
    data: dict = field(default_factory=dict)
    errors: list = field(default_factory=list)  # [(column label, message)]
    matches: list = field(default_factory=list)  # customers: [Match]; contacts: [contact id]
    cleaned: dict = field(default_factory=dict)
    customer_id: int | None = None  # contacts: the customer the row names
    row: dict | None = None  # customers: RecordValidator.cleaned_row, what the commit writes
    storable: bool = False  # valid and not repeating an earlier row (database matches aside)


class StoredRows:
    """The preview's checked rows of a customer import, kept for its commit (``ImportJob.rows_file``):
    gzip JSON lines — a header ``{"fingerprint": …}`` (RecordValidator.fingerprint when the
    preview began), then one ``[row number, data, cleaned row]`` per row that passed validation
    and the file's own duplicate check (database matches are the commit's to redo). Written and
    read a chunk at a time, so memory stays flat."""

    VERSION = 1

    def __init__(self, job):
        self.job = job

    @classmethod
    def writer(cls, fingerprint):
        return _StoredRowsWriter(fingerprint, cls.VERSION)

    def _lines(self):
        with self.job.rows_file.open("rb") as raw, gzip.open(raw, "rt", encoding="utf-8") as handle:
            yield from handle

    def fingerprint(self):
        """The header's fingerprint; None for a file of another version (then rows are rechecked)."""
        try:
            header = json.loads(next(self._lines()))
        except (OSError, StopIteration, ValueError):
            return None
        return header.get("fingerprint") if header.get("version") == self.VERSION else None

    def chunks(self, size):
        """Lists of up to ``size`` (row number, data, cleaned row)."""
        lines = self._lines()
        next(lines)  # the header
        while chunk := [json.loads(line) for line in islice(lines, size)]:
            yield chunk


class _StoredRowsWriter:
    def __init__(self, fingerprint, version):
        self._file = tempfile.TemporaryFile()
        # Level 1: the file is read once by the commit and removed; speed matters more than size.
        self._gzip = gzip.GzipFile(fileobj=self._file, mode="wb", compresslevel=1)
        self._line({"version": version, "fingerprint": fingerprint})

    def _line(self, value):
        self._gzip.write(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode() + b"\n")

    def write(self, rows):
        for checked in rows:
            self._line([checked.number, checked.data, checked.row])

    def close(self):
        """The finished file, for FileField.save."""
        self._gzip.close()
        self._file.seek(0)
        return File(self._file)

    def discard(self):
        self._gzip.close()
        self._file.close()


class Refused(Exception):
    def __init__(self, message):
        super().__init__(str(message))
        self.message = message


class RowChecker:
    """Reads a job's file and checks its rows, a chunk at a time, for ``user``. Keeps the keys it
    has seen, so a row repeating an earlier row of the same file is reported."""

    def __init__(self, job, user):
        self.job = job
        self.user = user
        self.target = job.target
        self.columns = columns_for(user, job.target)
        self.validator = RecordValidator(user=user, target=job.target)
        self.labels = {column.key: column.label for column in self.columns}
        self.seen = {}
        self.unknown = []

    def count(self):
        """The data rows of the file (a quick pass: no cell is converted); Refused past MAX_ROWS
        before any row is checked."""
        with self.job.file.open("rb") as handle:
            if self.job.file_format == "xlsx":
                bound = files.xlsx_row_bound(handle)
                if bound - 1 <= files.MAX_ROWS:  # within the limit whatever the blank rows: an estimate will do
                    return max(bound - 1, 0)
            _header, rows = files.iter_rows(handle, files.Inspected(self.job.file_format, self.job.encoding))
            total = 0
            for _row in rows:
                total += 1
                if total > files.MAX_ROWS:
                    rows.close()
                    raise Refused(_("文件超过 %(n)s 行，请拆分后分批导入。") % {"n": f"{files.MAX_ROWS:,}"})
            return total

    def chunks(self):
        """Lists of up to CHUNK_ROWS Row; Refused when the file holds formulas or too many rows."""
        handle = self.job.file.open("rb")
        try:
            inspected = files.Inspected(self.job.file_format, self.job.encoding)
            header, rows = files.iter_rows(handle, inspected)
            self.mapping, self.unknown, missing = match_header(header, self.columns)
            self.header = header
            self.positions = {column.label: index for index, column in self.mapping.items()}
            if missing:
                raise Refused(_("缺少必填列：%(columns)s。请使用导入模板。") % {"columns": "、".join(missing)})
            seen = 0
            while chunk := list(islice(rows, CHUNK_ROWS)):
                seen += len(chunk)
                if seen > files.MAX_ROWS:
                    raise Refused(_("文件超过 %(n)s 行，请拆分后分批导入。") % {"n": f"{files.MAX_ROWS:,}"})
                for row in chunk:
                    if row.formula_column is not None:
                        label = header[row.formula_column] if row.formula_column < len(header) else ""
                        raise Refused(
                            _(
                                "第 %(row)s 行「%(column)s」列包含公式。为安全起见不接受含公式的文件，"
                                "请复制后“粘贴为数值”再上传。"
                            )
                            % {"row": row.number, "column": label}
                        )
                yield chunk
            rows.close()
        finally:
            handle.close()

    # -- one chunk --

    def _data(self, row):
        checked = Checked(number=row.number)
        data, custom = {}, {}
        for index, column in self.mapping.items():
            raw = row.cells[index] if index < len(row.cells) else None
            if row.error_column == index:
                checked.errors.append((column.label, _("单元格包含错误值（如 #N/A），请改为有效内容。")))
                continue
            cell = files.to_cell(raw, column.kind)
            if cell.error:
                checked.errors.append((column.label, cell.error))
                continue
            if not cell.value:
                continue
            try:
                value = column.convert(cell.value)
            except ValueError as error:
                checked.errors.append((column.label, str(error)))
                continue
            if column.custom_key:
                custom[column.custom_key] = value
            else:
                data[column.key] = value
        if self.target == Target.CUSTOMER:
            resolve_regions(data, checked.errors, self.labels)
        if custom:
            data["custom_fields"] = custom
        checked.data = data
        return checked

    def _form_errors(self, checked, error):
        bad = {label for label, _message in checked.errors}
        fields = getattr(error, "fields", None) or {}
        if not fields:
            checked.errors.append(("", str(error.message)))
            return
        for name, messages in fields.items():
            if name == "custom_fields" and isinstance(messages, dict):
                items = [(f"cf_{key}", value) for key, value in messages.items()]
            else:
                items = [(name, messages)]
            for key, texts in items:
                label = self.labels.get(key, "" if key == "__all__" else key)
                if label in bad:
                    continue  # the cell itself was already reported
                for text in texts if isinstance(texts, list | tuple) else [texts]:
                    checked.errors.append((label, str(text)))

    def check(self, chunk):
        """[Checked] for a chunk of rows: cell reading, the form, duplicates in the file and in the
        database, and (contacts) the customer each row names."""
        rows = self.prepare(chunk)
        if self.target == Target.CUSTOMER:
            self._match_customers(rows)
        else:
            self._match_contacts([checked for checked in rows if not checked.errors])
        return rows

    def check_pipelined(self, chunks):
        """``check`` for each chunk, as (chunk, [Checked]) — customers: a chunk's database matching
        runs while the next chunk is read and validated (PendingMatch), so the database and
        Python work at once. Nothing else may use the connection between two steps of the
        iteration... except the caller, which gets each chunk once its matching is in."""
        if self.target != Target.CUSTOMER:
            for chunk in chunks:
                yield chunk, self.check(chunk)
            return
        previous = None
        try:
            for chunk in chunks:
                rows = self.prepare(chunk)
                if previous is not None:
                    yield self._matched(*previous)
                valid = [checked for checked in rows if not checked.errors]
                previous = chunk, rows, valid, PendingMatch(self._wanted(valid))
            if previous is not None:
                yield self._matched(*previous)
                previous = None
        finally:
            if previous is not None:
                previous[3].cancel()

    def _matched(self, chunk, rows, valid, pending):
        for index, matches in pending.result().items():
            valid[index].matches = matches
        return chunk, rows

    def prepare(self, chunk):
        """[Checked] for a chunk, everything but the database matching: cells, the form, the
        file's own duplicates (and, contacts, the customer each row names). Customers: no query
        once the first chunk has loaded the validator's lookups."""
        rows = [self._data(row) for row in chunk]
        if self.target == Target.CONTACT:
            self._link_customers(rows)
        for checked in rows:
            data = dict(checked.data)
            data.pop(CUSTOMER_LINK, None)
            if checked.errors:
                # Still validate the rest, so the row's every problem is listed at once.
                bad = {label for label, _m in checked.errors}
                data = {key: value for key, value in data.items() if self.labels.get(key) not in bad}
            try:
                form = self.validator.validate(data)
            except DomainError as error:
                self._form_errors(checked, error)
                self.validator.release(getattr(error, "form", None))
                continue
            if not checked.errors:
                checked.cleaned = form.cleaned_data
                if self.target == Target.CUSTOMER:
                    checked.row = self.validator.cleaned_row(form)
            self.validator.release(form)
        for checked in rows:  # a row's errors in the order of the file's columns
            checked.errors.sort(key=lambda error: self.positions.get(error[0], len(self.positions)))
        valid = [checked for checked in rows if not checked.errors]
        self._in_file_duplicates(valid)
        for checked in valid:
            checked.storable = not checked.errors
        return rows

    def _keys(self, checked):
        cleaned = checked.cleaned
        if self.target == Target.CUSTOMER:
            keys = [(name, cleaned.get(name)) for name in ("credit_code", "mobile", "email")]
            name_key = (checked.row or {}).get("name_key")
            if name_key is None:
                name_key = normalize_company_name(cleaned.get("name") or "")
            keys.append(("name", name_key or cleaned.get("name")))
        else:
            keys = [(name, cleaned.get(name)) for name in ("mobile", "email")]
            if not cleaned.get("mobile") and not cleaned.get("email"):
                keys.append(("name", cleaned.get("name")))
            keys = [((checked.customer_id, name), value) for name, value in keys]
        return [(name, value) for name, value in keys if value]

    def _in_file_duplicates(self, rows):
        for checked in rows:
            keys = self._keys(checked)
            for name, value in keys:
                earlier = self.seen.get((name, value))
                if earlier is not None:
                    field_name = name[1] if isinstance(name, tuple) else name
                    label = self.labels.get(field_name, field_name)
                    checked.errors.append((label, _("与文件第 %(row)s 行重复。") % {"row": earlier}))
                    break
            else:
                for key in keys:
                    self.seen[key] = checked.number

    @staticmethod
    def _wanted(rows):
        return [_match_input(row.cleaned, row.row) for row in rows]

    def _match_customers(self, rows):
        rows = [checked for checked in rows if not checked.errors]
        for index, matches in match_existing(self._wanted(rows)).items():
            rows[index].matches = matches

    def _link_customers(self, rows):
        """Contacts name their customer by name, mobile or credit code — never by id; the customer
        must be one the user may edit."""
        texts = {row.data.get(CUSTOMER_LINK) for row in rows if row.data.get(CUSTOMER_LINK)}
        if not texts:
            return
        mobiles = {normalize_cn_mobile(text) for text in texts} - {None}
        codes = {normalize_credit_code(text) for text in texts} - {None}
        candidates = (
            customer_selectors.customer_list(user=self.user)
            .filter(customer_services.Customer.objects.editable_q(self.user))
            .filter(Q(name__in=texts) | Q(mobile__in=mobiles) | Q(credit_code__in=codes))
            .order_by()
            .values_list("pk", "name", "mobile", "credit_code")
        )
        found = {}
        for pk, name, mobile, code in candidates:
            for key in (name, mobile, code):
                if key:
                    found.setdefault(key, set()).add(pk)
        label = self.labels[CUSTOMER_LINK]
        for row in rows:
            text = row.data.get(CUSTOMER_LINK)
            if not text:
                continue
            ids = set(found.get(text, set()))
            for key in (normalize_cn_mobile(text), normalize_credit_code(text)):
                if key:
                    ids |= found.get(key, set())
            if not ids:
                row.errors.append(
                    (label, _("找不到客户「%(value)s」（按名称、手机或信用代码），或您无权编辑它。") % {"value": text})
                )
            elif len(ids) > 1:
                row.errors.append(
                    (
                        label,
                        _("「%(value)s」匹配到 %(n)s 个客户，请改用手机或信用代码。") % {"value": text, "n": len(ids)},
                    )
                )
            else:
                row.customer_id = ids.pop()

    def _match_contacts(self, rows):
        customer_ids = {row.customer_id for row in rows}
        existing = {}
        if customer_ids:
            for pk, customer_id, name, mobile, email in (
                customer_selectors.contact_list(user=self.user)
                .filter(customer_id__in=customer_ids)
                .order_by()
                .values_list("pk", "customer_id", "name", "mobile", "email")
            ):
                for key in (("mobile", mobile), ("email", email), ("name", name)):
                    if key[1]:
                        existing.setdefault((customer_id, *key), []).append(pk)
        for row in rows:
            matches = []
            for key in self._keys(row):
                (customer_id, name), value = key
                matches += [pk for pk in existing.get((customer_id, name, value), []) if pk not in matches]
            row.matches = matches


def _ambiguous(checked, labels):
    if len(checked.matches) > 1:
        # No ids: the matches come from the whole company, and an id outside the user's scope is
        # already more than the duplicate check shows them (the 查重 page tells them who has it).
        column = labels.get("name", "")
        checked.errors.append(
            (column, _("匹配到 %(n)s 条已有记录，无法确定是哪一条，请先查重。") % {"n": len(checked.matches)})
        )


# --- validation (the preview) ---------------------------------------------------------------------


def _claim(job_id, expected, new):
    """Move a job from ``expected`` status(es) to ``new``; the job, or None if it was not there."""
    with transaction.atomic():
        job = ImportJob.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.status not in expected:
            return None
        job.status = new
        job.save(update_fields=["status", "updated_at"])
        return job


def import_validate(*, job_id):
    """Check every row of the upload and record the preview: counts and every error by row and
    column; then the error sheet. Runs again from the start if redelivered."""
    job = _claim(job_id, (ImportStatus.PENDING, ImportStatus.VALIDATING), ImportStatus.VALIDATING)
    if job is None:
        return
    user = user_for_job(job.user_id)
    if user is None:
        _finish(job, ImportStatus.FAILED, message=_("导入人已停用。"))
        return
    ImportRowError.objects.filter(job=job).delete()
    if job.rows_file:
        job.rows_file.delete(save=False)
        ImportJob.objects.filter(pk=job.pk).update(rows_file="")
    checker = RowChecker(job, user)
    counts = {"rows": 0, "valid": 0, "invalid": 0, "duplicates": 0, "ambiguous": 0}
    stored = StoredRows.writer(checker.validator.fingerprint()) if job.target == Target.CUSTOMER else None
    sheet = None
    try:
        total = checker.count()
        matching.prepare()
        ImportJob.objects.filter(pk=job.pk).update(total_rows=total, processed_rows=0)
        _progress_set("import", job.pk, 0, total)
        with _collecting_per_chunk() as chunk_done:
            for chunk, checked_rows in checker.check_pipelined(checker.chunks()):
                errors = []
                if stored is not None:
                    stored.write([checked for checked in checked_rows if checked.storable])
                for row, checked in zip(chunk, checked_rows, strict=True):
                    if not checked.errors:
                        _ambiguous(checked, checker.labels)
                        if checked.errors:
                            counts["ambiguous"] += 1
                    counts["rows"] += 1
                    if checked.errors:
                        counts["invalid"] += 1
                        problems = [(column[:100], str(message)[:500]) for column, message in checked.errors]
                        errors += [
                            ImportRowError(job=job, row=checked.number, column=column, message=message)
                            for column, message in problems
                        ]
                        if sheet is None:
                            sheet = ErrorSheet(checker.header)
                        sheet.add(row.cells, problems)
                    else:
                        counts["valid"] += 1
                        counts["duplicates"] += bool(checked.matches)
                ImportRowError.objects.bulk_create(errors, batch_size=BULK_BATCH_SIZE)
                total = max(total, counts["rows"])
                ImportJob.objects.filter(pk=job.pk).update(processed_rows=counts["rows"], total_rows=total)
                _progress_set("import", job.pk, counts["rows"], total)
                chunk_done()
    except Refused as refused:
        ImportRowError.objects.filter(job=job).delete()
        if stored is not None:
            stored.discard()
        _finish(job, ImportStatus.REFUSED, message=refused.message)
        return
    except BaseException:
        if stored is not None:
            stored.discard()
        raise
    job.refresh_from_db()
    if stored is not None:
        job.rows_file.save("rows.jsonl.gz", stored.close(), save=False)
    job.counts = counts
    job.total_rows = job.processed_rows = counts["rows"]
    notes = []
    if checker.unknown:
        notes.append(_("以下列无法识别，已忽略：%(columns)s。") % {"columns": "、".join(checker.unknown)})
    if counts["rows"] == 0:
        notes.append(_("文件中没有数据行。"))
    job.message = " ".join(notes)
    job.validated_at = timezone.now()
    if sheet is not None:
        job.error_file.save("errors.xlsx", ContentFile(sheet.content()), save=False)
    job.status = ImportStatus.VALIDATED
    job.save()


def _finish(job, status, *, message=""):
    ImportJob.objects.filter(pk=job.pk).update(status=status, message=message, updated_at=timezone.now())


# --- commit ---------------------------------------------------------------------------------------


def import_commit_start(*, user, job, policy):
    """Ask for the commit of a validated import with ``policy``; the work runs in the background."""
    if policy not in Policy.values:
        raise DomainError(_("请选择重复数据的处理方式。"), fields={"policy": [_("请选择重复数据的处理方式。")]})
    if job.target == Target.CONTACT and policy == Policy.UPDATE:
        message = _("联系人导入不支持覆盖已有联系人，请选择跳过或仍然新建。")
        raise DomainError(message, fields={"policy": [message]})
    if not user.has_perm(f"customers.add_{job.target}"):
        raise DomainError(_("您没有执行该操作的权限。"), code="permission_denied", status=403)
    if job.target == Target.CUSTOMER and policy == Policy.CREATE and not user.has_perm(FORCE_DUPLICATE_PERMISSION):
        # The same rule as one customer: saving past a suspected duplicate needs the permission.
        message = _("您没有强制保存疑似重复客户的权限，请选择跳过或覆盖。")
        raise DomainError(message, code="permission_denied", status=403, fields={"policy": [message]})
    with transaction.atomic():
        locked = ImportJob.objects.select_for_update().get(pk=job.pk)
        if locked.status != ImportStatus.VALIDATED:
            raise ConflictError(_("该导入当前不能提交（状态：%(s)s）。") % {"s": locked.get_status_display()})
        if not locked.counts.get("valid"):
            raise DomainError(_("没有可导入的数据行。"), code="nothing_to_import")
        locked.status = ImportStatus.COMMITTING
        locked.policy = policy
        locked.processed_rows = 0
        locked.message = ""
        locked.save(update_fields=["status", "policy", "processed_rows", "message", "updated_at"])
        _progress_set("import", locked.pk, 0, locked.total_rows)
        from imports.tasks import import_commit_task

        import_commit_task.delay_on_commit(locked.pk)
    return locked


def check_ownership_limits(*, user, owner, adding):
    """The one place an import asks whether ``owner`` may take ``adding`` more customers — the
    same limits as a customer created by hand (the pool's "拥有客户已达上限"); DomainError refuses
    the whole import. One stand-in object ``adding`` times: the checks read only the owner and
    the deal status of what is added, and count it."""
    new = SimpleNamespace(owner_id=None, deal_status=DealStatus.NONE)
    customer_services.customer_owner_limits_check(owner=owner, customers=[new] * adding)


def _commit_hook(job, batch_number):
    """Called after each written batch of a commit (tests inject failures here)."""


def import_commit(*, job_id):
    """Write a validated import with its policy, in one transaction. The rows are checked again
    (the database may have changed since the preview); rows with errors are left out. Returns
    quietly if the job is not (or no longer) committing."""
    job = ImportJob.objects.filter(pk=job_id, status=ImportStatus.COMMITTING).first()
    if job is None:
        return
    user = user_for_job(job.user_id)
    if user is None:
        _finish(job, ImportStatus.VALIDATED, message=_("导入人已停用，未写入任何数据。"))
        return
    try:
        with transaction.atomic():
            job = ImportJob.objects.select_for_update().get(pk=job_id)
            if job.status != ImportStatus.COMMITTING:
                return
            counts = _commit_rows(job, user)
            job.status = ImportStatus.COMMITTED
            job.committed_at = timezone.now()
            job.counts = {**job.counts, **counts}
            job.processed_rows = counts["rows"]
            rows_file, job.rows_file = job.rows_file.name, ""  # no longer needed (undo uses the items)
            job.save()
            if rows_file:
                transaction.on_commit(lambda: job.rows_file.storage.delete(rows_file))
            audit_record(
                actor=user,
                action=AuditAction.IMPORT,
                target=job,
                data={
                    "file_name": job.file_name,
                    "target": job.target,
                    "policy": job.policy,
                    **{key: counts[key] for key in ("rows", "created", "updated", "skipped", "invalid")},
                },
            )
    except (Refused, DomainError) as error:
        _finish(job, ImportStatus.VALIDATED, message=_("导入失败，未写入任何数据：%(e)s") % {"e": error.message})
    except Exception as error:
        from django.db import InterfaceError, OperationalError

        if isinstance(error, OperationalError | InterfaceError):
            raise  # the database went away: the task retries; the transaction left nothing behind
        # Anything else: logged, and the job is back to "validated" — nothing was written, and
        # the user may try again (a task retry would only repeat the same failure).
        logger.exception("import %s failed", job_id)
        _finish(job, ImportStatus.VALIDATED, message=_("导入失败，未写入任何数据，请稍后重试。"))


def _commit_rows(job, user):
    """Write the job's rows: the preview's stored rows when the rules they were checked by are
    unchanged (StoredRows), else every row of the file checked again."""
    if job.target == Target.CUSTOMER and job.rows_file:
        validator = RecordValidator(user=user, target=job.target)
        stored = StoredRows(job)
        if stored.fingerprint() == validator.fingerprint():
            return _commit_stored(job, user, stored, validator)
    return _commit_rechecked(job, user)


def _commit_rechecked(job, user):
    """Every row of the file checked again (the rules changed since the preview, or contacts)."""
    checker = RowChecker(job, user)
    counts = {"rows": 0, "created": 0, "updated": 0, "skipped": 0, "invalid": 0}
    # Records this import created: a later row "matching" one of them is a duplicate inside the
    # file, which the file's own check decides (as in the preview) — not the database match.
    created_ids = set()
    for number, chunk in enumerate(checker.chunks()):
        rows = []
        for checked in checker.check(chunk):
            checked.matches = [m for m in checked.matches if getattr(m, "customer_id", m) not in created_ids]
            counts["rows"] += 1
            rows.append(checked)
        items = _write_chunk(job, user, checker.validator, rows, counts)
        created_ids.update(item.record_id for item in items if item.action == ItemAction.CREATED)
        _progress_set("import", job.pk, counts["rows"], job.total_rows)
        _commit_hook(job, number)
    return counts


def _commit_stored(job, user, stored, validator):
    """The preview's stored rows written without checking them again (their rules are unchanged:
    same fingerprint); only the database matching runs again, against the database as it is
    before this import writes anything (so the import's own records never count as matches:
    repeats inside the file were the preview's to find).

    That database is what a second connection sees while this transaction writes (none of its
    writes are committed), so each chunk is matched there while the chunk before is written here
    — two database backends at work (``matching.side_connection``). When this transaction has
    already written customers or contacts the second connection would not see them: then every
    row is matched first, on this connection, and the writes follow."""
    total = job.counts.get("rows", job.total_rows)
    counts = {"rows": total, "created": 0, "updated": 0, "skipped": 0, "invalid": 0}
    matching.prepare()
    written = 0
    with matching.side_connection() as side:
        matched = _matched_alongside(stored, side) if side is not None else _matched_first(stored, job, total)
        # The GIN indexes' pending lists may grow while the rows are written (see
        # customers.services.customer_bulk_indexing).
        with (
            contextlib.closing(matched),
            customer_services.customer_bulk_indexing(matched_alongside=side is not None) as indexing,
        ):
            for number, (chunk, matches) in enumerate(matched):
                rows = [
                    Checked(number=row_number, data=data, row=row, matches=matches.get(row_number, []))
                    for row_number, data, row in chunk
                ]
                created = counts["created"]
                _write_chunk(job, user, validator, rows, counts)
                indexing.created(counts["created"] - created)
                written += len(chunk)
                _progress_set("import", job.pk, written if side is not None else (total + written) // 2, total)
                _commit_hook(job, number)
    counts["invalid"] += total - written  # rows the preview found invalid stay so
    return counts


def _stored_wanted(chunk):
    return [_match_input(row, row) for _number, _data, row in chunk]


def _by_row_number(chunk, pending):
    return {chunk[index][0]: found for index, found in pending.result().items()}


def _matched_alongside(stored, side):
    """(chunk, {row number: matches}) for each chunk of ``stored``, matched on the connection
    ``side``: the next chunk's matching is under way there while the caller writes this one."""
    chunks = stored.chunks(CHUNK_ROWS)
    current = next(chunks, None)
    pending = PendingMatch(_stored_wanted(current), using=side) if current is not None else None
    try:
        while current is not None:
            matches = _by_row_number(current, pending)
            following = next(chunks, None)
            pending = PendingMatch(_stored_wanted(following), using=side) if following is not None else None
            yield current, matches
            current = following
    finally:
        if pending is not None:
            pending.cancel()


def _matched_first(stored, job, total):
    """(chunk, {row number: matches}) for each chunk of ``stored``, every chunk matched on this
    connection before the first is given (a chunk's matching runs while the next is read)."""
    matches, read = {}, 0
    previous = None
    try:
        for chunk in stored.chunks(CHUNK_ROWS):
            wanted = _stored_wanted(chunk)  # while the database matches the chunk before
            if previous is not None:
                matches.update(_by_row_number(*previous))
                previous = None
            previous = chunk, PendingMatch(wanted)
            read += len(chunk)
            _progress_set("import", job.pk, read // 2, total)
        if previous is not None:
            matches.update(_by_row_number(*previous))
            previous = None
    finally:
        if previous is not None:
            previous[1].cancel()
    for chunk in stored.chunks(CHUNK_ROWS):
        yield chunk, matches


MATCH_FIELDS = ("name", "kind", "mobile", "email", "credit_code")


def _match_input(cleaned, row):
    """What match_existing takes for a checked row: its cleaned MATCH_FIELDS, and the name's key
    when the row has it (RecordValidator.cleaned_row), so it is not worked out again."""
    wanted = {name: cleaned.get(name) or "" for name in MATCH_FIELDS}
    if row and row.get("name_key") is not None:
        wanted["name_key"] = row["name_key"]
    return wanted


def _write_chunk(job, user, validator, rows, counts):
    """Apply the job's policy to one chunk of checked rows (with their database matches): write
    the creates and updates in bulk, count the rest; the ImportItems written (for undo)."""
    policy = job.policy
    creates, updates = [], {}
    for checked in rows:
        if not checked.errors:
            _ambiguous(checked, {})  # at commit a row's errors are only counted
        if checked.errors:
            counts["invalid"] += 1
        elif checked.matches and policy == Policy.SKIP:
            counts["skipped"] += 1
        elif checked.matches and policy == Policy.UPDATE:
            target_id = checked.matches[0].customer_id
            if target_id in updates:  # two rows of the file match the same customer
                counts["invalid"] += 1
                continue
            updates[target_id] = checked.data
        else:
            creates.append(checked)
    items = []
    if job.target == Target.CUSTOMER:
        if creates:
            check_ownership_limits(user=user, owner=user, adding=len(creates))
            reason = _("导入：%(file)s") % {"file": job.file_name}
            try:
                # Written as checked (the rows were validated by ``validator``'s rules: just now,
                # or in the preview with the same fingerprint).
                created = customer_services.customer_create_many(
                    user=user,
                    cleaned_rows=[checked.row for checked in creates],
                    validator=validator,
                    change_reason=reason,
                )
            except BulkRowsInvalid as invalid:
                raise _bulk_error(invalid, [checked.number for checked in creates]) from None
            items += [
                ImportItem(job=job, action=ItemAction.CREATED, record_id=c.pk, version=c.version) for c in created
            ]
        if updates:
            # A match outside what the user may edit (撞单: another rep's customer) is not
            # updated; it is counted, like a row with errors.
            editable = set(
                customer_selectors.customer_list(user=user)
                .filter(customer_services.Customer.objects.editable_q(user), pk__in=list(updates))
                .values_list("pk", flat=True)
            )
            counts["not_editable"] = counts.get("not_editable", 0) + len(set(updates) - editable)
            updates = {pk: data for pk, data in updates.items() if pk in editable}
        if updates:
            try:
                updated = customer_services.customer_update_many(
                    user=user,
                    changes=updates,
                    validator=validator,
                    change_reason=_("导入更新：%(file)s") % {"file": job.file_name},
                )
            except BulkRowsInvalid as invalid:
                raise DomainError(_bulk_message(invalid)) from None
            items += [
                ImportItem(job=job, action=ItemAction.UPDATED, record_id=pk, version=version, previous=previous)
                for pk, (version, previous) in updated.items()
            ]
            counts["skipped"] += len(updates) - len(updated)  # matched, but nothing to change
    else:
        items += _create_contacts(job, user, creates)
    counts["created"] += sum(item.action == ItemAction.CREATED for item in items)
    counts["updated"] += sum(item.action == ItemAction.UPDATED for item in items)
    ImportItem.objects.bulk_create(items, batch_size=BULK_BATCH_SIZE)
    return items


def _bulk_message(invalid):
    first = next(iter(invalid.rows.values()))
    return _("部分数据已被他人修改，请重新校验后再导入（%(e)s）。") % {"e": getattr(first, "message", first)}


def _bulk_error(invalid, numbers):
    index, error = next(iter(invalid.rows.items()))
    return DomainError(
        _("第 %(row)s 行：%(e)s 请重新上传校验。") % {"row": numbers[index], "e": getattr(error, "message", error)}
    )


def _create_contacts(job, user, rows):
    customers = {
        customer.pk: customer
        for customer in customer_selectors.customer_list(user=user).filter(pk__in={row.customer_id for row in rows})
    }
    items = []
    for checked in rows:
        data = {key: value for key, value in checked.data.items() if key != CUSTOMER_LINK}
        try:
            contact = customer_services.contact_create(user=user, customer=customers[checked.customer_id], data=data)
        except (DomainError, KeyError) as error:
            raise DomainError(
                _("第 %(row)s 行：%(e)s") % {"row": checked.number, "e": getattr(error, "message", _("客户不可用。"))}
            ) from None
        items.append(ImportItem(job=job, action=ItemAction.CREATED, record_id=contact.pk, stamp=contact.updated_at))
    return items


# --- undo -----------------------------------------------------------------------------------------


@transaction.atomic
def import_undo(*, user, job, request=None):
    """Undo a committed import as a batch: the customers it created go to the recycle bin, the
    ones it updated get their previous values back (contacts it created are deleted) — all or
    none, and only while nothing else has touched them since (ConflictError otherwise)."""
    job = ImportJob.objects.select_for_update().get(pk=job.pk)
    if job.status != ImportStatus.COMMITTED:
        raise ConflictError(_("只有已导入的批次可以撤销。"), code="not_committed")
    reason = _("撤销导入：%(file)s") % {"file": job.file_name}
    created = updated = 0
    if job.target == Target.CUSTOMER:
        batch = {}
        for record_id, version in _iter_items(job, ItemAction.CREATED, "record_id", "version"):
            batch[record_id] = version
            if len(batch) >= BULK_BATCH_SIZE:
                created += customer_services.customer_recycle_many(user=user, versions=batch, change_reason=reason)
                batch = {}
        if batch:
            created += customer_services.customer_recycle_many(user=user, versions=batch, change_reason=reason)
        batch = {}
        for record_id, version, previous in _iter_items(job, ItemAction.UPDATED, "record_id", "version", "previous"):
            batch[record_id] = (version, previous)
            if len(batch) >= BULK_BATCH_SIZE:
                updated += customer_services.customer_revert_many(user=user, items=batch, change_reason=reason)
                batch = {}
        if batch:
            updated += customer_services.customer_revert_many(user=user, items=batch, change_reason=reason)
    else:
        for record_id, stamp in _iter_items(job, ItemAction.CREATED, "record_id", "stamp"):
            contact = customer_selectors.contact_list(user=user).filter(pk=record_id).first()
            if contact is None or contact.updated_at != stamp:
                raise ConflictError(_("有联系人在导入后已被修改或删除，无法撤销。"), code="changed_since")
            customer_services.contact_delete(user=user, contact=contact, request=request)
            created += 1
    job.status = ImportStatus.UNDONE
    job.undone_at = timezone.now()
    job.save(update_fields=["status", "undone_at", "updated_at"])
    audit_record(
        actor=user,
        action=AuditAction.IMPORT,
        target=job,
        data={"file_name": job.file_name, "undo": True, "removed": created, "reverted": updated},
        request=request,
    )
    return {"removed": created, "reverted": updated}


def _iter_items(job, action, *fields):
    return ImportItem.objects.filter(job=job, action=action).order_by("pk").values_list(*fields).iterator(2000)


# --- housekeeping ---------------------------------------------------------------------------------


def import_purge_expired(*, now=None):
    """Remove uploads, error sheets, error rows and export files older than 7 days (SPEC §2.3);
    jobs keep their counts (and committed imports their undo data). Run daily by imports.tasks."""
    cutoff = (now or timezone.now()) - timedelta(days=ERRORS_KEPT_DAYS)
    purged = 0
    for job in ImportJob.objects.filter(created_at__lt=cutoff).exclude(file="", error_file="", rows_file="").iterator():
        for stored in (job.file, job.error_file, job.rows_file):
            if stored:
                stored.delete(save=False)
        ImportRowError.objects.filter(job=job).delete()
        if job.status in (ImportStatus.PENDING, ImportStatus.VALIDATING, ImportStatus.VALIDATED):
            job.status = ImportStatus.EXPIRED
        job.save(update_fields=["file", "error_file", "rows_file", "status", "updated_at"])
        purged += 1
    for export in ExportJob.objects.filter(created_at__lt=cutoff).exclude(file="").iterator():
        export.file.delete(save=False)
        export.status = ExportStatus.EXPIRED
        export.save(update_fields=["file", "status", "updated_at"])
        purged += 1
    return {"purged": purged}


# --- export ---------------------------------------------------------------------------------------

EXPORT_PERMISSION = "imports.export_data"
# Rows per keyset query of an export: one round trip per 2,000 rows, and no more than that many
# customers (with their tags) in memory at once.
EXPORT_BATCH_ROWS = 2000
EXPORT_PARAM_MAX = 50  # filter parameters kept from a request (a list page has ~30)


def _clean_params(params):
    """The list's filters as given ({name: value or [values]}), strings only, bounded."""
    cleaned = {}
    for name, value in list((params or {}).items())[:EXPORT_PARAM_MAX]:
        if name in ("page", "per_page", "sort", "format", "model", "csrfmiddlewaretoken"):
            continue
        values = value if isinstance(value, list) else [value]
        values = [str(item)[:200] for item in values[:100] if item not in (None, "")]
        if values:
            cleaned[str(name)[:100]] = values if len(values) > 1 else values[0]
    return cleaned


def export_start(*, user, target, file_format, params, request=None):
    """Queue an export of the user's current filtered list (``params``: the list's filters) for
    ``user``; the file is written in the background (imports.tasks). Needs the export
    permission and the permission to view what is exported."""
    if not user.has_perm(EXPORT_PERMISSION):
        raise DomainError(_("您没有导出权限。"), code="permission_denied", status=403)
    if target not in Target.values:
        raise DomainError(_("导出对象应为客户或联系人。"), fields={"model": [_("导出对象应为客户或联系人。")]})
    if file_format not in ("xlsx", "csv"):
        raise DomainError(_("导出格式应为 xlsx 或 csv。"), fields={"format": [_("导出格式应为 xlsx 或 csv。")]})
    if not user.has_perm(f"customers.view_{target}"):
        raise DomainError(_("您没有执行该操作的权限。"), code="permission_denied", status=403)
    with transaction.atomic():
        job = ExportJob.objects.create(user=user, target=target, file_format=file_format, params=_clean_params(params))
        from imports.tasks import export_run_task

        export_run_task.delay_on_commit(job.pk)
    return job


def _querydict(params):
    from django.http import QueryDict

    data = QueryDict(mutable=True)
    for name, value in params.items():
        data.setlist(name, value if isinstance(value, list) else [value])
    return data


def export_customers_queryset(*, user, params):
    """The customers the list page shows ``user`` for these filters (same FilterSet, same scope)."""
    from customers.filters import CustomerFilterSet

    filterset = CustomerFilterSet(_querydict(params), queryset=customer_selectors.customer_list(user=user), user=user)
    return filterset.qs


def _keyset(queryset, batch):
    """Rows of ``queryset`` (a ``values_list`` whose first value is the primary key) in primary-key
    order, ``batch`` per query (WHERE id > last), so a 500,000-row export never holds more than
    one batch."""
    queryset = queryset.order_by("pk")
    last = 0
    while True:
        rows = list(queryset.filter(pk__gt=last)[:batch])
        if not rows:
            return
        yield rows
        last = rows[-1][0]


def export_run(*, job_id):
    """Write an export job's file (streamed: openpyxl write-only / csv), with progress; audited
    (who, filters, row count). Runs again from the start if redelivered."""
    from imports import exporting

    with transaction.atomic():
        job = ExportJob.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.status not in (ExportStatus.PENDING, ExportStatus.RUNNING):
            return
        job.status = ExportStatus.RUNNING
        job.save(update_fields=["status", "updated_at"])
    user = user_for_job(job.user_id)
    if user is None or not user.has_perm(EXPORT_PERMISSION):
        ExportJob.objects.filter(pk=job.pk).update(status=ExportStatus.FAILED, message=_("导出人已停用或无导出权限。"))
        return
    try:
        written = exporting.write(job, user, progress=lambda done, total: _progress_set("export", job.pk, done, total))
    except Exception:
        logger.exception("export %s failed", job_id)
        ExportJob.objects.filter(pk=job.pk).update(status=ExportStatus.FAILED, message=_("导出失败，请稍后重试。"))
        raise
    stored = job.file.name
    with transaction.atomic():
        job = ExportJob.objects.select_for_update().get(pk=job.pk)
        job.file.name = stored
        job.status = ExportStatus.DONE
        job.total_rows = job.processed_rows = written
        job.finished_at = timezone.now()
        job.save()
        audit_record(
            actor=user,
            action=AuditAction.EXPORT,
            target=job,
            data={"target": job.target, "format": job.file_format, "filter": job.params, "rows": written},
        )
