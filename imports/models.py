"""Import and export jobs (导入导出, SPEC §2.3). A job belongs to the user who started it and only
they see it (``visible_to``); what it reads or writes goes through the customers services and
selectors with that user's scope and field permissions."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from crm.models import TimeStampedModel


class Target(models.TextChoices):
    CUSTOMER = "customer", _("客户")
    CONTACT = "contact", _("联系人")


class ImportStatus(models.TextChoices):
    PENDING = "pending", _("等待校验")
    VALIDATING = "validating", _("校验中")
    VALIDATED = "validated", _("待确认导入")
    COMMITTING = "committing", _("导入中")
    COMMITTED = "committed", _("已导入")
    UNDONE = "undone", _("已撤销")
    REFUSED = "refused", _("已拒绝")
    FAILED = "failed", _("失败")
    EXPIRED = "expired", _("已过期")


class Policy(models.TextChoices):
    SKIP = "skip", _("跳过重复")
    UPDATE = "update", _("覆盖已有")
    CREATE = "create", _("仍然新建")


class FileFormat(models.TextChoices):
    XLSX = "xlsx", "Excel (.xlsx)"
    CSV = "csv", "CSV"


class JobQuerySet(models.QuerySet):
    def visible_to(self, user):
        """A job is its starter's alone (it holds their file and their view of the data)."""
        if user is None or not user.is_authenticated or not user.is_active:
            return self.none()
        return self.filter(user=user)


class ImportJob(TimeStampedModel):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("导入人"), on_delete=models.CASCADE, related_name="+"
    )
    target = models.CharField(_("导入对象"), max_length=16, choices=Target.choices)
    file = models.FileField(_("文件"), upload_to="imports/%Y/%m/", max_length=300, blank=True)
    file_name = models.CharField(_("文件名"), max_length=255)
    file_format = models.CharField(_("格式"), max_length=8, choices=FileFormat.choices)
    encoding = models.CharField(_("编码"), max_length=16, blank=True)
    status = models.CharField(_("状态"), max_length=16, choices=ImportStatus.choices, default=ImportStatus.PENDING)
    policy = models.CharField(_("重复处理"), max_length=8, choices=Policy.choices, blank=True)
    total_rows = models.PositiveIntegerField(_("总行数"), default=0)
    processed_rows = models.PositiveIntegerField(_("已处理行数"), default=0)
    # valid, invalid, duplicates (match one existing record), ambiguous, in_file_duplicates;
    # after commit: created, updated, skipped.
    counts = models.JSONField(_("统计"), default=dict, blank=True)
    message = models.TextField(_("说明"), blank=True)
    error_file = models.FileField(_("错误文件"), upload_to="imports/errors/%Y/%m/", max_length=300, blank=True)
    # The preview's checked rows (customers), kept for the commit: gzip JSON lines, see
    # services.StoredRows. Removed by a successful commit, else with the upload after 7 days.
    rows_file = models.FileField(_("校验结果"), upload_to="imports/rows/%Y/%m/", max_length=300, blank=True)
    validated_at = models.DateTimeField(_("校验完成时间"), null=True, blank=True)
    committed_at = models.DateTimeField(_("导入时间"), null=True, blank=True)
    undone_at = models.DateTimeField(_("撤销时间"), null=True, blank=True)

    objects = JobQuerySet.as_manager()

    class Meta:
        verbose_name = _("导入任务")
        verbose_name_plural = _("导入任务")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "-created_at"], name="import_job_user_recent")]

    def __str__(self):
        return self.file_name

    @property
    def running(self):
        return self.status in (ImportStatus.PENDING, ImportStatus.VALIDATING, ImportStatus.COMMITTING)


class ImportRowError(models.Model):
    """One problem in one cell (or the whole row when ``column`` is blank) of an upload."""

    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="row_errors")
    row = models.PositiveIntegerField(_("行号"))  # as the user sees it in Excel (the header is row 1)
    column = models.CharField(_("列"), max_length=100, blank=True)  # the header text
    message = models.CharField(_("错误原因"), max_length=500)

    class Meta:
        verbose_name = _("导入错误")
        verbose_name_plural = _("导入错误")
        ordering = ["row", "id"]
        indexes = [models.Index(fields=["job", "row"], name="import_error_job_row")]

    def __str__(self):
        return f"{self.row} {self.column}: {self.message}"


class ItemAction(models.TextChoices):
    CREATED = "created", _("新建")
    UPDATED = "updated", _("更新")


class ImportItem(models.Model):
    """What a committed import did to one record, for undo: the record's version right after the
    import (undo only while it still has it) and, for an update, the values it replaced."""

    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="items")
    action = models.CharField(max_length=8, choices=ItemAction.choices)
    record_id = models.BigIntegerField()  # a customer or a contact (the job's target)
    version = models.PositiveIntegerField(default=0)  # customers: their version; contacts: 0
    stamp = models.DateTimeField(null=True, blank=True)  # contacts: updated_at after the import
    previous = models.JSONField(default=dict, blank=True)

    class Meta:
        indexes = [models.Index(fields=["job", "action"], name="import_item_job_action")]

    def __str__(self):
        return f"{self.action} #{self.record_id}"


class ExportStatus(models.TextChoices):
    PENDING = "pending", _("等待中")
    RUNNING = "running", _("导出中")
    DONE = "done", _("已完成")
    FAILED = "failed", _("失败")
    EXPIRED = "expired", _("已过期")


class ExportJob(TimeStampedModel):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("导出人"), on_delete=models.CASCADE, related_name="+"
    )
    target = models.CharField(_("导出对象"), max_length=16, choices=Target.choices)
    file_format = models.CharField(_("格式"), max_length=8, choices=FileFormat.choices)
    # The list's filters as the query string gave them ({name: value or [values]}).
    params = models.JSONField(_("筛选条件"), default=dict, blank=True)
    status = models.CharField(_("状态"), max_length=16, choices=ExportStatus.choices, default=ExportStatus.PENDING)
    total_rows = models.PositiveIntegerField(_("总行数"), default=0)
    processed_rows = models.PositiveIntegerField(_("已导出行数"), default=0)
    file = models.FileField(_("文件"), upload_to="exports/%Y/%m/", max_length=300, blank=True)
    message = models.TextField(_("说明"), blank=True)
    finished_at = models.DateTimeField(_("完成时间"), null=True, blank=True)

    objects = JobQuerySet.as_manager()

    class Meta:
        verbose_name = _("导出任务")
        verbose_name_plural = _("导出任务")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "-created_at"], name="export_job_user_recent")]
        permissions = [("export_data", _("可以导出客户和联系人"))]

    def __str__(self):
        return f"{self.get_target_display()} {self.created_at:%Y-%m-%d %H:%M}"

    @property
    def running(self):
        return self.status in (ExportStatus.PENDING, ExportStatus.RUNNING)

    @property
    def download_name(self):
        label = "客户" if self.target == Target.CUSTOMER else "联系人"
        return f"{label}导出-{self.created_at:%Y%m%d-%H%M}.{self.file_format}"
